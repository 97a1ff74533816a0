package account

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/herald-smtp/herald/engine/transport"
)

const sampleAutoconfig = `<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.com">
    <domain>example.com</domain>
    <displayName>Example Mail / Pro</displayName>
    <displayShortName>Example</displayShortName>
    <incomingServer type="imap">
      <hostname>imap.example.com</hostname>
      <port>993</port>
      <socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname> smtp.%EMAILDOMAIN% </hostname>
      <port>465</port>
      <socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username>
      <authentication>GSSAPI</authentication>
      <authentication>OAuth2</authentication>
      <authentication>password-cleartext</authentication>
    </outgoingServer>
    <outgoingServer type="exchange">
      <hostname>ews.example.com</hostname>
    </outgoingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.example.com</hostname>
      <port>587</port>
      <socketType>STARTTLS</socketType>
      <username>%EMAILADDRESS</username>
      <authentication>password-encrypted</authentication>
    </outgoingServer>
    <outgoingServer type="smtp">
      <hostname>relay.example.com</hostname>
      <port>25</port>
      <socketType>plain</socketType>
      <authentication>client-IP-address</authentication>
    </outgoingServer>
  </emailProvider>
  <oAuth2>
    <issuer>accounts.google.com</issuer>
    <scope>https://mail.google.com/ https://www.googleapis.com/auth/contacts https://www.googleapis.com/auth/calendar</scope>
    <authURL>https://accounts.google.com/o/oauth2/auth</authURL>
    <tokenURL>https://www.googleapis.com/oauth2/v3/token</tokenURL>
  </oAuth2>
</clientConfig>`

func TestParseAutoconfig(t *testing.T) {
	ps, err := ParseAutoconfig(strings.NewReader(sampleAutoconfig), "jane@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 {
		t.Fatalf("got %d profiles, want 3: %+v", len(ps), ps)
	}
	a, b, c := ps[0], ps[1], ps[2]
	if a.Host != "smtp.example.com" || a.Port != 465 || a.TLS != transport.TLSImplicit || a.Auth != transport.AuthAuto || a.Username != "jane" {
		t.Errorf("first = %+v", a)
	}
	if a.OAuth == nil || a.OAuth.Provider != "google" || !slices.Equal(a.OAuth.Scopes, []string{"https://mail.google.com/"}) ||
		a.OAuth.AuthURL != "https://accounts.google.com/o/oauth2/auth" || a.OAuth.TokenURL != "https://www.googleapis.com/oauth2/v3/token" {
		t.Errorf("first oauth = %+v", a.OAuth)
	}
	if b.Port != 587 || b.TLS != transport.TLSStartTLS || b.Auth != transport.AuthCRAMMD5 || b.Username != "jane@example.com" {
		t.Errorf("second = %+v", b)
	}
	if c.Port != 25 || c.TLS != transport.TLSNone || c.Auth != transport.AuthNone || c.Username != "" {
		t.Errorf("third = %+v", c)
	}
	for _, p := range ps {
		if p.Name != "Example" || p.FromAddress != "jane@example.com" {
			t.Errorf("name/from = %q %q", p.Name, p.FromAddress)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("%s:%d: %v", p.Host, p.Port, err)
		}
	}
}

func TestParseAutoconfigErrors(t *testing.T) {
	wrap := func(server string) string {
		return `<clientConfig version="1.1"><emailProvider id="x"><outgoingServer type="smtp">` + server + `</outgoingServer></emailProvider></clientConfig>`
	}
	for _, c := range []struct{ doc, want string }{
		{`<clientConfig version="1.1"><emailProvider id="x"></emailProvider></clientConfig>`, "autoconfig: no outgoingServer of type smtp"},
		{wrap(`<hostname>h.example</hostname><port>x</port>`), `autoconfig: outgoingServer 1: port "x" is not a number`},
		{wrap(`<hostname>h.example</hostname><port>70000</port>`), "outgoingServer 1: port 70000"},
		{wrap(`<port>25</port>`), "outgoingServer 1: no hostname"},
		{wrap(`<hostname>h.example</hostname><socketType>TLS1.3</socketType>`), `socketType "TLS1.3"`},
		{`<html><body/></html>`, "autoconfig: expected element type <clientConfig>"},
		{`not xml`, "autoconfig:"},
		{`<?xml version="1.0"?><!DOCTYPE clientConfig [<!ENTITY x "y">]><clientConfig/>`, "<!DOCTYPE> is not allowed"},
	} {
		_, err := ParseAutoconfig(strings.NewReader(c.doc), "a@b.example")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseAutoconfig(%.60q): err = %v, want %q", c.doc, err, c.want)
		}
	}
	big := "<clientConfig>" + strings.Repeat(" ", maxAutoconfigSize) + "</clientConfig>"
	if _, err := ParseAutoconfig(strings.NewReader(big), "a@b.example"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("huge document: err = %v", err)
	}
}

