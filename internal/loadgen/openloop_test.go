package loadgen

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

// sendClock records when each session's generator encoded its first
// request, i.e. when the writer sent it.
type sendClock struct {
	mu    sync.Mutex
	first map[int]time.Time
}

type clockedGen struct {
	opGen
	clock *sendClock
	i     int
}

func (g clockedGen) encode(b []byte, xid int32, step int, arg string) ([]byte, int32) {
	g.clock.mu.Lock()
	if _, ok := g.clock.first[g.i]; !ok {
		g.clock.first[g.i] = time.Now()
	}
	g.clock.mu.Unlock()
	return g.opGen.encode(b, xid, step, arg)
}

// TestOpenLoopSessionsAreStaggered: in open loop the sessions' schedules
// are spread over one interval instead of all sending at the same
// instants (bursts that an open-loop latency would then measure).
func TestOpenLoopSessionsAreStaggered(t *testing.T) {
	verifyNoLeaks(t)
	addr, _ := startServer(t)
	const n = 4
	const interval = 400 * time.Millisecond
	conns := make([]*conn, n)
	for i := range conns {
		c, _, err := dial(context.Background(), addr, 5*time.Second, loadBufSize)
		require.NoError(t, err)
		conns[i] = c
		defer c.close()
	}
	ping := frame(wire.OpExists, &wire.ExistsRequest{Path: "/"})
	clock := &sendClock{first: map[int]time.Time{}}
	ph := &phase{
		window:   1,
		interval: interval,
		quota:    func(int) int64 { return 1 },
		gen: func(i int) opGen {
			return clockedGen{opGen: &keyGen{reads: newFrameSet(1, func(int) []byte { return ping }), keys: 1}, clock: clock, i: i}
		},
	}
	runPhase(context.Background(), conns, ph, newStats(n))

	require.Len(t, clock.first, n)
	earliest, latest := clock.first[0], clock.first[0]
	for _, at := range clock.first {
		if at.Before(earliest) {
			earliest = at
		}
		if at.After(latest) {
			latest = at
		}
	}
	// Evenly staggered, the first sends span 3/4 of the interval (300 ms);
	// in lockstep they came within a millisecond or two. A slow machine
	// only delays sends, so the lower bound holds with room to spare.
	require.GreaterOrEqual(t, latest.Sub(earliest), interval/2, "first sends at %v", clock.first)
}

func TestStaggeredOffsets(t *testing.T) {
	tests := []struct {
		interval time.Duration
		rank, n  int
		want     time.Duration
	}{
		{0, 3, 4, 0},
		{400 * time.Millisecond, 0, 4, 0},
		{400 * time.Millisecond, 1, 4, 100 * time.Millisecond},
		{400 * time.Millisecond, 3, 4, 300 * time.Millisecond},
		{128 * time.Millisecond, 63, 64, 126 * time.Millisecond},
		{time.Second, -1, 4, 0}, // a dropped session has no rank
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, staggered(tc.interval, tc.rank, tc.n), "%+v", tc)
	}
}
