package server_test

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/test/harness"
)

// fakeElectionPeer accepts election connections and counts them; it never
// answers, so the member dialing it stays LOOKING.
type fakeElectionPeer struct {
	ln      net.Listener
	accepts atomic.Int64
	wg      sync.WaitGroup
}

func newFakeElectionPeer(t *testing.T) *fakeElectionPeer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &fakeElectionPeer{ln: ln}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			f.accepts.Add(1)
			nc.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); f.wg.Wait() })
	return f
}

func (f *fakeElectionPeer) port() int { return f.ln.Addr().(*net.TCPAddr).Port }

// A LOOKING member dials a peer it has no connection to when a notification
// times out, with the timeout's backoff, as Java's FLE: not on every tick of
// its election loop. Dialing every 50 ms let a smaller sid keep breaking the
// connection a larger sid was dialing back (each dial makes the larger sid
// close its connection and dial again), seen as two members re-connecting
// every 50 ms instead of electing.
func TestLookingMemberDialsPeersWithBackoff(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the election's timeouts")
	}
	checkLeaksAtEnd(t)
	peers := []*fakeElectionPeer{newFakeElectionPeer(t), newFakeElectionPeer(t)}
	q1, err := harness.FreePort()
	require.NoError(t, err)
	e1, err := harness.FreePort()
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var servers strings.Builder
	fmt.Fprintf(&servers, "server.1=127.0.0.1:%d:%d\n", q1, e1)
	for i, p := range peers {
		q, err := harness.FreePort()
		require.NoError(t, err)
		fmt.Fprintf(&servers, "server.%d=127.0.0.1:%d:%d\n", i+2, q, p.port())
	}
	srv := serveMember(t, 1, ln, servers.String(), "")
	time.Sleep(1500 * time.Millisecond)
	srv.Stop()
	// The first notifications, then re-sends after 0.2, 0.4 and 0.8 s of
	// silence: about 4 dials per peer in 1.5 s. Every 50 ms would be 30.
	for i, p := range peers {
		n := p.accepts.Load()
		assert.GreaterOrEqual(t, n, int64(1), "peer %d was never dialed", i+2)
		assert.LessOrEqual(t, n, int64(10), "peer %d was dialed %d times in 1.5 s", i+2, n)
	}
}
