package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/dkimkey"
	"github.com/herald-smtp/herald/engine/sandbox"
)

// dkimFixture is a data directory with a profile "signer" that sends to a
// sandbox, and every output the CLI printed (to scan for the key).
type dkimFixture struct {
	dir, files string
	sec        *memSecrets
	sb         *testSandbox
	outputs    strings.Builder
}

func newDKIMFixture(t *testing.T) *dkimFixture {
	t.Helper()
	fx := &dkimFixture{dir: t.TempDir(), files: t.TempDir(), sec: &memSecrets{m: map[string]string{}}, sb: startSandbox(t, sandbox.Config{})}
	if r := fx.run(t, "profile", "add", "--name", "signer", "--server", fx.sb.addr, "--tls", "none", "--auth", "none",
		"--from", "Ann <ann@herald.test>"); r.code != ExitOK {
		t.Fatalf("profile add: %d %s", r.code, r.stderr)
	}
	return fx
}

func (fx *dkimFixture) run(t *testing.T, args ...string) runResult {
	t.Helper()
	r := runCLIWith(t, "", fx.sec, append([]string{"--data-dir", fx.dir}, args...)...)
	fx.outputs.WriteString(r.stdout + r.stderr)
	return r
}

// records returns the profile's records as dkim record --json prints them.
func (fx *dkimFixture) records(t *testing.T) []dkimkey.Record {
	t.Helper()
	r := fx.run(t, "dkim", "record", "--profile", "signer", "--json")
	if r.code != ExitOK {
		t.Fatalf("dkim record: %d %s", r.code, r.stderr)
	}
	var out dkimJSON
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	return out.Records
}

// quoted matches one quoted string of a printed Value line.
var quoted = regexp.MustCompile(`"([^"]*)"`)

// lookupFromOutput answers TXT lookups with the records printed as text
// (Name: / Value: lines), the strings joined as a resolver joins them.
func lookupFromOutput(t *testing.T, out string) func(string) ([]string, error) {
	t.Helper()
	recs := map[string]string{}
	var name string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Name:  "); ok {
			name = v
		}
		if v, ok := strings.CutPrefix(line, "Value: "); ok {
			var joined strings.Builder
			for _, m := range quoted.FindAllStringSubmatch(v, -1) {
				if len(m[1]) > 255 {
					t.Fatalf("a quoted string of %d bytes (max 255)", len(m[1]))
				}
				joined.WriteString(m[1])
			}
			recs[name] = joined.String()
		}
	}
	if len(recs) == 0 {
		t.Fatalf("no record printed:\n%s", out)
	}
	return func(n string) ([]string, error) {
		if v, ok := recs[n]; ok {
			return []string{v}, nil
		}
		return nil, &os.PathError{Op: "lookup", Path: n, Err: os.ErrNotExist}
	}
}

// verifyAll checks every signature of raw and returns the selectors that verified.
func verifyAll(t *testing.T, raw []byte, lookup func(string) ([]string, error)) []string {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookup})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatalf("the message is not signed:\n%s", raw[:min(len(raw), 600)])
	}
	var sels []string
	for _, v := range vs {
		if v.Err != nil {
			t.Fatalf("signature of %s does not verify: %v", v.Domain, v.Err)
		}
		sels = append(sels, v.Domain)
	}
	return sels
}

