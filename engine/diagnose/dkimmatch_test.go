package diagnose

import (
	"context"
	"crypto"
	"strings"
	"testing"

	"github.com/herald-smtp/herald/engine/dkimkey"
	"github.com/herald-smtp/herald/engine/internal/dnstest"
)

func TestCheckDKIMComparesTheRecordWithTheKey(t *testing.T) {
	gen := func(typ string) crypto.Signer {
		k, err := dkimkey.Generate(typ, 0)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	rsaKey, edKey, other := gen(dkimkey.RSA), gen(dkimkey.Ed25519), gen(dkimkey.RSA)
	val := func(k crypto.Signer) string {
		v, err := dkimkey.RecordValue(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	dns := startDNS(t, dnstest.Zone{TXT: map[string][]string{
		"good._domainkey.k.test":    {val(rsaKey)}, // over 255 bytes: served as several strings
		"ed._domainkey.k.test":      {val(edKey)},
		"wrong._domainkey.k.test":   {val(other)},
		"kmis._domainkey.k.test":    {strings.Replace(val(edKey), "k=ed25519", "k=rsa", 1)},
		"revoked._domainkey.k.test": {"v=DKIM1; k=rsa; p="},
		"testing._domainkey.k.test": {val(edKey) + "; t=y"},
	}})
	keys := map[string]crypto.PublicKey{
		"good": rsaKey.Public(), "ed": edKey.Public(), "wrong": rsaKey.Public(), "kmis": edKey.Public(),
		"revoked": rsaKey.Public(), "testing": edKey.Public(), "missing": rsaKey.Public(),
	}
	fs := CheckDKIM(context.Background(), DeliverabilityOptions{Domain: "k.test", DKIMKeys: keys, Resolver: dns.Resolver()})
	if len(fs) != len(keys) {
		t.Fatalf("%d findings for %d keys: %+v", len(fs), len(keys), fs)
	}
	wantStatus(t, fs, "dkim", StatusPass, "selector good: the record matches the signing RSA key")
	wantStatus(t, fs, "dkim", StatusPass, "selector ed: the record matches the signing ED25519 key")
	wantStatus(t, fs, "dkim", StatusFail, "selector wrong: the published record does not match the signing key: p= is a different public key")
	wantStatus(t, fs, "dkim", StatusFail, "selector kmis: the published record does not match the signing key: the record has k=rsa but the key is ed25519")
	wantStatus(t, fs, "dkim", StatusFail, "selector revoked: the published record does not match the signing key: the key is revoked")
	wantStatus(t, fs, "dkim", StatusWarn, "selector testing: the record matches the signing ED25519 key, in testing mode (t=y)")
	f := wantStatus(t, fs, "dkim", StatusFail, "selector missing: no key record at missing._domainkey.k.test")
	if !strings.Contains(f.Hint.Text, "missing._domainkey.k.test") {
		t.Errorf("hint %q does not name the record", f.Hint.Text)
	}
}
