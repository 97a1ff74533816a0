package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/store"
)

// htmlMessage is a multipart/related message whose HTML has a heading, a
// script, a remote image and an image of its own (cid:logo@herald).
func htmlMessage(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 8, 4))); err != nil {
		t.Fatal(err)
	}
	return []byte("From: ann@herald.test\r\nTo: bob@herald.test\r\nSubject: HTML\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/related; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
		`<h1>Welcome</h1><script>zzq()</script><img src="cid:logo@herald" alt="logo"><img src="https://tracker.example/p.gif">` + "\r\n" +
		"--b1\r\nContent-Type: image/png\r\nContent-ID: <logo@herald>\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(b.Bytes()) + "\r\n--b1--\r\n")
}

// checkHTMLDoc checks an adapter's document of htmlMessage.
func checkHTMLDoc(t *testing.T, d *message.Doc, text string) {
	t.Helper()
	if d == nil || len(d.Blocks) != 3 || d.Blocks[0].Kind != message.BlockHeading || d.Blocks[1].Kind != message.BlockImage ||
		d.Blocks[1].Image.Type != "image/png" || len(d.Blocks[1].Image.Data) == 0 || d.Remote != 1 {
		t.Fatalf("doc %+v", d)
	}
	if !strings.Contains(text, "Welcome") || !strings.Contains(text, "[remote image not loaded: tracker.example]") || strings.Contains(text, "zzq") {
		t.Errorf("text %q", text)
	}
}

// TestAdaptersGiveTheHTMLWithItsImages: the Sandbox and History adapters
// convert a stored message's HTML with the message's own image.
func TestAdaptersGiveTheHTMLWithItsImages(t *testing.T) {
	g, c, _ := openGUICore(t)
	ctx := context.Background()
	raw := htmlMessage(t)
	id, err := c.Store.AddSandboxMessage(ctx, &store.SandboxMessage{Received: time.Now(), Remote: "127.0.0.1:1", Helo: "x", From: "ann@herald.test",
		To: []string{"bob@herald.test"}, Subject: "HTML", Size: len(raw), Raw: raw})
	if err != nil {
		t.Fatal(err)
	}
	sa := NewSandboxAdapter(c)
	sa.Offline = true
	d, err := sa.SandboxDetail(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !d.HasHTML {
		t.Fatal("no HTML")
	}
	checkHTMLDoc(t, d.HTMLDoc, d.HTML)

	now := time.Now()
	msgs := []store.HistoryEntry{{Queued: now, Started: now, Finished: now, MessageID: "<h@herald.test>", From: "ann@herald.test", Subject: "HTML",
		To: []string{"bob@herald.test"}, Accepted: 1, Size: int64(len(raw)), State: "sent", Attempt: 1, Body: raw}}
	if err := c.Store.AddHistory(ctx, &store.HistorySession{Started: now, Finished: now, Server: "127.0.0.1:1"}, msgs); err != nil {
		t.Fatal(err)
	}
	parts, err := NewHistoryAdapter(g).HistoryParts(ctx, msgs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	checkHTMLDoc(t, parts.HTML, parts.HTMLText)
}
