package ui

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/herald-smtp/herald/engine/account"
)

func TestAccountsEditorShowsOAuthRowsByProvider(t *testing.T) {
	r := startAccounts(t, workProfile())
	r.accounts.List.Select(0)
	e := r.accounts.Editor
	oauthKeys := []string{"oauth", "oauth.client-id", "oauth.client-secret", "oauth.tenant", "oauth.auth-url", "oauth.token-url", "oauth.device-url", "oauth.revoke-url", "oauth.scopes"}
	shown := func() []string {
		var out []string
		for _, k := range oauthKeys {
			if e.RowShown(k) {
				out = append(out, k)
			}
		}
		return out
	}
	if got := shown(); len(got) != 0 {
		t.Fatalf("auth plain shows OAuth rows %q", got)
	}
	e.Auth.SetSelected("oauth2")
	if got := shown(); !slices.Equal(got, []string{"oauth"}) {
		t.Fatalf("oauth2 without a provider shows %q", got)
	}
	if got := e.FieldError("oauth"); !strings.Contains(got, "choose the provider") {
		t.Fatalf("provider error %q", got)
	}
	e.OAuthProvider.SetSelected("microsoft")
	if got := shown(); !slices.Equal(got, []string{"oauth", "oauth.client-id", "oauth.client-secret", "oauth.tenant"}) {
		t.Fatalf("microsoft shows %q", got)
	}
	if got := e.FieldError("oauth.client-id"); !strings.Contains(got, "required") {
		t.Fatalf("client id error %q", got)
	}
	e.OAuthProvider.SetSelected("google")
	if got := shown(); !slices.Equal(got, []string{"oauth", "oauth.client-id", "oauth.client-secret"}) {
		t.Fatalf("google shows %q", got)
	}
	e.OAuthProvider.SetSelected("custom")
	if got := shown(); !slices.Equal(got, []string{"oauth", "oauth.client-id", "oauth.client-secret", "oauth.auth-url", "oauth.token-url", "oauth.device-url", "oauth.revoke-url", "oauth.scopes"}) {
		t.Fatalf("custom shows %q", got)
	}
	for k, want := range map[string]string{"oauth.auth-url": "required", "oauth.token-url": "required", "oauth.scopes": "required", "oauth.client-id": "required"} {
		if got := e.FieldError(k); !strings.Contains(got, want) {
			t.Errorf("%s: error %q, want %q", k, got, want)
		}
	}
	if !e.SaveBtn.Disabled() || !strings.Contains(e.Summary.Text, "Authentication › oauth.token-url") {
		t.Fatalf("save enabled %v, summary %q", !e.SaveBtn.Disabled(), e.Summary.Text)
	}
	// Back to plain with no provider: the rows go away again.
	e.OAuthProvider.SetSelected("(none)")
	e.Auth.SetSelected("plain")
	if got := shown(); len(got) != 0 {
		t.Fatalf("plain again shows %q", got)
	}
}

func fillCustomOAuth(e *ProfileEditor) {
	e.Auth.SetSelected("oauth2")
	e.OAuthProvider.SetSelected("custom")
	test.Type(e.OAuthClientID, "herald-app")
	test.Type(e.OAuthAuthURL, "https://idp.example/oauth2/authorize")
	test.Type(e.OAuthTokenURL, "https://idp.example/oauth2/token")
	test.Type(e.OAuthDeviceURL, "https://idp.example/oauth2/device")
	test.Type(e.OAuthRevokeURL, "https://idp.example/oauth2/revoke")
	test.Type(e.OAuthScopes, "smtp.send  offline_access")
}

