package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/message"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
)

// fakeCore implements AccountsCore and ComposeCore in memory; tests inspect
// and change its fields (under mu) and publish on its feed.
type fakeCore struct {
	mu       sync.Mutex
	profiles []account.Profile
	secrets  map[string]string // name/kind -> value
	status   map[string]AccountStatus
	def      string
	removed  []string
	forced   bool
	sent     []fakeSend
	feed     *feed.Feed
	sendGate chan struct{} // when set, Send waits for it
	queued   []fakeQueued
	drafts   map[int64]ComposeDraft
	draftSeq int64
	limit    int64
}

type fakeQueued struct {
	profile string
	draft   message.Draft
	at      time.Time
	dsn     *transport.DSN
}

type fakeSend struct {
	profile, password string
	draft             message.Draft
	dsn               *transport.DSN
}

func newFakeCore(ps ...account.Profile) *fakeCore {
	f := &fakeCore{secrets: map[string]string{}, status: map[string]AccountStatus{}, feed: feed.New()}
	for i := range ps {
		ps[i].Normalize()
		if ps[i].ID == "" {
			ps[i].ID = fmt.Sprintf("id%d", i)
		}
	}
	f.profiles = ps
	return f
}

func (f *fakeCore) find(name string) int {
	for i, p := range f.profiles {
		if strings.EqualFold(p.Name, name) {
			return i
		}
	}
	return -1
}

func (f *fakeCore) List(context.Context) ([]account.Profile, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]account.Profile(nil), f.profiles...), nil
}

func (f *fakeCore) Profiles(ctx context.Context) ([]account.Profile, error) { return f.List(ctx) }

func (f *fakeCore) Add(_ context.Context, p *account.Profile) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p.Normalize()
	if err := p.Validate(); err != nil {
		return err
	}
	if f.find(p.Name) >= 0 {
		return account.ErrExists
	}
	p.ID = fmt.Sprintf("new%d", len(f.profiles))
	f.profiles = append(f.profiles, *p)
	return nil
}

func (f *fakeCore) Update(_ context.Context, p *account.Profile) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p.Normalize()
	if err := p.Validate(); err != nil {
		return err
	}
	for i := range f.profiles {
		if f.profiles[i].ID == p.ID {
			p.Updated = time.Now()
			f.profiles[i] = *p
			return nil
		}
	}
	return account.ErrNotFound
}

func (f *fakeCore) Remove(_ context.Context, name string, force bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.find(name)
	if i < 0 {
		return account.ErrNotFound
	}
	f.profiles = append(f.profiles[:i], f.profiles[i+1:]...)
	f.removed = append(f.removed, name)
	f.forced = force
	return nil
}

func (f *fakeCore) Rename(_ context.Context, name, newName string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.find(name)
	if i < 0 {
		return account.ErrNotFound
	}
	f.profiles[i].Name = newName
	return nil
}

func (f *fakeCore) Duplicate(ctx context.Context, name, newName string) error {
	f.mu.Lock()
	i := f.find(name)
	if i < 0 {
		f.mu.Unlock()
		return account.ErrNotFound
	}
	c := f.profiles[i]
	f.mu.Unlock()
	c.ID, c.Name = "", newName
	return f.Add(ctx, &c)
}

func (f *fakeCore) SetSecret(_ context.Context, name string, kind account.SecretKind, v string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets[name+"/"+string(kind)] = v
	return nil
}

func (f *fakeCore) Status(_ context.Context, p account.Profile) AccountStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st, ok := f.status[p.Name]; ok {
		return st
	}
	if _, ok := f.secrets[p.Name+"/password"]; ok {
		return AccountStatus{Secret: SecretStored}
	}
	return AccountStatus{Secret: SecretMissing}
}

func (f *fakeCore) Presets() []account.Preset { return account.Presets() }

func (f *fakeCore) Import(ctx context.Context, filename string, data []byte, email string) ([]string, error) {
	if !strings.HasSuffix(filename, ".json") {
		return nil, errors.New("only JSON in the fake")
	}
	ps, err := account.ImportJSON(strings.NewReader(string(data)))
	if err != nil {
		return nil, err
	}
	var names []string
	for i := range ps {
		if err := f.Add(ctx, &ps[i]); err != nil {
			return names, err
		}
		names = append(names, ps[i].Name)
	}
	return names, nil
}

func (f *fakeCore) Export(ctx context.Context, names []string) ([]byte, error) {
	return []byte("{}"), nil
}

func (f *fakeCore) SetDefault(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.def = name
	return nil
}

func (f *fakeCore) Default(context.Context) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.def
}

func (f *fakeCore) Watch() *feed.Sub { return f.feed.Subscribe(64, feed.Profiles) }

func (f *fakeCore) SandboxTarget() string { return "Sandbox 127.0.0.1:2525" }
func (f *fakeCore) SandboxFrom() string   { return "Herald <herald@localhost>" }

