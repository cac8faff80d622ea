// Package gctune sizes the Go garbage collector's headroom to the live
// heap, so that a server holding a large tree does not keep a second
// tree's worth of garbage around, and one holding a small tree does not
// collect more often than it needs to.
//
// With Go's default (GOGC=100) the heap grows to twice the live data
// before a collection: a million 100-byte znodes, about 400 MiB live, meant
// close to a GiB resident. A fixed lower GOGC would cut that but double the
// collector's CPU on small trees, where memory is no concern. So the tuner
// aims at a headroom of half the live heap, at least 64 MiB:
// GOGC = headroom / live, bounded to [50, 400]. (A quarter saved another
// 15% of memory with a million znodes but cost a third of the write
// throughput while filling them: each collection marks the whole tree.) It re-reads the live heap
// (runtime/metrics /gc/heap/live:bytes, what the last cycle marked) every
// half second. Setting GOGC in the environment turns it off.
package gctune

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

const (
	minHeadroom = 64 << 20
	minGOGC     = 50
	maxGOGC     = 400
	interval    = 500 * time.Millisecond
)

// Percent is the GOGC the tuner picks for a live heap of live bytes.
func Percent(live uint64) int {
	if live == 0 {
		return maxGOGC
	}
	headroom := max(live/2, minHeadroom)
	p := int(headroom * 100 / live)
	return min(max(p, minGOGC), maxGOGC)
}

// Enabled reports whether the tuner may run: not when the operator set
// GOGC.
func Enabled() bool {
	_, set := os.LookupEnv("GOGC")
	return !set
}

// Suspension: loading a tree from a snapshot allocates little besides the
// tree itself, so collecting while it loads is work for nothing, and with
// a small headroom it was a third of a restart. Suspend turns the
// collector off until every Suspend has been resumed; overlapping callers
// (several servers in one test process) are counted, so the first saves
// GOGC and the last puts it back. Run leaves GOGC alone meanwhile.
var (
	suspendMu    sync.Mutex
	suspended    int
	suspendSaved int
)

// Suspend stops garbage collection until the returned func is called
// (once). GOMEMLIMIT, if set, still applies.
func Suspend() (resume func()) {
	suspendMu.Lock()
	if suspended == 0 {
		suspendSaved = debug.SetGCPercent(-1)
	}
	suspended++
	suspendMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			suspendMu.Lock()
			suspended--
			if suspended == 0 {
				debug.SetGCPercent(suspendSaved)
			}
			suspendMu.Unlock()
		})
	}
}

// setPercent sets GOGC unless a Suspend is active; it reports whether it
// did.
func setPercent(p int) bool {
	suspendMu.Lock()
	defer suspendMu.Unlock()
	if suspended > 0 {
		return false
	}
	debug.SetGCPercent(p)
	return true
}

// Run adjusts GOGC until ctx ends, then restores the value it found. It
// blocks; run it in its own goroutine.
func Run(ctx context.Context) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	suspendMu.Lock()
	orig := debug.SetGCPercent(-1)
	debug.SetGCPercent(orig)
	suspendMu.Unlock()
	defer setPercent(orig)
	current := orig
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			if p := Percent(sample[0].Value.Uint64()); p != current && setPercent(p) {
				current = p
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
