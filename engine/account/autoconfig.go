package account

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/herald-smtp/herald/engine/transport"
)

// maxAutoconfigSize bounds the autoconfig documents ParseAutoconfig reads.
const maxAutoconfigSize = 1 << 20

// The clientConfig v1.1 elements Herald reads and writes.
type acConfig struct {
	XMLName   xml.Name     `xml:"clientConfig"`
	Version   string       `xml:"version,attr"`
	Providers []acProvider `xml:"emailProvider"`
	OAuth2    *acOAuth2    `xml:"oAuth2,omitempty"`
}

type acProvider struct {
	ID               string     `xml:"id,attr"`
	Domains          []string   `xml:"domain"`
	DisplayName      string     `xml:"displayName,omitempty"`
	DisplayShortName string     `xml:"displayShortName,omitempty"`
	Outgoing         []acServer `xml:"outgoingServer"`
	Docs             []acDoc    `xml:"documentation,omitempty"`
}

type acServer struct {
	Type       string   `xml:"type,attr"`
	Hostname   string   `xml:"hostname"`
	Port       string   `xml:"port"`
	SocketType string   `xml:"socketType"`
	Username   string   `xml:"username,omitempty"`
	Auth       []string `xml:"authentication"`
}

type acDoc struct {
	URL   string `xml:"url,attr"`
	Descr string `xml:"descr,omitempty"`
}

type acOAuth2 struct {
	Issuer   string `xml:"issuer"`
	Scope    string `xml:"scope"`
	AuthURL  string `xml:"authURL"`
	TokenURL string `xml:"tokenURL"`
}

// The OAuth2 issuers of the built-in providers.
const (
	issuerGoogle    = "accounts.google.com"
	issuerMicrosoft = "login.microsoftonline.com"
)

// ParseAutoconfig reads a Thunderbird clientConfig (v1.1) document and
// returns one profile per outgoingServer of type smtp, placeholders expanded
// for email, named after the provider, with FromAddress email.
func ParseAutoconfig(r io.Reader, email string) ([]Profile, error) {
	email = strings.TrimSpace(email)
	if strings.ContainsAny(email, "\r\n\x00") || !utf8.ValidString(email) {
		return nil, fmt.Errorf("autoconfig: the address %q holds a line break, NUL or invalid UTF-8", email)
	}
	data, err := io.ReadAll(io.LimitReader(r, maxAutoconfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("autoconfig: read: %w", err)
	}
	if len(data) > maxAutoconfigSize {
		return nil, fmt.Errorf("autoconfig: document larger than %d bytes", maxAutoconfigSize)
	}
	if err := rejectDirectives(data); err != nil {
		return nil, err
	}
	var doc acConfig
	if err := xml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("autoconfig: %w", err)
	}
	_, domain := splitEmail(email)
	var out []Profile
	n := 0
	for _, prov := range doc.Providers {
		name := firstNonEmpty(prov.DisplayShortName, prov.DisplayName, domain, prov.ID)
		name = profileName(ExpandPlaceholders(strings.TrimSpace(name), email))
		for _, s := range prov.Outgoing {
			n++
			if !strings.EqualFold(strings.TrimSpace(s.Type), "smtp") {
				continue
			}
			p, err := autoconfigServer(s, email, doc.OAuth2)
			if err != nil {
				return nil, fmt.Errorf("autoconfig: outgoingServer %d: %w", n, err)
			}
			p.Name = name
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("autoconfig: no outgoingServer of type smtp")
	}
	return out, nil
}

// rejectDirectives refuses DOCTYPE and other directives: clientConfig needs
// none, and encoding/xml would not expand their entities anyway.
func rejectDirectives(data []byte) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("autoconfig: %w", err)
		}
		if dir, ok := tok.(xml.Directive); ok {
			word, _, _ := strings.Cut(strings.TrimSpace(string(dir)), " ")
			return fmt.Errorf("autoconfig: <!%s> is not allowed", word)
		}
	}
}

