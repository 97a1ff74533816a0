package hostile

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Script is a mostly correct SMTP server (banner, EHLO, STARTTLS, AUTH
// PLAIN, LOGIN and CRAM-MD5, MAIL, RCPT, DATA, RSET, NOOP, QUIT) whose
// every answer can be overridden. Replies to commands that arrive together
// (a pipelined group) leave together in one write, as real servers send
// them. Serve makes it a Handler.
type Script struct {
	// Banner is the greeting (default "220 hostile.herald.test ESMTP"),
	// sent in one write; it may hold several lines, injected ones too.
	Banner []string
	// Exts are the EHLO extensions (default DefaultExts); STARTTLS is added
	// while StartTLS is set, the session is in clear and Strip is false.
	Exts []string
	// StartTLS, when set, offers STARTTLS and runs the handshake with this
	// configuration after a 220 to it.
	StartTLS *tls.Config
	// Strip hides STARTTLS from EHLO (as an attacker on the path would).
	Strip bool
	// Implicit, when set, speaks TLS with this configuration from the
	// first byte.
	Implicit *tls.Config
	// HELOOnly answers EHLO with 502, as a server from before RFC 1869.
	HELOOnly bool
	// User and Pass are the credentials AUTH accepts; with User empty
	// every login is accepted.
	User, Pass string
	// Replies override the answer to a command, keyed by its verb in upper
	// case ("MAIL", "RCPT", "DATA", "AUTH", "STARTTLS"...), "." for the
	// reply to the final dot; a key "TLS:MAIL" applies only after TLS and
	// comes first. The lines are sent in one write. In them {line} is the
	// client's command line, {arg} what follows its verb, {sasl} the
	// client's responses in the last SASL exchange joined by spaces,
	// {plain} the same decoded from base64 (NULs as spaces) and {hex} the
	// decoded responses in hex; the SASL ones stay filled after AUTH, for
	// an echo in any later reply. An entry with no line closes the
	// connection instead. The script then goes on as the reply's first
	// code says: 220 to STARTTLS starts TLS, 354 to DATA reads a body. For
	// AUTH the override is the final answer, after the mechanism's
	// challenges.
	Replies map[string][]string
	// Rcpt overrides the answer to RCPT TO for single addresses.
	Rcpt map[string][]string
	// On, when set, sees every command line first (verb in upper case);
	// when it returns true it has handled the line and the script reads
	// the next one.
	On func(s *Session, verb, line string) bool
}

// DefaultExts are the EHLO extensions of a Script without Exts.
var DefaultExts = []string{"PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "SIZE 10240000", "AUTH PLAIN LOGIN CRAM-MD5"}

// Serve returns a Handler that runs sc on every connection.
func Serve(sc Script) Handler {
	return func(s *Session) { sc.run(s) }
}

func (sc *Script) run(s *Session) {
	if sc.Implicit != nil {
		if err := s.StartTLS(sc.Implicit); err != nil {
			return
		}
	}
	banner := sc.Banner
	if banner == nil {
		banner = []string{"220 hostile.herald.test ESMTP"}
	}
	if s.Reply(banner...) != nil {
		return
	}
	sasl := "" // the last SASL exchange's responses, for {sasl} in later replies
	for {
		if !s.Pending() {
			if s.Flush() != nil {
				return
			}
		}
		s.Hold()
		line, err := s.ReadLine()
		if err != nil {
			s.Flush()
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		if sc.On != nil && sc.On(s, verb, line) {
			continue
		}
		if verb == "AUTH" {
			var ok bool
			if ok, sasl = sc.auth(s, line, arg); !ok {
				return
			}
			continue
		}
		lines, over := sc.override(s, verb, line, arg, sasl)
		if over && len(lines) == 0 {
			return
		}
		if !over {
			lines = sc.standard(s, verb, arg)
		}
		if len(lines) > 0 {
			s.Reply(lines...)
		}
		code := "" // the first line's decides what follows
		if len(lines) > 0 && len(lines[0]) >= 3 {
			code = lines[0][:3]
		}
		switch {
		case verb == "QUIT" && !over:
			s.Flush()
			return
		case verb == "STARTTLS" && code == "220":
			if s.Flush() != nil || s.StartTLS(sc.StartTLS) != nil {
				return
			}
		case verb == "DATA" && code == "354":
			s.Flush()
			if _, err := s.ReadData(); err != nil {
				return
			}
			lines, over := sc.override(s, ".", ".", "", sasl)
			if over && len(lines) == 0 {
				return
			}
			if !over {
				lines = []string{"250 2.0.0 Ok: queued as HOSTILE1"}
			}
			s.Reply(lines...)
		}
	}
}

// override returns the Replies entry for verb, placeholders filled in.
func (sc *Script) override(s *Session, verb, line, arg, sasl string) ([]string, bool) {
	var plain, hexed []string
	for _, f := range strings.Fields(sasl) {
		b, err := base64.StdEncoding.DecodeString(f)
		if err != nil {
			continue
		}
		plain = append(plain, strings.ReplaceAll(string(b), "\x00", " "))
		hexed = append(hexed, hex.EncodeToString(b))
	}
	lines, ok := sc.Replies["TLS:"+verb]
	if !ok || !s.TLS {
		lines, ok = sc.Replies[verb]
	}
	if verb == "RCPT" {
		addr := arg
		if i, j := strings.IndexByte(arg, '<'), strings.IndexByte(arg, '>'); i >= 0 && j > i {
			addr = arg[i+1 : j]
		}
		if l, found := sc.Rcpt[addr]; found {
			lines, ok = l, true
		}
	}
	if !ok {
		return nil, false
	}
	r := strings.NewReplacer("{line}", line, "{arg}", arg, "{sasl}", sasl, "{plain}", strings.Join(plain, " "), "{hex}", strings.Join(hexed, " "))
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = r.Replace(l)
	}
	return out, true
}

// standard is a correct server's answer.
func (sc *Script) standard(s *Session, verb, arg string) []string {
	switch verb {
	case "EHLO":
		if sc.HELOOnly {
			return []string{"502 5.5.2 EHLO not implemented"}
		}
		exts := sc.Exts
		if exts == nil {
			exts = DefaultExts
		}
		if sc.StartTLS != nil && !s.TLS && !sc.Strip {
			exts = append(append([]string(nil), exts...), "STARTTLS")
		}
		out := []string{"250 hostile.herald.test"}
		if len(exts) > 0 {
			out[0] = "250-hostile.herald.test"
			for i, e := range exts {
				sep := "-"
				if i == len(exts)-1 {
					sep = " "
				}
				out = append(out, "250"+sep+e)
			}
		}
		return out
	case "HELO":
		return []string{"250 hostile.herald.test"}
	case "STARTTLS":
		if sc.StartTLS == nil || s.TLS {
			return []string{"502 5.5.1 STARTTLS not available"}
		}
		return []string{"220 2.0.0 Ready to start TLS"}
	case "MAIL":
		return []string{"250 2.1.0 Ok"}
	case "RCPT":
		return []string{"250 2.1.5 Ok"}
	case "DATA":
		return []string{"354 End data with <CR><LF>.<CR><LF>"}
	case "RSET", "NOOP":
		return []string{"250 2.0.0 Ok"}
	case "QUIT":
		return []string{"221 2.0.0 Bye"}
	}
	return []string{"502 5.5.2 Error: command not recognized"}
}

// auth runs a SASL exchange (PLAIN, LOGIN, CRAM-MD5) and answers it; it
// reports whether the session goes on, and the client's responses.
func (sc *Script) auth(s *Session, line, arg string) (bool, string) {
	mech, initial, hasInitial := strings.Cut(arg, " ")
	mech = strings.ToUpper(mech)
	var sasl []string
	if hasInitial {
		sasl = append(sasl, initial)
	}
	// ask sends a challenge and reads the response.
	ask := func(challenge string) (string, bool) {
		s.Reply("334 " + challenge)
		if s.Flush() != nil {
			return "", false
		}
		resp, err := s.ReadLine()
		if err != nil {
			return "", false
		}
		sasl = append(sasl, resp)
		return resp, resp != "*"
	}
	dec := func(b string) string {
		out, _ := base64.StdEncoding.DecodeString(b)
		return string(out)
	}
	var user, pass string
	ok := true
	switch mech {
	case "PLAIN":
		resp := initial
		if !hasInitial {
			resp, ok = ask("")
		}
		parts := strings.Split(dec(resp), "\x00")
		if len(parts) == 3 {
			user, pass = parts[1], parts[2]
		}
	case "LOGIN":
		u := initial
		if !hasInitial {
			u, ok = ask(base64.StdEncoding.EncodeToString([]byte("Username:")))
		}
		var p string
		if ok {
			p, ok = ask(base64.StdEncoding.EncodeToString([]byte("Password:")))
		}
		user, pass = dec(u), dec(p)
	case "CRAM-MD5":
		const challenge = "<1.1@hostile.herald.test>"
		var resp string
		resp, ok = ask(base64.StdEncoding.EncodeToString([]byte(challenge)))
		u, digest, _ := strings.Cut(dec(resp), " ")
		m := hmac.New(md5.New, []byte(sc.Pass))
		m.Write([]byte(challenge))
		user = u
		if hex.EncodeToString(m.Sum(nil)) == digest {
			pass = sc.Pass
		}
	default:
		s.Reply("504 5.5.4 Unrecognized authentication type")
		return true, ""
	}
	all := strings.Join(sasl, " ")
	if lines, over := sc.override(s, "AUTH", line, arg, all); over {
		if len(lines) == 0 {
			return false, all
		}
		s.Reply(lines...)
		return true, all
	}
	switch {
	case !ok:
		s.Reply("501 5.7.0 Authentication canceled")
	case sc.User == "" || (user == sc.User && pass == sc.Pass):
		s.Reply("235 2.7.0 Authentication successful")
	default:
		s.Reply("535 5.7.8 Error: authentication failed")
	}
	return true, all
}
