package message

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/herald-smtp/herald/engine/dkimkey"
)

// testSigner returns a signer for example.com with one key of each type
// given, and a LookupTXT answering the records dkimkey prints for them.
func testSigner(t *testing.T, types ...string) (*DKIMSigner, func(string) ([]string, error)) {
	t.Helper()
	s := &DKIMSigner{Domain: "example.com"}
	recs := map[string][]string{}
	for _, typ := range types {
		k, err := dkimkey.Generate(typ, 0)
		if err != nil {
			t.Fatal(err)
		}
		key := dkimkey.Key{Selector: "s-" + typ, Signer: k}
		s.Keys = append(s.Keys, key)
		r, err := dkimkey.RecordFor(key, s.Domain)
		if err != nil {
			t.Fatal(err)
		}
		recs[r.Name] = r.Strings // split as published: the resolver returns the strings joined
	}
	lookup := func(name string) ([]string, error) {
		if v, ok := recs[name]; ok {
			return []string{strings.Join(v, "")}, nil
		}
		return nil, &os.PathError{Op: "lookup", Path: name, Err: os.ErrNotExist}
	}
	return s, lookup
}

func verify(t *testing.T, msg []byte, lookup func(string) ([]string, error)) []*dkim.Verification {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: lookup})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return vs
}

func TestDKIMSignedRenderVerifiesAndBreaksWhenBodyChanges(t *testing.T) {
	for _, types := range [][]string{{dkimkey.RSA}, {dkimkey.Ed25519}, {dkimkey.RSA, dkimkey.Ed25519}} {
		t.Run(strings.Join(types, "+"), func(t *testing.T) {
			s, lookup := testSigner(t, types...)
			d := Draft{From: "Ann <ann@example.com>", To: []string{"bob@example.org"}, Cc: []string{"cy@example.net"}, ReplyTo: "r@example.com",
				Subject: "Grüße", Text: "hello  \nworld\n\n\n", HTML: "<p>hi</p>",
				Attachments: []Attachment{{Name: "a.bin", Data: bytes.Repeat([]byte{1, 2, 3}, 1000)}}}
			r, err := Render(d, WithDKIM(s))
			if err != nil {
				t.Fatal(err)
			}
			if n := bytes.Count(r.Bytes, []byte("DKIM-Signature:")); n != len(types) {
				t.Fatalf("%d signatures, want %d", n, len(types))
			}
			vs := verify(t, r.Bytes, lookup)
			if len(vs) != len(types) {
				t.Fatalf("%d verifications", len(vs))
			}
			for _, v := range vs {
				if v.Err != nil {
					t.Fatalf("selector signature does not verify: %v", v.Err)
				}
				if v.Domain != "example.com" {
					t.Errorf("d=%s", v.Domain)
				}
				if got := strings.Join(v.HeaderKeys, ":"); !strings.HasPrefix(strings.ToLower(got), "from:from:reply-to:subject:date:message-id:to:cc:mime-version:content-type") {
					t.Errorf("h=%s", got)
				}
			}
			// The body changed on the way: every signature fails.
			bad := bytes.Replace(r.Bytes, []byte("world"), []byte("World"), 1)
			for _, v := range verify(t, bad, lookup) {
				if v.Err == nil {
					t.Fatal("a changed body still verifies")
				}
			}
			// A second From added on the way: fails (From is oversigned).
			i := bytes.Index(r.Bytes, []byte("\r\nFrom:"))
			twice := append(append(append([]byte(nil), r.Bytes[:i]...), "\r\nFrom: mallory@evil.test"...), r.Bytes[i:]...)
			for _, v := range verify(t, twice, lookup) {
				if v.Err == nil {
					t.Fatal("an added From still verifies")
				}
			}
		})
	}
}

func TestDKIMPreparedSizeIsExactAndWriteToVerifies(t *testing.T) {
	s, lookup := testSigner(t, dkimkey.RSA, dkimkey.Ed25519)
	path := filepath.Join(t.TempDir(), "big.txt")
	if err := os.WriteFile(path, bytes.Repeat([]byte("0123456789"), 20000), 0o600); err != nil {
		t.Fatal(err)
	}
	d := Draft{From: "ann@example.com", To: []string{"bob@example.org"}, Subject: "s", Text: "t", Attachments: []Attachment{{Path: path}}}
	p, err := Prepare(d, WithDKIM(s))
	if err != nil {
		t.Fatal(err)
	}
	size := p.Size()
	est, err := EstimateSize(d, WithDKIM(s))
	if err != nil || est != size {
		t.Fatalf("EstimateSize %d, %v; Size %d", est, err, size)
	}
	var w bytes.Buffer
	n, err := p.WriteTo(&w)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(w.Len()) || n != size {
		t.Fatalf("WriteTo wrote %d (counted %d), Size said %d", w.Len(), n, size)
	}
	for _, v := range verify(t, w.Bytes(), lookup) {
		if v.Err != nil {
			t.Fatalf("WriteTo's message does not verify: %v", v.Err)
		}
	}
	r, err := p.Render()
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(r.Bytes)) != size {
		t.Fatalf("rendered %d bytes, Size said %d", len(r.Bytes), size)
	}
	if lr := p.Reader(); lr.Size() != size {
		t.Fatalf("reader size %d", lr.Size())
	}
	for _, v := range verify(t, r.Bytes, lookup) {
		if v.Err != nil {
			t.Fatalf("rendered message does not verify: %v", v.Err)
		}
	}
}

func TestDKIMSignRawMessage(t *testing.T) {
	s, lookup := testSigner(t, dkimkey.Ed25519)
	raw := []byte("From: ann@example.com\r\nTo: bob@example.org\r\nSubject: x\r\n\r\nbody\r\n")
	signed, err := s.Sign(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(signed, raw) {
		t.Fatal("the message changed")
	}
	for _, v := range verify(t, signed, lookup) {
		if v.Err != nil {
			t.Fatal(v.Err)
		}
	}
	// An .eml with LF line endings is signed as it travels: with CRLF.
	lf := bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	signed, err = s.Sign(lf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(signed, raw) {
		t.Fatalf("not made CRLF: %q", signed)
	}
	for _, v := range verify(t, signed, lookup) {
		if v.Err != nil {
			t.Fatal(v.Err)
		}
	}
}

func TestDKIMSignerValidates(t *testing.T) {
	k, _ := dkimkey.Generate(dkimkey.Ed25519, 0)
	for _, s := range []*DKIMSigner{{Keys: []dkimkey.Key{{Selector: "a", Signer: k}}}, {Domain: "x.test"}, {Domain: "x.test", Keys: []dkimkey.Key{{Signer: k}}}} {
		if _, err := Render(Draft{From: "a@x.test", To: []string{"b@x.test"}, Text: "x"}, WithDKIM(s)); err == nil {
			t.Errorf("%+v: no error", s)
		}
	}
}
