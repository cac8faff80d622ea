package main

import (
	"context"
	"time"
)

// idleWait holds a run back until the other deployment of the topology has
// gone quiet. Both deployments run side by side during a topology's runs,
// ZooKeeper's first in every pair: right after its run the JVMs may still
// be busy for seconds (closing the run's sessions, garbage collection, JIT),
// and without the wait that work would land in zkd's measurement, every
// time, on the 2 cores they share. The wait is the same for either side.
type idleWait struct {
	window time.Duration // CPU use is measured over this long
	// idle is the CPU use, as a fraction of one CPU over a window, below
	// which the other deployment counts as idle.
	idle float64
	max  time.Duration // give up (and measure anyway) after this long
}

var defaultIdleWait = idleWait{window: 300 * time.Millisecond, idle: 0.05, max: 20 * time.Second}

// wait samples cpu, the other deployment's cumulative CPU time, one window
// at a time until a window's use is below w.idle or w.max has passed. It
// returns how long it waited and whether the other side went idle.
func (w idleWait) wait(ctx context.Context, cpu func() time.Duration) (time.Duration, bool) {
	start := time.Now()
	prev := cpu()
	for {
		t := time.NewTimer(w.window)
		select {
		case <-ctx.Done():
			t.Stop()
			return time.Since(start), false
		case <-t.C:
		}
		cur := cpu()
		if float64(cur-prev) < w.idle*float64(w.window) {
			return time.Since(start), true
		}
		prev = cur
		if time.Since(start) >= w.max {
			return time.Since(start), false
		}
	}
}
