package account

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/herald-smtp/herald/engine/transport"
)

// maxPrefsJSSize bounds the prefs.js files ParsePrefsJS reads.
const maxPrefsJSSize = 32 << 20

// prefLine matches one user_pref("key", value); statement on a line.
var prefLine = regexp.MustCompile(`^\s*user_pref\(\s*"((?:[^"\\]|\\.)*)"\s*,\s*(.*?)\s*\)\s*;\s*(?://.*)?$`)

// ParsePrefsJS reads a Thunderbird prefs.js and returns its SMTP servers as
// profiles, in Thunderbird's order, with the From address and name of the
// identity that uses each server (FromAddress stays empty when none does).
func ParsePrefsJS(r io.Reader) ([]Profile, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxPrefsJSSize+1))
	if err != nil {
		return nil, fmt.Errorf("prefs.js: read: %w", err)
	}
	if len(data) > maxPrefsJSSize {
		return nil, fmt.Errorf("prefs.js: file larger than %d bytes", maxPrefsJSSize)
	}
	prefs, err := readPrefs(string(data))
	if err != nil {
		return nil, err
	}

	// Server ids: mail.smtpservers gives Thunderbird's order; otherwise every
	// id seen, in natural order (smtp2 before smtp10).
	var ids []string
	if list := prefs.str("mail.smtpservers"); list != "" {
		ids = splitList(list)
	} else {
		ids = prefs.ids("mail.smtpserver.", "default")
	}
	if len(ids) == 0 {
		return nil, errors.New("prefs.js: no mail.smtpserver entries: Thunderbird has no outgoing server here")
	}

	identities := prefs.identityOrder()
	defaultServer := prefs.str("mail.smtp.defaultserver")
	var out []Profile
	for _, id := range ids {
		key := "mail.smtpserver." + id + "."
		host := strings.TrimSpace(prefs.str(key + "hostname"))
		if host == "" {
			continue
		}
		p := Profile{Server: Server{Host: host}, Username: prefs.str(key + "username")}
		switch prefs.int(key+"try_ssl", 0) {
		case 1, 2: // 1 is "STARTTLS if available": Herald has no opportunistic mode
			p.TLS = transport.TLSStartTLS
		case 3:
			p.TLS = transport.TLSImplicit
		default:
			p.TLS = transport.TLSNone
		}
		p.Port = prefs.int(key+"port", 0)
		if p.Port <= 0 || p.Port > 65535 {
			// Thunderbird's 0: the protocol default, 465 for SSL, else 25.
			p.Port = 25
			if p.TLS == transport.TLSImplicit {
				p.Port = 465
			}
		}
		switch prefs.int(key+"authMethod", 3) {
		case 1:
			p.Auth = transport.AuthNone
		case 4:
			p.Auth = transport.AuthCRAMMD5
		case 10:
			p.Auth = AuthOAuth2
			p.OAuth = &OAuth{Provider: oauthProviderForHost(host)}
		default: // 2 old password, 3 cleartext, 5 GSSAPI, 6 NTLM, 7 TLS certificate...
			p.Auth = transport.AuthAuto
		}
		p.Name = profileName(firstNonEmpty(strings.TrimSpace(prefs.str(key+"description")), host))
		if ident := prefs.identityFor(id, id == defaultServer, identities); ident != "" {
			p.FromAddress = strings.TrimSpace(prefs.str("mail.identity." + ident + ".useremail"))
			p.FromName = strings.TrimSpace(prefs.str("mail.identity." + ident + ".fullName"))
		}
		for what, v := range map[string]string{key + "hostname": host, key + "username": p.Username, "the identity's useremail": p.FromAddress, "the identity's fullName": p.FromName} {
			if strings.ContainsAny(v, "\r\n\x00") || !utf8.ValidString(v) {
				return nil, fmt.Errorf("prefs.js: %s %q holds a line break, NUL or invalid UTF-8", what, v)
			}
		}
		if strings.ContainsFunc(host, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) {
			return nil, fmt.Errorf("prefs.js: %shostname %q holds white space or a control character", key, host)
		}
		p.Normalize()
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, errors.New("prefs.js: no mail.smtpserver has a hostname")
	}
	return out, nil
}

// prefValues holds the parsed preferences: string, int or bool values.
type prefValues map[string]any

func readPrefs(text string) (prefValues, error) {
	prefs := prefValues{}
	inComment := false
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if inComment {
			end := strings.Index(line, "*/")
			if end < 0 {
				continue
			}
			inComment = false
			line = line[end+2:]
		}
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "/*") {
			if !strings.Contains(trimmed[2:], "*/") {
				inComment = true
			}
			continue
		}
		m := prefLine.FindStringSubmatch(line)
		if m == nil {
			continue // comments, blank lines and anything else
		}
		key, err := jsUnquote(m[1])
		if err != nil {
			return nil, fmt.Errorf("prefs.js: line %d: key: %w", i+1, err)
		}
		val, err := prefValue(m[2])
		if err != nil {
			return nil, fmt.Errorf("prefs.js: line %d: %s: %w", i+1, key, err)
		}
		prefs[key] = val
	}
	return prefs, nil
}

