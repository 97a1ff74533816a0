package dkimkey

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
)

func TestParsePEMFormsAndRefusals(t *testing.T) {
	rk, _ := Generate(RSA, 0)
	ek, _ := Generate(Ed25519, 0)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk.(*rsa.PrivateKey))})
	both, err := MarshalPEM(rk, ek)
	if err != nil {
		t.Fatal(err)
	}
	cert := "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	got, err := ParsePEM(append([]byte(cert), pkcs1...))
	if err != nil || len(got) != 1 || !got[0].Public().(*rsa.PublicKey).Equal(rk.Public()) {
		t.Fatalf("PKCS#1 after a certificate: %v", err)
	}
	got, err = ParsePEM(both)
	if err != nil || len(got) != 2 || TypeOf(got[0].Public()) != RSA || TypeOf(got[1].Public()) != Ed25519 {
		t.Fatalf("two PKCS#8 keys: %v", err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	secret := base64.StdEncoding.EncodeToString(ecDER)
	for name, c := range map[string]struct {
		data string
		want string
	}{
		"ec":        {string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})), "RSA or Ed25519 keys only"},
		"encrypted": {"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", "encrypted"},
		"legacy":    {"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n", "encrypted"},
		"none":      {cert, "no PEM private key"},
		"garbage":   {"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not a valid key"},
	} {
		_, err := ParsePEM([]byte(c.data))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), secret[20:50]) {
			t.Errorf("%s: the error quotes the key", name)
		}
	}
	if _, err := Generate(RSA, 1024); err == nil {
		t.Error("a 1024-bit key was generated")
	}
	if _, err := Keys(string(both), []string{"one"}); err == nil || !strings.Contains(err.Error(), "2 keys for 1 selectors") {
		t.Errorf("keys/selectors mismatch: %v", err)
	}
}

func TestCompareSaysWhatDiffers(t *testing.T) {
	rk, _ := Generate(RSA, 0)
	other, _ := Generate(RSA, 0)
	ek, _ := Generate(Ed25519, 0)
	mine, _ := RecordValue(rk.Public())
	pkcs1 := "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PublicKey(rk.Public().(*rsa.PublicKey)))
	for rec, want := range map[string]string{
		mine: "",
		strings.Replace(mine, "v=DKIM1; k=rsa; ", "", 1): "",
		pkcs1:                "",
		mine[:len(mine)-7]:   "not valid base64",
		"v=DKIM1; k=rsa; p=": "revoked",
		"v=DKIM1; k=rsa":     "no p=",
		"v=DKIM2; p=abc":     "v=DKIM2",
		"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString([]byte(ek.Public().(ed25519.PublicKey))): "k=ed25519 but the key is rsa",
	} {
		v := Compare(rec, rk.Public())
		if want == "" && !v.Match || want != "" && (v.Match || !strings.Contains(v.Problem, want)) {
			t.Errorf("%.40s…: %+v, want %q", rec, v, want)
		}
	}
	theirs, _ := RecordValue(other.Public())
	if v := Compare(theirs, rk.Public()); v.Match || !strings.Contains(v.Problem, "different public key") {
		t.Errorf("another key: %+v", v)
	}
	edRec, _ := RecordValue(ek.Public())
	if v := Compare(edRec+"; t=y", ek.Public()); !v.Match || !v.Testing {
		t.Errorf("testing: %+v", v)
	}
	if v := Compare(strings.Replace(edRec, "k=ed25519; ", "", 1), ek.Public()); v.Match || !strings.Contains(v.Problem, "no k= (which means rsa)") {
		t.Errorf("ed25519 without k=: %+v", v)
	}
}
