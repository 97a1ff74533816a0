package account

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/transport"
)

func fullProfile() Profile {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	return Profile{
		ID: "p-123", Name: "Work", Preset: "microsoft365",
		FromAddress: "jane@corp.example", FromName: "Jane Doe", ReplyTo: "team@corp.example",
		Server: Server{Host: "smtp.office365.com", Port: 587, TLS: transport.TLSStartTLS},
		Auth:   AuthOAuth2, Username: "jane@corp.example", Secret: SecretKeychain,
		HeloName: "laptop.corp.example", CAFile: "/etc/ssl/corp.pem",
		PinnedSHA256: strings.Repeat("ab", 32), Timeout: Duration(30 * time.Second),
		Limits:    Limits{PerMinute: 30, Sessions: 2, PerSession: 50},
		Fallbacks: []Server{{Host: "smtp2.corp.example", Port: 465, TLS: transport.TLSImplicit}},
		Headers:   []message.Header{{Name: "X-Campaign", Value: "spring"}},
		Signature: "-- \nJane", AllowInsecureAuth: false,
		OAuth:   &OAuth{Provider: "microsoft", ClientID: "client-1", TenantID: "tenant-1", Scopes: []string{"https://outlook.office365.com/SMTP.Send", "offline_access"}, AuthURL: "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/authorize", TokenURL: "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token"},
		DKIM:    &DKIM{Domain: "corp.example", Selector: "s1"},
		Created: now, Updated: now.Add(time.Hour),
	}
}

func TestJSONRoundTrip(t *testing.T) {
	a := fullProfile()
	s, _ := PresetByID("sandbox")
	b := s.Apply("test@example.com")
	b.Name = "Sandbox"
	b.ID = "p-456"

	var buf bytes.Buffer
	if err := ExportJSON(&buf, a, b); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "{\n  \"herald_profiles\": 1,\n  \"profiles\": [\n    {\n") {
		t.Errorf("not the documented indented shape:\n%s", out)
	}
	for _, w := range []string{`"id"`, `"created"`, `"updated"`, "p-123"} {
		if strings.Contains(out, w) {
			t.Errorf("export contains %s:\n%s", w, out)
		}
	}
	assertNoSecretJSON(t, buf.Bytes())

	ps, err := ImportJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	want := []Profile{portable(a), portable(b)}
	if !reflect.DeepEqual(ps, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", ps, want)
	}
	for _, p := range ps {
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
	}

	// An empty export is a valid document with an empty list.
	buf.Reset()
	if err := ExportJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if ps, err := ImportJSON(&buf); err != nil || len(ps) != 0 {
		t.Errorf("empty export: %v %v", ps, err)
	}
}

func TestImportJSONSingle(t *testing.T) {
	b, err := json.Marshal(fullProfile())
	if err != nil {
		t.Fatal(err)
	}
	ps, err := ImportJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || !reflect.DeepEqual(ps[0], portable(fullProfile())) {
		t.Errorf("single: %+v", ps)
	}
}

func TestImportJSONErrors(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{`{"herald_profiles": 2, "profiles": []}`, "version 2 is not supported"},
		{`{"herald_profiles": "1", "profiles": []}`, "is not a version number"},
		{`{"herald_profiles": 1}`, `no "profiles" list`},
		{`{"profiles": []}`, `without a "herald_profiles" version`},
		{`[1, 2]`, "not a JSON object"},
		{`{"name": 5}`, "json import: profile:"},
		{`{"herald_profiles": 1, "profiles": [{"port": "x"}]}`, "json import:"},
		{`{"timeout": "soon"}`, "json import: profile:"},
	} {
		_, err := ImportJSON(strings.NewReader(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ImportJSON(%s): err = %v, want %q", c.doc, err, c.want)
		}
	}
	big := `{"name": "` + strings.Repeat("x", maxJSONSize) + `"}`
	if _, err := ImportJSON(strings.NewReader(big)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("huge document: err = %v", err)
	}
}

// secretKey matches JSON keys that would hold a credential; token_url and
// the secret mode ("keychain"/"ask") are settings, not secrets.
var secretKey = regexp.MustCompile(`(?i)(passw|passwd|private|refresh|client_secret|api_?key|access_?token|^token$|_token$)`)

func assertNoSecretJSON(t *testing.T, data []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if secretKey.MatchString(k) {
					t.Errorf("exported JSON has a secret-looking key %s.%s", path, k)
				}
				if k == "secret" && e != string(SecretKeychain) && e != string(SecretAsk) {
					t.Errorf("%s.secret = %v: only the mode may be exported", path, e)
				}
				walk(path+"."+k, e)
			}
		case []any:
			for _, e := range v {
				walk(path+"[]", e)
			}
		}
	}
	walk("$", v)
}

// TestNoSecretsExported checks every export format on a profile with every
// field set, plus the Profile type itself.
func TestNoSecretsExported(t *testing.T) {
	p := fullProfile()
	var buf bytes.Buffer
	if err := ExportJSON(&buf, p); err != nil {
		t.Fatal(err)
	}
	assertNoSecretJSON(t, buf.Bytes())
	b, _ := json.Marshal(p)
	assertNoSecretJSON(t, b)

	buf.Reset()
	if err := ExportAutoconfig(&buf, p); err != nil {
		t.Fatal(err)
	}
	assertNoSecretXML(t, buf.String())
	if strings.Contains(buf.String(), "client-1") {
		t.Error("autoconfig export carries the OAuth client id")
	}
}
