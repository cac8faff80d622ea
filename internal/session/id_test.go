package session

import (
	"math"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

func TestInitialID(t *testing.T) {
	tests := []struct {
		name     string
		serverID int64
		nowMs    int64
		want     wire.SessionID
	}{
		{"standalone", 1, 0x77edd, 0x10000077edd0000},
		{"low 40 bits of the clock only", 1, 0x123_4567_89ab_cdef, 0x01_6789abcdef_0000},
		// With ms bit 39 set an arithmetic shift would smear ones into
		// the server byte; the unsigned shift keeps it clean.
		{"bit 39 does not leak into server id", 4, 0x80_0000_0000, 0x04_8000000000_0000},
		{"server id zero", 0, 0x12345, 0x0000_0012345_0000},
		{"container marker is skipped", 0x80, 0, containerMarker + 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := InitialID(tc.serverID, tc.nowMs)
			require.Equal(t, tc.want, got, "got %s", got)
			require.Equal(t, byte(tc.serverID), byte(uint64(got)>>56))
		})
	}
}

func TestIDGeneratorSequence(t *testing.T) {
	g := NewIDGenerator(1, 0x77edd)
	for i := range 5 {
		require.Equal(t, wire.SessionID(0x10000077edd0000+i), g.Next())
	}
	// The marker is MinInt64, reached by wrapping past MaxInt64; the
	// generator skips it.
	g = NewIDGenerator(0x7f, 0)
	g.next.Store(math.MaxInt64)
	require.Equal(t, wire.SessionID(math.MaxInt64), g.Next())
	require.Equal(t, containerMarker+1, g.Next())
}

func TestIDGeneratorConcurrentUnique(t *testing.T) {
	g := NewIDGenerator(2, 1234)
	const workers, each = 8, 500
	var (
		mu   sync.Mutex
		seen = map[wire.SessionID]bool{}
		dups int
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			local := make([]wire.SessionID, 0, each)
			for range each {
				local = append(local, g.Next())
			}
			mu.Lock()
			defer mu.Unlock()
			// require must not run off the test goroutine, so count
			// duplicates here and assert after Wait.
			for _, id := range local {
				if seen[id] {
					dups++
				}
				seen[id] = true
			}
		})
	}
	wg.Wait()
	require.Zero(t, dups)
	require.Len(t, seen, workers*each)
}