func autoconfigServer(s acServer, email string, oa *acOAuth2) (Profile, error) {
	p := Profile{FromAddress: email}
	host := ExpandPlaceholders(strings.TrimSpace(s.Hostname), email)
	if host == "" {
		return p, errors.New("no hostname")
	}
	if strings.Contains(host, "%") {
		return p, fmt.Errorf("hostname %q has a placeholder the address does not fill", host)
	}
	if strings.ContainsFunc(host, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) {
		return p, fmt.Errorf("hostname %q holds white space or a control character", host)
	}
	p.Host = host
	switch st := strings.TrimSpace(s.SocketType); strings.ToLower(st) {
	case "ssl", "tls":
		p.TLS = transport.TLSImplicit
	case "starttls":
		p.TLS = transport.TLSStartTLS
	case "plain":
		p.TLS = transport.TLSNone
	case "":
		// Left to Normalize: implicit on 465, STARTTLS elsewhere.
	default:
		return p, fmt.Errorf("socketType %q is not SSL, STARTTLS or plain", st)
	}
	if ps := strings.TrimSpace(s.Port); ps != "" {
		port, err := strconv.Atoi(ps)
		if err != nil {
			return p, fmt.Errorf("port %q is not a number", ps)
		}
		if port < 1 || port > 65535 {
			return p, fmt.Errorf("port %d is not from 1 to 65535", port)
		}
		p.Port = port
	}
	user := strings.TrimSpace(s.Username)
	if user == "%EMAILADDRESS" { // a known ISPDB typo
		user = "%EMAILADDRESS%"
	}
	p.Username = ExpandPlaceholders(user, email)
	if strings.ContainsAny(p.Username, "\r\n\x00") {
		return p, fmt.Errorf("username %q holds a line break or NUL", p.Username)
	}
	p.Auth = autoconfigAuth(s.Auth)
	if p.Auth == AuthOAuth2 {
		p.OAuth = autoconfigOAuth(oa, p.Host)
		// Herald cannot sign in with OAuth2 yet: where the provider also
		// takes a password (an app password), use that and keep the OAuth
		// settings for later.
		if alt := autoconfigAuth(withoutOAuth(s.Auth)); len(withoutOAuth(s.Auth)) > 0 && alt != transport.AuthNone {
			p.Auth = alt
		}
	}
	p.Normalize()
	return p, nil
}

func withoutOAuth(list []string) []string {
	var out []string
	for _, a := range list {
		if !strings.EqualFold(strings.TrimSpace(a), "oauth2") {
			out = append(out, a)
		}
	}
	return out
}

// autoconfigAuth maps the first <authentication> Herald supports; none or
// only unsupported ones give auto.
func autoconfigAuth(list []string) transport.AuthMethod {
	for _, a := range list {
		switch strings.ToLower(strings.TrimSpace(a)) {
		case "password-cleartext", "plain": // plain and secure are Thunderbird's old aliases
			return transport.AuthAuto
		case "password-encrypted", "secure":
			return transport.AuthCRAMMD5
		case "oauth2":
			return AuthOAuth2
		case "none", "client-ip-address", "smtp-after-pop":
			return transport.AuthNone
		}
	}
	return transport.AuthAuto
}

// autoconfigOAuth builds the OAuth settings from the document's <oAuth2>
// element, or from the host when there is none.
func autoconfigOAuth(oa *acOAuth2, host string) *OAuth {
	if oa == nil {
		return &OAuth{Provider: oauthProviderForHost(host)}
	}
	o := &OAuth{
		Provider: oauthProviderForIssuer(strings.TrimSpace(oa.Issuer)),
		AuthURL:  strings.TrimSpace(oa.AuthURL),
		TokenURL: strings.TrimSpace(oa.TokenURL),
	}
	for _, s := range strings.Fields(oa.Scope) {
		if !unrelatedScope(s) {
			o.Scopes = append(o.Scopes, s)
		}
	}
	return o
}

