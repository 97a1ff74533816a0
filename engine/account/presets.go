package account

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/herald-smtp/herald/engine/transport"
)

//go:embed presets.json
var presetsJSON []byte

// Preset is a provider's documented submission settings, read from the
// embedded presets.json.
type Preset struct {
	// ID names the preset in profiles and on the command line ("gmail").
	ID string `json:"id"`
	// Name is the provider's name as shown to the user.
	Name string `json:"name"`
	// Domains are the mail domains the provider serves (gmail.com).
	Domains []string `json:"domains,omitempty"`
	// MXDomains are the registered domains of the provider's MX hosts, which
	// identify it for custom domains (google.com for Google Workspace).
	MXDomains []string `json:"mx_domains,omitempty"`
	// Host, Port and TLS are the submission server.
	Host string            `json:"host"`
	Port int               `json:"port"`
	TLS  transport.TLSMode `json:"tls"`
	// Auth is the profile auth method to use (auto, none, oauth2...).
	Auth transport.AuthMethod `json:"auth"`
	// Username is the login pattern with Thunderbird placeholders
	// (%EMAILADDRESS%, %EMAILLOCALPART%, %EMAILDOMAIN%) or a literal
	// ("apikey"); empty when the provider issues its own SMTP login.
	Username string `json:"username,omitempty"`
	// SetupURL is the provider's page about app passwords, API keys or SMTP
	// settings.
	SetupURL string `json:"setup_url,omitempty"`
	// Notes is one plain sentence about what the provider requires.
	Notes string `json:"notes,omitempty"`
	// OAuth names the built-in OAuth2 provider the service supports
	// ("google", "microsoft"); empty if none.
	OAuth string `json:"oauth,omitempty"`
	// Fallbacks are the provider's other documented ports, tried in order
	// when the main one is unreachable.
	Fallbacks []Server `json:"fallbacks,omitempty"`
}

type presetFile struct {
	Presets []Preset `json:"presets"`
}

// loadPresets parses the embedded file once; callers get copies.
var loadPresets = sync.OnceValues(func() ([]Preset, error) {
	dec := json.NewDecoder(bytes.NewReader(presetsJSON))
	dec.DisallowUnknownFields()
	var f presetFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("presets.json: %w", err)
	}
	return f.Presets, nil
})

func (p Preset) clone() Preset {
	p.Domains = slices.Clone(p.Domains)
	p.MXDomains = slices.Clone(p.MXDomains)
	p.Fallbacks = slices.Clone(p.Fallbacks)
	return p
}

// Presets returns every built-in provider preset, in the file's order; the
// slice is the caller's to change.
func Presets() []Preset {
	ps, err := loadPresets()
	if err != nil {
		// The embedded file is checked by the tests; a broken build is a bug.
		panic(err)
	}
	out := make([]Preset, len(ps))
	for i, p := range ps {
		out[i] = p.clone()
	}
	return out
}

// PresetByID returns the preset with the given id (case-insensitive).
func PresetByID(id string) (Preset, bool) {
	id = strings.ToLower(strings.TrimSpace(id))
	for _, p := range Presets() {
		if p.ID == id {
			return p, true
		}
	}
	return Preset{}, false
}

// PresetsFor returns the presets that serve a mail domain, followed by those
// whose MX registered domain it is (case-insensitive, exact match).
func PresetsFor(domain string) []Preset {
	domain = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(domain), "."))
	if domain == "" {
		return nil
	}
	all := Presets()
	var byMail, byMX []Preset
	for _, p := range all {
		switch {
		case slices.Contains(p.Domains, domain):
			byMail = append(byMail, p)
		case slices.Contains(p.MXDomains, domain):
			byMX = append(byMX, p)
		}
	}
	return append(byMail, byMX...)
}

// Apply returns a profile for email made from the preset: server, fallbacks,
// auth, username with placeholders expanded, Preset and FromAddress set, and
// Normalize's defaults; the caller gives it a Name.
func (p Preset) Apply(email string) Profile {
	email = strings.TrimSpace(email)
	prof := Profile{
		Preset:      p.ID,
		FromAddress: email,
		Server:      Server{Host: p.Host, Port: p.Port, TLS: p.TLS},
		Auth:        p.Auth,
		Username:    ExpandPlaceholders(p.Username, email),
		Fallbacks:   slices.Clone(p.Fallbacks),
	}
	if p.Auth == AuthOAuth2 || p.Auth == transport.AuthXOAUTH2 {
		provider := p.OAuth
		if provider == "" {
			provider = "custom"
		}
		prof.OAuth = &OAuth{Provider: provider}
	}
	prof.Normalize()
	return prof
}

// ExpandPlaceholders replaces the Thunderbird placeholders %EMAILADDRESS%,
// %EMAILLOCALPART% and %EMAILDOMAIN% in pattern with the parts of email.
func ExpandPlaceholders(pattern, email string) string {
	if !strings.Contains(pattern, "%") {
		return pattern
	}
	local, domain := splitEmail(email)
	return strings.NewReplacer(
		"%EMAILADDRESS%", email,
		"%EMAILLOCALPART%", local,
		"%EMAILDOMAIN%", domain,
	).Replace(pattern)
}

// splitEmail splits an address at its last @; without one, it is all local
// part.
func splitEmail(email string) (local, domain string) {
	email = strings.TrimSpace(email)
	i := strings.LastIndexByte(email, '@')
	if i < 0 {
		return email, ""
	}
	return email[:i], email[i+1:]
}
