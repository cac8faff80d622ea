package ensemble

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
	"github.com/zkd/zkd/test/harness"
)

func parseZxid(t *testing.T, s string) int64 {
	t.Helper()
	z, err := strconv.ParseInt(strings.TrimPrefix(s, "0x"), 16, 64)
	require.NoError(t, err, s)
	return z
}

// uncommittedTail leaves the leader with txns in its log that no follower
// ever saw: both followers are frozen (SIGSTOP), a raw client sends
// creates to the leader (they are logged and proposed, never committed or
// answered), then the leader is SIGKILLed. It returns the old leader, the
// unacknowledged paths, the acknowledged ones, and the leader's last
// committed zxid before the tail.
func uncommittedTail(t *testing.T, e *harness.Ensemble) (old int, unacked, acked []string, committed int64) {
	t.Helper()
	e.StartAll(30 * time.Second)
	old = e.WaitLeader(10*time.Second, 0)
	c := connectMembers(t, e, old)
	_, err := c.Create("/t", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	acked = createN(t, c, "/t", "acked", 20)
	c.Close()
	rc, err := harness.Dial(e.Member(old).ClientAddr, 10000)
	require.NoError(t, err)
	require.Positive(t, rc.Session.TimeOut)
	t.Cleanup(func() { rc.Close() })
	committed = parseZxid(t, srvrZxid(t, e, old))

	followers := others(e, old)
	for _, f := range followers {
		e.Pause(f)
	}
	for i := 0; i < 5; i++ {
		p := fmt.Sprintf("/t/unacked%d", i)
		_, err := rc.Send(wire.OpCreate, &wire.CreateRequest{Path: p, Data: []byte(p), ACL: wire.OpenACLUnsafe})
		require.NoError(t, err)
		unacked = append(unacked, p)
	}
	// The leader logs them at once (one fsync); they cannot commit.
	time.Sleep(300 * time.Millisecond)
	e.Kill(old)
	return old, unacked, acked, committed
}

// A leader whose log has an uncommitted tail rejoins the new epoch: it
// is told to TRUNCate (nothing written in the new epoch yet) or gets a
// SNAP (the new epoch already has txns, and TRUNC cannot cross an epoch
// boundary); either way the tail never shows anywhere.
func TestOldLeaderUncommittedTailIsTruncated(t *testing.T) {
	for _, tc := range []struct {
		name       string
		writeFirst bool
		plans      []string
	}{
		{"rejoin-before-new-writes", false, []string{"TRUNC"}},
		{"rejoin-after-new-writes", true, []string{"TRUNC", "SNAP"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			skipShort(t)
			e := harness.NewEnsemble(t, 3, 0, "")
			old, unacked, acked, committed := uncommittedTail(t, e)
			followers := others(e, old)
			// The frozen followers never read the proposals: they die with
			// them still in their socket buffers and restart from disk.
			for _, f := range followers {
				e.Kill(f)
			}
			for _, f := range followers {
				e.Start(f)
			}
			e.WaitServing(30*time.Second, followers...)
			nl := e.WaitLeader(20*time.Second, old)
			if tc.writeFirst {
				c := connectMembers(t, e, followers...)
				acked = append(acked, createN(t, c, "/t", "newepoch", 20)...)
			}
			// (Without writes, no client may connect either: a new session
			// is a txn of the new epoch too.)
			mark := markLogs(e)
			e.Start(old)
			e.WaitServing(30*time.Second, old)
			plan := waitSyncPlan(t, e, mark, old, 10*time.Second)
			t.Logf("new leader %d synced the old leader %d with %s (peer at %s, last committed before the tail 0x%x)",
				nl, old, plan.Plan, plan.Peer, committed)
			require.Contains(t, tc.plans, plan.Kind(), "plan %+v", plan)
			require.Greater(t, parseZxid(t, plan.Peer), committed, "the old leader did not log the uncommitted tail")
			c := connectMembers(t, e, allIDs(e)...)
			acked = append(acked, createN(t, c, "/t", "later", 20)...)
			requireAckedEverywhere(t, e, "/t", acked, allIDs(e)...)
			requireAbsent(t, e, unacked, allIDs(e)...)
			requireSameTrees(t, e, allIDs(e)...)

			// And once more from its own (truncated) disk.
			e.Kill(old)
			e.Start(old)
			e.WaitServing(30*time.Second, old)
			requireAbsent(t, e, unacked, old)
			requireSameTrees(t, e, allIDs(e)...)
		})
	}
}

// As above, but the frozen followers are continued (SIGCONT) rather than
// restarted. The proposals are in their socket buffers, so whether they
// read them before noticing the dead leader is a race: an uncommitted
// proposal may legitimately be committed by the next leader. What must
// hold either way: every acknowledged write everywhere, each
// unacknowledged one on all members or on none, identical trees.
func TestFrozenFollowersResumeAfterLeaderDies(t *testing.T) {
	skipShort(t)
	e := harness.NewEnsemble(t, 3, 0, "")
	old, unacked, acked, _ := uncommittedTail(t, e)
	followers := others(e, old)
	for _, f := range followers {
		e.Resume(f)
	}
	nl := e.WaitLeader(20*time.Second, old)
	e.WaitServing(30*time.Second, followers...)
	c := connectMembers(t, e, followers...)
	acked = append(acked, createN(t, c, "/t", "newepoch", 20)...)
	mark := markLogs(e)
	e.Start(old)
	e.WaitServing(30*time.Second, old)
	plan := waitSyncPlan(t, e, mark, old, 10*time.Second)
	requireAckedEverywhere(t, e, "/t", acked, allIDs(e)...)
	requireSameTrees(t, e, allIDs(e)...)
	cn := connectMembers(t, e, nl)
	var kept []string
	for _, p := range unacked {
		ok, _, err := cn.Exists(p)
		require.NoError(t, err)
		if ok {
			kept = append(kept, p)
		}
	}
	t.Logf("new leader %d synced the old leader %d with %s; unacknowledged writes kept by the new epoch: %v", nl, old, plan.Plan, kept)
}

// A former leader with an uncommitted tail is brought back by SNAP (its
// tail is in an older epoch than the new history). Later it leads again,
// and a member that was down since before the tail syncs from it: what it
// gets must be the ensemble's history, not the dead tail still lying in
// the old leader's txn log before its SNAP point.
func TestSnapSyncedFormerLeaderLeadsLater(t *testing.T) {
	skipShort(t)
	e := harness.NewEnsemble(t, 5, 0, "")
	e.StartAll(30 * time.Second)
	l := e.WaitLeader(10*time.Second, 0)
	if l != 5 {
		// With equal histories the highest sid wins: make it 5.
		e.Kill(l)
		require.Equal(t, 5, e.WaitLeader(20*time.Second, l))
		e.Start(l)
		e.WaitServing(30*time.Second, l)
	}
	const old, lagger = 5, 1
	c := connectMembers(t, e, old)
	_, err := c.Create("/t", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	acked := createN(t, c, "/t", "acked", 10)
	_, err = c.Sync("/t")
	require.NoError(t, err)
	c.Close()
	e.Stop(lagger)

	// The uncommitted tail on the leader.
	rc, err := harness.Dial(e.Member(old).ClientAddr, 10000)
	require.NoError(t, err)
	defer rc.Close()
	mid := others(e, old, lagger)
	for _, f := range mid {
		e.Pause(f)
	}
	var unacked []string
	for i := 0; i < 5; i++ {
		p := fmt.Sprintf("/t/unacked%d", i)
		_, err := rc.Send(wire.OpCreate, &wire.CreateRequest{Path: p, ACL: wire.OpenACLUnsafe})
		require.NoError(t, err)
		unacked = append(unacked, p)
	}
	time.Sleep(300 * time.Millisecond)
	e.Kill(old)
	for _, f := range mid {
		e.Kill(f)
	}
	for _, f := range mid {
		e.Start(f)
	}
	e.WaitServing(30*time.Second, mid...)
	c = connectMembers(t, e, mid...)
	acked = append(acked, createN(t, c, "/t", "newepoch", 20)...)

	mark := markLogs(e)
	e.Start(old)
	e.WaitServing(30*time.Second, old)
	plan := waitSyncPlan(t, e, mark, old, 10*time.Second)
	t.Logf("old leader %d rejoined with %s", old, plan.Plan)
	acked = append(acked, createN(t, c, "/t", "rejoined", 10)...)
	c.Close()

	// The old leader (highest sid, same history) leads again.
	cur := e.WaitLeader(10*time.Second, 0)
	require.NotEqual(t, old, cur)
	e.Kill(cur)
	nl, _ := waitLeaderAmong(t, e, 20*time.Second, others(e, cur, lagger)...)
	require.Equal(t, old, nl)
	e.Start(cur)
	e.WaitServing(30*time.Second, cur)

	// The member that missed everything since before the tail rejoins.
	mark = markLogs(e)
	e.Start(lagger)
	e.WaitServing(30*time.Second, lagger)
	plan = waitSyncPlan(t, e, mark, lagger, 10*time.Second)
	t.Logf("lagging member %d synced from %d with %s (peer at %s)", lagger, plan.Leader, plan.Plan, plan.Peer)
	requireAckedEverywhere(t, e, "/t", acked, allIDs(e)...)
	requireAbsent(t, e, unacked, allIDs(e)...)
	requireSameTrees(t, e, allIDs(e)...)
}
