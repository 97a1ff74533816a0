package app

import (
	"context"
	"errors"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/dkimkey"
	"github.com/herald-smtp/herald/ui"
)

var (
	_ ui.DKIMCore    = (*GUICore)(nil)
	_ ui.SigningCore = (*GUICore)(nil)
)

// Signs implements ui.SigningCore: the profile has DKIM settings and its
// key is in the keychain.
func (g *GUICore) Signs(profile string) bool {
	p, err := g.c.Book.Get(context.Background(), profile)
	return err == nil && g.c.Signs(p)
}

// DKIMGenerate implements ui.DKIMCore.
func (g *GUICore) DKIMGenerate(ctx context.Context, profile, typ string, replace bool) ([]dkimkey.Record, error) {
	p, err := g.c.Book.Get(ctx, profile)
	if err != nil {
		return nil, err
	}
	return g.c.DKIMKeygen(ctx, p, core.DKIMSetup{Type: typ, Replace: replace})
}

// DKIMImport implements ui.DKIMCore.
func (g *GUICore) DKIMImport(ctx context.Context, profile string, pem []byte, replace bool) ([]dkimkey.Record, error) {
	p, err := g.c.Book.Get(ctx, profile)
	if err != nil {
		return nil, err
	}
	return g.c.DKIMImport(ctx, p, pem, core.DKIMSetup{Replace: replace})
}

// DKIMRecords implements ui.DKIMCore.
func (g *GUICore) DKIMRecords(ctx context.Context, profile string) ([]dkimkey.Record, error) {
	p, err := g.c.Book.Get(ctx, profile)
	if err != nil {
		return nil, err
	}
	return g.c.DKIMRecords(p)
}

// DKIMCheck implements ui.DKIMCore.
func (g *GUICore) DKIMCheck(ctx context.Context, profile string) ([]diagnose.Finding, error) {
	p, err := g.c.Book.Get(ctx, profile)
	if err != nil {
		return nil, err
	}
	return g.c.DKIMCheck(ctx, p, nil)
}

// DKIMKeyExists implements ui.DKIMCore.
func (g *GUICore) DKIMKeyExists(err error) bool { return errors.Is(err, core.ErrDKIMKeyExists) }
