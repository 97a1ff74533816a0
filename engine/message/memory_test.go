package message

import (
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func bigFile(tb testing.TB, size int) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "big.bin")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, int64(size)); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// allocated returns the bytes allocated on the heap while f ran: an upper
// bound on how much the heap can have grown at its peak.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A large attachment is read once, straight into a result sized exactly:
// the heap holds the encoded message and little else (the old path held
// the file, a copy of it and two growing buffers: about 5 times the size).
func TestRenderLargeAttachmentMemory(t *testing.T) {
	const size = 8 << 20
	path := bigFile(t, size)
	d := validDraft()
	d.Attachments = []Attachment{{Path: path}}
	var r *Rendered
	var err error
	got := allocated(func() { r, err = Render(d) })
	if err != nil {
		t.Fatal(err)
	}
	encoded := uint64(len(r.Bytes))
	if limit := encoded + 2<<20; got > limit {
		t.Errorf("rendering a %d MiB attachment allocated %d MiB, want at most %d MiB (the %d MiB message + 2)", size>>20, got>>20, limit>>20, encoded>>20)
	}
	// Streaming to a writer holds no copy at all.
	p, err := Prepare(d)
	if err != nil {
		t.Fatal(err)
	}
	if got := allocated(func() { _, err = p.WriteTo(io.Discard) }); err != nil || got > 1<<20 {
		t.Errorf("WriteTo allocated %d KiB (%v), want under 1 MiB", got>>10, err)
	}
	// The size is known before any attachment is read.
	if est, err := EstimateSize(d); err != nil || est != int64(encoded) {
		t.Errorf("EstimateSize = %d, %v; rendered %d", est, err, encoded)
	}
}

func BenchmarkRenderLargeAttachment(b *testing.B) {
	const size = 8 << 20
	path := bigFile(b, size)
	d := validDraft()
	d.Attachments = []Attachment{{Path: path}}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEstimateSizeLargeAttachment(b *testing.B) {
	path := bigFile(b, 8<<20)
	d := validDraft()
	d.Attachments = []Attachment{{Path: path}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EstimateSize(d); err != nil {
			b.Fatal(err)
		}
	}
}
