// Package cli is Herald's headless command line: `herald send`, `herald
// sandbox`, and the verbs later issues add. It drives the same engine as the
// window, and it never imports Fyne: the window is started through Env.GUI.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/herald-smtp/herald/engine/account"
)

// Version is Herald's version, printed by `herald version`.
const Version = "0.1.0-dev"

// Env is the world a command runs in: its standard streams, its environment
// and the window launcher. Tests pass buffers and a fake environment.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// GUI starts the window over the given data directory and returns when it
	// closes. Nil means this build has no window.
	GUI func(ctx context.Context, dataDir string, start GUIStart) error
	// Secrets holds profiles' secrets; nil means the OS keychain.
	Secrets account.Secrets
	// OpenURL opens a URL in the browser (the OAuth2 sign-in); nil means
	// the system browser.
	OpenURL func(url string) error

	open *opener // set by Run: the core, opened once by the first verb that needs it
}

// GUIStart says how the window starts: `herald --view NAME [--profile P]`
// and `herald mailto:...`. The window checks the values.
type GUIStart struct {
	View, Profile, Mailto string
}

// OSEnv returns an Env over the process's own streams and environment.
func OSEnv(gui func(ctx context.Context, dataDir string, start GUIStart) error) Env {
	return Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, GUI: gui}
}

// usageError marks a problem with the command line or its input: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

const topUsage = `Herald: send and test mail over SMTP.

Usage:
  herald [--data-dir DIR]                 start the window
  herald --view NAME [--profile P]        start the window on a view (accounts, wizard, compose, …)
  herald mailto:ADDR?subject=…&body=…     open Compose filled in from a mailto: link
  herald send [flags]                     send one message, showing the SMTP session
  herald sandbox [flags]                  run the local capture server until interrupted
  herald sandbox list|show ID|clear       read what the sandbox captured
  herald console --server HOST[:PORT]     type SMTP commands by hand and see every reply (like telnet)
  herald profile list|add|edit|show|remove|export|import|set-password|presets|test
                                          manage account profiles (secrets in the OS keychain)
  herald test [--email ADDR|--profile NAME|--server HOST[:PORT]] [flags]
                                          diagnose a server step by step, and the sender domain's DNS
  herald dkim keygen|import|record|check --profile P
                                          DKIM-sign a profile's mail: key, DNS record, check
  herald discover ADDR                    find the submission server for an address
  herald send --queue|--send-at TIME ...  put the message in the durable outbox instead
  herald queue list|show|retry|cancel|hold|release|run|purge
                                          manage the outbox and send what is due
  herald history list|show ID|export ID|purge|stats
                                          search sent mail: outcome, server reply, transcript, the .eml
  herald bulk --profile P --recipients F.csv ...  mail merge: queue one message per CSV row
  herald load --server HOST[:PORT] --messages N --sessions C  load test: messages/s, latency, replies
  herald oauth login|status|logout PROFILE  sign a profile in with OAuth2 (Google, Microsoft, any provider)
  herald repair                           move a damaged herald.db aside and recover what can be read
  herald version                          print the version
  herald help [VERB]                      show help

Run 'herald VERB --help' for the flags of a verb. Exit codes are listed in README.md.
`

// Run executes the command line args (without the program name) and returns
// the process exit code.
func Run(ctx context.Context, args []string, env Env) (code int) {
	defer func() {
		if v := recover(); v != nil {
			code = reportPanic(env.Stderr, v)
		}
	}()
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	env.open = &opener{}
	defer env.open.close()
	code, err := run(ctx, args, env)
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(env.Stderr, "herald:", err)
			return ExitUsage
		}
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		// An error that knows its exit code (the window's "no display": 2).
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			fmt.Fprintln(env.Stderr, "herald:", err)
			return ec.ExitCode()
		}
		fmt.Fprintln(env.Stderr, "herald:", err)
		if code == ExitOK {
			code = ExitFailure
		}
	}
	return code
}

