package account

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// parsedSane checks what a parser may hand on without validation: a host
// to dial, a port in range, and no line break or NUL in anything that goes
// into a command, a file name or the window.
func parsedSane(t *testing.T, what string, ps []Profile) {
	t.Helper()
	for i, p := range ps {
		if p.Host == "" || strings.TrimSpace(p.Host) != p.Host {
			t.Fatalf("%s: profile %d: host %q", what, i, p.Host)
		}
		if p.Port < 0 || p.Port > 65535 {
			t.Fatalf("%s: profile %d: port %d", what, i, p.Port)
		}
		for name, v := range map[string]string{"host": p.Host, "username": p.Username, "name": p.Name, "from": p.FromAddress, "from-name": p.FromName} {
			if strings.ContainsAny(v, "\r\n\x00") {
				t.Fatalf("%s: profile %d: %s %q holds a line break or NUL", what, i, name, v)
			}
			if !utf8.ValidString(v) {
				t.Fatalf("%s: profile %d: %s %q is not UTF-8", what, i, name, v)
			}
		}
	}
}

// FuzzParseAutoconfig: any document gives profiles or an error, never a
// panic; a profile that validates survives export and parsing again.
func FuzzParseAutoconfig(f *testing.F) {
	f.Add(sampleAutoconfig, "jane@example.com")
	f.Add(`<clientConfig version="1.1"><emailProvider id="x"><outgoingServer type="smtp"><hostname>h.example</hostname><port>x</port></outgoingServer></emailProvider></clientConfig>`, "a@b.example")
	f.Add(`<?xml version="1.0"?><!DOCTYPE clientConfig [<!ENTITY x "y">]><clientConfig/>`, "a@b.example")
	f.Add(`<clientConfig><emailProvider id="%EMAILDOMAIN%"><displayName>%EMAILLOCALPART%&#10;x</displayName><outgoingServer type="SMTP"><hostname>smtp.%EMAILDOMAIN%</hostname><port>587</port><socketType>STARTTLS</socketType><username>%EMAILADDRESS%</username></outgoingServer></emailProvider></clientConfig>`, "evil\r\n@x.example")
	f.Fuzz(func(t *testing.T, doc, email string) {
		ps, err := ParseAutoconfig(strings.NewReader(doc), email)
		if err != nil {
			return
		}
		parsedSane(t, "autoconfig", ps)
		for _, p := range ps {
			if p.Validate() != nil {
				continue
			}
			var buf bytes.Buffer
			if err := ExportAutoconfig(&buf, p); err != nil {
				t.Fatalf("export of a valid profile: %v", err)
			}
			back, err := ParseAutoconfig(&buf, p.FromAddress)
			if err != nil || len(back) != 1 || back[0].Host != p.Host || back[0].Port != p.Port || back[0].TLS != p.TLS {
				t.Fatalf("round trip of %+v: %+v, %v\n%s", p, back, err, buf.String())
			}
		}
	})
}

// FuzzParsePrefsJS: any prefs.js gives profiles or an error, never a panic.
func FuzzParsePrefsJS(f *testing.F) {
	f.Add(samplePrefsJS)
	f.Add(`user_pref("mail.smtpserver.smtp1.hostname", "h\u000d\u000aRCPT TO:<x>");`)
	f.Add(`user_pref("mail.smtpservers", "smtp1,,smtp1");` + "\n" + `user_pref("mail.smtpserver.smtp1.hostname", " smtp.example.com ");` + "\n" + `user_pref("mail.smtpserver.smtp1.port", 99999999999999999999);`)
	f.Add("/* unterminated\nuser_pref(\"mail.smtpserver.smtp1.hostname\", \"a\");")
	f.Add(`user_pref("mail.identity.id1.fullName", "\ud83d");` + "\n" + `user_pref("mail.identity.id1.smtpServer", "smtp1");` + "\n" + `user_pref("mail.smtpserver.smtp1.hostname", "x");`)
	f.Fuzz(func(t *testing.T, js string) {
		ps, err := ParsePrefsJS(strings.NewReader(js))
		if err != nil {
			return
		}
		parsedSane(t, "prefs.js", ps)
	})
}