func (f *fakeCore) Send(ctx context.Context, spec SendSpec, d message.Draft, rec *transcript.Recorder) Outcome {
	if f.sendGate != nil {
		<-f.sendGate
	}
	rec.Server(false, "220 fake ready")
	for _, to := range append(append(append([]string(nil), d.To...), d.Cc...), d.Bcc...) {
		rec.Client(false, "RCPT TO:<"+to+">")
		rec.Server(false, "250 OK")
	}
	f.mu.Lock()
	f.sent = append(f.sent, fakeSend{spec.Profile, spec.Password, d, spec.DSN})
	f.mu.Unlock()
	return Outcome{OK: true, Summary: "Sent via " + spec.Profile}
}

func (f *fakeCore) Queue(ctx context.Context, profile string, d message.Draft, at time.Time, dsn *transport.DSN) Outcome {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queued = append(f.queued, fakeQueued{profile, d, at, dsn})
	return Outcome{OK: true, Summary: fmt.Sprintf("Queued as message %d", len(f.queued))}
}

func (f *fakeCore) SizeLimit(context.Context, string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.limit
}

func (f *fakeCore) SaveDraft(_ context.Context, d *ComposeDraft) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.drafts == nil {
		f.drafts = map[int64]ComposeDraft{}
	}
	if d.ID == 0 {
		f.draftSeq++
		d.ID = f.draftSeq
	}
	f.drafts[d.ID] = *d
	f.feed.Publish(feed.Event{Topic: feed.Drafts, ID: d.ID})
	return nil
}

func (f *fakeCore) Drafts(context.Context) ([]DraftItem, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []DraftItem
	for id, d := range f.drafts {
		out = append(out, DraftItem{ID: id, Profile: d.Profile, Subject: d.Message.Subject, Recipients: strings.Join(d.Message.To, ", ")})
	}
	return out, nil
}

func (f *fakeCore) LoadDraft(_ context.Context, id int64) (*ComposeDraft, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.drafts[id]
	if !ok {
		return nil, errors.New("no such draft")
	}
	return &d, nil
}

func (f *fakeCore) DeleteDraft(_ context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.drafts, id)
	f.feed.Publish(feed.Event{Topic: feed.Drafts, ID: id})
	return nil
}

func (f *fakeCore) WatchDrafts() *feed.Sub { return f.feed.Subscribe(64, feed.Drafts) }

func (f *fakeCore) draftCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.drafts)
}

func (f *fakeCore) queuedItems() []fakeQueued {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeQueued(nil), f.queued...)
}

func (f *fakeCore) Inbox(context.Context) ([]InboxItem, error)         { return nil, nil }
func (f *fakeCore) InboxSource(context.Context, int64) (string, error) { return "", nil }
func (f *fakeCore) InboxUpdates() (<-chan int64, func())               { return make(chan int64), func() {} }
func (f *fakeCore) sends() []fakeSend {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeSend(nil), f.sent...)
}
func (f *fakeCore) secret(name string, k account.SecretKind) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.secrets[name+"/"+string(k)]
}
func (f *fakeCore) names() []string {
	ps, _ := f.List(context.Background())
	var n []string
	for _, p := range ps {
		n = append(n, p.Name)
	}
	return n
}

// rig is a shell with Accounts and Compose over a fake core, driven by a
// dispatcher queue the test drains.
type rig struct {
	t        *testing.T
	core     *fakeCore
	shell    *Shell
	accounts *Accounts
	compose  *Compose
	q        chan func()
	quits    int
}

func newRig(t *testing.T, ps ...account.Profile) *rig {
	t.Helper()
	r := &rig{t: t, core: newFakeCore(ps...), q: make(chan func(), 4096)}
	a := test.NewTempApp(t)
	do := func(f func()) { r.q <- f }
	r.shell = NewShell(a, ShellOptions{Dispatch: do})
	r.shell.Quit = func() { r.quits++ }
	r.accounts = NewAccounts(r.core, do)
	r.compose = NewCompose(r.core, do)
	r.compose.debounce = time.Millisecond
	r.shell.Register(r.accounts)
	r.shell.Register(r.compose)
	r.shell.Window().Resize(fyne.NewSize(1280, 800))
	t.Cleanup(r.shell.Stop)
	return r
}

// pump runs queued UI updates until cond holds.
func (r *rig) pump(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case f := <-r.q:
			f()
		case <-deadline:
			r.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// settle runs queued updates until none arrives for a moment.
func (r *rig) settle() {
	for {
		select {
		case f := <-r.q:
			f()
		case <-time.After(150 * time.Millisecond):
			return
		}
	}
}

func (r *rig) shortcut(sc fyne.Shortcut) {
	r.shell.Window().Canvas().(fyne.Shortcutable).TypedShortcut(sc)
}
