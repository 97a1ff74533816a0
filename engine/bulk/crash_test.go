package bulk

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/herald-smtp/herald/engine/queue"
	"github.com/herald-smtp/herald/engine/store"
)

const (
	crashDirEnv   = "HERALD_BULK_CRASH_DIR"
	crashBatchEnv = "HERALD_BULK_CRASH_BATCH"
	crashRows     = 3000
)

// TestEnqueueCrashChild is the child process of
// TestKillDuringEnqueueQueuesAllOrNothing: it plans crashRows messages and
// enqueues them as one batch, saying how far it got, until it is killed.
func TestEnqueueCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("child process of TestKillDuringEnqueueQueuesAllOrNothing")
	}
	fail := func(err error) {
		fmt.Println("error", err)
		os.Exit(3)
	}
	st, err := store.Open(store.PathIn(dir))
	if err != nil {
		fail(err)
	}
	var csv strings.Builder
	csv.WriteString("email,name\n")
	for i := 0; i < crashRows; i++ {
		fmt.Fprintf(&csv, "r%d@herald.test,Reader %d\n", i, i)
	}
	res, err := Plan(context.Background(), Options{Recipients: strings.NewReader(csv.String()), Profile: testProfile(),
		Subject: "Hello {{.name}}", Text: "Dear {{.name}},\n\nnews.\n"})
	if err != nil {
		fail(err)
	}
	fmt.Println("planned")
	batch := os.Getenv(crashBatchEnv)
	if _, err := Enqueue(context.Background(), queue.New(st, nil), "p1", batch, res.Messages, func(done int) {
		fmt.Println("written", done)
	}); err != nil {
		fail(err)
	}
	fmt.Println("queued", batch)
	os.Exit(0)
}

// TestKillDuringEnqueueQueuesAllOrNothing kills a bulk enqueue with
// SIGKILL at random points, many times: after each kill the batch is in
// the queue whole or not at all.
func TestKillDuringEnqueueQueuesAllOrNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes; skipped with -short")
	}
	dir := t.TempDir()
	none, all := 0, 0
	for round := 0; round < 8; round++ {
		batch := fmt.Sprintf("crash-%d", round)
		cmd := exec.Command(os.Args[0], "-test.run=^TestEnqueueCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashBatchEnv+"="+batch)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		// Most rounds kill right after some rows are written (inside the
		// transaction); the others at a random moment after planning.
		killAt := fmt.Sprintf("written %d", 1000*(1+rand.IntN(crashRows/1000-1)))
		if round%3 == 2 {
			killAt = "planned"
		}
		finished := false
		for sc.Scan() {
			l := sc.Text()
			if strings.HasPrefix(l, "error") {
				t.Fatalf("child: %s", l)
			}
			if strings.HasPrefix(l, "queued") {
				finished = true
			}
			if l == killAt {
				if killAt == "planned" {
					time.Sleep(time.Duration(rand.IntN(80)) * time.Millisecond)
				}
				cmd.Process.Kill() // SIGKILL
				break
			}
		}
		cmd.Wait()
		st, err := store.Open(store.PathIn(dir))
		if err != nil {
			t.Fatal(err)
		}
		items, err := st.ListQueueItems(context.Background(), store.QueueFilter{Batch: batch})
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		switch n := len(items); {
		case n == 0 && !finished:
			none++
		case n == crashRows:
			all++
		default:
			t.Fatalf("round %d (killed at %q): %d of %d messages of the batch are queued (finished: %v)", round, killAt, n, crashRows, finished)
		}
	}
	if none == 0 {
		t.Fatal("no kill landed during the enqueue")
	}
	t.Logf("8 kills: %d batches left out whole, %d queued whole", none, all)
}
