package app

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestQuitWatchdogEndsAStuckQuit: once quitting has taken longer than its
// limit, the watchdog writes where every goroutine waited and exits 0.
func TestQuitWatchdogEndsAStuckQuit(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	code := make(chan int, 1)
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	quitWatchdog(10*time.Millisecond, w, func(c int) { code <- c })
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("exit %d", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watchdog did not fire")
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(out.String(), "still closing") || !strings.Contains(out.String(), "goroutine ") {
		t.Fatalf("stderr:\n%s", out.String())
	}
	// Stopped in time, it stays quiet.
	stopped := quitWatchdog(20*time.Millisecond, w, func(int) { t.Error("a stopped watchdog fired") })
	stopped.Stop()
	time.Sleep(50 * time.Millisecond)
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
