package core

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"strings"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/bulk"
	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/dkimkey"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/message"
)

// Key types DKIMSetup.Type takes besides dkimkey.RSA and dkimkey.Ed25519.
const (
	// DKIMBoth makes an RSA and an Ed25519 key, under SELECTOR-rsa and
	// SELECTOR-ed: receivers that know Ed25519 (RFC 8463) check either,
	// the many that do not check the RSA one.
	DKIMBoth = "both"
)

// DefaultDKIMSelector is the selector when neither the user nor the
// profile names one.
const DefaultDKIMSelector = "herald"

// ErrDKIMKeyExists is returned when a profile already has a DKIM key and
// the caller did not ask to replace it: messages signed with the old key
// fail until the new record is published.
var ErrDKIMKeyExists = errors.New("the profile already has a DKIM key")

// ErrNoDKIM is returned for a profile that does not sign.
var ErrNoDKIM = errors.New("the profile does not sign with DKIM")

// DKIMSetup says how to generate or import a profile's DKIM keys.
type DKIMSetup struct {
	// Type is rsa (the default), ed25519 or both (keygen only).
	Type string
	// Bits is the RSA key size; 0 means 2048.
	Bits int
	// Domain is the signing domain; empty keeps the profile's, or takes
	// the domain of its From address.
	Domain string
	// Selector is the key's selector, or the base of two (SELECTOR-rsa,
	// SELECTOR-ed); empty keeps the profile's (or "herald").
	Selector string
	// Replace allows replacing a key the profile already has.
	Replace bool
}

// DKIMSigner returns the signer of profile p, its keys read from the
// keychain; nil (and no error) when p is nil or does not sign. A profile
// that signs but whose key cannot be read is an error: its mail is never
// sent unsigned by surprise.
func (c *Core) DKIMSigner(p *account.Profile) (*message.DKIMSigner, error) {
	keys, err := c.dkimKeys(p)
	if err != nil || keys == nil {
		return nil, err
	}
	return &message.DKIMSigner{Domain: p.DKIM.Domain, Keys: keys}, nil
}

// dkimKeys reads p's keys from the keychain; nil when p does not sign.
func (c *Core) dkimKeys(p *account.Profile) ([]dkimkey.Key, error) {
	if p == nil || p.DKIM == nil || p.DKIM.Selector == "" {
		return nil, nil
	}
	pemText, err := c.Book.Secret(p, account.SecretDKIMKey)
	if err != nil {
		if errors.Is(err, account.ErrNoSecret) {
			return nil, fmt.Errorf("profile %q signs with DKIM (d=%s) but no DKIM key is stored: generate or import one, or turn DKIM signing off", p.Name, p.DKIM.Domain)
		}
		return nil, fmt.Errorf("profile %q: reading the DKIM key: %w", p.Name, err)
	}
	keys, err := dkimkey.Keys(pemText, p.DKIM.Selectors())
	if err != nil {
		return nil, fmt.Errorf("profile %q: the stored DKIM key: %w", p.Name, err)
	}
	return keys, nil
}

// Signs reports whether p's messages are DKIM-signed: it has DKIM
// settings and a key in the keychain.
func (c *Core) Signs(p *account.Profile) bool {
	keys, err := c.dkimKeys(p)
	return err == nil && len(keys) > 0
}

// Render merges profile p (nil: the sandbox) into d and renders it, signed
// when p signs with DKIM. Every front end's send and queue goes through it
// (or through DKIMSigner, for a draft rendered lazily).
func (c *Core) Render(p *account.Profile, d message.Draft) (*message.Rendered, error) {
	s, err := c.DKIMSigner(p)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return Compose(p, d)
	}
	return Compose(p, d, message.WithDKIM(s))
}

// PlanBulk plans a mail merge for o.Profile, each message signed when the
// profile signs with DKIM.
func (c *Core) PlanBulk(ctx context.Context, o bulk.Options) (*bulk.Result, error) {
	s, err := c.DKIMSigner(o.Profile)
	if err != nil {
		return nil, err
	}
	o.DKIM = s
	return bulk.Plan(ctx, o)
}

