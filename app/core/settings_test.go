package core

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/transport"
)

func TestSettingsDefaultsRoundTripAndFeed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := openTest(t, dir, false, false)
	s, err := c.LoadSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{TextSize: 100, RunWhileOpen: true, LogSize: DefaultLogSize, Notifications: true, CloseToTray: true, History: HistorySettings{Transcripts: TranscriptsAll}}
	if s != want {
		t.Fatalf("defaults = %+v, want %+v", s, want)
	}
	if p := c.GlobalRetryPolicy(ctx); p != queue.DefaultRetryPolicy() {
		t.Fatalf("default policy = %+v", p)
	}

	sub := c.Feed.Subscribe(64, feed.Settings)
	defer sub.Close()
	r := account.RetrySettings{Initial: account.Duration(2 * time.Minute), GiveUpAfter: account.Duration(24 * time.Hour)}
	for _, step := range []error{
		c.SetTheme(ctx, "dark"), c.SetTextSize(ctx, 150), c.SetRetrySettings(ctx, r), c.SetRunWhileOpen(ctx, false),
		c.SetLogSize(ctx, 20000), c.SetNotifications(ctx, false), c.SetColourEmoji(ctx, true), c.SetCloseToTray(ctx, false),
		c.SetHistorySettings(ctx, HistorySettings{KeepDays: 30, KeepMessages: 1000, Transcripts: TranscriptsFailures}),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	for _, name := range []string{SettingTheme, SettingTextSize, SettingRetry, SettingRunWhileOpen, SettingLogSize, SettingNotifications, SettingColourEmoji, SettingCloseToTray, SettingHistoryKeepDays} {
		waitFor(t, sub, "the event of "+name, func(e feed.Event) bool { return e.Text == name })
	}
	// The history's keys are the ones the history helper reads; the tray's
	// the one the window has always read.
	for k, v := range map[string]string{"window.close-to-tray": "false", "history.keep-days": "30", "history.keep-messages": "1000", "history.transcripts": "failures"} {
		if got, err := c.Store.Setting(ctx, k); err != nil || got != v {
			t.Errorf("store %s = %q, %v; want %q", k, got, err, v)
		}
	}
	c.Close()

	c = openTest(t, dir, false, false)
	s, err = c.LoadSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want = Settings{Theme: "dark", TextSize: 150, Retry: r, RunWhileOpen: false, LogSize: 20000, Notifications: false, ColourEmoji: true, CloseToTray: false,
		History: HistorySettings{KeepDays: 30, KeepMessages: 1000, Transcripts: TranscriptsFailures}}
	if s != want {
		t.Fatalf("after reopening = %+v, want %+v", s, want)
	}
	if c.LogSize() != 20000 {
		t.Fatalf("LogSize = %d", c.LogSize())
	}
	p := c.GlobalRetryPolicy(ctx)
	if p.Initial != 2*time.Minute || p.GiveUpAfter != 24*time.Hour || p.Max != time.Hour {
		t.Fatalf("policy = %+v", p)
	}
	// Back to the defaults: the retry setting is removed.
	if err := c.SetRetrySettings(ctx, account.RetrySettings{}); err != nil {
		t.Fatal(err)
	}
	if p := c.GlobalRetryPolicy(ctx); p != queue.DefaultRetryPolicy() {
		t.Fatalf("reset policy = %+v", p)
	}
}

func TestSettingsRefuseBadValues(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, t.TempDir(), false, false)
	var fe *account.FieldError
	for name, err := range map[string]error{
		"theme":         c.SetTheme(ctx, "purple"),
		"text size":     c.SetTextSize(ctx, 500),
		"log size":      c.SetLogSize(ctx, 10),
		"retry initial": c.SetRetrySettings(ctx, account.RetrySettings{Initial: account.Duration(-time.Second)}),
		// The first delay above the default cap of one hour without a cap
		// of its own would never grow.
		"retry cap": c.SetRetrySettings(ctx, account.RetrySettings{Initial: account.Duration(2 * time.Hour)}),
		"keep days": c.SetHistorySettings(ctx, HistorySettings{KeepDays: -1}),
		"transcr.":  c.SetHistorySettings(ctx, HistorySettings{Transcripts: "some"}),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
		if name == "retry cap" && !errors.As(err, &fe) {
			t.Errorf("retry cap: %v is not a field error", err)
		}
	}
	s, _ := c.LoadSettings(ctx)
	if s.Theme != "" || s.TextSize != 100 || s.LogSize != DefaultLogSize || s.Retry != (account.RetrySettings{}) {
		t.Fatalf("a refused value was stored: %+v", s)
	}
	// A damaged value reads as the default.
	c.Store.SetSetting(ctx, SettingTextSize, "huge")
	c.Store.SetSetting(ctx, SettingRetry, "{not json")
	if c.TextSize(ctx) != 100 || c.RetrySettings(ctx) != (account.RetrySettings{}) {
		t.Fatal("a damaged setting did not read as the default")
	}
}

// The window's runner follows the settings: stopped when the outbox must
// not run while the window is open, restarted with the global retry policy.
func TestApplyWindowRunnerUsesTheGlobalRetryPolicy(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, t.TempDir(), false, false)
	// A server that refuses connections: every attempt is deferred.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	p := &account.Profile{Name: "down", Server: account.Server{Host: "127.0.0.1", Port: port, TLS: transport.TLSNone}, Auth: transport.AuthNone, FromAddress: "a@example.com"}
	if err := c.AddProfile(ctx, p, nil); err != nil {
		t.Fatal(err)
	}

	if err := c.SetRunWhileOpen(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyWindowRunner(ctx); err != nil || c.RunnerRunning() {
		t.Fatalf("runner running = %v (%v) with run-while-open off", c.RunnerRunning(), err)
	}
	if err := c.SetRunWhileOpen(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := c.SetRetrySettings(ctx, account.RetrySettings{Initial: account.Duration(17 * time.Minute), Max: account.Duration(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	sub := c.Feed.Subscribe(256, feed.Queue)
	defer sub.Close()
	ids, err := c.Enqueue(ctx, queue.Message{Profile: p.ID, From: "a@example.com", To: []string{"b@example.com"}, Body: []byte("Subject: x\r\n\r\nx\r\n")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyWindowRunner(ctx); err != nil || !c.RunnerRunning() {
		t.Fatalf("runner running = %v (%v)", c.RunnerRunning(), err)
	}
	waitFor(t, sub, "the deferral", func(e feed.Event) bool { return e.ID == ids[0] && e.Text == string(queue.Deferred) })
	it, err := c.Queue.Get(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if d := it.Next.Sub(it.Updated); d < 16*time.Minute || d > 18*time.Minute {
		t.Fatalf("retry due %s after the failure, want the global setting's 17m (the default is 1m)", d)
	}
	// Applying again restarts it (an error would say it already runs).
	if err := c.ApplyWindowRunner(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestKeychainStateOfASuppliedStore(t *testing.T) {
	c := openTest(t, t.TempDir(), false, false)
	if st := c.Keychain(); !st.OK || st.Name == "" {
		t.Fatalf("keychain state = %+v", st)
	}
	for _, goos := range []string{"linux", "darwin", "windows"} {
		if KeychainName(goos) == "" {
			t.Errorf("no name for %s", goos)
		}
	}
}

// Settings saved in quick succession (two windows' worth of clicks) never
// leave the runner half-restarted.
func TestApplyWindowRunnerConcurrently(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, t.TempDir(), false, false)
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() { errs <- c.ApplyWindowRunner(ctx) }()
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if !c.RunnerRunning() {
		t.Fatal("the runner is not running")
	}
}
