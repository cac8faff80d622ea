package server

import (
	"bufio"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/zkd/zkd/internal/zab"
)

// A COMMIT queued to a learner but not yet written by its writer
// goroutine goes out when the applier reports a batch applied, before
// that batch's replies: leader.applied writes it in place.
func TestLeaderAppliedWritesQueuedCommits(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	a, b := tcpPair(t)
	q := newQconn(a)
	defer q.close()
	l := &leader{forwarding: map[int64]*learnerHandler{}}
	l.forwarding[2] = &learnerHandler{l: l, sid: 2, q: q}
	l.forwardingChangedLocked()

	// Queued as if its writer had not run yet: a flushSet nobody flushes
	// holds it, so neither a flush nor the writer goroutine writes it.
	var pending flushSet
	q.sendLater(&zab.QuorumPacket{Type: zab.PktCommit, Zxid: 0x100000007}, &pending)
	require.Len(t, pending.set, 1)
	require.Positive(t, q.ob.queued(), "nothing written before applied")

	l.applied()
	require.NoError(t, b.SetReadDeadline(time.Now().Add(5*time.Second)))
	pkt, err := zab.ReadPacket(bufio.NewReader(b), 0)
	require.NoError(t, err, "the COMMIT reached the learner's socket")
	require.Equal(t, zab.PktCommit, pkt.Type)
	require.Equal(t, int64(0x100000007), pkt.Zxid)
}

// A leader that no longer forwards to a learner does not write to it.
func TestLeaderAppliedFollowsForwarding(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	a, _ := tcpPair(t)
	q := newQconn(a)
	defer q.close()
	l := &leader{forwarding: map[int64]*learnerHandler{2: {sid: 2, q: q}}}
	l.forwardingChangedLocked()
	delete(l.forwarding, 2)
	l.forwardingChangedLocked()

	var pending flushSet
	q.sendLater(&zab.QuorumPacket{Type: zab.PktCommit, Zxid: 1}, &pending)
	l.applied()
	require.Positive(t, q.ob.queued(), "a learner no longer forwarded to is not written")
	l.applied() // no learners at all: nothing to do
}
