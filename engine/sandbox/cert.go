package sandbox

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Names of the sandbox certificate files inside the certificate directory.
const (
	// CertFile is the PEM certificate clients can add to their trust pool.
	CertFile = "sandbox-cert.pem"
	// KeyFile is the PEM private key (mode 0600).
	KeyFile = "sandbox-key.pem"
)

const (
	certValidity = 365 * 24 * time.Hour
	// certRenewBefore: a certificate this close to expiry is replaced, so
	// that it does not expire during a session.
	certRenewBefore = 24 * time.Hour
)

// EnsureCert returns the paths of the sandbox's self-signed certificate and
// key in dir, creating dir (0700) and generating them on first use: an ECDSA
// P-256 key (file mode 0600) and a certificate valid for one year for
// localhost, 127.0.0.1 and ::1. Existing files are reused as long as they
// parse, match each other and are valid for at least another day; otherwise
// they are replaced.
func EnsureCert(dir string) (certPath, keyPath string, err error) {
	return ensureCert(dir, time.Now())
}

func ensureCert(dir string, now time.Time) (certPath, keyPath string, err error) {
	if dir == "" {
		return "", "", errors.New("sandbox certificate: no directory given")
	}
	certPath = filepath.Join(dir, CertFile)
	keyPath = filepath.Join(dir, KeyFile)
	if usableCert(certPath, keyPath, now) {
		return certPath, keyPath, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("sandbox certificate: create %s: %w", dir, err)
	}
	certPEM, keyPEM, err := generateCert(now)
	if err != nil {
		return "", "", fmt.Errorf("sandbox certificate: %w", err)
	}
	// Key first: a cert file without its key is never left behind as the
	// newest pair. Both are written to a temporary file and renamed.
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return "", "", fmt.Errorf("sandbox certificate: write key: %w", err)
	}
	if err := writeFileAtomic(certPath, certPEM, 0o644); err != nil {
		return "", "", fmt.Errorf("sandbox certificate: write certificate: %w", err)
	}
	return certPath, keyPath, nil
}

// usableCert reports whether the pair exists, matches and is valid at now
// and for a while after.
func usableCert(certPath, keyPath string, now time.Time) bool {
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil || len(pair.Certificate) == 0 {
		return false
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return false
	}
	return !now.Before(leaf.NotBefore) && now.Add(certRenewBefore).Before(leaf.NotAfter)
}

func generateCert(now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("generate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"Herald sandbox"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
