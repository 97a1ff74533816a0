package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/herald-smtp/herald/engine/sandbox"
	"github.com/herald-smtp/herald/engine/store"
	"github.com/herald-smtp/herald/platform/paths"
)

func resolveDataDir(flagValue string, env Env) (string, error) {
	dir, err := paths.DataDir(flagValue, env.Getenv)
	if err != nil {
		return "", err
	}
	return paths.Ensure(dir)
}

// openStore opens the store in the data directory named by --data-dir (either
// before the verb or after it), HERALD_DATA_DIR, or the default.
func openStore(global, local string, env Env) (*store.Store, string, error) {
	if local == "" {
		local = global
	}
	dir, err := resolveDataDir(local, env)
	if err != nil {
		return nil, "", err
	}
	st, err := store.Open(store.PathIn(dir))
	if err != nil {
		return nil, "", damagedHint(err)
	}
	return st, dir, nil
}

const sandboxSynopsis = `herald sandbox [--listen ADDR] [--tls none|starttls|implicit] [--auth USER:PASS] [--max-size N] [--fault SPEC]
       herald sandbox list [--json] [--limit N]
       herald sandbox show ID [--raw] [--json]
       herald sandbox clear`

func runSandbox(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "list":
			return sandboxList(ctx, args[1:], env, dataDir)
		case "show":
			return sandboxShow(ctx, args[1:], env, dataDir)
		case "clear":
			return sandboxClear(ctx, args[1:], env, dataDir)
		default:
			return ExitUsage, usagef("unknown sandbox command %q (list, show, clear, or flags to run the server)", args[0])
		}
	}
	fs := newFlagSet("sandbox", sandboxSynopsis, env)
	listen := fs.String("listen", "", "`address` to listen on (default 127.0.0.1:2525, or the next free port)")
	tlsMode := fs.String("tls", "none", "TLS `mode`: none, starttls or implicit (self-signed certificate kept in the data dir)")
	auth := fs.String("auth", "", "require AUTH (PLAIN, LOGIN, CRAM-MD5) with `user:pass`")
	maxSize := fs.String("max-size", "25MB", "largest message accepted, in bytes or with KB/MB suffix")
	faults := fs.String("fault", "", "fault injection `spec`, e.g. rcpt:550:100,data:451:30,drop-after-data:10 (see README)")
	local := fs.String("data-dir", "", "Herald's data `directory`")
	if pos, err := parseFlags(fs, args); err != nil {
		return ExitUsage, err
	} else if len(pos) > 0 {
		return ExitUsage, usagef("unexpected arguments %q", pos)
	}
	cfg := sandbox.Config{Listen: *listen, TLS: sandbox.TLSMode(*tlsMode)}
	switch cfg.TLS {
	case sandbox.TLSNone, sandbox.TLSStartTLS, sandbox.TLSImplicit:
	default:
		return ExitUsage, usagef("--tls must be none, starttls or implicit, got %q", *tlsMode)
	}
	if *auth != "" {
		u, p, ok := strings.Cut(*auth, ":")
		if !ok || u == "" || p == "" {
			return ExitUsage, usagef("--auth must be user:pass")
		}
		cfg.AuthUser, cfg.AuthPass = u, p
	}
	n, err := parseSize(*maxSize)
	if err != nil {
		return ExitUsage, usagef("--max-size: %v", err)
	}
	cfg.MaxSize = n
	if *faults != "" {
		fl, err := sandbox.ParseFaults(*faults)
		if err != nil {
			return ExitUsage, usagef("--fault: %v", err)
		}
		cfg.Faults = fl
	}
	st, dir, err := openStore(dataDir, *local, env)
	if err != nil {
		return ExitFailure, err
	}
	defer st.Close()
	cfg.CertDir = dir
	srv, err := sandbox.Start(ctx, cfg, st)
	if err != nil {
		return ExitFailure, err
	}
	defer srv.Close()
	fmt.Fprintf(env.Stdout, "Herald sandbox listening on %s (TLS: %s)\n", srv.Addr(), srv.TLS())
	if srv.TLS() != sandbox.TLSNone {
		fmt.Fprintf(env.Stdout, "certificate: %s (clients trust it with --ca-file)\n", srv.CertPath())
	}
	if cfg.AuthUser != "" {
		fmt.Fprintf(env.Stdout, "AUTH required as %s (PLAIN, LOGIN, CRAM-MD5)\n", cfg.AuthUser)
	}
	if len(cfg.Faults) > 0 {
		fmt.Fprintf(env.Stdout, "fault injection: %s\n", *faults)
	}
	fmt.Fprintf(env.Stdout, "data: %s\nPress Ctrl-C to stop.\n", dir)
	ids, cancel := srv.Subscribe()
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(env.Stdout, "sandbox stopped")
			return ExitOK, nil
		case id, ok := <-ids:
			if !ok {
				return ExitOK, nil
			}
			m, err := st.SandboxMessage(ctx, id)
			if err != nil {
				fmt.Fprintf(env.Stderr, "herald: read captured message %d: %v\n", id, err)
				continue
			}
			fmt.Fprintf(env.Stdout, "%s #%d from <%s> to %s, %d bytes: %q\n", m.Received.Local().Format("15:04:05"), m.ID, m.From, strings.Join(m.To, ", "), m.Size, m.Subject)
		}
	}
}

