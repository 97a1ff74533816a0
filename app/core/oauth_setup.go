package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/hint"
	"github.com/herald-smtp/herald/engine/oauth"
	"github.com/herald-smtp/herald/engine/queue"
)

// OAuthSetup is what signing an address in with a built-in OAuth2
// provider needs: the provider (google or microsoft), the client ID of the
// application registered with it, the client secret where the provider
// issues one (Google's desktop clients), and Microsoft's tenant ("" or
// "common": any account).
type OAuthSetup struct {
	Provider     string
	ClientID     string
	ClientSecret string
	Tenant       string
}

// AddOAuthProfile stores a new profile for email that signs in with OAuth2:
// the server from the provider's preset for the address's domain (else the
// provider's first preset: Gmail for Google, Microsoft 365 for Microsoft),
// named after the address (" 2", " 3"… appended when the name is taken),
// the client secret in the keychain. The profile is stored before the
// sign-in because the refresh token is kept under its id; a caller whose
// sign-in does not finish removes it again (RemoveProfile).
func (c *Core) AddOAuthProfile(ctx context.Context, email string, s OAuthSetup) (*account.Profile, error) {
	email = strings.TrimSpace(email)
	at := strings.LastIndexByte(email, '@')
	if at <= 0 || at == len(email)-1 {
		return nil, fmt.Errorf("%q is not an email address", email)
	}
	prov, err := oauth.ParseProvider(s.Provider)
	if err != nil {
		return nil, err
	}
	if prov == oauth.Custom {
		return nil, errors.New("a custom OAuth2 provider needs its endpoints and server: add the profile with its settings")
	}
	cfg := oauth.Config{Provider: prov, ClientID: strings.TrimSpace(s.ClientID), ClientSecret: s.ClientSecret, Tenant: strings.TrimSpace(s.Tenant)}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pre, ok := oauthPreset(email[at+1:], prov)
	if !ok {
		return nil, fmt.Errorf("no built-in server for the OAuth2 provider %s", prov)
	}
	p := pre.Apply(email)
	p.Name = email
	p.Auth = account.AuthOAuth2
	p.OAuth = &account.OAuth{Provider: string(prov), ClientID: cfg.ClientID, TenantID: cfg.Tenant}
	secrets := map[account.SecretKind]string{account.SecretClientSecret: s.ClientSecret}
	for n := 2; ; n++ {
		err = c.AddProfile(ctx, &p, secrets)
		if !errors.Is(err, account.ErrExists) || n > 50 {
			break
		}
		p.ID = ""
		p.Name = fmt.Sprintf("%s %d", email, n)
	}
	if err != nil {
		return nil, fmt.Errorf("add a profile for %s: %w", email, err)
	}
	return &p, nil
}

// oauthPreset is the preset of the address's domain that signs in with
// prov, else the first preset that does.
func oauthPreset(domain string, prov oauth.Provider) (account.Preset, bool) {
	is := func(p account.Preset) bool {
		got, err := oauth.ParseProvider(p.OAuth)
		return p.OAuth != "" && err == nil && got == prov
	}
	if i := slices.IndexFunc(account.PresetsFor(domain), is); i >= 0 {
		return account.PresetsFor(domain)[i], true
	}
	all := account.Presets()
	if i := slices.IndexFunc(all, is); i >= 0 {
		return all[i], true
	}
	return account.Preset{}, false
}

// releaseSignInHeld releases p's outbox messages held because its OAuth2
// sign-in was missing or no longer valid (their hint's fix is a sign-in),
// telling the feed; it returns how many.
func (c *Core) releaseSignInHeld(ctx context.Context, p *account.Profile) (int, error) {
	items, err := c.Queue.List(ctx, queue.Filter{States: []string{string(queue.Held)}, Profile: p.ID})
	if err != nil {
		return 0, fmt.Errorf("list the held messages of profile %q: %w", p.Name, err)
	}
	var ids []int64
	for _, it := range items {
		if slices.ContainsFunc(hint.Decode(it.Hint).Fixes, func(f hint.Fix) bool { return f.Setting == hint.OAuthSignIn }) {
			ids = append(ids, it.ID)
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	n, _, err := c.Change(ctx, OpRelease, Selection{IDs: ids})
	return n, err
}
