package app

import (
	"context"
	"math"
	"runtime/debug"
	"testing"
	"time"
)

func TestMemoryLimitFollowsTheLiveHeap(t *testing.T) {
	if got := memoryLimitFor(10 << 20); got != memoryFloor {
		t.Fatalf("a small heap: limit %d, want the floor %d", got, memoryFloor)
	}
	if got, want := memoryLimitFor(200<<20), int64(300<<20+memoryHeadroom); got != want {
		t.Fatalf("a 200 MB heap: limit %d, want %d", got, want)
	}
}

// TestGovernMemorySetsAndLiftsTheLimit runs the governor: it sets a soft
// limit at once, and lifts it when the window closes.
func TestGovernMemorySetsAndLiftsTheLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { governMemory(ctx, 10*time.Millisecond); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for debug.SetMemoryLimit(-1) == math.MaxInt64 {
		if time.Now().After(deadline) {
			t.Fatal("no memory limit was set")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if l := debug.SetMemoryLimit(-1); l < memoryFloor {
		t.Fatalf("limit %d under the floor", l)
	}
	cancel()
	<-done
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		t.Fatalf("the limit stayed at %d after the window closed", l)
	}
}
