package message

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/herald-smtp/herald/engine/dkimkey"
)

// DKIMSigner signs messages for one domain with one or more keys (RFC
// 6376; Ed25519 per RFC 8463): relaxed/relaxed canonicalization, SHA-256,
// the header fields in SignedHeaders that the message has, and From once
// more than it has (oversigned: a second From added on the way breaks the
// signature). Each key adds one DKIM-Signature field.
type DKIMSigner struct {
	// Domain is the d= tag: the signing domain.
	Domain string
	// Keys sign in order; each gives its selector (s=).
	Keys []dkimkey.Key
}

// SignedHeaders are the header fields a DKIM signature covers when the
// message has them.
var SignedHeaders = []string{
	"From", "Sender", "Reply-To", "Subject", "Date", "Message-ID", "To", "Cc",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding",
	"In-Reply-To", "References", "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post",
	"Resent-Date", "Resent-From", "Resent-To", "Resent-Cc", "Resent-Message-ID",
}

// Option changes how Prepare and Render build a message.
type Option func(*options)

type options struct {
	dkim *DKIMSigner
}

// WithDKIM signs the message with s (nil: unsigned).
func WithDKIM(s *DKIMSigner) Option {
	return func(o *options) { o.dkim = s }
}

// Validate checks that the signer has a domain and at least one key, each
// with a selector.
func (s *DKIMSigner) Validate() error {
	if s.Domain == "" {
		return errors.New("DKIM: no signing domain")
	}
	if len(s.Keys) == 0 {
		return errors.New("DKIM: no signing key")
	}
	for i, k := range s.Keys {
		if k.Selector == "" || k.Signer == nil {
			return fmt.Errorf("DKIM: key %d has no selector or no key", i+1)
		}
	}
	return nil
}

// headerKeys returns the h= list for a message whose header section is
// head: each signed field as often as it occurs, From once more.
func headerKeys(head []byte) []string {
	count := map[string]int{}
	for _, line := range bytes.Split(head, []byte("\r\n")) {
		if len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		name, _, ok := bytes.Cut(line, []byte(":"))
		if ok {
			count[strings.ToLower(strings.TrimSpace(string(name)))]++
		}
	}
	var keys []string
	for _, h := range SignedHeaders {
		n := count[strings.ToLower(h)]
		if strings.EqualFold(h, "From") {
			n++
		}
		for range n {
			keys = append(keys, h)
		}
	}
	return keys
}

// headerSection returns msg's header up to (not including) the empty line.
func headerSection(msg []byte) []byte {
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		return msg[:i+2]
	}
	if i := bytes.Index(msg, []byte("\n\n")); i >= 0 {
		return msg[:i+1]
	}
	return msg
}

// signers starts one go-msgauth signer per key for a message with header head.
func (s *DKIMSigner) signers(head []byte) ([]*dkim.Signer, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	keys := headerKeys(head)
	out := make([]*dkim.Signer, 0, len(s.Keys))
	for _, k := range s.Keys {
		sg, err := dkim.NewSigner(&dkim.SignOptions{
			Domain: s.Domain, Selector: k.Selector, Signer: k.Signer, Hash: crypto.SHA256,
			HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
			HeaderKeys: keys,
		})
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, fmt.Errorf("DKIM (selector %s): %w", k.Selector, err)
		}
		out = append(out, sg)
	}
	return out, nil
}

// signatures returns the DKIM-Signature fields (with their CRLFs) for the
// message write writes; head is its header section.
func (s *DKIMSigner) signatures(head []byte, write func(io.Writer) error) ([]byte, error) {
	sgs, err := s.signers(head)
	if err != nil {
		return nil, err
	}
	ws := make([]io.Writer, len(sgs))
	for i, sg := range sgs {
		ws[i] = sg
	}
	werr := write(io.MultiWriter(ws...))
	var out bytes.Buffer
	for i, sg := range sgs {
		if err := sg.Close(); err != nil && werr == nil {
			werr = fmt.Errorf("DKIM (selector %s): %w", s.Keys[i].Selector, err)
		}
		if werr == nil {
			out.WriteString(sg.Signature())
		}
	}
	if werr != nil {
		return nil, werr
	}
	return out.Bytes(), nil
}

// Sign returns msg with the DKIM-Signature fields prepended. msg is any
// complete message (a rendered draft, an .eml file); its line endings are
// made CRLF first, as they travel over SMTP, so the signature covers what
// is sent.
func (s *DKIMSigner) Sign(msg []byte) ([]byte, error) {
	if bytes.IndexByte(msg, '\n') >= 0 && (bytes.Count(msg, []byte("\n")) != bytes.Count(msg, []byte("\r\n")) || bytes.Count(msg, []byte("\r")) != bytes.Count(msg, []byte("\r\n"))) {
		msg = []byte(NormalizeBody(string(msg)))
	}
	sig, err := s.signatures(headerSection(msg), func(w io.Writer) error {
		_, err := w.Write(msg)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(sig)+len(msg))
	return append(append(out, sig...), msg...), nil
}
