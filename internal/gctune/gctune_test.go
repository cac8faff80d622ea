package gctune

import (
	"context"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, 400},
		{1 * mib, 400},   // 64 MiB headroom over 1 MiB: capped
		{16 * mib, 400},  // exactly 4x
		{64 * mib, 100},  // the Go default
		{100 * mib, 64},  // 64/100
		{128 * mib, 50},  // half, the floor
		{1024 * mib, 50}, // half
	} {
		require.Equal(t, tc.want, Percent(tc.live), "live %d MiB", tc.live/mib)
	}
}

// Run changes GOGC while it runs and puts the old value back.
func TestRunRestoresGOGC(t *testing.T) {
	defer goleak.VerifyNone(t)
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Run(ctx); close(done) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	<-done
	require.Equal(t, 100, debug.SetGCPercent(100))
}

// Overlapping suspensions keep the collector off until the last ends, and
// then restore GOGC.
func TestSuspendNests(t *testing.T) {
	old := debug.SetGCPercent(70)
	defer debug.SetGCPercent(old)
	r1 := Suspend()
	r2 := Suspend()
	require.Equal(t, -1, debug.SetGCPercent(-1))
	r1()
	r1() // a second call is a no-op
	require.Equal(t, -1, debug.SetGCPercent(-1))
	require.False(t, setPercent(50), "the tuner waits while suspended")
	r2()
	require.Equal(t, 70, debug.SetGCPercent(70))
}
