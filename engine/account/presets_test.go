package account

import (
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/herald-smtp/herald/engine/transport"
)

var dnsName = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)

func validHost(h string) bool {
	return net.ParseIP(h) != nil || (len(h) <= 253 && dnsName.MatchString(h))
}

func TestPresetsFile(t *testing.T) {
	ps := Presets()
	if len(ps) == 0 {
		t.Fatal("no presets")
	}
	ids := map[string]bool{}
	mailDomains := map[string]string{}
	for _, p := range ps {
		if p.ID == "" || p.ID != strings.ToLower(p.ID) || strings.ContainsAny(p.ID, " /") {
			t.Errorf("%q: id must be lower case without spaces or slashes", p.ID)
		}
		if ids[p.ID] {
			t.Errorf("%q: duplicate id", p.ID)
		}
		ids[p.ID] = true
		if p.Name == "" {
			t.Errorf("%s: no name", p.ID)
		}
		servers := append([]Server{{Host: p.Host, Port: p.Port, TLS: p.TLS}}, p.Fallbacks...)
		for _, s := range servers {
			if !validHost(s.Host) {
				t.Errorf("%s: host %q is not a DNS name or IP address", p.ID, s.Host)
			}
			if s.Port < 1 || s.Port > 65535 {
				t.Errorf("%s: port %d", p.ID, s.Port)
			}
			if m, err := transport.ParseTLSMode(string(s.TLS)); err != nil || m != s.TLS {
				t.Errorf("%s: tls %q is not implicit, starttls or none", p.ID, s.TLS)
			}
			if s.TLS == transport.TLSImplicit && s.Port == 587 || s.TLS != transport.TLSImplicit && s.Port == 465 {
				t.Errorf("%s: port %d with tls %s", p.ID, s.Port, s.TLS)
			}
		}
		if _, err := transport.ParseAuthMethod(string(p.Auth)); err != nil && p.Auth != AuthOAuth2 {
			t.Errorf("%s: auth %q", p.ID, p.Auth)
		}
		if p.Auth == AuthOAuth2 && p.OAuth == "" {
			t.Errorf("%s: auth oauth2 without an oauth provider", p.ID)
		}
		if p.OAuth != "" && p.OAuth != "google" && p.OAuth != "microsoft" {
			t.Errorf("%s: oauth %q is not a built-in provider", p.ID, p.OAuth)
		}
		if p.ID != "sandbox" && !strings.HasPrefix(p.SetupURL, "https://") {
			t.Errorf("%s: setup_url %q is not https", p.ID, p.SetupURL)
		}
		if p.SetupURL != "" && !strings.HasPrefix(p.SetupURL, "https://") {
			t.Errorf("%s: setup_url %q is not https", p.ID, p.SetupURL)
		}
		if p.Notes == "" || strings.Count(p.Notes, ". ") > 0 || !strings.HasSuffix(p.Notes, ".") {
			t.Errorf("%s: notes must be one sentence: %q", p.ID, p.Notes)
		}
		for _, d := range slices.Concat(p.Domains, p.MXDomains) {
			if d != strings.ToLower(d) || !validHost(d) {
				t.Errorf("%s: domain %q must be a lower-case DNS name", p.ID, d)
			}
		}
		for _, d := range p.Domains {
			if other, ok := mailDomains[d]; ok {
				t.Errorf("mail domain %s is in both %s and %s", d, other, p.ID)
			}
			mailDomains[d] = p.ID
		}
		if strings.Contains(p.Username, "%") && strings.Contains(ExpandPlaceholders(p.Username, "a@b.example"), "%") {
			t.Errorf("%s: username %q has an unknown placeholder", p.ID, p.Username)
		}

		prof := p.Apply("alice@example.com")
		prof.Name = "test"
		if err := prof.Validate(); err != nil {
			t.Errorf("%s: Apply gives an invalid profile: %v", p.ID, err)
		}
		if prof.Preset != p.ID || prof.FromAddress != "alice@example.com" || prof.Host != p.Host || prof.Port != p.Port || prof.TLS != p.TLS {
			t.Errorf("%s: Apply = %+v", p.ID, prof)
		}
	}

	required := []string{"gmail", "microsoft365", "outlook", "yahoo", "icloud", "fastmail", "zoho", "zoho-eu",
		"proton-bridge", "sendgrid", "mailgun", "mailgun-eu", "postmark", "brevo", "smtp2go", "mailjet", "sandbox"}
	for _, r := range []string{"us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1",
		"ap-southeast-2", "ap-northeast-1", "ap-south-1", "ca-central-1", "sa-east-1"} {
		required = append(required, "ses-"+r)
	}
	for _, id := range required {
		if !ids[id] {
			t.Errorf("preset %s is missing", id)
		}
	}
}

