// Package hint describes, as data, what went wrong and which setting fixes
// it. The engine names no flag, command or button: each front end words a
// Hint in its own terms (the command line as "herald profile edit work --tls
// implicit", the window as a "Use implicit TLS" button).
package hint

import (
	"encoding/json"
	"strings"
)

// Setting names a profile or session setting (or an action) that can fix a
// failure. Front ends map each to their own words.
type Setting string

// The settings and actions a Fix may name.
const (
	TLS               Setting = "tls"                 // Value: implicit, starttls or none
	Port              Setting = "port"                // Value: the suggested port
	Server            Setting = "server"              // the host name (Value: a suggestion, or "")
	Auth              Setting = "auth"                // Value: the suggested auth method
	User              Setting = "user"                // the user name for AUTH
	Password          Setting = "password"            // store a (new, or app-specific) password
	OAuthSignIn       Setting = "oauth-sign-in"       // sign in again with OAuth2
	AllowInsecureAuth Setting = "allow-insecure-auth" // opt in to AUTH without TLS
	CAFile            Setting = "ca-file"             // trust an extra CA certificate file
	PinCertificate    Setting = "pin-certificate"     // Value: the certificate's SHA-256 fingerprint
	Timeout           Setting = "timeout"             // Value: a suggested duration
	Pipelining        Setting = "pipelining"          // Value: auto, on or off
	From              Setting = "from"                // the sender address
	DKIMSelector      Setting = "dkim-selector"       // the DKIM selector to check
	Discover          Setting = "discover"            // action: find the server from the address
	CheckDomain       Setting = "check-domain"        // action: check the sender domain's DNS (SPF, DKIM, DMARC)
	StartSandbox      Setting = "start-sandbox"       // action: start the built-in sandbox
	ReleaseHeld       Setting = "release-held"        // action: release the messages held for a profile
	Retry             Setting = "retry"               // action: try again later
	Profile           Setting = "profile"             // action: review and correct the account profile's settings
)

// Fix is one remedy: set Setting (to Value, where a value is suggested).
type Fix struct {
	Setting Setting `json:"setting"`
	Value   string  `json:"value,omitempty"`
	// Label says the remedy in a few plain words ("Use implicit TLS on port
	// 465"), for a button or a list; it names no flag or command.
	Label string `json:"label"`
	// Also are settings that change together with this one, as one remedy
	// (implicit TLS goes with port 465).
	Also []Change `json:"also,omitempty"`
}

// Change is one more setting a Fix sets along with its own.
type Change struct {
	Setting Setting `json:"setting"`
	Value   string  `json:"value,omitempty"`
}

// Changes returns every setting the fix changes: its own first, then Also.
func (f Fix) Changes() []Change {
	return append([]Change{{Setting: f.Setting, Value: f.Value}}, f.Also...)
}

// Hint explains a failure in plain language and lists its remedies.
type Hint struct {
	// Text says what is wrong and what to try, naming settings in words
	// ("the TLS mode"), never a flag or a command.
	Text string `json:"text"`
	// Fixes are the remedies, most likely first.
	Fixes []Fix `json:"fixes,omitempty"`
	// Link is a page that explains more (a provider's app-password page).
	Link string `json:"link,omitempty"`
}

// Empty reports whether h says nothing.
func (h Hint) Empty() bool { return h.Text == "" && len(h.Fixes) == 0 && h.Link == "" }

// String returns the hint's text.
func (h Hint) String() string { return h.Text }

// Encode returns h as one string for a text column: the plain text when h
// has no fixes and no link, else a JSON object. Decode reads both.
func (h Hint) Encode() string {
	if len(h.Fixes) == 0 && h.Link == "" {
		return h.Text
	}
	b, err := json.Marshal(h)
	if err != nil { // cannot happen: Hint has only strings and slices of them
		return h.Text
	}
	return string(b)
}

// Decode reads what Encode wrote; any other string is taken as plain text,
// so that hints stored before hints had fixes read as they were.
func Decode(s string) Hint {
	if strings.HasPrefix(s, "{") {
		var h Hint
		if err := json.Unmarshal([]byte(s), &h); err == nil && h.Text != "" {
			return h
		}
	}
	return Hint{Text: s}
}
