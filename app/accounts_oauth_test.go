package app

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/ui"
)

// TestAccountsEditorCustomOAuthOverTheCore saves a custom OAuth2 provider
// from the window's editor over the real core: the endpoints and scopes are
// in the profile, the client secret in the keychain and nowhere in the data
// directory.
func TestAccountsEditorCustomOAuthOverTheCore(t *testing.T) {
	ctx := context.Background()
	sec := newMemSecrets()
	c := openTestCore(t, sec)
	a := test.NewTempApp(t)
	q := make(chan func(), 1024)
	s := BuildShell(a, NewGUICore(c), func(f func()) { q <- f })
	s.Quit = func() {}
	t.Cleanup(s.Stop)
	s.Start(ctx)
	if err := s.Open("accounts", nil); err != nil {
		t.Fatal(err)
	}
	var v *ui.Accounts
	for _, x := range s.Views() {
		if x, ok := x.(*ui.Accounts); ok {
			v = x
		}
	}
	e := v.Editor
	e.Load(account.Profile{Server: account.Server{Port: 587}, FromAddress: "ann@corp.example"}, true)
	e.Name.SetText("corp")
	e.Host.SetText("smtp.corp.example")
	e.Auth.SetSelected("oauth2")
	e.Username.SetText("ann@corp.example")
	e.OAuthProvider.SetSelected("custom")
	e.OAuthClientID.SetText("herald")
	e.OAuthAuthURL.SetText("https://sso.corp.example/authorize")
	e.OAuthTokenURL.SetText("https://sso.corp.example/token")
	e.OAuthScopes.SetText("smtp offline_access")
	const secret = "client-secret-5ecr3t"
	test.Type(e.OAuthClientSecret, secret)
	if e.SaveBtn.Disabled() {
		t.Fatalf("refused: %s", e.Summary.Text)
	}
	test.Tap(e.SaveBtn)
	pump(t, q, "the profile and its client secret", func() bool {
		p, err := c.Book.Get(ctx, "corp")
		if err != nil {
			return false
		}
		got, _ := sec.Get(p.ID, account.SecretClientSecret)
		return got == secret
	})
	p, _ := c.Book.Get(ctx, "corp")
	o := p.OAuth
	if o == nil || o.Provider != "custom" || o.TokenURL != "https://sso.corp.example/token" || o.AuthURL != "https://sso.corp.example/authorize" || len(o.Scopes) != 2 {
		t.Fatalf("stored OAuth %+v", o)
	}
	cfg, err := c.OAuthConfig(p)
	if err != nil || cfg.ClientSecret != secret {
		t.Fatalf("the core's OAuth client: %v, secret found %v", err, cfg.ClientSecret == secret)
	}
	c.Close()
	err = filepath.WalkDir(c.DataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("the client secret is in %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
