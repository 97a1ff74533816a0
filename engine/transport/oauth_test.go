package transport

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	gmsmtp "github.com/wneessen/go-mail/smtp"

	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/oauth/oauthtest"
	"github.com/herald-smtp/herald/engine/transcript"
)

// TestOAuthMechanisms sends with an OAuth2 access token: OAUTHBEARER where
// offered, else XOAUTH2; a refused token gets the server's JSON error
// decoded into a "sign in again" hint, the exchange finished (the server's
// final 535 arrives), and the token appears nowhere.
func TestOAuthMechanisms(t *testing.T) {
	as := oauthtest.Start(t, oauthtest.Options{})
	good, _ := as.Mint()
	for _, c := range []struct {
		offer   []string
		auth    AuthMethod
		mech    string
		tokenOK bool
	}{
		{[]string{"OAUTHBEARER", "XOAUTH2"}, AuthOAuth2, "OAUTHBEARER", true},
		{[]string{"XOAUTH2"}, AuthOAuth2, "XOAUTH2", true},
		{[]string{"OAUTHBEARER", "XOAUTH2"}, AuthXOAUTH2, "XOAUTH2", true},
		{[]string{"OAUTHBEARER"}, AuthOAuth2, "OAUTHBEARER", false},
		{[]string{"XOAUTH2"}, AuthOAuth2, "XOAUTH2", false},
	} {
		t.Run(c.mech+map[bool]string{true: "/good", false: "/revoked"}[c.tokenOK], func(t *testing.T) {
			ms := oauthtest.StartMail(t, as, c.offer...)
			tok := good
			if !c.tokenOK {
				tok, _ = as.Mint()
			}
			cfg := Config{Host: ms.Host, Port: ms.Port, TLS: TLSNone, AllowInsecureAuth: true, Auth: c.auth, Username: "ann@example.com", Password: tok, Timeout: 5 * time.Second, Transcript: transcript.New()}
			if !c.tokenOK {
				as.RevokeAll()
			}
			res := Send(context.Background(), cfg, env(), bytes.NewReader(msg))
			tr := transcriptText(cfg.Transcript)
			if got := ms.Auths(); len(got) != 1 || !strings.HasPrefix(got[0], c.mech+" ") {
				t.Fatalf("auths %v\n%s", got, tr)
			}
			if c.tokenOK {
				if !res.OK || len(ms.Messages()) != 1 {
					t.Fatalf("%v\n%s", res.Err, tr)
				}
			} else {
				var e *Error
				if res.OK || !errors.As(res.Err, &e) || e.Kind != KindOAuthToken || e.Code != 535 || res.Class != ClassPermanent {
					t.Fatalf("%+v %v\n%s", res, res.Err, tr)
				}
				h := HintFor(res.Err)
				if !strings.Contains(h.Text, "Sign in again") || len(h.Fixes) == 0 || h.Fixes[0].Setting != hint.OAuthSignIn {
					t.Fatalf("hint %+v", h)
				}
				if !strings.Contains(e.Error(), "invalid_token") && !strings.Contains(e.Error(), "401") {
					t.Fatalf("the server's status is not in the error: %v", e)
				}
			}
			for _, f := range append(transcript.SecretForms(tok), base64.StdEncoding.EncodeToString([]byte("auth=Bearer "+tok))) {
				if strings.Contains(tr+errText(res.Err), f) {
					t.Fatalf("token form %q leaked:\n%s", f, tr)
				}
			}
			if !strings.Contains(tr, "AUTH "+c.mech+" "+transcript.Redacted) {
				t.Fatalf("AUTH line:\n%s", tr)
			}
		})
	}
}

// TestOAuthScopeFailure decodes insufficient_scope into its own kind.
func TestOAuthScopeFailure(t *testing.T) {
	a := &tokenAuth{method: AuthOAuthBearer, user: "u", token: "t"}
	mech, _, _ := a.Start(nil)
	r, err := a.Next([]byte(`{"status":"insufficient_scope","scope":"mail.send"}`), true)
	if mech != "OAUTHBEARER" || err != nil || !bytes.Equal(r, []byte{1}) {
		t.Fatalf("%s %q %v", mech, r, err)
	}
	e := &Error{Stage: StageAuth, Kind: KindReply, Code: 535, EnhancedCode: "5.7.8"}
	oauthRefused(e, mech, a.failure)
	if e.Kind != KindOAuthScope || !strings.Contains(Hint(e), "scope") {
		t.Fatalf("%+v", e)
	}
	// AuthOAuth2 prefers OAUTHBEARER, and takes XOAUTH2 where only that is
	// offered.
	if m, _, _ := (&tokenAuth{method: AuthOAuth2}).Start(&gmsmtp.ServerInfo{Auth: []string{"XOAUTH2", "OAUTHBEARER"}}); m != "OAUTHBEARER" {
		t.Fatal(m)
	}
	if m, _, _ := (&tokenAuth{method: AuthOAuth2}).Start(&gmsmtp.ServerInfo{Auth: []string{"LOGIN", "XOAUTH2"}}); m != "XOAUTH2" {
		t.Fatal(m)
	}
}
