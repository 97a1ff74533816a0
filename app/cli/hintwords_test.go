package cli

import (
	"strings"
	"testing"

	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/transport"
)

// TestWordHint checks that the main kinds of fix come out as the concrete
// flags and commands that apply them, for a one-shot session and for a
// profile.
func TestWordHint(t *testing.T) {
	oneShot := wordCtx{host: "smtp.example.com", email: "ann@example.com"}
	prof := wordCtx{profile: "work mail", host: "smtp.example.com", email: "ann@example.com"}
	errHint := func(e *transport.Error) hint.Hint { return transport.HintFor(e) }
	for _, c := range []struct {
		name string
		h    hint.Hint
		ctx  wordCtx
		want []string
	}{
		{"starttls missing, flags", errHint(&transport.Error{Stage: transport.StageTLS, Kind: transport.KindStartTLSMissing}), oneShot,
			[]string{"did not offer STARTTLS", "Try: --tls implicit --server smtp.example.com:465; or --tls none."}},
		{"starttls missing, profile", errHint(&transport.Error{Stage: transport.StageTLS, Kind: transport.KindStartTLSMissing}), prof,
			[]string{"herald profile edit 'work mail' --tls implicit --server smtp.example.com:465"}},
		{"insecure auth, flags", errHint(&transport.Error{Stage: transport.StageAuth, Kind: transport.KindInsecureAuth}), oneShot,
			[]string{"--tls starttls --server smtp.example.com:587", "; or --allow-insecure-auth."}},
		{"insecure auth, profile", errHint(&transport.Error{Stage: transport.StageAuth, Kind: transport.KindInsecureAuth}), prof,
			[]string{"herald profile edit 'work mail' --allow-insecure-auth"}},
		{"wrong password, profile", errHint(&transport.Error{Stage: transport.StageAuth, Kind: transport.KindReply, Code: 535, EnhancedCode: "5.7.8"}), prof,
			[]string{"app password", "Try: herald profile set-password 'work mail'; or herald profile edit 'work mail' --user NAME, then herald profile set-password 'work mail'."}},
		{"wrong password, flags", errHint(&transport.Error{Stage: transport.StageAuth, Kind: transport.KindReply, Code: 535}), oneShot,
			[]string{"Try: --password-env VAR; or --user NAME --password-env VAR."}},
		{"untrusted certificate, no fingerprint", errHint(&transport.Error{Stage: transport.StageTLS, Kind: transport.KindCertUnknownAuth}), oneShot,
			[]string{"--ca-file FILE", "herald test --server smtp.example.com"}},
		{"pin with fingerprint", hint.Hint{Text: "Self-signed.", Fixes: []hint.Fix{{Setting: hint.PinCertificate, Value: "ab12"}}}, prof,
			[]string{"herald profile edit 'work mail' --pin-sha256 ab12"}},
		{"pin with fingerprint, no profile", hint.Hint{Fixes: []hint.Fix{{Setting: hint.PinCertificate, Value: "ab12"}}}, oneShot,
			[]string{"herald profile edit NAME --pin-sha256 ab12"}},
		{"discover", errHint(&transport.Error{Stage: transport.StageConnect, Kind: transport.KindDNS}), oneShot,
			[]string{"--server HOST[:PORT]", "herald discover ann@example.com"}},
		{"sandbox", errHint(&transport.Error{Stage: transport.StageConnect, Kind: transport.KindRefused, Port: 2525}), oneShot,
			[]string{"port 2525", "herald sandbox"}},
		{"microsoft", errHint(&transport.Error{Stage: transport.StageAuth, Kind: transport.KindReply, Code: 535, EnhancedCode: "5.7.139"}), prof,
			[]string{"herald oauth login", "See https://"}},
		{"pipelining", errHint(&transport.Error{Stage: transport.StageMail, Kind: transport.KindPipeliningMissing}), prof,
			[]string{"Try: --pipelining auto."}},
		{"held for a profile", hint.Hint{Text: "Wrong password. Then release the held messages.", Fixes: []hint.Fix{{Setting: hint.Password}, {Setting: hint.ReleaseHeld}}}, prof,
			[]string{"Try: herald profile set-password 'work mail'. Then: herald queue release --all."}},
		{"profile unusable", hint.Hint{Fixes: []hint.Fix{{Setting: hint.Profile}, {Setting: hint.ReleaseHeld}}}, prof,
			[]string{"herald profile show 'work mail', then herald profile edit 'work mail'", "Then: herald queue release --all."}},
		{"dkim selector", hint.Hint{Text: "Give your selector.", Fixes: []hint.Fix{{Setting: hint.DKIMSelector}}}, oneShot,
			[]string{"--dkim-selector SELECTOR"}},
		{"retry says nothing more", errHint(&transport.Error{Stage: transport.StageData, Kind: transport.KindReply, Code: 451}), oneShot,
			[]string{"try again in a few minutes"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := wordHint(c.h, c.ctx)
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
			if c.name == "retry says nothing more" && strings.Contains(got, "Try:") {
				t.Errorf("a retry hint names a command: %q", got)
			}
		})
	}
	if got := wordHint(hint.Hint{}, oneShot); got != "" {
		t.Errorf("an empty hint words as %q", got)
	}
}