func TestDKIMKeygenRecordAndSignedSendQueueAndBulk(t *testing.T) {
	fx := newDKIMFixture(t)
	r := fx.run(t, "dkim", "keygen", "--profile", "signer")
	if r.code != ExitOK {
		t.Fatalf("keygen: %d %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "Name:  herald._domainkey.herald.test\n") || !strings.Contains(r.stdout, `Value: "v=DKIM1; k=rsa; p=`) {
		t.Fatalf("keygen output:\n%s", r.stdout)
	}
	// An RSA-2048 record is longer than 255 bytes: two strings.
	if n := strings.Count(strings.SplitN(strings.SplitN(r.stdout, "Value: ", 2)[1], "\n", 2)[0], `" "`); n != 1 {
		t.Fatalf("value in %d strings, want 2:\n%s", n+1, r.stdout)
	}
	lookup := lookupFromOutput(t, r.stdout)
	again := fx.run(t, "dkim", "record", "--profile", "signer")
	if again.code != ExitOK || !strings.Contains(r.stdout, strings.TrimSpace(again.stdout)) {
		t.Fatalf("record prints something else:\n%s\nvs keygen:\n%s", again.stdout, r.stdout)
	}
	if r := fx.run(t, "dkim", "keygen", "--profile", "signer"); r.code != ExitUsage || !strings.Contains(r.stderr, "--replace") {
		t.Fatalf("a second keygen replaced the key: %d %s", r.code, r.stderr)
	}

	// Direct send, a queued message (signed when queued) and a bulk run.
	if r := fx.run(t, "send", "--profile", "signer", "--to", "bob@example.org", "--subject", "direct", "--body", "one\ntwo"); r.code != ExitOK {
		t.Fatalf("send: %d %s", r.code, r.stderr)
	}
	if r := fx.run(t, "send", "--profile", "signer", "--queue", "--to", "bob@example.org", "--subject", "queued", "--body", "later"); r.code != ExitOK {
		t.Fatalf("send --queue: %d %s", r.code, r.stderr)
	}
	csv := filepath.Join(fx.files, "r.csv")
	tmpl := filepath.Join(fx.files, "t.txt")
	os.WriteFile(csv, []byte("email,name\ncy@example.org,Cy\ndi@example.org,Di\n"), 0o600)
	os.WriteFile(tmpl, []byte("Dear {{.name}}\n"), 0o600)
	if r := fx.run(t, "bulk", "--profile", "signer", "--recipients", csv, "--subject", "Hi {{.name}}", "--template", tmpl); r.code != ExitOK {
		t.Fatalf("bulk: %d %s", r.code, r.stderr)
	}
	if r := fx.run(t, "queue", "run", "--until-empty"); r.code != ExitOK {
		t.Fatalf("queue run: %d %s %s", r.code, r.stdout, r.stderr)
	}
	msgs := fx.sb.messages(t)
	if len(msgs) != 4 {
		t.Fatalf("%d messages arrived, want 4", len(msgs))
	}
	for _, m := range msgs {
		full, err := fx.sb.st.SandboxMessage(context.Background(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		verifyAll(t, full.Raw, lookup)
		if bad := bytes.Replace(full.Raw, []byte("\r\n\r\n"), []byte("\r\n\r\nX"), 1); true {
			vs, _ := dkim.VerifyWithOptions(bytes.NewReader(bad), &dkim.VerifyOptions{LookupTXT: lookup})
			if len(vs) == 0 || vs[0].Err == nil {
				t.Fatalf("%q: a changed body still verifies", m.Subject)
			}
		}
	}

	// Both types at once: two records, two signatures.
	r = fx.run(t, "dkim", "keygen", "--profile", "signer", "--type", "both", "--replace")
	if r.code != ExitOK || !strings.Contains(r.stdout, "Name:  herald-rsa._domainkey.herald.test") || !strings.Contains(r.stdout, "Name:  herald-ed._domainkey.herald.test") ||
		!strings.Contains(r.stdout, "k=ed25519") {
		t.Fatalf("keygen both: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	lookup = lookupFromOutput(t, r.stdout)
	if recs := fx.records(t); len(recs) != 2 || recs[0].Type != "rsa" || recs[1].Type != "ed25519" || recs[1].Selector != "herald-ed" {
		t.Fatalf("records: %+v", recs)
	}
	if r := fx.run(t, "send", "--profile", "signer", "--to", "bob@example.org", "--subject", "both", "--body", "x"); r.code != ExitOK {
		t.Fatalf("send: %d %s", r.code, r.stderr)
	}
	msgs = fx.sb.messages(t)
	full, _ := fx.sb.st.SandboxMessage(context.Background(), msgs[0].ID)
	if full.Subject != "both" {
		full, _ = fx.sb.st.SandboxMessage(context.Background(), msgs[len(msgs)-1].ID)
	}
	if n := len(verifyAll(t, full.Raw, lookup)); n != 2 {
		t.Fatalf("%d signatures", n)
	}

	fx.assertKeyNowhere(t)
}

// assertKeyNowhere scans every file of the data directory and every output
// for the private keys (their PEM lines and raw key bytes).
func (fx *dkimFixture) assertKeyNowhere(t *testing.T) {
	t.Helper()
	var pemText string
	for k, v := range fx.sec.m {
		if strings.HasSuffix(k, "/"+string(account.SecretDKIMKey)) {
			pemText = v
		}
	}
	if pemText == "" {
		t.Fatal("no key stored")
	}
	signers, err := dkimkey.ParsePEM([]byte(pemText))
	if err != nil {
		t.Fatal(err)
	}
	var needles [][]byte
	for _, line := range strings.Split(pemText, "\n") {
		if len(line) >= 40 && !strings.HasPrefix(line, "-----") {
			needles = append(needles, []byte(line[8:40]))
		}
	}
	for _, s := range signers {
		switch k := s.(type) {
		case *rsa.PrivateKey:
			needles = append(needles, k.D.Bytes()[:32], []byte(base64.StdEncoding.EncodeToString(k.D.Bytes())[:32]))
		case ed25519.PrivateKey:
			needles = append(needles, k.Seed(), []byte(base64.StdEncoding.EncodeToString(k.Seed())[:32]))
		}
	}
	check := func(where string, b []byte) {
		for _, n := range needles {
			if bytes.Contains(b, n) {
				t.Errorf("the private key appears in %s", where)
				return
			}
		}
	}
	check("the CLI's output", []byte(fx.outputs.String()))
	filepath.WalkDir(fx.dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, err := os.ReadFile(path)
			if err == nil {
				check(path, b)
			}
		}
		return nil
	})
}

func TestDKIMImportPEMForms(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})
	for _, c := range []struct {
		name string
		data []byte
		pub  any
	}{{"pkcs1", pkcs1, &rsaKey.PublicKey}, {"pkcs8-rsa", pkcs8(rsaKey), &rsaKey.PublicKey}, {"pkcs8-ed25519", pkcs8(edKey), edKey.Public()}} {
		t.Run(c.name, func(t *testing.T) {
			fx := newDKIMFixture(t)
			file := filepath.Join(fx.files, "key.pem")
			os.WriteFile(file, c.data, 0o600)
			r := fx.run(t, "dkim", "import", "--profile", "signer", "--selector", "s2026", "--domain", "mail.herald.test", file)
			if r.code != ExitOK || !strings.Contains(r.stdout, "Name:  s2026._domainkey.mail.herald.test") {
				t.Fatalf("import: %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			recs := fx.records(t)
			want, _ := dkimkey.RecordValue(c.pub)
			if len(recs) != 1 || recs[0].Value != want || strings.Join(recs[0].Strings, "") != want {
				t.Fatalf("record %+v, want %s", recs, want)
			}
			if v := dkimkey.Compare(recs[0].Value, c.pub); !v.Match {
				t.Fatalf("the record does not match the imported key: %s", v.Problem)
			}
			if c.name == "pkcs8-ed25519" && !strings.Contains(r.stdout, "many receivers still verify only RSA") {
				t.Errorf("no RSA note for an Ed25519 key alone:\n%s", r.stdout)
			}
			fx.assertKeyNowhere(t)
		})
	}
	fx := newDKIMFixture(t)
	bad := filepath.Join(fx.files, "bad.pem")
	os.WriteFile(bad, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o600)
	if r := fx.run(t, "dkim", "import", "--profile", "signer", bad); r.code != ExitUsage || !strings.Contains(r.stderr, "no PEM private key") {
		t.Fatalf("bad import: %d %s", r.code, r.stderr)
	}
	if r := fx.run(t, "dkim", "record", "--profile", "signer"); r.code != ExitUsage || !strings.Contains(r.stderr, "does not sign") {
		t.Fatalf("record without a key: %d %s", r.code, r.stderr)
	}
}

func TestSplitTXTAt255(t *testing.T) {
	k, _ := dkimkey.Generate("rsa", 4096)
	v, _ := dkimkey.RecordValue(k.Public())
	parts := dkimkey.SplitTXT(v)
	if len(parts) != (len(v)+254)/255 || strings.Join(parts, "") != v {
		t.Fatalf("%d parts for %d bytes", len(parts), len(v))
	}
	for _, p := range parts[:len(parts)-1] {
		if len(p) != 255 {
			t.Fatalf("part of %d bytes", len(p))
		}
	}
}

func TestProfileDKIMFlagsTakeTwoSelectorsAndValidateTheKey(t *testing.T) {
	fx := newDKIMFixture(t)
	rk, _ := dkimkey.Generate("rsa", 0)
	ek, _ := dkimkey.Generate("ed25519", 0)
	both, _ := dkimkey.MarshalPEM(rk, ek)
	file := filepath.Join(fx.files, "both.pem")
	os.WriteFile(file, both, 0o600)
	bad := filepath.Join(fx.files, "bad.pem")
	os.WriteFile(bad, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600)
	if r := fx.run(t, "profile", "edit", "signer", "--dkim-domain", "herald.test", "--dkim-selector", "a", "--dkim-key-file", bad); r.code != ExitUsage || !strings.Contains(r.stderr, "not a valid key") {
		t.Fatalf("bad key file: %d %s", r.code, r.stderr)
	}
	if r := fx.run(t, "profile", "edit", "signer", "--dkim-domain", "herald.test", "--dkim-selector", "a, b", "--dkim-key-file", file); r.code != ExitOK {
		t.Fatalf("edit: %d %s", r.code, r.stderr)
	}
	if r := fx.run(t, "profile", "show", "signer"); !strings.Contains(r.stdout, "DKIM:      d=herald.test s=a,b, key stored") {
		t.Fatalf("show:\n%s", r.stdout)
	}
	recs := fx.records(t)
	if len(recs) != 2 || recs[0].Name != "a._domainkey.herald.test" || recs[1].Type != "ed25519" {
		t.Fatalf("records %+v", recs)
	}
	r := fx.run(t, "dkim", "record", "--profile", "signer")
	lookup := lookupFromOutput(t, r.stdout)
	if r := fx.run(t, "send", "--profile", "signer", "--to", "b@example.org", "--body", "x"); r.code != ExitOK {
		t.Fatalf("send: %d %s", r.code, r.stderr)
	}
	full, _ := fx.sb.st.SandboxMessage(context.Background(), fx.sb.messages(t)[0].ID)
	if n := len(verifyAll(t, full.Raw, lookup)); n != 2 {
		t.Fatalf("%d signatures", n)
	}
	fx.assertKeyNowhere(t)
}
