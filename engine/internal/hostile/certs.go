package hostile

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// Certs makes server certificates for one test, good and bad, from a CA
// made for the test (Pool trusts it and nothing else).
type Certs struct {
	// Pool trusts the test's CA only: give it to the client as its roots.
	Pool *x509.CertPool
	ca   *x509.Certificate
	key  crypto.Signer
}

var serial atomic.Int64

// NewCerts makes the test's CA, valid for a day.
func NewCerts(t testing.TB) *Certs {
	t.Helper()
	cert, key := newCA(t, "Hostile Test CA", nil, nil, ecKey(t))
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &Certs{Pool: pool, ca: cert, key: key}
}

func ecKey(t testing.TB) crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("hostile: key: %v", err)
	}
	return k
}

func rsaKey(t testing.TB, bits int) crypto.Signer {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatalf("hostile: RSA key: %v", err)
	}
	return k
}

// newCA makes a CA certificate for key, signed by parent (self-signed when
// parent is nil).
func newCA(t testing.TB, name string, parent *x509.Certificate, parentKey crypto.Signer, key crypto.Signer) (*x509.Certificate, crypto.Signer) {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatalf("hostile: CA: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("hostile: CA: %v", err)
	}
	return cert, key
}

// leaf makes a server certificate for names with key, valid from nb to na,
// signed by parent (self-signed when parent is nil); chain is appended
// after it.
func leaf(t testing.TB, parent *x509.Certificate, parentKey crypto.Signer, key crypto.Signer, nb, na time.Time, names []string, chain ...*x509.Certificate) tls.Certificate {
	t.Helper()
	if len(names) == 0 {
		names = []string{"127.0.0.1"}
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: nb, NotAfter: na,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatalf("hostile: certificate: %v", err)
	}
	c := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	for _, ch := range chain {
		c.Certificate = append(c.Certificate, ch.Raw)
	}
	c.Leaf, _ = x509.ParseCertificate(der)
	return c
}

func valid() (time.Time, time.Time) {
	return time.Now().Add(-time.Hour), time.Now().Add(24 * time.Hour)
}

// Good is a valid certificate for names (default 127.0.0.1) from the
// test's CA.
func (c *Certs) Good(t testing.TB, names ...string) tls.Certificate {
	nb, na := valid()
	return leaf(t, c.ca, c.key, ecKey(t), nb, na, names)
}

// Expired expired an hour ago.
func (c *Certs) Expired(t testing.TB, names ...string) tls.Certificate {
	return leaf(t, c.ca, c.key, ecKey(t), time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour), names)
}

// NotYetValid becomes valid in an hour.
func (c *Certs) NotYetValid(t testing.TB, names ...string) tls.Certificate {
	return leaf(t, c.ca, c.key, ecKey(t), time.Now().Add(time.Hour), time.Now().Add(48*time.Hour), names)
}

// WrongName is valid, but for wrong.herald.test only.
func (c *Certs) WrongName(t testing.TB) tls.Certificate {
	return c.Good(t, "wrong.herald.test")
}

// SelfSigned is signed by its own (ECDSA) key.
func (c *Certs) SelfSigned(t testing.TB, names ...string) tls.Certificate {
	nb, na := valid()
	return leaf(t, nil, nil, ecKey(t), nb, na, names)
}

// SelfSignedWeak is self-signed with a 1024-bit RSA key (to be pinned).
func (c *Certs) SelfSignedWeak(t testing.TB, names ...string) tls.Certificate {
	nb, na := valid()
	return leaf(t, nil, nil, rsaKey(t, 1024), nb, na, names)
}

// UnknownCA is issued by a CA that Pool does not trust.
func (c *Certs) UnknownCA(t testing.TB, names ...string) tls.Certificate {
	other, key := newCA(t, "Unknown Test CA", nil, nil, ecKey(t))
	nb, na := valid()
	return leaf(t, other, key, ecKey(t), nb, na, names)
}

// WeakKey is issued by the test's CA for a 1024-bit RSA key.
func (c *Certs) WeakKey(t testing.TB, names ...string) tls.Certificate {
	nb, na := valid()
	return leaf(t, c.ca, c.key, rsaKey(t, 1024), nb, na, names)
}

// StrongRSA is issued by the test's CA for a 2048-bit RSA key.
func (c *Certs) StrongRSA(t testing.TB, names ...string) tls.Certificate {
	nb, na := valid()
	return leaf(t, c.ca, c.key, rsaKey(t, 2048), nb, na, names)
}

// WeakIntermediate is an ECDSA certificate issued by an intermediate CA
// with a 1024-bit RSA key, itself issued by the test's CA; the server
// sends the intermediate with it.
func (c *Certs) WeakIntermediate(t testing.TB, names ...string) tls.Certificate {
	inter, ikey := newCA(t, "Weak Intermediate CA", c.ca, c.key, rsaKey(t, 1024))
	nb, na := valid()
	return leaf(t, inter, ikey, ecKey(t), nb, na, names, inter)
}

// ServerTLS is a server configuration presenting cert with TLS 1.2 or
// newer.
func ServerTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// OldTLS is a server configuration presenting cert with nothing newer
// than maxVersion (tls.VersionTLS10 or tls.VersionTLS11).
func OldTLS(cert tls.Certificate, maxVersion uint16) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS10, MaxVersion: maxVersion}
}
