package message

import (
	"bytes"
	"io"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Attachment names are RFC 2231 parameters (never RFC 2047 encoded words
// inside quotes, which RFC 2047 section 5 forbids), and every character of
// the name survives, quotes and backslashes included.
func TestAttachmentNamesRFC2231(t *testing.T) {
	names := []string{
		"report.pdf",
		"café résumé.pdf",
		`say "hi".txt`,
		`back\slash.txt`,
		"emoji 😀 name.png",
		strings.Repeat("日本語のファイル名", 6) + ".txt",
		strings.Repeat("a-long-ascii-name-", 20) + ".csv",
		"semi;colon=equals (paren).bin",
	}
	d := validDraft()
	for _, n := range names {
		d.Attachments = append(d.Attachments, Attachment{Name: n, Data: []byte("x")})
	}
	r, err := Render(d)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(r.Bytes, []byte("=?")) {
		t.Errorf("an encoded word is in the message:\n%s", r.Bytes)
	}
	if n := maxLineLen(r.Bytes); n > 78 {
		t.Errorf("a line of %d characters", n)
	}
	m, err := mail.ReadMessage(bytes.NewReader(r.Bytes))
	if err != nil {
		t.Fatal(err)
	}
	ps := leaves(t, m.Header, m.Body)
	if len(ps) != 1+len(names) {
		t.Fatalf("%d parts", len(ps))
	}
	for i, want := range names {
		p := ps[1+i]
		_, dp, err := mime.ParseMediaType(p.header["Content-Disposition"][0])
		if err != nil || dp["filename"] != want || p.params["name"] != want || p.body != "x" {
			t.Errorf("attachment %d: filename %q name %q body %q (%v), want %q", i, dp["filename"], p.params["name"], p.body, err, want)
		}
		// Each continuation piece decodes on its own: no UTF-8 character is split.
		for _, piece := range strings.Split(p.header["Content-Disposition"][0], ";") {
			if _, v, ok := strings.Cut(piece, "*="); ok && strings.HasPrefix(strings.TrimSpace(piece), "filename*") {
				if strings.HasPrefix(strings.TrimPrefix(strings.TrimSpace(v), "UTF-8''"), "%8") || strings.HasPrefix(strings.TrimPrefix(strings.TrimSpace(v), "UTF-8''"), "%9") || strings.HasPrefix(strings.TrimPrefix(strings.TrimSpace(v), "UTF-8''"), "%A") || strings.HasPrefix(strings.TrimPrefix(strings.TrimSpace(v), "UTF-8''"), "%B") {
					t.Errorf("attachment %d: a piece starts inside a UTF-8 character: %q", i, piece)
				}
			}
		}
	}
}

func TestAttachmentFromFileStreams(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.bin")
	content := bytes.Repeat([]byte{0, 1, 2, 250, 251, 252, 'a', '\n'}, 10000)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	d := validDraft()
	d.Attachments = []Attachment{{Path: path}, {Name: "empty.txt", Data: []byte{}}, {Name: "two.txt", Data: []byte("ab")}}
	p, err := Prepare(d)
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Render()
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(r.Bytes)) != p.Size() {
		t.Errorf("Size() = %d, rendered %d bytes", p.Size(), len(r.Bytes))
	}
	if est, err := EstimateSize(d); err != nil || est != p.Size() {
		t.Errorf("EstimateSize = %d, %v; want %d", est, err, p.Size())
	}
	m, err := mail.ReadMessage(bytes.NewReader(r.Bytes))
	if err != nil {
		t.Fatal(err)
	}
	ps := leaves(t, m.Header, m.Body)
	if len(ps) != 4 || ps[1].body != string(content) || ps[2].body != "" || ps[3].body != "ab" {
		t.Fatalf("attachments did not survive: %d parts", len(ps))
	}
	if err := checkCRLF(r.Bytes); err != nil {
		t.Fatal(err)
	}
	// WriteTo streams the same bytes.
	var buf bytes.Buffer
	if n, err := p.WriteTo(&buf); err != nil || n != p.Size() || !bytes.Equal(buf.Bytes(), r.Bytes) {
		t.Errorf("WriteTo wrote %d bytes (%v), differing from Render", n, err)
	}
}

func TestLazyReaderTellsSizeBeforeRendering(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.bin")
	if err := os.WriteFile(path, bytes.Repeat([]byte("z"), 5000), 0o600); err != nil {
		t.Fatal(err)
	}
	d := validDraft()
	d.Attachments = []Attachment{{Path: path}}
	p, err := Prepare(d)
	if err != nil {
		t.Fatal(err)
	}
	lr := p.Reader()
	if int64(lr.Len()) != p.Size() || lr.Size() != p.Size() || p.rendered != nil {
		t.Fatalf("Len %d Size %d, rendered %v: want the size without rendering", lr.Len(), lr.Size(), p.rendered != nil)
	}
	b, err := io.ReadAll(lr)
	if err != nil || int64(len(b)) != p.Size() || lr.Len() != 0 {
		t.Fatalf("read %d bytes (%v), Len after %d", len(b), err, lr.Len())
	}
	r, err := p.Render()
	if err != nil || !bytes.Equal(r.Bytes, b) {
		t.Fatalf("Render differs from the reader (%v)", err)
	}
	head := make([]byte, 10)
	if n, err := p.Reader().ReadAt(head, 0); n != 10 || err != nil || string(head) != string(b[:10]) {
		t.Errorf("ReadAt = %d, %v, %q", n, err, head)
	}
	// A file gone by the time the message is read is an error, not a short message.
	p2, _ := Prepare(d)
	os.Remove(path)
	if _, err := io.ReadAll(p2.Reader()); err == nil {
		t.Error("reading with the attachment gone succeeded")
	}
}