func TestAutoconfigRoundTrip(t *testing.T) {
	g, _ := PresetByID("gmail")
	gm := g.Apply("alice@gmail.com")
	gm.Name = "Work mail"
	gm.Auth = AuthOAuth2
	gm.OAuth = &OAuth{Provider: "google"}
	gm.Fallbacks = nil

	for _, c := range []struct {
		name     string
		p        Profile
		wantAuth transport.AuthMethod
		wantUser string // in the XML
	}{
		{"auto address", Profile{Name: "A", FromAddress: "bob@example.org", Server: Server{Host: "smtp.example.org", Port: 587, TLS: transport.TLSStartTLS}, Auth: transport.AuthAuto, Username: "bob@example.org"}, transport.AuthAuto, "%EMAILADDRESS%"},
		{"plain local part", Profile{Name: "B", FromAddress: "bob@example.org", Server: Server{Host: "smtp.example.org", Port: 465, TLS: transport.TLSImplicit}, Auth: transport.AuthPlain, Username: "bob"}, transport.AuthAuto, "%EMAILLOCALPART%"},
		{"cram literal", Profile{Name: "C", FromAddress: "bob@example.org", Server: Server{Host: "mail.example.org", Port: 2525, TLS: transport.TLSStartTLS}, Auth: transport.AuthCRAMMD5, Username: "u-123"}, transport.AuthCRAMMD5, "u-123"},
		{"none", Profile{Name: "D", FromAddress: "bob@example.org", Server: Server{Host: "127.0.0.1", Port: 2525, TLS: transport.TLSNone}, Auth: transport.AuthNone}, transport.AuthNone, ""},
		{"oauth", gm, AuthOAuth2, "%EMAILADDRESS%"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := ExportAutoconfig(&buf, c.p); err != nil {
				t.Fatal(err)
			}
			x := buf.String()
			if !strings.Contains(x, `<clientConfig version="1.1">`) || !strings.Contains(x, `<outgoingServer type="smtp">`) {
				t.Errorf("not a clientConfig 1.1:\n%s", x)
			}
			if c.wantUser != "" && !strings.Contains(x, "<username>"+c.wantUser+"</username>") {
				t.Errorf("username not %s:\n%s", c.wantUser, x)
			}
			assertNoSecretXML(t, x)
			ps, err := ParseAutoconfig(strings.NewReader(x), c.p.FromAddress)
			if err != nil {
				t.Fatalf("%v\n%s", err, x)
			}
			got := ps[0]
			if got.Host != c.p.Host || got.Port != c.p.Port || got.TLS != c.p.TLS || got.Auth != c.wantAuth ||
				got.Username != c.p.Username || got.Name != c.p.Name || got.FromAddress != c.p.FromAddress {
				t.Errorf("round trip:\n got %+v\nwant %+v (auth %s)", got, c.p, c.wantAuth)
			}
			if c.wantAuth == AuthOAuth2 && (got.OAuth == nil || got.OAuth.Provider != c.p.OAuth.Provider) {
				t.Errorf("oauth round trip: %+v", got.OAuth)
			}
			if err := got.Validate(); err != nil {
				t.Error(err)
			}
		})
	}

	// Fallbacks become further outgoingServers, in order.
	var buf bytes.Buffer
	sg, _ := PresetByID("sendgrid")
	p := sg.Apply("news@example.com")
	p.Name = "News"
	if err := ExportAutoconfig(&buf, p); err != nil {
		t.Fatal(err)
	}
	ps, err := ParseAutoconfig(&buf, "news@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1+len(p.Fallbacks) || ps[1].Port != p.Fallbacks[0].Port || ps[0].Username != "apikey" {
		t.Errorf("fallbacks: %+v", ps)
	}

	if err := ExportAutoconfig(&buf, Profile{Name: "x", Server: Server{Host: "h"}}); err == nil {
		t.Error("export without a from address: no error")
	}
}

func assertNoSecretXML(t *testing.T, x string) {
	t.Helper()
	lx := strings.ToLower(x)
	for _, w := range []string{"<password", "password>", "<secret", "<token>", "<accesstoken", "<refreshtoken", "<clientsecret", "private"} {
		if strings.Contains(lx, w) {
			t.Errorf("exported XML contains %q:\n%s", w, x)
		}
	}
}