func prefValue(s string) (any, error) {
	switch {
	case s == "true":
		return true, nil
	case s == "false":
		return false, nil
	case len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"':
		return jsUnquote(s[1 : len(s)-1])
	}
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	return nil, fmt.Errorf("value %q is not a string, number or boolean", s)
}

// jsUnquote decodes the escapes of a JavaScript string body.
func jsUnquote(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			return "", errors.New("string ends in a lone backslash")
		}
		switch c = s[i]; c {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '0':
			b.WriteByte(0)
		case 'x':
			if i+3 > len(s) {
				return "", errors.New(`short \x escape`)
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", fmt.Errorf(`bad \x escape %q`, s[i+1:i+3])
			}
			b.WriteRune(rune(v))
			i += 2
		case 'u':
			r, n, err := jsUnicodeEscape(s[i+1:])
			if err != nil {
				return "", err
			}
			b.WriteRune(r)
			i += n
		default: // \" \\ \' \/ and any other character stand for themselves
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// jsUnicodeEscape decodes the XXXX after \u, joining a surrogate pair; n is
// how many bytes of s it used.
func jsUnicodeEscape(s string) (r rune, n int, err error) {
	hex4 := func(s string) (rune, bool) {
		if len(s) < 4 {
			return 0, false
		}
		v, err := strconv.ParseUint(s[:4], 16, 16)
		return rune(v), err == nil
	}
	r, ok := hex4(s)
	if !ok {
		return 0, 0, fmt.Errorf(`bad \u escape %q`, s[:min(4, len(s))])
	}
	n = 4
	if utf16.IsSurrogate(r) && len(s) >= 10 && s[4:6] == `\u` {
		if r2, ok := hex4(s[6:]); ok {
			if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
				return pair, 10, nil
			}
		}
	}
	if utf16.IsSurrogate(r) {
		r = utf8.RuneError
	}
	return r, n, nil
}

func (p prefValues) str(key string) string {
	switch v := p[key].(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	}
	return ""
}

func (p prefValues) int(key string, def int) int {
	switch v := p[key].(type) {
	case int:
		return v
	case string:
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			return n
		}
	}
	return def
}

// ids returns the distinct <id> of keys prefix<id>.<field>, except skip, in
// natural order.
func (p prefValues) ids(prefix, skip string) []string {
	var ids []string
	for k := range p {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		id, _, ok := strings.Cut(rest, ".")
		if ok && id != "" && id != skip && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, naturalCompare)
	return ids
}

// identityOrder lists identity ids: the default account's first, then the
// other accounts' in mail.accountmanager.accounts order, then any left, in
// natural order.
func (p prefValues) identityOrder() []string {
	var accounts []string
	if def := p.str("mail.accountmanager.defaultaccount"); def != "" {
		accounts = append(accounts, def)
	}
	accounts = append(accounts, splitList(p.str("mail.accountmanager.accounts"))...)
	var out []string
	for _, a := range accounts {
		for _, id := range splitList(p.str("mail.account." + a + ".identities")) {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	for _, id := range p.ids("mail.identity.", "default") {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// identityFor picks the identity whose From address goes with a server: the
// first that names it, else (for the default server) the first that names
// none, else the default identity.
func (p prefValues) identityFor(server string, isDefault bool, order []string) string {
	withAddress := func(id string) bool { return strings.TrimSpace(p.str("mail.identity."+id+".useremail")) != "" }
	for _, id := range order {
		if p.str("mail.identity."+id+".smtpServer") == server && withAddress(id) {
			return id
		}
	}
	if isDefault {
		for _, id := range order {
			if p.str("mail.identity."+id+".smtpServer") == "" && withAddress(id) {
				return id
			}
		}
	}
	for _, id := range order {
		if withAddress(id) {
			return id
		}
	}
	return ""
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// naturalCompare orders "smtp2" before "smtp10": a common prefix, then the
// trailing numbers by value.
func naturalCompare(a, b string) int {
	pa, na := splitTrailingNumber(a)
	pb, nb := splitTrailingNumber(b)
	if c := strings.Compare(pa, pb); c != 0 {
		return c
	}
	if na != nb {
		if na < nb {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func splitTrailingNumber(s string) (string, int) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	n, err := strconv.Atoi(s[i:])
	if err != nil {
		return s, -1
	}
	return s[:i], n
}
