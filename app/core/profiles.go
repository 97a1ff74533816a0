package core

import (
	"context"
	"io"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/transport"
)

// AddProfile validates and stores a new profile with its secrets (kind ->
// value; empty values are skipped). When a secret cannot be stored the
// profile is removed again, so nothing half-made stays behind.
func (c *Core) AddProfile(ctx context.Context, p *account.Profile, secrets map[account.SecretKind]string) error {
	if err := c.Book.Add(ctx, p); err != nil {
		return err
	}
	if err := c.storeSecrets(p, secrets); err != nil {
		c.Book.Remove(ctx, p.Name, true)
		return err
	}
	c.Feed.Publish(feed.Event{Topic: feed.Profiles, Profile: p.ID, Text: "added"})
	return nil
}

// UpdateProfile validates and stores p (by its id) and the secrets given.
func (c *Core) UpdateProfile(ctx context.Context, p *account.Profile, secrets map[account.SecretKind]string) error {
	if err := c.Book.Update(ctx, p); err != nil {
		return err
	}
	if err := c.storeSecrets(p, secrets); err != nil {
		return err
	}
	c.Feed.Publish(feed.Event{Topic: feed.Profiles, Profile: p.ID, Text: "changed"})
	return nil
}

// RemoveProfile deletes the profile and its keychain secrets (see
// account.Book.Remove for force).
func (c *Core) RemoveProfile(ctx context.Context, name string, force bool) error {
	p, err := c.Book.Get(ctx, name)
	if err != nil {
		return err
	}
	if err := c.Book.Remove(ctx, name, force); err != nil {
		return err
	}
	c.Feed.Publish(feed.Event{Topic: feed.Profiles, Profile: p.ID, Text: "removed"})
	return nil
}

// SetSecret stores one of p's secrets in the keychain.
func (c *Core) SetSecret(p *account.Profile, kind account.SecretKind, value string) error {
	if err := c.Book.SetSecret(p, kind, value); err != nil {
		return err
	}
	c.Feed.Publish(feed.Event{Topic: feed.Profiles, Profile: p.ID, Text: "secret stored"})
	return nil
}

func (c *Core) storeSecrets(p *account.Profile, secrets map[account.SecretKind]string) error {
	for k, v := range secrets {
		if v == "" {
			continue
		}
		if err := c.Book.SetSecret(p, k, v); err != nil {
			return err
		}
	}
	return nil
}

// Known gives discovery Herald's built-in presets and autoconfig parser.
func Known() diagnose.Known { return known{} }

type known struct{}

// PresetsFor returns the presets serving domain (and their fallback ports)
// as discovery servers, the username filled in for email.
func (known) PresetsFor(domain, email string) []diagnose.Server {
	var out []diagnose.Server
	for _, p := range account.PresetsFor(domain) {
		prof := p.Apply(email)
		s := ServerOf(&prof, p.Name, p.SetupURL)
		out = append(out, s)
		for _, fb := range prof.Fallbacks {
			s.Host, s.Port, s.TLS = fb.Host, fb.Port, fb.TLS
			out = append(out, s)
		}
	}
	return out
}

// ParseAutoconfig reads a Thunderbird clientConfig document into discovery
// servers, the placeholders filled in for email.
func (known) ParseAutoconfig(r io.Reader, email string) ([]diagnose.Server, error) {
	profs, err := account.ParseAutoconfig(r, email)
	if err != nil {
		return nil, err
	}
	out := make([]diagnose.Server, 0, len(profs))
	for i := range profs {
		out = append(out, ServerOf(&profs[i], profs[i].Name, ""))
	}
	return out, nil
}

// ServerOf describes a profile's server for discovery.
func ServerOf(p *account.Profile, provider, setupURL string) diagnose.Server {
	auth := p.Auth
	if auth == account.AuthOAuth2 {
		auth = transport.AuthXOAUTH2
	}
	return diagnose.Server{Host: p.Host, Port: p.Port, TLS: p.TLS, Auth: auth, Username: p.Username, Provider: provider, SetupURL: setupURL}
}
