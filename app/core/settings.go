package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"time"

	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/feed"
	"github.com/herald-smtp/herald/engine/history"
	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/platform/keychain"
)

// The names of Herald's settings in the store. Every change through the
// setters below is published on the feed (Topic Settings, Text: the name).
const (
	// SettingTheme is the window's theme: "" follows the system, "light"
	// or "dark".
	SettingTheme = "ui.theme"
	// SettingTextSize is the window's text size in percent of the theme's
	// (80 to 200; default 100).
	SettingTextSize = "ui.text-size"
	// SettingRetry is the global retry policy, JSON of
	// account.RetrySettings (zero fields keep the built-in defaults).
	SettingRetry = "outbox.retry"
	// SettingRunWhileOpen says whether the outbox sends while the window is
	// open ("true" or "false"; default true).
	SettingRunWhileOpen = "outbox.run-while-open"
	// SettingLogSize is how many lines the live log keeps (1,000 to
	// 200,000; default 5,000).
	SettingLogSize = "log.size"
	// SettingNotifications says whether the window shows desktop
	// notifications ("true" or "false"; default true).
	SettingNotifications = "notifications"
	// SettingColourEmoji says whether the window loads Fyne's bundled colour
	// emoji font ("true" or "false"; default false: emoji come from the
	// system's fonts). Read when the window starts.
	SettingColourEmoji = "ui.colour-emoji"
	// SettingCloseToTray says whether closing the window while messages
	// wait in the outbox hides it to the tray (where one is shown) instead
	// of quitting ("true" or "false"; default true).
	SettingCloseToTray = "window.close-to-tray"
	// SettingHistoryKeepDays keeps history records this many days (0: all).
	SettingHistoryKeepDays = "history.keep-days"
	// SettingHistoryKeepMessages keeps the newest this many history records
	// (0: all).
	SettingHistoryKeepMessages = "history.keep-messages"
	// SettingHistoryTranscripts says which transcripts the history keeps:
	// "all" (the default) or "failures".
	SettingHistoryTranscripts = "history.transcripts"
)

// Limits and defaults of the settings.
const (
	DefaultTextSize = 100
	MinTextSize     = 80
	MaxTextSize     = 200
	DefaultLogSize  = 50000
	MinLogSize      = 1000
	MaxLogSize      = 200000
)

// HistorySettings is how much history to keep, as the Settings view holds it
// (applying it is the history's business).
type HistorySettings struct {
	// KeepDays removes records older than this many days (0: keep all).
	KeepDays int
	// KeepMessages keeps only the newest this many records (0: keep all).
	KeepMessages int
	// Transcripts is TranscriptsAll or TranscriptsFailures.
	Transcripts string
}

// Settings are all of Herald's settings, with their defaults filled in.
type Settings struct {
	Theme         string
	TextSize      int
	Retry         account.RetrySettings
	RunWhileOpen  bool
	LogSize       int
	Notifications bool
	ColourEmoji   bool
	CloseToTray   bool
	History       HistorySettings
}

// setting reads one setting; ok is false when it is not set.
func (c *Core) setting(ctx context.Context, name string) (v string, ok bool, err error) {
	v, err = c.Store.Setting(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return v, true, nil
}

// intSetting reads an integer setting, def when unset or unreadable.
func (c *Core) intSetting(ctx context.Context, name string, def int) int {
	v, ok, err := c.setting(ctx, name)
	if err != nil || !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return def
	}
	return n
}

// boolSetting reads a boolean setting, def when unset or unreadable.
func (c *Core) boolSetting(ctx context.Context, name string, def bool) bool {
	v, ok, err := c.setting(ctx, name)
	if err != nil || !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return def
	}
	return b
}

// putSetting stores a setting and tells the feed.
func (c *Core) putSetting(ctx context.Context, name, value string) error {
	if err := c.Store.SetSetting(ctx, name, value); err != nil {
		return err
	}
	c.Feed.Publish(feed.Event{Topic: feed.Settings, Text: name})
	return nil
}

// LoadSettings returns every setting, defaults for those not set. Only a
// store that cannot be read is an error.
func (c *Core) LoadSettings(ctx context.Context) (Settings, error) {
	if _, _, err := c.setting(ctx, SettingTheme); err != nil {
		return Settings{}, fmt.Errorf("read the settings: %w", err)
	}
	return Settings{
		Theme:         c.Theme(ctx),
		TextSize:      c.TextSize(ctx),
		Retry:         c.RetrySettings(ctx),
		RunWhileOpen:  c.RunWhileOpen(ctx),
		LogSize:       c.LogSize(),
		Notifications: c.Notifications(ctx),
		ColourEmoji:   c.ColourEmoji(ctx),
		CloseToTray:   c.CloseToTray(ctx),
		History:       c.HistorySettings(ctx),
	}, nil
}

