package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/oauth/oauthtest"
	"github.com/herald-smtp/herald/engine/transport"
	"github.com/herald-smtp/herald/ui"
)

// TestWizardAdapterOAuth2Profile: an OAuth2 profile that has not signed in
// fails the auth step with the sign-in as its fix (not a password); after
// the adapter's sign-in (the browser played by an HTTP client) the probe
// signs in with the access token; DiscardProfile removes a profile.
func TestWizardAdapterOAuth2Profile(t *testing.T) {
	as := oauthtest.Start(t, oauthtest.Options{})
	ms := oauthtest.StartMail(t, as)
	c, err := core.Open(context.Background(), t.TempDir(), core.Options{Secrets: newMemSecrets()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	p := &account.Profile{Name: "idp", FromAddress: "ann@example.com", Username: "ann@example.com", Auth: account.AuthOAuth2,
		Server: account.Server{Host: ms.Host, Port: ms.Port, TLS: transport.TLSNone}, AllowInsecureAuth: true,
		OAuth: &account.OAuth{Provider: "custom", ClientID: "herald-test", AuthURL: as.AuthURL(), TokenURL: as.TokenURL(), Scopes: []string{"mail"}}}
	if err := c.AddProfile(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	a := NewWizardAdapter(c)
	a.OpenBrowser = func(_ context.Context, u string) error {
		go oauthtest.Browse(u)
		return nil
	}
	var sw ui.WizardSignIn = a
	authStep := func(rep *ui.WizardReport) ui.WizardStep {
		for _, s := range rep.Steps {
			if s.Name == "auth" {
				return s
			}
		}
		t.Fatalf("no auth step in %+v", rep.Steps)
		return ui.WizardStep{}
	}

	rep := a.Probe(ctx, ui.ProbeTarget{Profile: *p}, nil)
	s := authStep(rep)
	if rep.OK || s.Status != diagnose.StatusFail || len(s.Hint.Fixes) == 0 || s.Hint.Fixes[0].Setting != hint.OAuthSignIn {
		t.Fatalf("before the sign-in: ok %v, auth %+v", rep.OK, s)
	}
	for _, f := range s.Hint.Fixes {
		if f.Setting == hint.Password || f.Setting == hint.ReleaseHeld {
			t.Errorf("fix %+v offered for an OAuth2 profile in the wizard", f)
		}
	}

	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var prompts []ui.SignInPrompt
	if _, err := sw.OAuthSignIn(sctx, "idp", false, func(sp ui.SignInPrompt) { prompts = append(prompts, sp) }); err != nil {
		t.Fatal(err)
	}
	if len(prompts) == 0 || prompts[0].URL == "" {
		t.Errorf("prompts %+v", prompts)
	}
	rep = a.Probe(ctx, ui.ProbeTarget{Profile: *p}, nil)
	if s := authStep(rep); !rep.OK || s.Status != diagnose.StatusPass {
		t.Fatalf("after the sign-in: ok %v, auth %+v", rep.OK, s)
	}
	if len(ms.Auths()) == 0 {
		t.Error("the server saw no OAuth2 AUTH")
	}

	if err := sw.DiscardProfile(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Book.Get(ctx, "idp"); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("discarded profile: %v", err)
	}
}