// unrelatedScope reports scopes a sending client has no use for (contacts,
// calendars), which ISPDB documents list for Thunderbird's other features.
func unrelatedScope(s string) bool {
	s = strings.ToLower(s)
	for _, w := range []string{"calendar", "contacts", "carddav", "caldav", "addressbook"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

func oauthProviderForIssuer(issuer string) string {
	switch strings.ToLower(issuer) {
	case issuerGoogle:
		return "google"
	case issuerMicrosoft:
		return "microsoft"
	}
	return "custom"
}

// oauthProviderForHost guesses the built-in OAuth2 provider from a
// submission host.
func oauthProviderForHost(host string) string {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	for _, s := range []string{"gmail.com", "googlemail.com", "google.com"} {
		if h == s || strings.HasSuffix(h, "."+s) {
			return "google"
		}
	}
	for _, s := range []string{"office365.com", "outlook.com", "office.com", "hotmail.com", "live.com"} {
		if h == s || strings.HasSuffix(h, "."+s) {
			return "microsoft"
		}
	}
	return "custom"
}

// ExportAutoconfig writes p as a Thunderbird clientConfig v1.1 document with
// one outgoingServer (and one more per fallback); the username is turned
// back into placeholders, and nothing secret is written.
func ExportAutoconfig(w io.Writer, p Profile) error {
	if p.FromAddress == "" {
		return errors.New("autoconfig export: the profile has no from address")
	}
	local, domain := splitEmail(p.FromAddress)
	domain = strings.ToLower(domain)
	if domain == "" {
		return fmt.Errorf("autoconfig export: from address %q has no domain", p.FromAddress)
	}
	p.Normalize()
	user := p.Username
	switch {
	case user == "":
	case strings.EqualFold(user, p.FromAddress):
		user = "%EMAILADDRESS%"
	case user == local:
		user = "%EMAILLOCALPART%"
	}
	auth, err := exportAuth(p)
	if err != nil {
		return err
	}
	prov := acProvider{
		ID:               domain,
		Domains:          []string{domain},
		DisplayName:      firstNonEmpty(p.Name, domain),
		DisplayShortName: firstNonEmpty(p.Name, domain),
	}
	for _, s := range append([]Server{p.Server}, p.Fallbacks...) {
		socket, err := exportSocket(s.TLS)
		if err != nil {
			return err
		}
		prov.Outgoing = append(prov.Outgoing, acServer{
			Type: "smtp", Hostname: s.Host, Port: strconv.Itoa(s.Port),
			SocketType: socket, Username: user, Auth: []string{auth},
		})
	}
	if pr, ok := PresetByID(p.Preset); ok && pr.SetupURL != "" {
		prov.Docs = append(prov.Docs, acDoc{URL: pr.SetupURL, Descr: pr.Notes})
	}
	doc := acConfig{Version: "1.1", Providers: []acProvider{prov}}
	if auth == "OAuth2" {
		doc.OAuth2 = exportOAuth(p.OAuth)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("autoconfig export: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("autoconfig export: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("autoconfig export: %w", err)
	}
	return nil
}

func exportSocket(m transport.TLSMode) (string, error) {
	switch m {
	case transport.TLSImplicit:
		return "SSL", nil
	case transport.TLSStartTLS:
		return "STARTTLS", nil
	case transport.TLSNone:
		return "plain", nil
	}
	return "", fmt.Errorf("autoconfig export: unknown TLS mode %q", m)
}

func exportAuth(p Profile) (string, error) {
	switch p.Auth {
	case transport.AuthNone:
		return "none", nil
	case transport.AuthAuto:
		if p.Username == "" {
			return "none", nil
		}
		return "password-cleartext", nil
	case transport.AuthPlain, transport.AuthLogin:
		return "password-cleartext", nil
	case transport.AuthCRAMMD5, transport.AuthSCRAMSHA1, transport.AuthSCRAMSHA256:
		return "password-encrypted", nil
	case AuthOAuth2, transport.AuthXOAUTH2:
		return "OAuth2", nil
	}
	return "", fmt.Errorf("autoconfig export: unknown auth method %q", p.Auth)
}

// exportOAuth writes the <oAuth2> element: the document's endpoints, or the
// built-in provider's well-known ones.
func exportOAuth(o *OAuth) *acOAuth2 {
	if o == nil {
		return nil
	}
	e := &acOAuth2{AuthURL: o.AuthURL, TokenURL: o.TokenURL, Scope: strings.Join(o.Scopes, " ")}
	switch o.Provider {
	case "google":
		e.Issuer = issuerGoogle
		e.AuthURL = firstNonEmpty(e.AuthURL, "https://accounts.google.com/o/oauth2/auth")
		e.TokenURL = firstNonEmpty(e.TokenURL, "https://www.googleapis.com/oauth2/v3/token")
		e.Scope = firstNonEmpty(e.Scope, "https://mail.google.com/")
	case "microsoft":
		tenant := firstNonEmpty(o.TenantID, "common")
		e.Issuer = issuerMicrosoft
		e.AuthURL = firstNonEmpty(e.AuthURL, "https://login.microsoftonline.com/"+tenant+"/oauth2/v2.0/authorize")
		e.TokenURL = firstNonEmpty(e.TokenURL, "https://login.microsoftonline.com/"+tenant+"/oauth2/v2.0/token")
		e.Scope = firstNonEmpty(e.Scope, "https://outlook.office365.com/SMTP.Send offline_access")
	default:
		if u, err := url.Parse(e.AuthURL); err == nil && u.Host != "" {
			e.Issuer = u.Hostname()
		}
	}
	if e.Issuer == "" || e.AuthURL == "" || e.TokenURL == "" {
		return nil
	}
	return e
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// profileName turns an imported display name into one Validate accepts:
// slashes become hyphens, control characters spaces, at most 100 bytes.
func profileName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '/' || r == '\\':
			return '-'
		case unicode.IsControl(r) || unicode.IsSpace(r):
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	for len(s) > 100 {
		_, size := utf8.DecodeLastRuneInString(s)
		s = strings.TrimSpace(s[:len(s)-size])
	}
	return s
}
