package app

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Memory policy of the window. Go's collector lets the heap grow to twice
// what is live before it collects, and hands freed memory back to the
// system slowly: with 100,000 log lines, a large history page and a 10 MB
// message open (~75 MB live) the window's resident memory rose past 300 MB,
// mostly garbage and idle heap. The window sets Go a soft memory limit a
// half above what is live (never under memoryFloor): the collector then
// runs before the heap doubles and returns idle memory to the system,
// while a heap that keeps growing raises the limit with it, so the window
// never fights its own data (the runtime caps the collector at half the CPU
// anyway).
const (
	// memoryFloor is the smallest limit: an idle window's Go memory is
	// ~30 MB, so below this the limit never makes the collector work.
	memoryFloor = 96 << 20
	// memoryHeadroom is added to what is live besides the half.
	memoryHeadroom = 16 << 20
	// memoryEvery is how often the limit follows the live heap.
	memoryEvery = 2 * time.Second
)

// memoryLimitFor is the soft limit for a live heap of live bytes.
func memoryLimitFor(live uint64) int64 {
	l := int64(live + live/2 + memoryHeadroom)
	return max(l, memoryFloor)
}

// governMemory keeps Go's soft memory limit at memoryLimitFor(live heap),
// every period, until ctx ends (then it lifts the limit).
func governMemory(ctx context.Context, every time.Duration) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	t := time.NewTicker(every)
	defer t.Stop()
	defer debug.SetMemoryLimit(math.MaxInt64)
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetMemoryLimit(memoryLimitFor(sample[0].Value.Uint64()))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