// DKIMRecords returns the DNS TXT records that publish p's keys.
func (c *Core) DKIMRecords(p *account.Profile) ([]dkimkey.Record, error) {
	keys, err := c.dkimKeys(p)
	if err != nil {
		return nil, err
	}
	if keys == nil {
		return nil, fmt.Errorf("profile %q: %w", p.Name, ErrNoDKIM)
	}
	out := make([]dkimkey.Record, len(keys))
	for i, k := range keys {
		if out[i], err = dkimkey.RecordFor(k, p.DKIM.Domain); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// DKIMPublicKeys returns p's public keys by selector (nil when p does not
// sign), for the deliverability check.
func (c *Core) DKIMPublicKeys(p *account.Profile) (map[string]crypto.PublicKey, error) {
	keys, err := c.dkimKeys(p)
	if err != nil || keys == nil {
		return nil, err
	}
	out := map[string]crypto.PublicKey{}
	for _, k := range keys {
		out[k.Selector] = k.Signer.Public()
	}
	return out, nil
}

// DKIMCheck looks up each of p's key records in DNS and compares it with
// the key. r nil means the system's resolver.
func (c *Core) DKIMCheck(ctx context.Context, p *account.Profile, r diagnose.Resolver) ([]diagnose.Finding, error) {
	pubs, err := c.DKIMPublicKeys(p)
	if err != nil {
		return nil, err
	}
	if pubs == nil {
		return nil, fmt.Errorf("profile %q: %w", p.Name, ErrNoDKIM)
	}
	return diagnose.CheckDKIM(ctx, diagnose.DeliverabilityOptions{Domain: p.DKIM.Domain, DKIMSelectors: p.DKIM.Selectors(), DKIMKeys: pubs, Resolver: r}), nil
}

// DKIMKeygen creates p's DKIM key (or keys: Type both), stores it in the
// keychain, records the domain and selectors in the profile and returns
// the records to publish. An existing key is replaced only with Replace.
func (c *Core) DKIMKeygen(ctx context.Context, p *account.Profile, o DKIMSetup) ([]dkimkey.Record, error) {
	var types []string
	switch t := strings.ToLower(o.Type); t {
	case "", dkimkey.RSA:
		types = []string{dkimkey.RSA}
	case dkimkey.Ed25519, "ed":
		types = []string{dkimkey.Ed25519}
	case DKIMBoth:
		types = []string{dkimkey.RSA, dkimkey.Ed25519}
	default:
		return nil, fmt.Errorf("DKIM key type %q: give rsa, ed25519 or both", o.Type)
	}
	if o.Bits != 0 && types[0] != dkimkey.RSA {
		return nil, errors.New("the key size applies to RSA keys only (Ed25519 keys have one size)")
	}
	signers := make([]crypto.Signer, len(types))
	for i, t := range types {
		k, err := dkimkey.Generate(t, o.Bits)
		if err != nil {
			return nil, err
		}
		signers[i] = k
	}
	return c.installDKIM(ctx, p, signers, o)
}

// DKIMImport stores the key (or an RSA and an Ed25519 key) in pemData as
// p's DKIM key, like DKIMKeygen.
func (c *Core) DKIMImport(ctx context.Context, p *account.Profile, pemData []byte, o DKIMSetup) ([]dkimkey.Record, error) {
	signers, err := dkimkey.ParsePEM(pemData)
	if err != nil {
		return nil, err
	}
	if len(signers) > 2 {
		return nil, fmt.Errorf("the file holds %d keys: give one key, or an RSA and an Ed25519 key", len(signers))
	}
	if len(signers) == 2 && dkimkey.TypeOf(signers[0].Public()) == dkimkey.TypeOf(signers[1].Public()) {
		return nil, errors.New("the file holds two keys of the same type: give one key, or an RSA and an Ed25519 key")
	}
	return c.installDKIM(ctx, p, signers, o)
}

// installDKIM stores signers as p's keys and updates p's DKIM settings.
func (c *Core) installDKIM(ctx context.Context, p *account.Profile, signers []crypto.Signer, o DKIMSetup) ([]dkimkey.Record, error) {
	old, oldErr := c.Book.Secret(p, account.SecretDKIMKey)
	if oldErr == nil && !o.Replace {
		return nil, fmt.Errorf("profile %q: %w (selector %s)", p.Name, ErrDKIMKeyExists, strings.Join(p.DKIM.Selectors(), ", "))
	}
	if oldErr != nil && !errors.Is(oldErr, account.ErrNoSecret) {
		return nil, oldErr
	}
	domain := strings.TrimSuffix(strings.TrimSpace(o.Domain), ".")
	base := strings.TrimSpace(o.Selector)
	if p.DKIM != nil {
		if domain == "" {
			domain = p.DKIM.Domain
		}
		if base == "" {
			base = p.DKIM.Selector
			if len(signers) == 2 || p.DKIM.Selector2 != "" {
				base = strings.TrimSuffix(strings.TrimSuffix(base, "-rsa"), "-ed")
			}
		}
	}
	if domain == "" {
		if at := strings.LastIndexByte(p.FromAddress, '@'); at >= 0 {
			domain = p.FromAddress[at+1:]
		}
	}
	if base == "" {
		base = DefaultDKIMSelector
	}
	// RSA first: the selector every receiver checks.
	if len(signers) == 2 && dkimkey.TypeOf(signers[0].Public()) != dkimkey.RSA {
		signers[0], signers[1] = signers[1], signers[0]
	}
	keys := make([]dkimkey.Key, len(signers))
	for i, s := range signers {
		keys[i] = dkimkey.Key{Selector: base, Signer: s}
		if len(signers) == 2 {
			keys[i].Selector = base + map[string]string{dkimkey.RSA: "-rsa", dkimkey.Ed25519: "-ed"}[dkimkey.TypeOf(s.Public())]
		}
	}
	np := *p
	np.DKIM = &account.DKIM{Domain: domain, Selector: keys[0].Selector}
	if len(keys) == 2 {
		np.DKIM.Selector2 = keys[1].Selector
	}
	np.Normalize()
	if err := np.Validate(); err != nil {
		return nil, err
	}
	records := make([]dkimkey.Record, len(keys))
	for i, k := range keys {
		r, err := dkimkey.RecordFor(k, domain)
		if err != nil {
			return nil, err
		}
		records[i] = r
	}
	pemText, err := dkimkey.MarshalPEM(signers...)
	if err != nil {
		return nil, err
	}
	if err := c.Book.SetSecret(p, account.SecretDKIMKey, string(pemText)); err != nil {
		return nil, err
	}
	if err := c.Book.Update(ctx, &np); err != nil {
		// Put the old key back, so settings and key still agree.
		if oldErr == nil {
			c.Book.SetSecret(p, account.SecretDKIMKey, old)
		} else {
			c.Book.DeleteSecret(p, account.SecretDKIMKey)
		}
		return nil, err
	}
	*p = np
	c.Feed.Publish(feed.Event{Topic: feed.Profiles, Profile: p.ID, Text: "dkim key stored"})
	return records, nil
}
