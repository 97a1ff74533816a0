package cli

import (
	"net"
	"slices"
	"strings"

	"github.com/herald-smtp/herald/engine/hint"
)

// wordCtx says how, on the command line, the settings a hint's fixes name
// can be changed: as flags of a one-shot command, or in a profile.
type wordCtx struct {
	// profile is the name of the profile the session came from; "" when it
	// was given by flags (send, test and console take the same ones).
	profile string
	// host is the server's host name, for --server HOST:PORT ("" writes
	// HOST).
	host string
	// email is the user's address, for discovery and the domain checks (""
	// writes ADDRESS).
	email string
}

// ctxOf is the wording context of a send, test or console run.
func (f *sendFlags) ctxOf(host, email string) wordCtx {
	c := wordCtx{host: host, email: email}
	if f.prof != nil {
		c.profile = f.prof.Name
	}
	return c
}

// wordHint puts an engine hint into command-line words: its text, then each
// fix as the flags or commands that apply it ("Try: --tls implicit --server
// smtp.example.com:465; or --allow-insecure-auth."), releasing held
// messages last ("Then: herald queue release --all."), then its link.
func wordHint(h hint.Hint, c wordCtx) string {
	var ways, then []string
	for _, f := range h.Fixes {
		w := wordFix(f, c)
		switch {
		case w == "":
		case f.Setting == hint.ReleaseHeld:
			// Held messages wait for the fix: releasing them comes after it.
			then = append(then, w)
		case !slices.Contains(ways, w):
			ways = append(ways, w)
		}
	}
	parts := []string{}
	if h.Text != "" {
		parts = append(parts, h.Text)
	}
	if len(ways) > 0 {
		parts = append(parts, "Try: "+strings.Join(ways, "; or ")+".")
	}
	if len(then) > 0 {
		parts = append(parts, "Then: "+strings.Join(then, ", then ")+".")
	}
	if h.Link != "" {
		parts = append(parts, "See "+h.Link)
	}
	return strings.Join(parts, " ")
}

// hintFixes is the fixes of h for JSON output: never null.
func hintFixes(h hint.Hint) []hint.Fix {
	if h.Fixes == nil {
		return []hint.Fix{}
	}
	return h.Fixes
}

// wordFix says one fix as a command line: the settings it changes as flags
// (of the profile's edit command when there is a profile), then any
// separate commands it needs. "" when there is nothing to run (try later).
func wordFix(f hint.Fix, c wordCtx) string {
	var profFlags, flags, cmds []string
	name := "NAME"
	if c.profile != "" {
		name = quoteArg(c.profile)
	}
	host := c.host
	if host == "" {
		host = "HOST"
	}
	email := c.email
	if email == "" {
		email = "ADDRESS"
	}
	port := ""
	for _, ch := range f.Changes() {
		switch ch.Setting {
		case hint.TLS:
			profFlags = append(profFlags, "--tls "+ch.Value)
		case hint.Port:
			port = ch.Value
		case hint.Server:
			if ch.Value != "" {
				profFlags = append(profFlags, "--server "+ch.Value)
			} else {
				profFlags = append(profFlags, "--server HOST[:PORT]")
			}
		case hint.Auth:
			profFlags = append(profFlags, "--auth "+ch.Value)
		case hint.User:
			profFlags = append(profFlags, "--user NAME")
		case hint.Password:
			if c.profile != "" {
				cmds = append(cmds, "herald profile set-password "+name)
			} else {
				flags = append(flags, "--password-env VAR")
			}
		case hint.OAuthSignIn:
			if c.profile != "" {
				cmds = append(cmds, "herald oauth login "+name+" (a profile not on OAuth2 yet first needs: herald profile edit "+name+" --auth oauth2 --oauth-provider google|microsoft|custom --oauth-client-id ID)")
			} else {
				cmds = append(cmds, "herald profile edit NAME --auth oauth2 --oauth-provider google|microsoft|custom --oauth-client-id ID, then herald oauth login NAME")
			}
		case hint.AllowInsecureAuth:
			profFlags = append(profFlags, "--allow-insecure-auth")
		case hint.CAFile:
			profFlags = append(profFlags, "--ca-file FILE")
		case hint.PinCertificate:
			// Only a profile pins: there is no flag for one session.
			if ch.Value != "" {
				cmds = append(cmds, "herald profile edit "+name+" --pin-sha256 "+ch.Value)
			} else if c.profile != "" {
				cmds = append(cmds, "herald test --profile "+name+" (it shows the certificate's SHA-256 to pin)")
			} else {
				cmds = append(cmds, "herald test --server "+host+" (it shows the certificate's SHA-256 to pin in a profile)")
			}
		case hint.Timeout:
			profFlags = append(profFlags, "--timeout "+ch.Value)
		case hint.Pipelining:
			flags = append(flags, "--pipelining "+ch.Value)
		case hint.From:
			profFlags = append(profFlags, "--from ADDRESS")
		case hint.DKIMSelector:
			flags = append(flags, "--dkim-selector SELECTOR")
		case hint.Discover:
			cmds = append(cmds, "herald discover "+quoteArg(email))
		case hint.CheckDomain:
			if c.profile != "" {
				cmds = append(cmds, "herald test --profile "+name)
			} else {
				cmds = append(cmds, "herald test --email "+quoteArg(email))
			}
		case hint.StartSandbox:
			cmds = append(cmds, "herald sandbox")
		case hint.ReleaseHeld:
			cmds = append(cmds, "herald queue release --all")
		case hint.Profile:
			cmds = append(cmds, "herald profile show "+name+", then herald profile edit "+name)
		}
	}
	if port != "" {
		profFlags = append(profFlags, "--server "+net.JoinHostPort(host, port))
	}
	var out []string
	if c.profile != "" && len(profFlags) > 0 {
		out = append(out, "herald profile edit "+name+" "+strings.Join(profFlags, " "))
	} else {
		flags = append(profFlags, flags...)
	}
	if len(flags) > 0 { // flags of the command that ran, for one session
		out = append(out, strings.Join(flags, " "))
	}
	out = append(out, cmds...)
	return strings.Join(out, ", then ")
}
