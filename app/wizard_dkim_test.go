package app

import (
	"context"
	"strings"
	"testing"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/diagnose"
	"github.com/herald-smtp/herald/engine/dkimkey"
	"github.com/herald-smtp/herald/engine/transport"
)

// txtResolver answers TXT questions from a map, and nothing else.
type txtResolver struct {
	nxResolver
	txt map[string]string
}

func (r txtResolver) LookupTXT(_ context.Context, n string) ([]string, error) {
	if v, ok := r.txt[n]; ok {
		return []string{v}, nil
	}
	return r.nxResolver.LookupTXT(context.Background(), n)
}

func TestWizardDeliverabilityComparesThePublishedRecordWithTheKey(t *testing.T) {
	tg, c := sandboxTarget(t)
	ctx := context.Background()
	tg.Profile.Name, tg.Profile.Auth, tg.Profile.Username = "signer", transport.AuthNone, ""
	if err := c.Book.Add(ctx, &tg.Profile); err != nil {
		t.Fatal(err)
	}
	recs, err := c.DKIMKeygen(ctx, &tg.Profile, core.DKIMSetup{Type: core.DKIMBoth})
	if err != nil {
		t.Fatal(err)
	}
	stale, _ := dkimkey.Generate(dkimkey.Ed25519, 0)
	staleValue, _ := dkimkey.RecordValue(stale.Public())
	ad := NewWizardAdapter(c)
	// The RSA record is published right; the Ed25519 one still has an old key.
	ad.DeliverOpts.Resolver = txtResolver{txt: map[string]string{recs[0].Name: recs[0].Value, recs[1].Name: staleValue}}
	var dkim []string
	for _, f := range ad.Deliverability(ctx, tg, nil, nil) {
		if f.Check == "dkim" {
			dkim = append(dkim, string(f.Status)+": "+f.Finding)
		}
	}
	got := strings.Join(dkim, "\n")
	if len(dkim) != 2 || !strings.Contains(got, string(diagnose.StatusPass)+": selector herald-rsa: the record matches the signing RSA key") ||
		!strings.Contains(got, string(diagnose.StatusFail)+": selector herald-ed: the published record does not match the signing key: p= is a different public key") {
		t.Fatalf("dkim findings:\n%s", got)
	}
}
