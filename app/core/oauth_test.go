package core

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/oauth"
	"github.com/herald-smtp/herald/engine/oauth/oauthtest"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/transport"
)

func oauthProfile(t *testing.T, c *Core, name string, ms *oauthtest.Mail, tokenURL string) *account.Profile {
	t.Helper()
	p := &account.Profile{Name: name, FromAddress: "ann@example.com", Username: "ann@example.com", Auth: account.AuthOAuth2,
		Server: account.Server{Host: ms.Host, Port: ms.Port, TLS: transport.TLSNone}, AllowInsecureAuth: true,
		OAuth: &account.OAuth{Provider: "custom", ClientID: "herald-test", AuthURL: tokenURL, TokenURL: tokenURL, Scopes: []string{"mail"}}}
	if err := c.Book.Add(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOAuthProfileSendsAndHolds: a signed-in OAuth2 profile sends with the
// access token kept in memory (one refresh for many sends); a revoked grant
// holds its queued messages with "sign in again"; an unreachable token
// endpoint defers them instead.
func TestOAuthProfileSendsAndHolds(t *testing.T) {
	as := oauthtest.Start(t, oauthtest.Options{})
	ms := oauthtest.StartMail(t, as)
	c := openTest(t, t.TempDir(), false, false)
	p := oauthProfile(t, c, "idp", ms, as.TokenURL())
	if _, err := c.Secret(p, ""); !errors.Is(err, oauth.ErrSignIn) {
		t.Fatalf("before sign-in: %v", err)
	}
	_, rt := as.Mint()
	if err := c.Book.SetSecret(p, account.SecretRefreshToken, rt); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		res, err := c.SendDraft(context.Background(), p, message.Draft{To: []string{"b@example.com"}, Subject: "s", Text: "x"}, nil)
		if err != nil || !res.OK {
			t.Fatalf("send %d: %v %+v", i, err, res)
		}
	}
	if as.Refreshes() != 1 {
		t.Fatalf("%d refreshes for 3 sends: the access token is not kept", as.Refreshes())
	}
	if in, err := c.OAuthStatus(context.Background(), p, false); err != nil || !in.SignedIn || in.Expires.IsZero() {
		t.Fatalf("status %+v %v", in, err)
	}

	// Revoked: the cached token is refused by the server (sign in again),
	// and after that the refresh fails and the outbox holds.
	as.RevokeAll()
	res, _ := c.SendDraft(context.Background(), p, message.Draft{To: []string{"b@example.com"}, Subject: "s", Text: "x"}, nil)
	if res.OK || transport.HintFor(res.Err).Fixes[0].Setting != hint.OAuthSignIn {
		t.Fatalf("revoked send: %+v", res)
	}
	if _, _, err := c.QueueDraft(context.Background(), p, message.Draft{To: []string{"b@example.com"}, Subject: "q", Text: "x"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := c.RunQueue(context.Background(), RunOptions{Retry: queue.DefaultRetryPolicy(), UntilEmpty: true}); err != nil {
		t.Fatal(err)
	}
	items, _ := c.Queue.List(context.Background(), queue.Filter{})
	if len(items) != 1 || items[0].State != "held" || !strings.Contains(items[0].LastError, "sign in again") && !strings.Contains(items[0].LastError, "sign-in needed") {
		t.Fatalf("items %+v", items)
	}
	if h := hint.Decode(items[0].Hint); len(h.Fixes) == 0 || h.Fixes[0].Setting != hint.OAuthSignIn {
		t.Fatalf("hint %+v", h)
	}

	// The token endpoint unreachable: deferred, not held.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port) + "/token"
	l.Close()
	p2 := oauthProfile(t, c, "down", ms, dead)
	c.Book.SetSecret(p2, account.SecretRefreshToken, "rt-whatever")
	if _, _, err := c.QueueDraft(context.Background(), p2, message.Draft{To: []string{"b@example.com"}, Subject: "q2", Text: "x"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	c.RunQueue(context.Background(), RunOptions{Retry: queue.DefaultRetryPolicy(), UntilEmpty: true})
	items, _ = c.Queue.List(context.Background(), queue.Filter{})
	if len(items) != 2 || items[1].State != "deferred" {
		t.Fatalf("unreachable token endpoint: %+v", items[1])
	}
}
