// Package gctune sizes the Go garbage collector's headroom to the live
// heap, so that a server holding a large tree does not keep a second
// tree's worth of garbage around, and one holding a small tree does not
// collect more often than it needs to.
//
// With Go's default (GOGC=100) the heap grows to twice the live data
// before a collection: a million 100-byte znodes, about 400 MiB live, meant
// close to a GiB resident. A fixed lower GOGC would cut that but double the
// collector's CPU on small trees, where memory is no concern. So the tuner
// aims at a headroom of a quarter of the live heap, at least 64 MiB:
// GOGC = headroom / live, bounded to [25, 400]. It re-reads the live heap
// (runtime/metrics /gc/heap/live:bytes, what the last cycle marked) every
// half second. Setting GOGC in the environment turns it off.
package gctune

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

const (
	minHeadroom = 64 << 20
	minGOGC     = 25
	maxGOGC     = 400
	interval    = 500 * time.Millisecond
)

// Percent is the GOGC the tuner picks for a live heap of live bytes.
func Percent(live uint64) int {
	if live == 0 {
		return maxGOGC
	}
	headroom := max(live/4, minHeadroom)
	p := int(headroom * 100 / live)
	return min(max(p, minGOGC), maxGOGC)
}

// Enabled reports whether the tuner may run: not when the operator set
// GOGC.
func Enabled() bool {
	_, set := os.LookupEnv("GOGC")
	return !set
}

// Run adjusts GOGC until ctx ends, then restores the value it found. It
// blocks; run it in its own goroutine.
func Run(ctx context.Context) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	orig := debug.SetGCPercent(-1)
	debug.SetGCPercent(orig)
	defer debug.SetGCPercent(orig)
	current := orig
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			if p := Percent(sample[0].Value.Uint64()); p != current {
				debug.SetGCPercent(p)
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