// Theme returns the theme setting: "", "light" or "dark".
func (c *Core) Theme(ctx context.Context) string {
	v, _, _ := c.setting(ctx, SettingTheme)
	if v != "light" && v != "dark" {
		return ""
	}
	return v
}

// SetTheme stores the theme: "" (follow the system), "light" or "dark".
func (c *Core) SetTheme(ctx context.Context, mode string) error {
	if mode != "" && mode != "light" && mode != "dark" {
		return fmt.Errorf("theme %q: choose the system's, light or dark", mode)
	}
	return c.putSetting(ctx, SettingTheme, mode)
}

// TextSize returns the text size in percent (DefaultTextSize when unset).
func (c *Core) TextSize(ctx context.Context) int {
	n := c.intSetting(ctx, SettingTextSize, DefaultTextSize)
	if n < MinTextSize || n > MaxTextSize {
		return DefaultTextSize
	}
	return n
}

// SetTextSize stores the text size in percent (MinTextSize to MaxTextSize).
func (c *Core) SetTextSize(ctx context.Context, percent int) error {
	if percent < MinTextSize || percent > MaxTextSize {
		return fmt.Errorf("text size %d%%: must be from %d%% to %d%%", percent, MinTextSize, MaxTextSize)
	}
	return c.putSetting(ctx, SettingTextSize, strconv.Itoa(percent))
}

// RetrySettings returns the global retry settings (zero fields: the
// built-in defaults of queue.DefaultRetryPolicy).
func (c *Core) RetrySettings(ctx context.Context) account.RetrySettings {
	var r account.RetrySettings
	v, ok, err := c.setting(ctx, SettingRetry)
	if err != nil || !ok {
		return r
	}
	if json.Unmarshal([]byte(v), &r) != nil || r.Validate() != nil {
		return account.RetrySettings{}
	}
	return r
}

// SetRetrySettings validates and stores the global retry settings. The
// outbox runner already running keeps its policy: restart it
// (ApplyWindowRunner) for the new one to count.
func (c *Core) SetRetrySettings(ctx context.Context, r account.RetrySettings) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if p := c.retryPolicyOf(r); p.Max < p.Initial || p.GiveUpAfter < p.Initial {
		return &account.FieldError{Field: "retry.max", Msg: fmt.Sprintf("the longest delay (%s) and the give-up time (%s) must not be less than the first delay (%s)", p.Max, p.GiveUpAfter, p.Initial)}
	}
	if r == (account.RetrySettings{}) {
		return c.putSetting(ctx, SettingRetry, "")
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("retry settings: %w", err)
	}
	return c.putSetting(ctx, SettingRetry, string(b))
}

func (c *Core) retryPolicyOf(r account.RetrySettings) queue.RetryPolicy {
	return ApplyRetry(queue.DefaultRetryPolicy(), &r)
}

// GlobalRetryPolicy is the outbox's retry policy: the built-in defaults
// with the global retry settings over them (a profile's own settings go
// over this in turn).
func (c *Core) GlobalRetryPolicy(ctx context.Context) queue.RetryPolicy {
	return c.retryPolicyOf(c.RetrySettings(ctx))
}

// RunWhileOpen reports whether the outbox sends while the window is open.
func (c *Core) RunWhileOpen(ctx context.Context) bool {
	return c.boolSetting(ctx, SettingRunWhileOpen, true)
}

// SetRunWhileOpen stores whether the outbox sends while the window is open.
func (c *Core) SetRunWhileOpen(ctx context.Context, on bool) error {
	return c.putSetting(ctx, SettingRunWhileOpen, strconv.FormatBool(on))
}

// LogSize returns how many lines the live log keeps (DefaultLogSize when
// unset). It reads the store with a short timeout of its own.
func (c *Core) LogSize() int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n := c.intSetting(ctx, SettingLogSize, DefaultLogSize)
	if n < MinLogSize || n > MaxLogSize {
		return DefaultLogSize
	}
	return n
}

// SetLogSize stores how many lines the live log keeps.
func (c *Core) SetLogSize(ctx context.Context, lines int) error {
	if lines < MinLogSize || lines > MaxLogSize {
		return fmt.Errorf("log size %d: must be from %d to %d lines", lines, MinLogSize, MaxLogSize)
	}
	return c.putSetting(ctx, SettingLogSize, strconv.Itoa(lines))
}

// Notifications reports whether the window shows desktop notifications.
func (c *Core) Notifications(ctx context.Context) bool {
	return c.boolSetting(ctx, SettingNotifications, true)
}

// SetNotifications turns desktop notifications on or off.
func (c *Core) SetNotifications(ctx context.Context, on bool) error {
	return c.putSetting(ctx, SettingNotifications, strconv.FormatBool(on))
}

