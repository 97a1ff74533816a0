package hint_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// cliWords matches a command-line flag ("--tls", "--allow-insecure-auth")
// or a Herald command ("herald queue release") in a text.
var cliWords = regexp.MustCompile(`(^|[\s(\x60"'/=])--[a-z][a-z0-9-]*|\bherald (send|test|profile|queue|discover|sandbox|console|bulk|load|history|help|version)\b`)

// notHints are string literals of engine/ that are not shown to a user as
// advice: file (relative to engine/) and the literal's value.
var notHints = map[string]string{
	"load/message.go": "X-Mailer: herald load\r\n", // a header of load-test mail
}

// TestEngineTextsNameNoFlagOrCommand reads every string literal in the
// engine's non-test Go files (the hint table of engine/transport, the hints
// of diagnose, console and queue, every error message) and fails on any that
// names a command-line flag or a Herald command: the engine says what is
// wrong and which setting fixes it; the front ends word it.
func TestEngineTextsNameNoFlagOrCommand(t *testing.T) {
	root := ".."
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Errorf("%s: %v", rel, err)
				return true
			}
			if notHints[rel] == s {
				return true
			}
			if m := cliWords.FindString(s); m != "" {
				t.Errorf("%s: %q names %q: say which setting fixes it (engine/hint), not the flag or command", rel, s, strings.TrimSpace(m))
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 30 {
		t.Fatalf("read only %d files of engine/: is the walk rooted right?", files)
	}
}

// TestCLIWordsPattern checks the pattern itself on texts it must and must
// not flag, so that the scan above cannot pass by matching nothing.
func TestCLIWordsPattern(t *testing.T) {
	for _, s := range []string{
		"use --tls implicit", "opt in with --allow-insecure-auth", "(--tls none)",
		"run `herald discover ADDRESS`", "herald queue release --all", "--from",
	} {
		if !cliWords.MatchString(s) {
			t.Errorf("%q is not flagged", s)
		}
	}
	for _, s := range []string{
		"use implicit TLS on port 465", "-----BEGIN CERTIFICATE-----", "\n-- \n",
		"state TEXT NOT NULL, -- queued, sent", "Herald does not send a password", "i--",
	} {
		if cliWords.MatchString(s) {
			t.Errorf("%q is flagged", s)
		}
	}
}
