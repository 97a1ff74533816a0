package account

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/herald-smtp/herald/engine/store"
)

// SecretKind names one of a profile's secrets.
type SecretKind string

const (
	// SecretPassword is the password (or API key) for AUTH.
	SecretPassword SecretKind = "password"
	// SecretRefreshToken is the OAuth2 refresh token.
	SecretRefreshToken SecretKind = "oauth-refresh-token"
	// SecretDKIMKey is the DKIM private key in PEM.
	SecretDKIMKey SecretKind = "dkim-key"
	// SecretClientSecret is the OAuth2 client secret, where the provider
	// requires one.
	SecretClientSecret SecretKind = "oauth-client-secret"
)

// SecretKinds lists every kind, for deleting them all.
var secretKinds = []SecretKind{SecretPassword, SecretRefreshToken, SecretDKIMKey, SecretClientSecret}

var (
	// ErrNoSecret is wrapped when a profile's secret is not stored.
	ErrNoSecret = errors.New("no secret stored")
	// ErrNoKeychain is wrapped when no keychain is reachable; the error
	// text says what is missing and how to fix it.
	ErrNoKeychain = errors.New("no keychain reachable")
	// ErrNotFound is wrapped when a profile does not exist.
	ErrNotFound = errors.New("no such profile")
	// ErrExists is wrapped when a profile name is taken.
	ErrExists = errors.New("a profile with this name exists")
)

// Secrets is where profiles' secrets live: the OS keychain, and nowhere
// else. Implementations wrap ErrNoSecret and ErrNoKeychain.
type Secrets interface {
	Set(profileID string, kind SecretKind, value string) error
	Get(profileID string, kind SecretKind) (string, error)
	Delete(profileID string, kind SecretKind) error
}

// Book stores profiles: settings in the SQLite store, secrets in Secrets.
type Book struct {
	st  *store.Store
	sec Secrets
	now func() time.Time
}

// NewBook returns a book over st and sec.
func NewBook(st *store.Store, sec Secrets) *Book {
	return &Book{st: st, sec: sec, now: time.Now}
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func decode(r *store.ProfileRow) (*Profile, error) {
	var p Profile
	if err := json.Unmarshal(r.Data, &p); err != nil {
		return nil, fmt.Errorf("profile %q: stored settings are unreadable: %w", r.Name, err)
	}
	p.ID, p.Name, p.Created, p.Updated = r.ID, r.Name, r.Created, r.Updated
	return &p, nil
}

func encode(p *Profile) ([]byte, error) {
	c := *p
	c.ID, c.Created, c.Updated = "", time.Time{}, time.Time{}
	return json.Marshal(c)
}

func wrapStore(err error, name string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("profile %q: %w", name, ErrNotFound)
	case errors.Is(err, store.ErrExists):
		return fmt.Errorf("profile %q: %w", name, ErrExists)
	}
	return err
}

// Add normalises, validates and stores a new profile, assigning its ID.
func (b *Book) Add(ctx context.Context, p *Profile) error {
	p.Normalize()
	if err := p.Validate(); err != nil {
		return err
	}
	p.ID = newID()
	p.Created = b.now()
	p.Updated = p.Created
	data, err := encode(p)
	if err != nil {
		return err
	}
	return wrapStore(b.st.InsertProfile(ctx, store.ProfileRow{ID: p.ID, Name: p.Name, Data: data, Created: p.Created, Updated: p.Updated}), p.Name)
}

// Update validates and stores p over the profile with p.ID.
func (b *Book) Update(ctx context.Context, p *Profile) error {
	if p.ID == "" {
		return errors.New("update profile: no id")
	}
	p.Normalize()
	if err := p.Validate(); err != nil {
		return err
	}
	p.Updated = b.now()
	data, err := encode(p)
	if err != nil {
		return err
	}
	return wrapStore(b.st.UpdateProfile(ctx, store.ProfileRow{ID: p.ID, Name: p.Name, Data: data, Updated: p.Updated}), p.Name)
}

// Get returns the profile named name (any case).
func (b *Book) Get(ctx context.Context, name string) (*Profile, error) {
	r, err := b.st.ProfileByName(ctx, name)
	if err != nil {
		return nil, wrapStore(err, name)
	}
	return decode(r)
}

// GetByID returns the profile with id.
func (b *Book) GetByID(ctx context.Context, id string) (*Profile, error) {
	r, err := b.st.ProfileByID(ctx, id)
	if err != nil {
		return nil, wrapStore(err, id)
	}
	return decode(r)
}

// List returns every profile, by name.
func (b *Book) List(ctx context.Context) ([]Profile, error) {
	rows, err := b.st.Profiles(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Profile, 0, len(rows))
	for i := range rows {
		p, err := decode(&rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	return out, nil
}

// Remove deletes the profile and every secret it has in the keychain. When
// the keychain is unreachable nothing is deleted (the secrets would be left
// behind) unless force is set.
func (b *Book) Remove(ctx context.Context, name string, force bool) error {
	p, err := b.Get(ctx, name)
	if err != nil {
		return err
	}
	for _, k := range secretKinds {
		if err := b.sec.Delete(p.ID, k); err != nil && !errors.Is(err, ErrNoSecret) {
			if !force {
				return fmt.Errorf("profile %q not removed: its %s could not be deleted from the keychain: %w", p.Name, k, err)
			}
		}
	}
	return wrapStore(b.st.DeleteProfile(ctx, p.ID), name)
}

// SetSecret stores one of the profile's secrets in the keychain.
func (b *Book) SetSecret(p *Profile, kind SecretKind, value string) error {
	if value == "" {
		return fmt.Errorf("profile %q: empty %s", p.Name, kind)
	}
	if err := b.sec.Set(p.ID, kind, value); err != nil {
		return fmt.Errorf("profile %q: store the %s: %w", p.Name, kind, err)
	}
	return nil
}

// Secret reads one of the profile's secrets from the keychain.
func (b *Book) Secret(p *Profile, kind SecretKind) (string, error) {
	v, err := b.sec.Get(p.ID, kind)
	if err != nil {
		return "", fmt.Errorf("profile %q: read the %s: %w", p.Name, kind, err)
	}
	return v, nil
}

// SecretStatus says, for each kind, "stored", "missing", "keychain
// unavailable" or "unreadable (store it again)", never the value.
func (b *Book) SecretStatus(p *Profile) map[SecretKind]string {
	out := map[SecretKind]string{}
	for _, k := range secretKinds {
		_, err := b.sec.Get(p.ID, k)
		switch {
		case err == nil:
			out[k] = "stored"
		case errors.Is(err, ErrNoSecret):
			out[k] = "missing"
		case errors.Is(err, ErrNoKeychain):
			out[k] = "keychain unavailable"
		default:
			out[k] = "unreadable (store it again)"
		}
	}
	return out
}

// DeleteSecret removes one of the profile's secrets from the keychain.
func (b *Book) DeleteSecret(p *Profile, kind SecretKind) error {
	if err := b.sec.Delete(p.ID, kind); err != nil {
		return fmt.Errorf("profile %q: delete the %s: %w", p.Name, kind, err)
	}
	return nil
}
