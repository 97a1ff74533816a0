// Package dkimkey creates, reads and writes DKIM signing keys (RSA, RFC
// 6376, and Ed25519, RFC 8463), turns their public halves into the DNS TXT
// record to publish, and compares a published record with a key.
//
// A profile's keys travel as one PEM text (one PKCS#8 block per key, in the
// order of the profile's selectors); it is a secret and belongs in the
// keychain only.
package dkimkey

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Key types.
const (
	RSA     = "rsa"
	Ed25519 = "ed25519"
)

// DefaultRSABits is the size of a generated RSA key.
const DefaultRSABits = 2048

// Key is one signing key and the selector it is published under.
type Key struct {
	// Selector names the key's DNS record (SELECTOR._domainkey.DOMAIN).
	Selector string
	// Signer is the private key: *rsa.PrivateKey or ed25519.PrivateKey.
	Signer crypto.Signer
}

// Type returns "rsa" or "ed25519" (the record's k= tag).
func (k Key) Type() string { return TypeOf(k.Signer.Public()) }

// Bits returns the key's size: the RSA modulus, or 256 for Ed25519.
func (k Key) Bits() int {
	if p, ok := k.Signer.Public().(*rsa.PublicKey); ok {
		return p.N.BitLen()
	}
	return 256
}

// TypeOf returns "rsa" or "ed25519" for a public key, "" for another kind.
func TypeOf(pub crypto.PublicKey) string {
	switch pub.(type) {
	case *rsa.PublicKey:
		return RSA
	case ed25519.PublicKey:
		return Ed25519
	}
	return ""
}

// Generate creates a key: RSA of bits (0: 2048; 2048 to 4096) or Ed25519.
func Generate(typ string, bits int) (crypto.Signer, error) {
	switch strings.ToLower(typ) {
	case RSA, "":
		if bits == 0 {
			bits = DefaultRSABits
		}
		if bits < 2048 || bits > 4096 {
			return nil, fmt.Errorf("RSA key size %d: give 2048 to 4096 bits (receivers ignore keys under 1024, RFC 8301, and 1024 is weak)", bits)
		}
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			return nil, fmt.Errorf("generating an RSA key: %w", err)
		}
		return k, nil
	case Ed25519, "ed":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generating an Ed25519 key: %w", err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("key type %q: give rsa or ed25519", typ)
}

// ParsePEM reads every private key in data: PKCS#1 ("RSA PRIVATE KEY") and
// PKCS#8 ("PRIVATE KEY", RSA or Ed25519) blocks, in order. Other blocks
// (certificates, public keys) are skipped; encrypted keys, other key types
// and text with no key at all are errors. Errors never quote the key.
func ParsePEM(data []byte) ([]crypto.Signer, error) {
	var out []crypto.Signer
	rest := data
	for n := 1; ; n++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		var (
			k   any
			err error
		)
		switch b.Type {
		case "RSA PRIVATE KEY":
			if b.Headers["Proc-Type"] != "" {
				return nil, fmt.Errorf("PEM block %d is encrypted: decrypt it first (openssl rsa -in FILE -out PLAIN)", n)
			}
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("PEM block %d is encrypted: decrypt it first (openssl pkcs8 -in FILE -out PLAIN)", n)
		case "EC PRIVATE KEY", "OPENSSH PRIVATE KEY":
			return nil, fmt.Errorf("PEM block %d (%s): DKIM signs with RSA or Ed25519 keys only", n, b.Type)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("PEM block %d (%s) is not a valid key: %w", n, b.Type, err)
		}
		s, err := signerOf(k)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM private key found (expected -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)")
	}
	return out, nil
}

func signerOf(k any) (crypto.Signer, error) {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 1024 {
			return nil, fmt.Errorf("RSA key of %d bits: receivers ignore keys under 1024 bits (RFC 8301)", k.N.BitLen())
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	case *ed25519.PrivateKey:
		return *k, nil
	}
	return nil, fmt.Errorf("a %s key: DKIM signs with RSA or Ed25519 keys only", strings.TrimPrefix(fmt.Sprintf("%T", k), "*"))
}

// MarshalPEM writes the keys as PKCS#8 PEM blocks, in order.
func MarshalPEM(keys ...crypto.Signer) ([]byte, error) {
	var b bytes.Buffer
	for i, k := range keys {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, fmt.Errorf("encoding key %d: %w", i+1, err)
		}
		if err := pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
			return nil, fmt.Errorf("encoding key %d: %w", i+1, err)
		}
	}
	return b.Bytes(), nil
}

// Keys pairs the keys of a PEM text with selectors, in order: the text
// must hold exactly one key per selector.
func Keys(pemText string, selectors []string) ([]Key, error) {
	signers, err := ParsePEM([]byte(pemText))
	if err != nil {
		return nil, err
	}
	if len(signers) != len(selectors) {
		return nil, fmt.Errorf("the stored DKIM key holds %d keys for %d selectors (%s)", len(signers), len(selectors), strings.Join(selectors, ", "))
	}
	out := make([]Key, len(signers))
	for i, s := range signers {
		out[i] = Key{Selector: selectors[i], Signer: s}
	}
	return out, nil
}

// publicDER is the record's p= content: SubjectPublicKeyInfo for RSA
// (RFC 6376 3.6.1), the raw 32 bytes for Ed25519 (RFC 8463 4.2).
func publicDER(pub crypto.PublicKey) ([]byte, error) {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return x509.MarshalPKIXPublicKey(p)
	case ed25519.PublicKey:
		return []byte(p), nil
	}
	return nil, fmt.Errorf("a %T key cannot be published for DKIM", pub)
}