func TestAccountsEditorSavesACustomOAuthProvider(t *testing.T) {
	r := startAccounts(t, workProfile())
	r.accounts.List.Select(0)
	e := r.accounts.Editor
	fillCustomOAuth(e)
	test.Type(e.OAuthClientSecret, "cs-7f3a9")
	if !e.OAuthClientSecret.CanReveal() || e.OAuthClientSecret.Revealed() {
		t.Fatal("the client secret is not a masked show-while-held entry")
	}
	if e.SaveBtn.Disabled() {
		t.Fatalf("a complete custom provider is refused: %q", e.Summary.Text)
	}
	if !e.SignInBtn.Visible() && e.RowShown("oauth.sign-in") {
		t.Fatal("sign-in row shown without its buttons")
	}
	test.Tap(e.SaveBtn)
	r.pump("the client secret in the keychain", func() bool { return r.core.secret("work", account.SecretClientSecret) == "cs-7f3a9" })
	r.settle()

	r.core.mu.Lock()
	got := r.core.profiles[0]
	r.core.mu.Unlock()
	want := account.OAuth{Provider: "custom", ClientID: "herald-app", AuthURL: "https://idp.example/oauth2/authorize", TokenURL: "https://idp.example/oauth2/token",
		DeviceURL: "https://idp.example/oauth2/device", RevokeURL: "https://idp.example/oauth2/revoke", Scopes: []string{"smtp.send", "offline_access"}}
	if got.Auth != account.AuthOAuth2 || got.OAuth == nil {
		t.Fatalf("stored auth %q oauth %+v", got.Auth, got.OAuth)
	}
	gj, _ := json.Marshal(got.OAuth)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Fatalf("stored OAuth %s\nwant %s", gj, wj)
	}
	if all, _ := json.Marshal(got); strings.Contains(string(all), "cs-7f3a9") {
		t.Fatal("the client secret is in the profile")
	}
	if e.OAuthClientSecret.Text != "" {
		t.Fatal("the client secret stays in the form after saving")
	}
	// Loaded again, the editor shows what was stored and is not dirty.
	if e.OAuthTokenURL.Text != want.TokenURL || e.OAuthScopes.Text != "smtp.send offline_access" || e.dirty() {
		t.Fatalf("reloaded token URL %q scopes %q dirty %v", e.OAuthTokenURL.Text, e.OAuthScopes.Text, e.dirty())
	}
	// Switched to a built-in provider, the custom endpoints are not kept.
	e.OAuthProvider.SetSelected("google")
	if p, _ := e.read(); p.OAuth == nil || p.OAuth.TokenURL != "" || p.OAuth.AuthURL != "" || len(p.OAuth.Scopes) != 0 {
		t.Fatalf("google keeps the custom settings: %+v", p.OAuth)
	}
}

func TestAccountsEditorRefusesPlainHTTPEndpoints(t *testing.T) {
	r := startAccounts(t, workProfile())
	r.accounts.List.Select(0)
	e := r.accounts.Editor
	fillCustomOAuth(e)
	e.OAuthTokenURL.SetText("http://idp.example/oauth2/token")
	if got := e.FieldError("oauth.token-url"); !strings.Contains(got, "must use https") {
		t.Fatalf("token URL error %q", got)
	}
	if !e.SaveBtn.Disabled() || !strings.Contains(e.Summary.Text, "Authentication › oauth.token-url") {
		t.Fatalf("save enabled %v, summary %q", !e.SaveBtn.Disabled(), e.Summary.Text)
	}
	e.Save() // refused: nothing reaches the core
	r.settle()
	r.core.mu.Lock()
	stored := r.core.profiles[0]
	r.core.mu.Unlock()
	if stored.Auth == account.AuthOAuth2 || stored.OAuth != nil {
		t.Fatalf("a profile with an http token URL was saved: %+v", stored.OAuth)
	}
	// http on a loopback address is allowed (a local identity provider).
	e.OAuthTokenURL.SetText("http://127.0.0.1:8080/token")
	if got := e.FieldError("oauth.token-url"); got != "" {
		t.Fatalf("loopback refused: %q", got)
	}
	e.OAuthRevokeURL.SetText("http://revoke.example/")
	if got := e.FieldError("oauth.revoke-url"); !strings.Contains(got, "must use https") {
		t.Fatalf("revoke URL error %q", got)
	}
	e.OAuthRevokeURL.SetText("")
	e.OAuthAuthURL.SetText("not a url")
	if got := e.FieldError("oauth.auth-url"); !strings.Contains(got, "not a URL") {
		t.Fatalf("auth URL error %q", got)
	}
}

func TestAccountsEditorGoogleClientSecretGoesToTheKeychain(t *testing.T) {
	r := startAccounts(t, oauthProfile())
	r.accounts.List.Select(0)
	e := r.accounts.Editor
	if !e.RowShown("oauth.tenant") || e.RowShown("oauth.token-url") {
		t.Fatal("a Microsoft profile does not show its tenant only")
	}
	e.OAuthProvider.SetSelected("google")
	test.Type(e.OAuthClientSecret, "  GOCSPX-abc  ")
	test.Tap(e.SaveBtn)
	r.pump("the client secret in the keychain", func() bool { return r.core.secret("ms", account.SecretClientSecret) == "GOCSPX-abc" })
	if r.core.secret("ms", account.SecretPassword) != "" {
		t.Fatal("the client secret went in as a password")
	}
}
