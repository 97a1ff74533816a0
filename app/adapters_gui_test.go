package app

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/sandbox"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
	"github.com/herald-smtp/herald/ui"
)

func openGUICore(t *testing.T) (*GUICore, *core.Core, *memSecrets) {
	t.Helper()
	sec := newMemSecrets()
	c, err := core.Open(context.Background(), t.TempDir(), core.Options{Secrets: sec, WatchStore: true,
		Sandbox: &sandbox.Config{Listen: "127.0.0.1:0", TLS: sandbox.TLSNone}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return NewGUICore(c), c, sec
}

func addProfile(t *testing.T, g *GUICore, name string) *account.Profile {
	t.Helper()
	p := &account.Profile{Name: name, FromAddress: name + "@example.com", Server: account.Server{Host: "smtp.example.com"}, Auth: "plain", Username: name}
	if err := g.Add(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGUICoreProfilesDefaultRenameDuplicateRemove(t *testing.T) {
	ctx := context.Background()
	g, _, sec := openGUICore(t)
	sub := g.Watch()
	defer sub.Close()

	p := addProfile(t, g, "work")
	if e := <-sub.C(); e.Topic != feed.Profiles || e.Profile != p.ID {
		t.Fatalf("event %+v", e)
	}
	if st := g.Status(ctx, *p); st.Secret != ui.SecretMissing {
		t.Fatalf("status %+v", st)
	}
	if err := g.SetSecret(ctx, "work", account.SecretPassword, "pw1"); err != nil {
		t.Fatal(err)
	}
	if st := g.Status(ctx, *p); st.Secret != ui.SecretStored {
		t.Fatalf("status after SetSecret %+v", st)
	}

	if g.Default(ctx) != "" {
		t.Fatal("a default before any was chosen (the sandbox is the default)")
	}
	if err := g.SetDefault(ctx, "work"); err != nil {
		t.Fatal(err)
	}
	if err := g.Rename(ctx, "work", "office"); err != nil {
		t.Fatal(err)
	}
	if d := g.Default(ctx); d != "office" {
		t.Fatalf("default after rename %q (it follows the profile, not the name)", d)
	}
	if err := g.Duplicate(ctx, "office", "office copy"); err != nil {
		t.Fatal(err)
	}
	c, err := g.c.Book.Get(ctx, "office copy")
	if err != nil || sec.m[c.ID+"/password"] != "pw1" || c.Host != "smtp.example.com" {
		t.Fatalf("copy %+v, secret copied %q, %v", c, sec.m[c.ID+"/password"], err)
	}
	if err := g.Remove(ctx, "office", false); err != nil {
		t.Fatal(err)
	}
	if sec.m[p.ID+"/password"] != "" {
		t.Fatal("the keychain secret outlived its profile")
	}
	if d := g.Default(ctx); d != "" {
		t.Fatalf("default %q after its profile was removed", d)
	}
}

func TestGUICoreImportExport(t *testing.T) {
	ctx := context.Background()
	g, _, _ := openGUICore(t)
	addProfile(t, g, "team")
	data, err := g.Export(ctx, []string{"team"})
	if err != nil || !strings.Contains(string(data), `"herald_profiles"`) {
		t.Fatalf("export %s, %v", data, err)
	}
	// Importing our own export again keeps both: the name gets a number.
	names, err := g.Import(ctx, "team.json", data, "")
	if err != nil || len(names) != 1 || names[0] != "team 2" {
		t.Fatalf("import JSON: %q, %v", names, err)
	}
	prefs := `user_pref("mail.smtpserver.smtp1.hostname", "smtp.prefs.example");
user_pref("mail.smtpserver.smtp1.port", 587);
user_pref("mail.smtpserver.smtp1.try_ssl", 2);
user_pref("mail.smtpserver.smtp1.username", "jo");
user_pref("mail.smtpservers", "smtp1");
user_pref("mail.identity.id1.smtpServer", "smtp1");
user_pref("mail.identity.id1.useremail", "jo@prefs.example");
`
	names, err = g.Import(ctx, "prefs.js", []byte(prefs), "")
	if err != nil || len(names) != 1 {
		t.Fatalf("import prefs.js: %q, %v", names, err)
	}
	xml := `<?xml version="1.0"?><clientConfig version="1.1"><emailProvider id="ac.example"><domain>ac.example</domain>
<outgoingServer type="smtp"><hostname>smtp.ac.example</hostname><port>465</port><socketType>SSL</socketType>
<username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication></outgoingServer></emailProvider></clientConfig>`
	names, err = g.Import(ctx, "config-v1.1.xml", []byte(xml), "me@ac.example")
	if err != nil || len(names) != 1 {
		t.Fatalf("import autoconfig: %q, %v", names, err)
	}
	p, err := g.c.Book.Get(ctx, names[0])
	if err != nil || p.Username != "me@ac.example" || p.Port != 465 {
		t.Fatalf("autoconfig profile %+v, %v", p, err)
	}
	if _, err := g.Import(ctx, "junk.json", []byte("{"), ""); err == nil {
		t.Fatal("broken JSON imported")
	}
}

// TestGUICoreSeesTheCLIsChanges changes the store through another book, as
// `herald profile add` in another process does, and expects an event.
func TestGUICoreSeesTheCLIsChanges(t *testing.T) {
	g, core, sec := openGUICore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := g.Watch()
	defer sub.Close()
	// Another process: its own connection to the same store file.
	st2, err := store.Open(core.Store.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	other := account.NewBook(st2, sec)
	p := &account.Profile{Name: "from-cli", FromAddress: "c@example.com", Server: account.Server{Host: "h.example"}}
	if err := other.Add(ctx, p); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-sub.C():
		if e.Topic != feed.Profiles || !e.External {
			t.Fatalf("event %+v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event for a profile added behind the window's back")
	}
}

// TestGUICoreSendsThroughAProfile sends through a profile whose server is
// the real sandbox, with its From, Reply-To and signature.
func TestGUICoreSendsThroughAProfile(t *testing.T) {
	ctx := context.Background()
	g, core, _ := openGUICore(t)
	host, port, _ := net.SplitHostPort(core.Sandbox().Addr())
	n, _ := strconv.Atoi(port)
	p := &account.Profile{Name: "sb", FromAddress: "team@example.com", FromName: "The Team", ReplyTo: "help@example.com",
		Signature: "The Team, example.com", Server: account.Server{Host: host, Port: n, TLS: "none"}, Auth: "none"}
	if err := g.Add(ctx, p); err != nil {
		t.Fatal(err)
	}
	rec := transcript.New()
	out := g.Send(ctx, ui.SendSpec{Profile: "sb"}, message.Draft{To: []string{"ann@example.com"}, Subject: "via a profile", Text: "Hello"}, rec)
	rec.Finish()
	if !out.OK {
		t.Fatalf("send: %+v", out)
	}
	items, err := g.Inbox(ctx)
	if err != nil || len(items) != 1 {
		t.Fatalf("inbox %+v, %v", items, err)
	}
	src, err := g.InboxSource(ctx, items[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`From: "The Team" <team@example.com>`, "Reply-To: <help@example.com>", "The Team, example.com"} {
		if !strings.Contains(src, want) {
			t.Errorf("source lacks %q:\n%s", want, src)
		}
	}
	// A profile whose password is missing says so instead of sending.
	addProfile(t, g, "nopw")
	out = g.Send(ctx, ui.SendSpec{Profile: "nopw"}, message.Draft{To: []string{"ann@example.com"}}, transcript.New())
	if out.OK || !strings.Contains(out.Summary, "no secret stored") || !strings.Contains(out.Hint, "Accounts") {
		t.Fatalf("missing password: %+v", out)
	}
}

// TestGUICoreQueueAndDrafts queues through the real outbox and keeps
// drafts in the real store.
func TestGUICoreQueueAndDrafts(t *testing.T) {
	ctx := context.Background()
	g, c, _ := openGUICore(t)
	at := time.Now().Add(2 * time.Hour)
	out := g.Queue(ctx, "", message.Draft{From: "me@example.com", To: []string{"ann@example.com"}, Subject: "later", Text: "hi",
		Headers: message.PriorityHeaders("high")}, at, nil)
	if !out.OK || !strings.HasPrefix(out.Summary, "Queued as message ") {
		t.Fatalf("queue: %+v", out)
	}
	items, err := c.Queue.List(ctx, queue.Filter{})
	if err != nil || len(items) != 1 || items[0].Subject != "later" || items[0].Next.Unix() != at.Unix() {
		t.Fatalf("outbox %+v, %v", items, err)
	}
	if out := g.Queue(ctx, "", message.Draft{From: "me@example.com", To: []string{"bob@"}}, time.Time{}, nil); out.OK || !strings.Contains(out.Summary, `To: "bob@"`) {
		t.Fatalf("bad draft queued: %+v", out)
	}
	if out := g.Queue(ctx, "nobody", message.Draft{}, time.Time{}, nil); out.OK {
		t.Fatalf("unknown profile queued: %+v", out)
	}

	d := &ui.ComposeDraft{Profile: "work", Message: message.Draft{To: []string{"ann@example.com"}, Subject: "a draft", HTML: "<b>x</b>"}, DSNNotify: "FAILURE", Priority: "low", SendAt: "+1h"}
	if err := g.SaveDraft(ctx, d); err != nil || d.ID == 0 {
		t.Fatalf("save: %v (id %d)", err, d.ID)
	}
	list, err := g.Drafts(ctx)
	if err != nil || len(list) != 1 || list[0].Subject != "a draft" || list[0].Recipients != "ann@example.com" {
		t.Fatalf("drafts %+v, %v", list, err)
	}
	got, err := g.LoadDraft(ctx, d.ID)
	if err != nil || got.Message.HTML != "<b>x</b>" || got.DSNNotify != "FAILURE" || got.Priority != "low" || got.SendAt != "+1h" || got.Profile != "work" {
		t.Fatalf("load %+v, %v", got, err)
	}
	if err := g.DeleteDraft(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if list, _ := g.Drafts(ctx); len(list) != 0 {
		t.Fatalf("after delete: %+v", list)
	}
	if n := g.SizeLimit(ctx, ""); n != 0 {
		t.Fatalf("sandbox size limit %d", n)
	}
}

// TestGUICoreSendAsksDSN sends to the sandbox with delivery notifications
// asked for: the transcript shows them on RCPT where the server offers DSN.
func TestGUICoreSendAsksDSN(t *testing.T) {
	ctx := context.Background()
	g, _, _ := openGUICore(t)
	dsn, err := transport.ParseDSN("failure,delay", "hdrs", "env-1")
	if err != nil {
		t.Fatal(err)
	}
	rec := transcript.New()
	out := g.Send(ctx, ui.SendSpec{DSN: dsn}, message.Draft{From: "me@example.com", To: []string{"ann@example.com"}, Text: "x"}, rec)
	rec.Finish()
	if !out.OK {
		t.Fatalf("send: %+v", out)
	}
	var lines []string
	offered := false
	for _, e := range rec.Events() {
		lines = append(lines, e.Text)
		if e.Dir == transcript.Server && strings.Contains(e.Text, "DSN") {
			offered = true
		}
	}
	all := strings.Join(lines, "\n")
	if offered && !strings.Contains(all, "NOTIFY=FAILURE,DELAY") {
		t.Fatalf("DSN offered but not asked:\n%s", all)
	}
	if !offered && strings.Contains(all, "NOTIFY=") {
		t.Fatalf("DSN asked of a server that does not offer it:\n%s", all)
	}
}
