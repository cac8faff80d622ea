package session

import (
	"sync"
	"time"
)

// Clock supplies the current time in milliseconds. Session deadlines only
// ever compare readings of the same Clock, so what matters is that it never
// jumps backwards; RealClock also keeps it close to the Unix epoch so
// deadlines print as real dates in dumps.
type Clock interface {
	NowMs() int64
}

// Waker is an optional Clock extension: After returns a channel that
// receives once ms milliseconds of the clock's own time have passed. Run
// uses it when available, which lets a FakeClock drive the expiry loop
// without real sleeping; other clocks get a real timer.
type Waker interface {
	After(ms int64) <-chan time.Time
}

// RealClock is the production Clock: Unix epoch milliseconds at creation,
// advanced by Go's monotonic clock, so a wall-clock step (NTP, an operator)
// cannot expire every session at once or keep them alive forever. ZooKeeper
// 3.8 uses System.nanoTime for the same reason.
type RealClock struct {
	startWall int64
	start     time.Time
}

// NewRealClock returns a RealClock anchored at the current wall time.
func NewRealClock() *RealClock {
	now := time.Now()
	return &RealClock{startWall: now.UnixMilli(), start: now}
}

// NowMs returns the current time in ms since the Unix epoch (as of the
// clock's creation, advanced monotonically).
func (c *RealClock) NowMs() int64 {
	return c.startWall + time.Since(c.start).Milliseconds()
}

// FakeClock is a manually advanced Clock for tests. It implements Waker, so
// Run sleeps on it in fake time. It is safe for concurrent use.
type FakeClock struct {
	mu      sync.Mutex
	now     int64
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at int64
	ch chan time.Time
}

// NewFakeClock returns a FakeClock reading startMs.
func NewFakeClock(startMs int64) *FakeClock {
	return &FakeClock{now: startMs}
}

// NowMs returns the fake time.
func (c *FakeClock) NowMs() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that fires once the fake time reaches now+ms;
// immediately if ms <= 0. The channel is buffered so firing never blocks
// Advance, even if the waiter has given up.
func (c *FakeClock) After(ms int64) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if ms <= 0 {
		ch <- time.UnixMilli(c.now)
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: c.now + ms, ch: ch})
	return ch
}

// Advance moves the fake time forward by ms and fires due waiters.
func (c *FakeClock) Advance(ms int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now += ms
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at <= c.now {
			w.ch <- time.UnixMilli(c.now)
		} else {
			kept = append(kept, w)
		}
	}
	// Clear the tail so dropped channels can be collected.
	clear(c.waiters[len(kept):])
	c.waiters = kept
}

// Waiters returns how many After channels are pending, so a test can wait
// until the code under test is asleep before advancing time.
func (c *FakeClock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}
