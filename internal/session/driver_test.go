package session

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/zkd/zkd/internal/wire"
)

// startRun runs Run in the background and returns the channel onExpire
// reports to, plus a stop function that cancels Run and waits for it.
func startRun(t *testing.T, tr *Tracker, clock Clock, tick int64) (<-chan []wire.SessionID, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	expired := make(chan []wire.SessionID, 16)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, tr, clock, tick, func(ids []wire.SessionID) { expired <- ids })
	}()
	return expired, func() error {
		cancel()
		return <-done
	}
}

// waitAsleep blocks until Run is parked on the fake clock, which means it
// has finished acting on the current fake time.
func waitAsleep(t *testing.T, c *FakeClock) {
	t.Helper()
	require.Eventually(t, func() bool { return c.Waiters() == 1 }, 5*time.Second, time.Millisecond)
}

func requireNothing(t *testing.T, ch <-chan []wire.SessionID) {
	t.Helper()
	select {
	case ids := <-ch:
		require.Failf(t, "unexpected expiry", "%v", ids)
	default:
	}
}

func TestRunFakeClockExpiry(t *testing.T) {
	defer goleak.VerifyNone(t)
	tests := []struct {
		name string
		// touchAt, if non-zero, touches the session at that fake time.
		touchAt  int64
		wantDies int64
	}{
		{"untouched session dies at its bucket", 0, 1500},
		{"touch moves the deadline", 1300, 1800},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := NewFakeClock(1000)
			tr := New(1, 100, clock.NowMs())
			id := tr.Create(400, clock.NowMs()).ID // bucket (1400/100+1)*100 = 1500
			expired, stop := startRun(t, tr, clock, 100)

			waitAsleep(t, clock)
			for clock.NowMs() < tc.wantDies {
				requireNothing(t, expired)
				clock.Advance(50)
				if clock.NowMs() == tc.touchAt {
					require.True(t, tr.Touch(id, clock.NowMs()))
				}
				waitAsleep(t, clock)
			}
			select {
			case ids := <-expired:
				require.Equal(t, []wire.SessionID{id}, ids)
			case <-time.After(5 * time.Second):
				require.FailNow(t, "session did not expire")
			}
			s, ok := tr.Get(id)
			require.True(t, ok)
			require.True(t, s.Closing)

			require.ErrorIs(t, stop(), context.Canceled)
		})
	}
}

// TestRunCatchesUp checks that one late wake-up expires every overdue
// bucket in one go, earliest first.
func TestRunCatchesUp(t *testing.T) {
	defer goleak.VerifyNone(t)
	clock := NewFakeClock(0)
	tr := New(1, 100, 0)
	a := tr.Create(150, 0).ID // 200
	b := tr.Create(450, 0).ID // 500
	expired, stop := startRun(t, tr, clock, 100)
	waitAsleep(t, clock)
	clock.Advance(1000)
	select {
	case ids := <-expired:
		require.Equal(t, []wire.SessionID{a, b}, ids)
	case <-time.After(5 * time.Second):
		require.FailNow(t, "no expiry")
	}
	require.ErrorIs(t, stop(), context.Canceled)
}

func TestRunWaitsNoLongerThanATick(t *testing.T) {
	defer goleak.VerifyNone(t)
	clock := NewFakeClock(0)
	tr := New(1, 100, 0)
	// A far deadline must not put the driver to sleep past the next tick,
	// or a session added meanwhile in an earlier bucket would be late.
	tr.Create(10_000, 0)
	_, stop := startRun(t, tr, clock, 0) // 0: use the tracker's tick
	waitAsleep(t, clock)
	clock.Advance(99)
	require.Equal(t, 1, clock.Waiters())
	clock.Advance(1)
	waitAsleep(t, clock) // it woke at 100 and parked again
	require.ErrorIs(t, stop(), context.Canceled)
}

func TestRunRealClock(t *testing.T) {
	defer goleak.VerifyNone(t)
	clock := NewRealClock()
	tr := New(1, 10, clock.NowMs())
	id := tr.Create(20, clock.NowMs())
	expired, stop := startRun(t, tr, clock, 10)
	select {
	case ids := <-expired:
		require.Equal(t, []wire.SessionID{id.ID}, ids)
	case <-time.After(5 * time.Second):
		require.FailNow(t, "no expiry on the real clock")
	}
	require.ErrorIs(t, stop(), context.Canceled)
}

func TestRunStopsWhenCancelledUpFront(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tr := New(1, 10, 0)
	for _, c := range []Clock{NewRealClock(), NewFakeClock(0)} {
		require.ErrorIs(t, Run(ctx, tr, c, 10, nil), context.Canceled)
	}
}

func TestFakeClock(t *testing.T) {
	c := NewFakeClock(100)
	require.Equal(t, int64(100), c.NowMs())

	now := c.After(0)
	require.Len(t, now, 1, "non-positive waits fire at once")
	require.Zero(t, c.Waiters())

	early, late := c.After(10), c.After(30)
	require.Equal(t, 2, c.Waiters())
	c.Advance(9)
	require.Len(t, early, 0)
	c.Advance(1)
	require.Len(t, early, 1)
	require.Equal(t, time.UnixMilli(110), <-early)
	require.Equal(t, 1, c.Waiters())
	c.Advance(100)
	require.Len(t, late, 1)
	require.Zero(t, c.Waiters())
	require.Equal(t, int64(210), c.NowMs())
}

func TestRealClock(t *testing.T) {
	c := NewRealClock()
	wall := time.Now().UnixMilli()
	first := c.NowMs()
	require.InDelta(t, wall, first, 1000, "anchored at the Unix epoch")
	time.Sleep(5 * time.Millisecond)
	require.GreaterOrEqual(t, c.NowMs()-first, int64(5))
}
