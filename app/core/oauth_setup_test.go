package core

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/oauth/oauthtest"
	"github.com/herald-smtp/herald/engine/queue"
)

// TestSignInReleasesTheMessagesHeldForIt: a revoked grant holds the
// profile's queued message with "sign in again"; signing in releases it
// (and tells the feed), but not a message held for another reason nor
// another profile's.
func TestSignInReleasesTheMessagesHeldForIt(t *testing.T) {
	as := oauthtest.Start(t, oauthtest.Options{})
	ms := oauthtest.StartMail(t, as)
	c := openTest(t, t.TempDir(), false, false)
	ctx := context.Background()
	p := oauthProfile(t, c, "idp", ms, as.TokenURL())
	p.OAuth.AuthURL = as.AuthURL()
	if err := c.Book.Update(ctx, p); err != nil {
		t.Fatal(err)
	}
	other := oauthProfile(t, c, "other", ms, as.TokenURL())
	draft := message.Draft{To: []string{"b@example.com"}, Subject: "q", Text: "x"}
	var ids []int64
	for _, pr := range []*account.Profile{p, p, other} {
		id, _, err := c.QueueDraft(ctx, pr, draft, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// The second message is held by hand before the runner holds the rest
	// for want of a sign-in (no refresh token is stored).
	if _, _, err := c.Change(ctx, OpHold, Selection{IDs: ids[1:2]}); err != nil {
		t.Fatal(err)
	}
	if err := c.RunQueue(ctx, RunOptions{Retry: queue.DefaultRetryPolicy(), UntilEmpty: true}); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if it, _ := c.Queue.Get(ctx, id); queue.State(it.State) != queue.Held {
			t.Fatalf("message %d is %s before the sign-in", id, it.State)
		}
	}

	sub := c.Feed.Subscribe(64, feed.Queue)
	defer sub.Close()
	browsed := make(chan error, 1)
	in, err := c.SignIn(ctx, p, SignInOptions{OpenBrowser: func(u string) error {
		go func() { _, _, err := oauthtest.Browse(u); browsed <- err }()
		return nil
	}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-browsed; err != nil {
		t.Fatal(err)
	}
	if in.Released != 1 {
		t.Errorf("released %d, want 1", in.Released)
	}
	want := map[int64]queue.State{ids[0]: queue.Queued, ids[1]: queue.Held, ids[2]: queue.Held}
	for id, st := range want {
		it, err := c.Queue.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if s := queue.State(it.State); s != st && !(st == queue.Queued && (s == queue.Sent || s == queue.Sending)) {
			t.Errorf("message %d is %s after the sign-in, want %s", id, it.State, st)
		}
	}
	select {
	case e := <-sub.C():
		if e.ID != ids[0] || e.Text != string(OpRelease) {
			t.Errorf("feed event %+v", e)
		}
	case <-time.After(2 * time.Second):
		t.Error("no feed event for the released message")
	}
}

// TestAddOAuthProfile makes a profile from the address's preset (or the
// provider's first), named after the address and unique, with the client
// secret in the keychain; a missing client ID is refused before anything
// is stored.
func TestAddOAuthProfile(t *testing.T) {
	c := openTest(t, t.TempDir(), false, false)
	ctx := context.Background()
	p, err := c.AddOAuthProfile(ctx, "ann@gmail.com", OAuthSetup{Provider: "google", ClientID: "id.apps.googleusercontent.com", ClientSecret: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	if p.ID == "" || p.Name != "ann@gmail.com" || p.Host != "smtp.gmail.com" || p.Auth != account.AuthOAuth2 || p.OAuth.Provider != "google" || p.Username != "ann@gmail.com" {
		t.Fatalf("%+v", p)
	}
	if s, err := c.Book.Secret(p, account.SecretClientSecret); err != nil || s != "s3cret" {
		t.Fatalf("client secret %q %v", s, err)
	}
	if cfg, err := c.OAuthConfig(p); err != nil || cfg.ClientSecret != "s3cret" {
		t.Fatalf("config %+v %v", cfg, err)
	}
	p2, err := c.AddOAuthProfile(ctx, "ann@gmail.com", OAuthSetup{Provider: "google", ClientID: "id"})
	if err != nil || p2.Name != "ann@gmail.com 2" {
		t.Fatalf("second: %+v %v", p2, err)
	}
	ms, err := c.AddOAuthProfile(ctx, "bob@contoso.com", OAuthSetup{Provider: "microsoft", ClientID: "app", Tenant: "contoso.com"})
	if err != nil || ms.Host != "smtp.office365.com" || ms.OAuth.TenantID != "contoso.com" {
		t.Fatalf("microsoft: %+v %v", ms, err)
	}
	if o, err := c.AddOAuthProfile(ctx, "carl@hotmail.com", OAuthSetup{Provider: "microsoft", ClientID: "app"}); err != nil || o.Host != "smtp-mail.outlook.com" {
		t.Fatalf("outlook: %+v %v", o, err)
	}
	if _, err := c.AddOAuthProfile(ctx, "dan@gmail.com", OAuthSetup{Provider: "google"}); err == nil {
		t.Fatal("no client id accepted")
	}
	if _, err := c.Book.Get(ctx, "dan@gmail.com"); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("a refused setup left a profile: %v", err)
	}
}
