package ensemble

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/test/harness"
)

// Sessions outlive a leader failover: a client whose server died moves to
// another member and keeps its ephemeral node; a client that vanished
// with the old leader has its session expired by the new leader, and its
// ephemeral node disappears from every member.
func TestSessionsAcrossLeaderFailover(t *testing.T) {
	skipShort(t)
	e := harness.NewEnsemble(t, 3, 0, "")
	e.StartAll(30 * time.Second)
	old := e.WaitLeader(10*time.Second, 0)

	// The mover's connect string lists the leader first, so it is on it.
	addrs := []string{e.Member(old).ClientAddr}
	for _, id := range others(e, old) {
		addrs = append(addrs, e.Member(id).ClientAddr)
	}
	mover, _, err := zk.Connect(addrs, 4*time.Second, zk.WithLogger(nopZkLogger{}))
	require.NoError(t, err)
	defer mover.Close()
	_, err = mover.Create("/mover", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	// The goner's session is a raw one on the leader; it dies with it.
	rc, err := harness.Dial(e.Member(old).ClientAddr, 4000)
	require.NoError(t, err)
	defer rc.Close()
	goner := rc.Session.SessionID
	require.NoError(t, rawCreateIn(rc, "/goner", 1 /* ephemeral */))
	requireSameTrees(t, e, allIDs(e)...)

	moverSession := mover.SessionID()
	e.Kill(old)
	rc.Close()
	rest := others(e, old)
	e.WaitServing(20*time.Second, rest...)
	e.WaitLeader(20*time.Second, old)
	// The mover's session is still good on its new server.
	_, err = mover.Create("/mover-after", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	require.Equal(t, moverSession, mover.SessionID(), "the mover got a new session")

	c := connectMembers(t, e, rest...)
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, _, err := c.Exists("/goner")
		require.NoError(t, err)
		if !ok {
			break
		}
		require.True(t, time.Now().Before(deadline), "session 0x%x was not expired by the new leader", goner)
		time.Sleep(100 * time.Millisecond)
	}
	ok, st, err := c.Exists("/mover")
	require.NoError(t, err)
	require.True(t, ok, "the moved session lost its ephemeral node")
	require.Equal(t, mover.SessionID(), st.EphemeralOwner)

	e.Start(old)
	e.WaitServing(30*time.Second, old)
	requireSameTrees(t, e, allIDs(e)...)
	mover.Close()
	// Closing the session removes its node everywhere.
	requireAbsent(t, e, []string{"/mover", "/goner"}, allIDs(e)...)
	requireSameTrees(t, e, allIDs(e)...)
}