func parseSize(s string) (int64, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, suf := range []struct {
		s string
		m int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(u, suf.s) {
			u, mult = strings.TrimSpace(strings.TrimSuffix(u, suf.s)), suf.m
			break
		}
	}
	n, err := strconv.ParseInt(u, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive size (e.g. 1048576, 500KB, 25MB)", s)
	}
	return n * mult, nil
}

type jsonInboxItem struct {
	ID       int64     `json:"id"`
	Received time.Time `json:"received"`
	From     string    `json:"from"`
	To       []string  `json:"to"`
	Subject  string    `json:"subject"`
	Size     int       `json:"size"`
}

func sandboxList(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	fs := newFlagSet("sandbox list", "herald sandbox list [--json] [--limit N]", env)
	asJSON := fs.Bool("json", false, "print a JSON array")
	limit := fs.Int("limit", 100, "show at most `N` messages, newest first")
	local := fs.String("data-dir", "", "Herald's data `directory`")
	if pos, err := parseFlags(fs, args); err != nil {
		return ExitUsage, err
	} else if len(pos) > 0 {
		return ExitUsage, usagef("unexpected arguments %q", pos)
	}
	st, _, err := openStore(dataDir, *local, env)
	if err != nil {
		return ExitFailure, err
	}
	defer st.Close()
	msgs, err := st.ListSandboxMessages(ctx, *limit)
	if err != nil {
		return ExitFailure, err
	}
	if *asJSON {
		out := make([]jsonInboxItem, 0, len(msgs))
		for _, m := range msgs {
			out = append(out, jsonInboxItem{m.ID, m.Received, m.From, nonNil(m.To), m.Subject, m.Size})
		}
		return ExitOK, writeJSON(env.Stdout, out)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRECEIVED\tFROM\tTO\tSIZE\tSUBJECT")
	for _, m := range msgs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\n", m.ID, m.Received.Local().Format("2006-01-02 15:04:05"), m.From, strings.Join(m.To, ","), m.Size, m.Subject)
	}
	return ExitOK, tw.Flush()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func sandboxShow(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	fs := newFlagSet("sandbox show", "herald sandbox show ID [--raw] [--json]", env)
	raw := fs.Bool("raw", false, "print only the raw message source")
	asJSON := fs.Bool("json", false, "print one JSON object, with the source and the session transcript")
	local := fs.String("data-dir", "", "Herald's data `directory`")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return ExitUsage, err
	}
	if len(pos) != 1 {
		return ExitUsage, usagef("sandbox show needs one message ID")
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil {
		return ExitUsage, usagef("%q is not a message ID", pos[0])
	}
	st, _, err := openStore(dataDir, *local, env)
	if err != nil {
		return ExitFailure, err
	}
	defer st.Close()
	m, err := st.SandboxMessage(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return ExitUsage, usagef("no captured message with ID %d", id)
	}
	if err != nil {
		return ExitFailure, err
	}
	switch {
	case *raw:
		_, err = env.Stdout.Write(m.Raw)
		return ExitOK, err
	case *asJSON:
		return ExitOK, writeJSON(env.Stdout, struct {
			jsonInboxItem
			Remote       string `json:"remote"`
			Helo         string `json:"helo"`
			TLS          bool   `json:"tls"`
			AuthUser     string `json:"auth_user,omitempty"`
			ReplyDropped bool   `json:"reply_dropped,omitempty"`
			Raw          string `json:"raw"`
			Transcript   any    `json:"transcript"`
		}{jsonInboxItem{m.ID, m.Received, m.From, nonNil(m.To), m.Subject, m.Size}, m.Remote, m.Helo, m.TLS, m.AuthUser, m.ReplyDropped, string(m.Raw), m.Transcript})
	}
	fmt.Fprintf(env.Stdout, "ID:        %d\nReceived:  %s\nFrom:      <%s>\nTo:        %s\nRemote:    %s (HELO %s)\nTLS:       %v\n",
		m.ID, m.Received.Local().Format(time.RFC1123Z), m.From, strings.Join(m.To, ", "), m.Remote, m.Helo, m.TLS)
	if m.AuthUser != "" {
		fmt.Fprintf(env.Stdout, "Auth user: %s\n", m.AuthUser)
	}
	if m.ReplyDropped {
		fmt.Fprintln(env.Stdout, "Note:      the sandbox dropped the connection after the final dot (fault injection)")
	}
	fmt.Fprintln(env.Stdout, "\nSession:")
	for _, e := range m.Transcript {
		fmt.Fprintln(env.Stdout, "  "+e.String())
	}
	fmt.Fprintln(env.Stdout, "\nSource:")
	_, err = env.Stdout.Write(m.Raw)
	return ExitOK, err
}

func sandboxClear(ctx context.Context, args []string, env Env, dataDir string) (int, error) {
	fs := newFlagSet("sandbox clear", "herald sandbox clear", env)
	local := fs.String("data-dir", "", "Herald's data `directory`")
	if pos, err := parseFlags(fs, args); err != nil {
		return ExitUsage, err
	} else if len(pos) > 0 {
		return ExitUsage, usagef("unexpected arguments %q", pos)
	}
	st, _, err := openStore(dataDir, *local, env)
	if err != nil {
		return ExitFailure, err
	}
	defer st.Close()
	if err := st.DeleteSandboxMessages(ctx); err != nil {
		return ExitFailure, err
	}
	fmt.Fprintln(env.Stdout, "sandbox inbox cleared")
	return ExitOK, nil
}