// ColourEmoji reports whether the window loads the bundled colour emoji
// font (about 20 MB more memory: the font is parsed once per text style).
func (c *Core) ColourEmoji(ctx context.Context) bool {
	return c.boolSetting(ctx, SettingColourEmoji, false)
}

// SetColourEmoji turns the bundled colour emoji font on or off, from the
// window's next start.
func (c *Core) SetColourEmoji(ctx context.Context, on bool) error {
	return c.putSetting(ctx, SettingColourEmoji, strconv.FormatBool(on))
}

// CloseToTray reports whether closing the window while messages wait
// hides it to the tray instead of quitting (default on).
func (c *Core) CloseToTray(ctx context.Context) bool {
	return c.boolSetting(ctx, SettingCloseToTray, true)
}

// SetCloseToTray turns closing to the tray on or off.
func (c *Core) SetCloseToTray(ctx context.Context, on bool) error {
	return c.putSetting(ctx, SettingCloseToTray, strconv.FormatBool(on))
}

// HistorySettings returns the history retention settings (zero: keep
// everything, every transcript).
func (c *Core) HistorySettings(ctx context.Context) HistorySettings {
	r := HistorySettings{
		KeepDays:     max(c.intSetting(ctx, SettingHistoryKeepDays, 0), 0),
		KeepMessages: max(c.intSetting(ctx, SettingHistoryKeepMessages, 0), 0),
		Transcripts:  TranscriptsAll,
	}
	if v, _, _ := c.setting(ctx, SettingHistoryTranscripts); v == TranscriptsFailures {
		r.Transcripts = TranscriptsFailures
	}
	return r
}

// SetHistorySettings checks and stores the history retention settings and
// applies them at once (SetHistoryRetention).
func (c *Core) SetHistorySettings(ctx context.Context, r HistorySettings) error {
	if r.KeepDays < 0 || r.KeepDays > 36500 {
		return &account.FieldError{Field: SettingHistoryKeepDays, Msg: "must be from 0 (keep all) to 36500 days"}
	}
	if r.KeepMessages < 0 || r.KeepMessages > 100_000_000 {
		return &account.FieldError{Field: SettingHistoryKeepMessages, Msg: "must be from 0 (keep all) to 100000000 messages"}
	}
	if r.Transcripts == "" {
		r.Transcripts = TranscriptsAll
	}
	if r.Transcripts != TranscriptsAll && r.Transcripts != TranscriptsFailures {
		return &account.FieldError{Field: SettingHistoryTranscripts, Msg: fmt.Sprintf("%q: all or failures", r.Transcripts)}
	}
	_, err := c.SetHistoryRetention(ctx, history.Retention{KeepDays: r.KeepDays, KeepMessages: r.KeepMessages, TranscriptsFailuresOnly: r.Transcripts == TranscriptsFailures})
	return err
}

// ApplyWindowRunner makes the background outbox runner match the settings:
// when the outbox runs while the window is open it is (re)started with the
// global retry policy, otherwise it is stopped. Stopping waits for the
// sessions in flight, so call it off the UI goroutine.
func (c *Core) ApplyWindowRunner(ctx context.Context) error {
	c.applyMu.Lock()
	defer c.applyMu.Unlock()
	c.StopRunner()
	if !c.RunWhileOpen(ctx) {
		return nil
	}
	// Lines: the window's Live log shows the outbox's sessions too.
	return c.StartRunner(RunOptions{Retry: c.GlobalRetryPolicy(ctx), Lines: true})
}

// KeychainState says where the profiles' secrets live.
type KeychainState struct {
	// Name is the keychain in use, in words ("Secret Service (D-Bus)").
	Name string
	// OK is true when the keychain answered a probe.
	OK bool
	// Detail says what is wrong when it is not OK, and what to do.
	Detail string
}

// Keychain probes the secrets store the profiles use (writing, reading and
// removing a probe entry in the OS keychain).
func (c *Core) Keychain() KeychainState {
	oss, ok := c.secrets.(osSecrets)
	if !ok {
		return KeychainState{Name: "a secrets store supplied by the program (not the OS keychain)", OK: true}
	}
	st := KeychainState{Name: KeychainName(runtime.GOOS)}
	if err := oss.k.Available(); err != nil {
		st.Detail = err.Error()
		if !errors.Is(err, keychain.ErrUnavailable) {
			st.Detail = "the keychain answered with an error: " + err.Error()
		}
		return st
	}
	st.OK = true
	return st
}

// KeychainName names the OS keychain Herald uses on goos.
func KeychainName(goos string) string {
	switch goos {
	case "darwin":
		return "the macOS login keychain"
	case "windows":
		return "the Windows Credential Manager"
	}
	return "the Secret Service over D-Bus (GNOME Keyring, KWallet or KeePassXC)"
}
