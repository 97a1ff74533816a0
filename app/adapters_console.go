package app

import (
	"context"
	"fmt"
	"time"

	"github.com/herald-smtp/herald/app/core"
	"github.com/herald-smtp/herald/engine/account"
	"github.com/herald-smtp/herald/engine/console"
	"github.com/herald-smtp/herald/engine/transcript"
	"github.com/herald-smtp/herald/engine/transport"
	"github.com/herald-smtp/herald/ui"
)

// ConsoleAdapter implements ui.ConsoleCore over engine/console, the way
// `herald console` drives it: the server from a profile or typed in, the
// auth helper's secret asked for (a profile's keychain password first).
type ConsoleAdapter struct {
	c *core.Core
	// Timeout bounds each read and write of a session (default 30 s).
	Timeout time.Duration
}

var _ ui.ConsoleCore = (*ConsoleAdapter)(nil)

// NewConsoleAdapter returns the Console view's adapter over c.
func NewConsoleAdapter(c *core.Core) *ConsoleAdapter {
	return &ConsoleAdapter{c: c, Timeout: 30 * time.Second}
}

// Profiles implements ui.ConsoleCore.
func (a *ConsoleAdapter) Profiles(ctx context.Context) ([]account.Profile, error) {
	return a.c.Book.List(ctx)
}

// OpenConsole implements ui.ConsoleCore. With a profile the session takes
// its CA file, pinning, EHLO name and timeout; the form's server, TLS mode
// and user go over them. The session's lines are published on the core's
// feed (the live log) until rec is finished.
func (a *ConsoleAdapter) OpenConsole(ctx context.Context, t ui.ConsoleTarget, rec *transcript.Recorder, password func(string) (string, error)) (ui.ConsoleSession, error) {
	var cfg console.Config
	var p *account.Profile
	if t.Profile != "" {
		var err error
		if p, err = a.c.Book.Get(ctx, t.Profile); err != nil {
			return nil, err
		}
		cfg.Config = p.TransportConfig("")
	}
	cfg.Host, cfg.Port, cfg.Username, cfg.AllowInsecureAuth = t.Host, t.Port, t.User, t.AllowInsecureAuth
	if t.TLS != "" {
		m, err := transport.ParseTLSMode(t.TLS)
		if err != nil {
			return nil, err
		}
		cfg.TLS = m
	} else if cfg.TLS == "" && t.Port == 465 {
		cfg.TLS = transport.TLSImplicit
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = a.Timeout
	}
	cfg.Transcript = rec
	if rec != nil {
		// The session's lines go to the live log too, as every session's do.
		a.c.PublishConsole(rec, p)
	}
	cfg.Password = func(prompt string) (string, error) {
		// The profile's own password, for its own user, without asking.
		if p != nil && t.User == p.Username && p.PasswordAuth() && p.Secret != account.SecretAsk {
			if pw, err := a.c.Secret(p, ""); err == nil && pw != "" {
				rec.Info(false, fmt.Sprintf("using the password of profile %q from the keychain", p.Name))
				return pw, nil
			}
		}
		return password(prompt)
	}
	s, err := console.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ConsoleError implements ui.ConsoleCore: the error and its hint, redacted.
func (a *ConsoleAdapter) ConsoleError(err error, rec *transcript.Recorder) string {
	msg := err.Error()
	if h := transport.HintFor(err); h.Text != "" {
		msg += ". " + h.Text
	}
	if rec != nil {
		msg = rec.Redact(msg)
	}
	return msg
}

// newConsole is the Console view over gc (nil: for listing the views).
func newConsole(gc *GUICore, do ui.Dispatcher) *ui.Console {
	var a ui.ConsoleCore
	if gc != nil {
		a = NewConsoleAdapter(gc.c)
	}
	return ui.NewConsole(a, do)
}