// RecordValue returns the TXT record value for a public key:
// "v=DKIM1; k=rsa; p=BASE64".
func RecordValue(pub crypto.PublicKey) (string, error) {
	der, err := publicDER(pub)
	if err != nil {
		return "", err
	}
	return "v=DKIM1; k=" + TypeOf(pub) + "; p=" + base64.StdEncoding.EncodeToString(der), nil
}

// RecordName returns the DNS name of a selector's key record.
func RecordName(selector, domain string) string {
	return selector + "._domainkey." + strings.TrimSuffix(domain, ".")
}

// MaxTXTString is the longest character-string of a TXT record (RFC 1035).
const MaxTXTString = 255

// SplitTXT cuts a record value into character-strings of at most 255
// bytes; a resolver joins them again without separators (RFC 7208 3.3,
// RFC 6376 3.6.2.2).
func SplitTXT(value string) []string {
	var out []string
	for len(value) > MaxTXTString {
		out = append(out, value[:MaxTXTString])
		value = value[MaxTXTString:]
	}
	return append(out, value)
}

// Record is the DNS TXT record that publishes one key.
type Record struct {
	// Selector, Type ("rsa", "ed25519") and Bits describe the key.
	Selector string `json:"selector"`
	Type     string `json:"type"`
	Bits     int    `json:"bits"`
	// Name is SELECTOR._domainkey.DOMAIN.
	Name string `json:"name"`
	// Value is the whole value, as a resolver returns it.
	Value string `json:"value"`
	// Strings is Value split into character-strings of at most 255 bytes.
	Strings []string `json:"strings"`
}

// Quoted returns the strings as a zone file writes them: "..." "...".
func (r Record) Quoted() string {
	q := make([]string, len(r.Strings))
	for i, s := range r.Strings {
		q[i] = `"` + s + `"`
	}
	return strings.Join(q, " ")
}

// ZoneLine returns the record as one line of a zone file.
func (r Record) ZoneLine() string {
	return r.Name + ". IN TXT ( " + r.Quoted() + " )"
}

// RecordFor returns the record publishing k under domain.
func RecordFor(k Key, domain string) (Record, error) {
	v, err := RecordValue(k.Signer.Public())
	if err != nil {
		return Record{}, err
	}
	return Record{Selector: k.Selector, Type: k.Type(), Bits: k.Bits(), Name: RecordName(k.Selector, domain), Value: v, Strings: SplitTXT(v)}, nil
}

// Verdict is how a published record compares with a key.
type Verdict struct {
	// Match says the record publishes exactly this key (p= and k=).
	Match bool
	// Testing says the record has t=y: receivers may ignore failures.
	Testing bool
	// Problem says what differs when Match is false: a revoked key, a
	// different key, another key type, a record that does not parse.
	Problem string
}

// Compare reads a published key record (the TXT strings joined) and says
// whether it publishes pub.
func Compare(record string, pub crypto.PublicKey) Verdict {
	tags := map[string]string{}
	for _, part := range strings.Split(record, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			if strings.TrimSpace(part) != "" {
				return Verdict{Problem: fmt.Sprintf("the record does not parse: malformed tag %q", strings.TrimSpace(part))}
			}
			continue
		}
		tags[strings.TrimSpace(k)] = strings.Join(strings.Fields(v), "")
	}
	var out Verdict
	out.Testing = slices.Contains(strings.Split(tags["t"], ":"), "y")
	if v, ok := tags["v"]; ok && v != "DKIM1" {
		out.Problem = fmt.Sprintf("the record has v=%s, not v=DKIM1", v)
		return out
	}
	want := TypeOf(pub)
	k := RSA
	if v, ok := tags["k"]; ok {
		k = strings.ToLower(v)
	}
	p, ok := tags["p"]
	switch {
	case !ok:
		out.Problem = "the record has no p= tag (public key)"
		return out
	case p == "":
		out.Problem = "the key is revoked (empty p=)"
		return out
	case k != want:
		kTag := "k=" + k
		if _, given := tags["k"]; !given {
			kTag = "no k= (which means rsa)"
		}
		out.Problem = fmt.Sprintf("the record has %s but the key is %s (k=%s)", kTag, want, want)
		return out
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		out.Problem = "p= is not valid base64 (was the value cut rather than split into strings?)"
		return out
	}
	mine, err := publicDER(pub)
	if err != nil {
		out.Problem = err.Error()
		return out
	}
	if k == RSA && !bytes.Equal(der, mine) {
		// A PKCS#1 RSAPublicKey is sometimes published instead of the
		// SubjectPublicKeyInfo: accept it when it is the same key.
		if rk, err := x509.ParsePKCS1PublicKey(der); err == nil && rk.Equal(pub) {
			der = mine
		}
	}
	if !bytes.Equal(der, mine) {
		out.Problem = "p= is a different public key than this profile's key (published " + short(p) + ", expected " + short(base64.StdEncoding.EncodeToString(mine)) + ")"
		return out
	}
	out.Match = true
	return out
}

// short abbreviates a base64 key for a message: its first and last characters.
func short(s string) string {
	if len(s) <= 24 {
		return s
	}
	return s[:12] + "…" + s[len(s)-8:]
}
