package ensemble

import (
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/test/harness"
)

// pickFollower is a voting member other than the leader.
func pickFollower(e *harness.Ensemble, leader int) int {
	for _, m := range e.Members {
		if m.ID != leader && !m.Observer {
			return m.ID
		}
	}
	return 0
}

// srvrZxid is the Zxid line of member id's srvr.
func srvrZxid(t *testing.T, e *harness.Ensemble, id int) string {
	t.Helper()
	out, err := harness.FourLetterWord(e.Member(id).ClientAddr, "srvr", 2*time.Second)
	require.NoError(t, err)
	for _, line := range strings.Split(out, "\n") {
		if z, ok := strings.CutPrefix(line, "Zxid: "); ok {
			return strings.TrimSpace(z)
		}
	}
	t.Fatalf("member %d: no Zxid in srvr:\n%s", id, out)
	return ""
}

// A follower that missed a few txns catches up by DIFF.
func TestFollowerCatchesUpByDiff(t *testing.T) {
	skipShort(t)
	e := harness.NewEnsemble(t, 3, 0, "")
	e.StartAll(30 * time.Second)
	leader := e.WaitLeader(10*time.Second, 0)
	f := pickFollower(e, leader)
	c := connectMembers(t, e, leader)
	_, err := c.Create("/d", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	createN(t, c, "/d", "before", 20)

	e.Stop(f)
	created := createN(t, c, "/d", "missed", 50)
	_, err = c.Set("/d", []byte("changed"), -1)
	require.NoError(t, err)

	mark := markLogs(e)
	e.Start(f)
	e.WaitServing(30*time.Second, f)
	plan := waitSyncPlan(t, e, mark, f, 10*time.Second)
	t.Logf("leader %d synced member %d with %s (peer at %s)", plan.Leader, f, plan.Plan, plan.Peer)
	require.Equal(t, "DIFF", plan.Kind(), "plan %+v", plan)
	require.Equal(t, []string{"DIFF"}, learnerSyncModes(e, f))
	requireAckedEverywhere(t, e, "/d", created, allIDs(e)...)
	requireSameTrees(t, e, allIDs(e)...)
}

// A follower down for many snapshots' worth of txns (more than the
// leader's in-memory committed log) catches up by SNAP, and afterwards
// recovers from its own disk after a crash.
func TestFollowerCatchesUpBySnap(t *testing.T) {
	skipShort(t)
	e := harness.NewEnsemble(t, 3, 0, "snapCount=20")
	e.StartAll(30 * time.Second)
	leader := e.WaitLeader(10*time.Second, 0)
	f := pickFollower(e, leader)
	c := connectMembers(t, e, others(e, f)...)
	_, err := c.Create("/s", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	createN(t, c, "/s", "before", 30)

	e.Stop(f)
	// Over a thousand txns: more than the leader keeps in memory for DIFF
	// (commitLogCount = 500, trimmed from 1000), and some fifty snapCounts.
	created := createParallel(t, e, others(e, f), "/s", "missed", 1100)
	for i := 0; i < 30; i++ {
		_, err := c.Set("/s", []byte{byte(i)}, -1)
		require.NoError(t, err)
	}
	require.NoError(t, c.Delete("/s/missed00000", -1))
	created = created[1:]

	mark := markLogs(e)
	e.Start(f)
	e.WaitServing(30*time.Second, f)
	plan := waitSyncPlan(t, e, mark, f, 10*time.Second)
	t.Logf("leader %d synced member %d with %s (peer at %s)", plan.Leader, f, plan.Plan, plan.Peer)
	require.Equal(t, "SNAP", plan.Kind(), "plan %+v", plan)
	require.Equal(t, []string{"SNAP"}, learnerSyncModes(e, f))
	requireAckedEverywhere(t, e, "/s", created, allIDs(e)...)
	requireSameTrees(t, e, allIDs(e)...)

	// More txns through the synced follower itself (it logs them now),
	// then a crash: it must come back from its own snapshot and log, at
	// exactly the ensemble's last zxid (an empty DIFF).
	cf := connectMembers(t, e, f)
	created = append(created, createN(t, cf, "/s", "after", 45)...)
	_, err = cf.Sync("/s")
	require.NoError(t, err)
	cf.Close()
	// A follower may apply a commit before its own fsync of the proposal
	// completes (ZooKeeper's do too); give the last ones time to land.
	time.Sleep(200 * time.Millisecond)
	want := srvrZxid(t, e, leader)
	e.Kill(f)
	mark = markLogs(e)
	e.Start(f)
	e.WaitServing(30*time.Second, f)
	plan = waitSyncPlan(t, e, mark, f, 10*time.Second)
	t.Logf("after a crash, leader %d synced member %d with %s (peer at %s, leader at %s)", plan.Leader, f, plan.Plan, plan.Peer, want)
	require.Equal(t, "DIFF", plan.Kind(), "plan %+v", plan)
	require.Equal(t, want, plan.Peer, "member %d did not recover every txn from its own disk", f)
	requireAckedEverywhere(t, e, "/s", created, allIDs(e)...)
	requireSameTrees(t, e, allIDs(e)...)
}
