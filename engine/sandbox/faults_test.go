package sandbox

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestParseFaultsGood(t *testing.T) {
	got, err := ParseFaults(" rcpt:550:100, data:451:30 ,drop-after-data:10,mail:452/4.5.3:5%,delay:2s,delay-rcpt:1m30s:50,AUTH:535")
	if err != nil {
		t.Fatal(err)
	}
	want := []Fault{
		{Stage: "rcpt", Code: 550, EnhancedCode: "5.1.1", Percent: 100},
		{Stage: "data", Code: 451, EnhancedCode: "4.3.0", Percent: 30},
		{Stage: "data", Drop: true, Percent: 10},
		{Stage: "mail", Code: 452, EnhancedCode: "4.5.3", Percent: 5},
		{Delay: 2 * time.Second, Percent: 100},
		{Stage: "rcpt", Delay: 90 * time.Second, Percent: 50},
		{Stage: "auth", Code: 535, EnhancedCode: "5.7.8", Percent: 100},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	// String gives back a spec that parses to the same faults.
	var items []string
	for _, f := range got {
		if err := f.validate(); err != nil {
			t.Errorf("%v does not validate: %v", f, err)
		}
		items = append(items, f.String())
	}
	again, err := ParseFaults(strings.Join(items, ","))
	if err != nil || !reflect.DeepEqual(again, want) {
		t.Fatalf("round trip of %q: %+v, %v", strings.Join(items, ","), again, err)
	}
	if f, err := ParseFaults("   "); err != nil || f != nil {
		t.Fatalf("blank spec: %v, %v", f, err)
	}
}

func TestDefaultEnhancedCodes(t *testing.T) {
	for spec, want := range map[string]string{
		"rcpt:550": "5.1.1", "mail:451": "4.3.0", "data:421": "4.4.2", "rcpt:452": "4.2.2",
		"data:552": "5.3.4", "data:554": "5.6.0", "auth:535": "5.7.8", "mail:499": "4.0.0", "rcpt:599": "5.0.0",
	} {
		f, err := ParseFaults(spec)
		if err != nil {
			t.Fatal(err)
		}
		if f[0].EnhancedCode != want {
			t.Errorf("%s: enhanced code %s, want %s", spec, f[0].EnhancedCode, want)
		}
	}
}

func TestParseFaultsBad(t *testing.T) {
	for spec, wantInErr := range map[string]string{
		"rcpt:550,":               `fault 2 ""`,
		"rcpt:650":                "not a 4xx or 5xx",
		"rcpt:250":                "not a 4xx or 5xx",
		"rcpt:55":                 "three-digit",
		"rcpt:abc":                "three-digit",
		"rcpt":                    "missing reply code",
		"helo:550":                `unknown fault "helo"`,
		"rcpt:550:0":              "1 to 100",
		"rcpt:550:101":            "1 to 100",
		"rcpt:550:ten":            "1 to 100",
		"rcpt:550:10:3":           "too many",
		"rcpt:550/4.1.1":          "does not match",
		"rcpt:550/5.1":            "X.Y.Z",
		"rcpt:550/5.x.1":          "X.Y.Z",
		"delay":                   "missing duration",
		"delay:soon":              "bad duration",
		"delay:-1s":               "between",
		"delay:2h":                "between",
		"delay-quit:1s":           `unknown stage "quit"`,
		"drop-after-data:50:1":    "too many",
		"drop-after-data:x":       "1 to 100",
		"mail:451, rcpt:550:200%": `fault 2 "rcpt:550:200%"`,
	} {
		_, err := ParseFaults(spec)
		if err == nil {
			t.Errorf("%q: accepted", spec)
			continue
		}
		if !strings.Contains(err.Error(), wantInErr) {
			t.Errorf("%q: error %q does not mention %q", spec, err, wantInErr)
		}
	}
}

func TestValidateBuiltFaults(t *testing.T) {
	for _, f := range []Fault{
		{Stage: "rcpt", Code: 550, Delay: time.Second},
		{Stage: "mail", Drop: true},
		{Stage: "x", Code: 550},
		{Stage: "rcpt", Code: 550, Percent: 101},
		{Stage: "rcpt", Code: 550, EnhancedCode: "4.0.0"},
		{},
	} {
		if err := f.validate(); err == nil {
			t.Errorf("%+v validated", f)
		}
	}
	// Percent 0 means always.
	if err := (Fault{Stage: "rcpt", Code: 550}).validate(); err != nil {
		t.Fatal(err)
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEnsureCertGeneratesOnceAndReuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	certPath, keyPath, err := EnsureCert(dir)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("key mode: %v %v", fi.Mode(), err)
		}
	}
	first := readCert(t, certPath)
	for _, name := range []string{"localhost"} {
		if err := first.VerifyHostname(name); err != nil {
			t.Errorf("certificate not valid for %s: %v", name, err)
		}
	}
	for _, ip := range []string{"127.0.0.1", "::1"} {
		found := false
		for _, a := range first.IPAddresses {
			found = found || a.Equal(net.ParseIP(ip))
		}
		if !found {
			t.Errorf("certificate lacks IP %s", ip)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(first)
	if _, err := first.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost"}); err != nil {
		t.Errorf("certificate does not verify against itself: %v", err)
	}
	keyBefore, _ := os.ReadFile(keyPath)

	c2, k2, err := EnsureCert(dir)
	if err != nil || c2 != certPath || k2 != keyPath {
		t.Fatalf("second call: %s %s %v", c2, k2, err)
	}
	second := readCert(t, certPath)
	keyAfter, _ := os.ReadFile(keyPath)
	if first.SerialNumber.Cmp(second.SerialNumber) != 0 || string(keyBefore) != string(keyAfter) {
		t.Fatal("certificate regenerated although still valid")
	}
}

func TestEnsureCertReplacesExpiredOrBroken(t *testing.T) {
	dir := t.TempDir()
	// A pair generated two years ago has expired.
	certPath, _, err := ensureCert(dir, time.Now().Add(-2*365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	old := readCert(t, certPath)
	if _, _, err := EnsureCert(dir); err != nil {
		t.Fatal(err)
	}
	renewed := readCert(t, certPath)
	if renewed.SerialNumber.Cmp(old.SerialNumber) == 0 || !time.Now().Before(renewed.NotAfter) {
		t.Fatal("expired certificate kept")
	}
	// A corrupt key file is replaced too.
	if err := os.WriteFile(filepath.Join(dir, KeyFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := EnsureCert(dir); err != nil {
		t.Fatal(err)
	}
	if readCert(t, certPath).SerialNumber.Cmp(renewed.SerialNumber) == 0 {
		t.Fatal("certificate with a broken key kept")
	}
	if _, _, err := EnsureCert(""); err == nil {
		t.Fatal("empty directory accepted")
	}
}

func TestDescribeFaults(t *testing.T) {
	for spec, want := range map[string]string{
		"rcpt:550:20":       "refuses each recipient (RCPT TO) with 550 5.1.1 (Mailbox unavailable: no such user here); a client should give up, about 20% of the time",
		"data:451":          "temporarily refuses the message after it was sent whole (it is not stored) with 451 4.3.0 (Local error in processing, try again later); a client should retry later",
		"mail:421":          "temporarily refuses the sender (MAIL FROM) with 421 4.4.2 (Service not available, closing transmission channel), then closes the connection; a client should retry later",
		"delay:2s":          "waits 2s before every reply from MAIL FROM on",
		"delay-rcpt:500ms":  "waits 500ms before replying to each RCPT TO",
		"drop-after-data:5": "reads and stores the whole message, then closes the connection without replying (the client cannot tell whether it arrived), about 5% of the time",
	} {
		fs, err := ParseFaults(spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := fs[0].Describe(); got != want {
			t.Errorf("%s:\n got %s\nwant %s", spec, got, want)
		}
	}
	for _, ex := range FaultExamples() {
		if _, err := ParseFaults(ex.Spec); err != nil {
			t.Errorf("example %q: %v", ex.Spec, err)
		}
	}
}