func TestPresetValues(t *testing.T) {
	for _, c := range []struct {
		id   string
		host string
		port int
		tls  transport.TLSMode
	}{
		{"gmail", "smtp.gmail.com", 465, transport.TLSImplicit},
		{"microsoft365", "smtp.office365.com", 587, transport.TLSStartTLS},
		{"outlook", "smtp-mail.outlook.com", 587, transport.TLSStartTLS},
		{"yahoo", "smtp.mail.yahoo.com", 465, transport.TLSImplicit},
		{"icloud", "smtp.mail.me.com", 587, transport.TLSStartTLS},
		{"fastmail", "smtp.fastmail.com", 465, transport.TLSImplicit},
		{"zoho", "smtp.zoho.com", 465, transport.TLSImplicit},
		{"zoho-eu", "smtp.zoho.eu", 465, transport.TLSImplicit},
		{"proton-bridge", "127.0.0.1", 1025, transport.TLSStartTLS},
		{"ses-eu-west-1", "email-smtp.eu-west-1.amazonaws.com", 587, transport.TLSStartTLS},
		{"sendgrid", "smtp.sendgrid.net", 587, transport.TLSStartTLS},
		{"mailgun", "smtp.mailgun.org", 587, transport.TLSStartTLS},
		{"mailgun-eu", "smtp.eu.mailgun.org", 587, transport.TLSStartTLS},
		{"postmark", "smtp.postmarkapp.com", 587, transport.TLSStartTLS},
		{"brevo", "smtp-relay.brevo.com", 587, transport.TLSStartTLS},
		{"smtp2go", "mail.smtp2go.com", 587, transport.TLSStartTLS},
		{"mailjet", "in-v3.mailjet.com", 587, transport.TLSStartTLS},
		{"sandbox", "127.0.0.1", 2525, transport.TLSNone},
	} {
		p, ok := PresetByID(c.id)
		if !ok {
			t.Errorf("PresetByID(%q): not found", c.id)
			continue
		}
		if p.Host != c.host || p.Port != c.port || p.TLS != c.tls {
			t.Errorf("%s: %s:%d %s, want %s:%d %s", c.id, p.Host, p.Port, p.TLS, c.host, c.port, c.tls)
		}
	}
	if s, _ := PresetByID("smtp2go"); !slices.ContainsFunc(s.Fallbacks, func(f Server) bool { return f.Port == 2525 }) {
		t.Error("smtp2go: no 2525 fallback")
	}
	if sb, _ := PresetByID("sandbox"); sb.Auth != transport.AuthNone {
		t.Errorf("sandbox auth = %s", sb.Auth)
	}
	if _, ok := PresetByID("GMail"); !ok {
		t.Error("PresetByID is not case-insensitive")
	}
	if _, ok := PresetByID("nope"); ok {
		t.Error("PresetByID(nope) found something")
	}
}

func TestPresetApply(t *testing.T) {
	g, _ := PresetByID("gmail")
	p := g.Apply("Alice@Example.com")
	if p.Username != "Alice@Example.com" || p.Auth != transport.AuthAuto || p.Secret != SecretKeychain || p.OAuth != nil {
		t.Errorf("gmail Apply = %+v", p)
	}
	if len(p.Fallbacks) != 1 || p.Fallbacks[0].Port != 587 {
		t.Errorf("gmail fallbacks = %+v", p.Fallbacks)
	}
	p.Fallbacks[0].Port = 1
	if g2, _ := PresetByID("gmail"); g2.Fallbacks[0].Port != 587 {
		t.Error("changing an applied profile changed the preset")
	}

	m, _ := PresetByID("microsoft365")
	p = m.Apply("bob@contoso.com")
	if p.Auth != AuthOAuth2 || p.OAuth == nil || p.OAuth.Provider != "microsoft" || p.Username != "bob@contoso.com" {
		t.Errorf("microsoft365 Apply = %+v", p)
	}

	sg, _ := PresetByID("sendgrid")
	if p := sg.Apply("x@y.example"); p.Username != "apikey" {
		t.Errorf("sendgrid username = %q", p.Username)
	}
	mg, _ := PresetByID("mailgun")
	if p := mg.Apply("x@mg.example.org"); p.Username != "postmaster@mg.example.org" {
		t.Errorf("mailgun username = %q", p.Username)
	}

	ps := Presets()
	ps[0].Domains[0] = "changed.example"
	if Presets()[0].Domains[0] == "changed.example" {
		t.Error("Presets shares its slices with callers")
	}
}

func TestPresetsFor(t *testing.T) {
	ids := func(ps []Preset) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	for _, c := range []struct {
		domain string
		want   []string
	}{
		{"gmail.com", []string{"gmail"}},
		{"GoogleMail.COM.", []string{"gmail"}},
		{"google.com", []string{"gmail"}},
		{"icloud.com", []string{"icloud"}},
		{"hotmail.co.uk", []string{"outlook"}},
		{"outlook.com", []string{"outlook", "microsoft365"}},
		{"protection.outlook.com", []string{"microsoft365"}},
		{"messagingengine.com", []string{"fastmail"}},
		{"zoho.eu", []string{"zoho-eu"}},
		{"yahoodns.net", []string{"yahoo"}},
		{"mailgun.org", []string{"mailgun", "mailgun-eu"}},
		{"example.com", nil},
		{"", nil},
	} {
		if got := ids(PresetsFor(c.domain)); !slices.Equal(got, c.want) {
			t.Errorf("PresetsFor(%q) = %v, want %v", c.domain, got, c.want)
		}
	}
}

func TestExpandPlaceholders(t *testing.T) {
	for _, c := range []struct{ pattern, email, want string }{
		{"%EMAILADDRESS%", "a.b@example.com", "a.b@example.com"},
		{"%EMAILLOCALPART%", "a.b@example.com", "a.b"},
		{"%EMAILLOCALPART%.%EMAILDOMAIN%", "a@example.com", "a.example.com"},
		{"mail.%EMAILDOMAIN%", "a@Example.com", "mail.Example.com"},
		{"apikey", "a@example.com", "apikey"},
		{"%EMAILLOCALPART%", "nodomain", "nodomain"},
		{"%EMAILADDRESS%", "", ""},
	} {
		if got := ExpandPlaceholders(c.pattern, c.email); got != c.want {
			t.Errorf("ExpandPlaceholders(%q, %q) = %q, want %q", c.pattern, c.email, got, c.want)
		}
	}
}