// TestISPDB parses the real Thunderbird ISPDB files.
func TestISPDB(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "testdata", "ispdb")
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	if len(files) == 0 {
		t.Skipf("ISPDB test data not present in %s", dir)
	}
	plaintext := 0
	for _, f := range files {
		base := strings.TrimSuffix(filepath.Base(f), ".xml")
		domain := base
		if !strings.Contains(domain, ".") {
			domain = "example.com"
		}
		email := "test.user@" + domain
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ps, err := ParseAutoconfig(bytes.NewReader(data), email)
		if err != nil {
			t.Errorf("%s: %v", base, err)
			continue
		}
		for i, p := range ps {
			if p.Name == "" || p.FromAddress != email {
				t.Errorf("%s[%d]: name %q from %q", base, i, p.Name, p.FromAddress)
			}
			err := p.Validate()
			var fe *FieldError
			if err != nil && errors.As(err, &fe) && fe.Field == "tls" && p.TLS == transport.TLSNone {
				// The provider documents a plaintext server with a
				// password: importing it is faithful, sending needs the
				// user's explicit opt-in.
				plaintext++
				p.AllowInsecureAuth = true
				err = p.Validate()
			}
			if err != nil {
				t.Errorf("%s[%d] %s:%d %s auth %s user %q: %v", base, i, p.Host, p.Port, p.TLS, p.Auth, p.Username, err)
			}
			if strings.Contains(p.Username, "%") || strings.Contains(p.Host, "%") {
				t.Errorf("%s[%d]: placeholder left: %s %s", base, i, p.Host, p.Username)
			}
		}
	}
	t.Logf("%d ISPDB files parsed; %d SMTP servers are plaintext with a password (need the insecure-auth opt-in)", len(files), plaintext)

	check := func(file, email string, i int, host string, port int, tls transport.TLSMode, auth transport.AuthMethod) {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Logf("%s not present: %v", file, err)
			return
		}
		ps, err := ParseAutoconfig(bytes.NewReader(data), email)
		if err != nil || len(ps) <= i {
			t.Errorf("%s: %v (%d profiles)", file, err, len(ps))
			return
		}
		p := ps[i]
		if p.Host != host || p.Port != port || p.TLS != tls || p.Auth != auth || p.Username != email {
			t.Errorf("%s[%d] = %s:%d %s auth %s user %q, want %s:%d %s auth %s user %q", file, i, p.Host, p.Port, p.TLS, p.Auth, p.Username, host, port, tls, auth, email)
		}
	}
	// Where a password also works, it is chosen (Herald has no OAuth2
	// sign-in yet) and the OAuth settings are kept.
	check("googlemail.com.xml", "a@gmail.com", 0, "smtp.gmail.com", 465, transport.TLSImplicit, transport.AuthAuto)
	check("office365.com.xml", "a@contoso.onmicrosoft.com", 0, "smtp.office365.com", 587, transport.TLSStartTLS, AuthOAuth2)
	check("hotmail.com.xml", "a@hotmail.com", 0, "smtp-mail.outlook.com", 587, transport.TLSStartTLS, AuthOAuth2)
	check("yahoo.com.xml", "a@yahoo.com", 0, "smtp.mail.yahoo.com", 465, transport.TLSImplicit, transport.AuthAuto)
	check("me.com.xml", "a@icloud.com", 0, "smtp.mail.me.com", 587, transport.TLSStartTLS, transport.AuthAuto)
	check("zoho.eu.xml", "a@zoho.eu", 1, "smtp.zoho.eu", 587, transport.TLSStartTLS, transport.AuthAuto)
	check("inbox.lv.xml", "a@inbox.lv", 0, "mail.inbox.lv", 465, transport.TLSImplicit, transport.AuthAuto)

	if data, err := os.ReadFile(filepath.Join(dir, "office365.com.xml")); err == nil {
		ps, _ := ParseAutoconfig(bytes.NewReader(data), "a@contoso.com")
		if len(ps) == 0 || ps[0].OAuth == nil || ps[0].OAuth.Provider != "microsoft" || !slices.Contains(ps[0].OAuth.Scopes, "https://outlook.office365.com/SMTP.Send") {
			t.Errorf("office365 oauth = %+v", ps)
		}
	}
	if data, err := os.ReadFile(filepath.Join(dir, "hotmail.com.xml")); err == nil {
		ps, _ := ParseAutoconfig(bytes.NewReader(data), "a@hotmail.com")
		if len(ps) == 0 || ps[0].OAuth == nil || ps[0].OAuth.Provider != "microsoft" {
			t.Errorf("hotmail (no oAuth2 element): oauth from the host = %+v", ps)
		}
	}
}

func TestProfileName(t *testing.T) {
	for in, want := range map[string]string{
		"DonDominio/MrDomain":   "DonDominio-MrDomain",
		" a\tb\nc ":             "a b c",
		strings.Repeat("é", 80): strings.Repeat("é", 50),
	} {
		if got := profileName(in); got != want {
			t.Errorf("profileName(%q) = %q, want %q", in, got, want)
		}
	}
}