func run(ctx context.Context, args []string, env Env) (int, error) {
	// Leading global flags: --data-dir, so that `herald --data-dir X` starts
	// the window over X, and the window's --view and --profile.
	dataDir := ""
	var start GUIStart
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		a := args[0]
		switch {
		case a == "--view" || a == "--profile":
			if len(args) < 2 {
				return ExitUsage, usagef("%s needs a value", a)
			}
			if a == "--view" {
				start.View = args[1]
			} else {
				start.Profile = args[1]
			}
			args = args[2:]
		case strings.HasPrefix(a, "--view="):
			start.View, args = a[len("--view="):], args[1:]
		case strings.HasPrefix(a, "--profile="):
			start.Profile, args = a[len("--profile="):], args[1:]
		case a == "-h" || a == "--help" || a == "-help":
			fmt.Fprint(env.Stdout, topUsage)
			return ExitOK, nil
		case a == "--data-dir" || a == "-data-dir":
			if len(args) < 2 {
				return ExitUsage, usagef("--data-dir needs a value")
			}
			dataDir, args = args[1], args[2:]
			env.open.global = dataDir
		case strings.HasPrefix(a, "--data-dir=") || strings.HasPrefix(a, "-data-dir="):
			dataDir, args = a[strings.Index(a, "=")+1:], args[1:]
			env.open.global = dataDir
		default:
			return ExitUsage, usagef("unknown flag %s before the verb (try 'herald help')", a)
		}
	}
	if len(args) == 1 && strings.HasPrefix(strings.ToLower(args[0]), "mailto:") {
		start.Mailto, args = args[0], nil
	}
	if len(args) > 0 && (start.View != "" || start.Profile != "") {
		return ExitUsage, usagef("--view and --profile open the window; they take no verb (got %q)", args[0])
	}
	if len(args) == 0 {
		if env.GUI == nil {
			return ExitFailure, errors.New("this build has no window; use a verb such as 'herald send' (see 'herald help')")
		}
		dir, err := resolveDataDir(dataDir, env)
		if err != nil {
			return ExitFailure, err
		}
		if err := env.GUI(ctx, dir, start); err != nil {
			// The window's own usage errors (an unknown --view, a bad
			// mailto: link) say so by a UsageError method: exit 2.
			var ue interface{ UsageError() bool }
			if errors.As(err, &ue) && ue.UsageError() {
				return ExitUsage, &usageError{err.Error()}
			}
			return ExitFailure, err
		}
		return ExitOK, nil
	}
	verb, rest := args[0], args[1:]
	switch verb {
	case "send":
		return runSend(ctx, rest, env, dataDir)
	case "sandbox":
		return runSandbox(ctx, rest, env, dataDir)
	case "console":
		return runConsole(ctx, rest, env, dataDir)
	case "profile", "profiles":
		return runProfile(ctx, rest, env, dataDir)
	case "queue":
		return runQueue(ctx, rest, env, dataDir)
	case "history":
		return runHistory(ctx, rest, env, dataDir)
	case "bulk":
		return runBulk(ctx, rest, env, dataDir)
	case "dkim":
		return runDKIM(ctx, rest, env, dataDir)
	case "load":
		return runLoad(ctx, rest, env, dataDir)
	case "repair":
		return runRepair(ctx, rest, env, dataDir)
	case "oauth":
		return runOAuth(ctx, rest, env, dataDir)
	case "test", "discover":
		return runDiagnose(ctx, verb, rest, env, dataDir)
	case "version", "--version":
		fmt.Fprintln(env.Stdout, "herald", Version)
		return ExitOK, nil
	case "help":
		if len(rest) > 0 {
			return run(ctx, []string{rest[0], "--help"}, env)
		}
		fmt.Fprint(env.Stdout, topUsage)
		return ExitOK, nil
	default:
		return ExitUsage, usagef("unknown verb %q (try 'herald help')", verb)
	}
}

// newFlagSet returns a flag set that reports errors instead of exiting, and
// prints its usage to stderr (or stdout for --help).
func newFlagSet(name, synopsis string, env Env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(env.Stdout, "Usage: %s\n\nFlags:\n", synopsis)
		fs.VisitAll(func(f *flag.Flag) {
			arg, usage := flag.UnquoteUsage(f)
			line := "  --" + f.Name
			if arg != "" {
				line += " " + arg
			}
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
				usage += " (default " + f.DefValue + ")"
			}
			fmt.Fprintf(env.Stdout, "%s\n      %s\n", line, usage)
		})
	}
	return fs
}

// parseFlags parses args and turns flag errors into usage errors: the
// error first, with the flag as typed, and one line pointing to the verb's
// help (never the whole help). Flags may come before or after positional
// arguments.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	usage := fs.Usage
	fs.Usage = func() {}
	defer func() { fs.Usage = usage }()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				usage()
				return nil, err
			}
			return nil, &usageError{flagError(err, args) + fmt.Sprintf("\nRun 'herald %s --help' for the flags.", fs.Name())}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// flagError rewords the flag package's errors with the flag as the user
// typed it (the package shows "-bogus" for "--bogus").
func flagError(err error, args []string) string {
	msg := err.Error()
	typed := func(name string) string {
		for _, a := range args {
			n, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if strings.HasPrefix(a, "-") && n == name {
				if i := strings.Index(a, "="); i >= 0 {
					return a[:i]
				}
				return a
			}
		}
		return "--" + name
	}
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return "unknown flag " + typed(name)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return typed(name) + " needs a value"
	}
	if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		// invalid value "x" for flag -name: reason
		val, rest, _ := strings.Cut(rest, " for flag -")
		name, reason, _ := strings.Cut(rest, ": ")
		return fmt.Sprintf("%s %s: %s", typed(name), val, reason)
	}
	return msg
}

// durationValue is a duration flag that also takes a bare number of seconds,
// as swaks does ("5" is 5s, "0.5" half a second), and days ("7d"), besides
// Go durations ("30s", "2m", "1h30m").
type durationValue time.Duration

// ParseDuration reads a duration the way every duration flag does.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 {
			return 0, errors.New("must not be negative")
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if f, err := strconv.ParseFloat(d, 64); err == nil && f >= 0 {
			return time.Duration(f * 24 * float64(time.Hour)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("not a duration: give seconds (30), or a number with a unit (500ms, 30s, 5m, 2h, 7d)")
	}
	if d < 0 {
		return 0, errors.New("must not be negative")
	}
	return d, nil
}

func (d *durationValue) Set(s string) error {
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = durationValue(v)
	return nil
}

func (d *durationValue) String() string { return time.Duration(*d).String() }

// durationVar defines a duration flag that accepts bare seconds.
func durationVar(fs *flag.FlagSet, p *time.Duration, name string, def time.Duration, usage string) {
	*p = def
	fs.Var((*durationValue)(p), name, usage)
}

// listFlag is a repeatable flag whose values may also be comma-separated.
type listFlag struct {
	values []string
	split  bool
}

func (l *listFlag) String() string { return strings.Join(l.values, ",") }

func (l *listFlag) Set(v string) error {
	if !l.split {
		l.values = append(l.values, v)
		return nil
	}
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			l.values = append(l.values, p)
		}
	}
	return nil
}
