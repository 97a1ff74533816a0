// Package core holds the use-cases Herald's two front ends share: the
// command line (app/cli) and the window (ui, through app). It opens
// everything once (the store, the profile book with the keychain, the
// outbox, its runner, the sandbox and the event feed), turns profiles into
// send targets, sends, queues and tests, and publishes every change on one
// feed. It imports nothing of Fyne and prints nothing: front ends word what
// it returns.
package core

import (
	"context"
	"errors"
	"sync"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/history"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/sandbox"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/platform/paths"
)

// Options adjust what Open starts. The zero value opens the store, the book
// (over the OS keychain), the outbox and the feed, and starts nothing.
type Options struct {
	// Secrets holds the profiles' secrets; nil means the OS keychain.
	Secrets account.Secrets
	// Sandbox, when set, starts the built-in capture server with this
	// configuration (the window's default target).
	Sandbox *sandbox.Config
	// SandboxFromSettings starts the sandbox as the stored settings say
	// (the window's form), with Sandbox as the defaults: not at all when
	// the user stopped it.
	SandboxFromSettings bool
	// Clock is the outbox's clock; nil means the real one.
	Clock queue.Clock
	// WatchStore publishes changes that other processes make to the store
	// (seen through SQLite's data_version) on the feed, and moves the
	// records one-shot sends spool into the history as they come.
	WatchStore bool
}

// Core is everything a front end works with, opened once.
type Core struct {
	// DataDir is the data directory, created if it was missing.
	DataDir string
	// Store is the SQLite store.
	Store *store.Store
	// Book holds the profiles, their secrets in the keychain.
	Book *account.Book
	// Queue is the durable outbox.
	Queue *queue.Queue
	// Feed carries every change to whoever watches.
	Feed *feed.Feed
	// History records every send, direct or from the outbox.
	History *history.Log

	// oauth caches the OAuth2 profiles' token sources (access tokens in
	// memory only).
	oauth oauthCache
	// secrets is the store of the profiles' secrets, for Keychain.
	secrets account.Secrets
	// applyMu serialises ApplyWindowRunner's stop and start.
	applyMu sync.Mutex
	// retentionMu serialises applying the history's retention.
	retentionMu sync.Mutex
	// spoolMu serialises this process's imports of the history spool;
	// spoolErr is the last import's problem.
	spoolMu  sync.Mutex
	spoolErr error

	mu     sync.Mutex
	runner *runnerState
	// sandbox is the capture server (see Sandbox, StartSandbox), its
	// configuration, and the sandbox's AUTH password when the keychain
	// cannot keep it.
	sandbox     *sandbox.Server
	sandboxCfg  sandbox.Config
	sandboxPass string
	// sandboxStartErr says why the saved settings did not work at Open.
	sandboxStartErr error
	// sandboxOp serialises starting and stopping the sandbox.
	sandboxOp sync.Mutex
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// DataDir resolves the data directory the way every front end does: the
// given flag value, else HERALD_DATA_DIR, else the platform's default; it is
// created (private) when missing.
func DataDir(flagValue string, getenv func(string) string) (string, error) {
	dir, err := paths.DataDir(flagValue, getenv)
	if err != nil {
		return "", err
	}
	return paths.Ensure(dir)
}

// Open opens the store in dataDir (which must exist: see DataDir) and builds
// the core over it, after moving the history spool's records (see
// SpoolSend) into the history. Close releases it.
func Open(ctx context.Context, dataDir string, o Options) (*Core, error) {
	st, err := store.Open(store.PathIn(dataDir))
	if err != nil {
		return nil, err
	}
	sec := o.Secrets
	if sec == nil {
		sec = OSSecrets()
	}
	c := &Core{DataDir: dataDir, Store: st, Book: account.NewBook(st, sec), Queue: queue.New(st, o.Clock), Feed: feed.New(), secrets: sec}
	c.History = history.New(st, history.Options{OnError: func(err error) {
		c.Feed.Publish(feed.Event{Topic: feed.History, Text: "not recorded: " + err.Error()})
	}, OnRecorded: func(ids []int64, profile string) {
		for _, id := range ids {
			c.Feed.Publish(feed.Event{Topic: feed.History, ID: id, Profile: profile})
		}
	}})
	bg, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	if o.Sandbox != nil {
		cfg := *o.Sandbox
		if cfg.CertDir == "" {
			cfg.CertDir = dataDir
		}
		start := c.StartSandbox
		if o.SandboxFromSettings {
			start = func(ctx context.Context, cfg sandbox.Config) error {
				err := c.StartSandboxFromSettings(ctx, cfg)
				if err != nil && c.Sandbox() != nil {
					c.mu.Lock()
					c.sandboxStartErr = err // running with the defaults
					c.mu.Unlock()
					return nil
				}
				return err
			}
		}
		if err := start(ctx, cfg); err != nil {
			cancel()
			st.Close()
			return nil, err
		}
	}
	if r, err := c.HistoryRetention(ctx); err == nil {
		c.History.SetTranscriptsFailuresOnly(r.TranscriptsFailuresOnly)
	}
	// The records one-shot sends spooled go into the history before Open
	// returns, so that a listing right after such a send shows it.
	spoolLeft := c.importSpool(ctx)
	// The history's retention, applied in the background: a large prune
	// must not hold up the window or a command.
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if _, err := c.ApplyHistoryRetention(bg); err != nil && bg.Err() == nil {
			c.Feed.Publish(feed.Event{Topic: feed.History, Text: "retention not applied: " + err.Error()})
		}
	}()
	if o.WatchStore {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.watchStore(bg, spoolLeft)
		}()
	}
	return c, nil
}

// Close stops the runner, the sandbox and the watchers, closes the feed and
// the store.
func (c *Core) Close() error {
	c.StopRunner()
	c.cancel()
	err := c.StopSandbox()
	c.wg.Wait()
	if e := c.History.Close(); err == nil {
		err = e
	}
	c.Feed.Close()
	if e := c.Store.Close(); err == nil {
		err = e
	}
	return err
}

// ErrNoProfile is wrapped when a profile name or id matches none.
var ErrNoProfile = account.ErrNotFound

// Profile returns the profile with the given name, or with that id.
func (c *Core) Profile(ctx context.Context, nameOrID string) (*account.Profile, error) {
	p, err := c.Book.Get(ctx, nameOrID)
	if errors.Is(err, account.ErrNotFound) {
		if q, err2 := c.Book.GetByID(ctx, nameOrID); err2 == nil {
			return q, nil
		}
	}
	return p, err
}

// ProfileNames maps profile ids to names (the sandbox's id to "sandbox"),
// for listings.
func (c *Core) ProfileNames(ctx context.Context) map[string]string {
	names := map[string]string{SandboxProfile: SandboxProfile}
	if ps, err := c.Book.List(ctx); err == nil {
		for _, p := range ps {
			names[p.ID] = p.Name
		}
	}
	return names
}
