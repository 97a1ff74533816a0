package transport

import (
	"context"
	"errors"
	"testing"
)

func TestWithFallbacksTriesInOrderWhileUnreachable(t *testing.T) {
	unreachable := &Error{Stage: StageConnect, Kind: KindRefused}
	refused := &Error{Stage: StageAuth, Code: 535}
	results := map[string]error{"a": unreachable, "b": unreachable, "c": refused, "d": nil}
	var tried, notes []string
	try := func(c Config) (string, error) {
		tried = append(tried, c.Host)
		return c.Host, results[c.Host]
	}
	note := func(from, to Config, err error) { notes = append(notes, from.Host+">"+to.Host) }
	v, cfg, err := WithFallbacks(context.Background(), Config{Host: "a"}, []Config{{Host: "b"}, {Host: "c"}, {Host: "d"}}, try, note)
	if v != "c" || cfg.Host != "c" || !errors.Is(err, refused) {
		t.Fatalf("got %q %q %v, want to stop at c with its auth failure", v, cfg.Host, err)
	}
	if len(tried) != 3 || len(notes) != 2 || notes[1] != "b>c" {
		t.Fatalf("tried %v, notes %v", tried, notes)
	}
	tried = nil
	if _, cfg, err := WithFallbacks(context.Background(), Config{Host: "d"}, []Config{{Host: "a"}}, try, nil); err != nil || cfg.Host != "d" || len(tried) != 1 {
		t.Fatalf("a reachable first server must not fall back: %v %v %v", cfg.Host, err, tried)
	}
}
