package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestWindowFlagsReachTheWindow(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		want GUIStart
		code int
	}{
		{[]string{"--view", "accounts"}, GUIStart{View: "accounts"}, ExitOK},
		{[]string{"--view=wizard", "--profile", "work"}, GUIStart{View: "wizard", Profile: "work"}, ExitOK},
		{[]string{"--data-dir", dir, "mailto:ann@example.com?subject=Hi"}, GUIStart{Mailto: "mailto:ann@example.com?subject=Hi"}, ExitOK},
		{[]string{"MAILTO:ann@example.com"}, GUIStart{Mailto: "MAILTO:ann@example.com"}, ExitOK},
		{[]string{"--view"}, GUIStart{}, ExitUsage},
		{[]string{"--view", "compose", "send"}, GUIStart{}, ExitUsage},
	}
	for _, c := range cases {
		var got *GUIStart
		var out, errb bytes.Buffer
		e := Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
			if k == "HERALD_DATA_DIR" {
				return t.TempDir()
			}
			return ""
		}, GUI: func(_ context.Context, _ string, s GUIStart) error { got = &s; return nil }}
		code := Run(context.Background(), c.args, e)
		if code != c.code {
			t.Errorf("%q: exit %d, want %d (%s)", c.args, code, c.code, errb.String())
			continue
		}
		if c.code == ExitOK && (got == nil || *got != c.want) {
			t.Errorf("%q: the window got %+v, want %+v", c.args, got, c.want)
		}
	}
}

// exitCoded is an error that carries its exit code, as the window's "no
// display" error does.
type exitCoded struct{}

func (exitCoded) Error() string { return "no desktop session" }
func (exitCoded) ExitCode() int { return ExitUsage }

func TestWindowErrorWithExitCode(t *testing.T) {
	var out, errb bytes.Buffer
	e := Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if k == "HERALD_DATA_DIR" {
			return t.TempDir()
		}
		return ""
	}, GUI: func(context.Context, string, GUIStart) error { return exitCoded{} }}
	if code := Run(context.Background(), nil, e); code != ExitUsage {
		t.Fatalf("exit %d, want %d (%s)", code, ExitUsage, errb.String())
	}
	if got := errb.String(); got != "herald: no desktop session\n" {
		t.Fatalf("stderr %q", got)
	}
}
