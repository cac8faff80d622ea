package ensemble

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/test/harness"
)

// Leader SIGKILL under write load: a new leader takes over, writes resume,
// and nothing acknowledged is lost on any member.
func TestLeaderKillUnderLoad3(t *testing.T) { leaderKillUnderLoad(t, 3) }

func TestLeaderKillUnderLoad5(t *testing.T) { leaderKillUnderLoad(t, 5) }

func leaderKillUnderLoad(t *testing.T, n int) {
	skipShort(t)
	e := harness.NewEnsemble(t, n, 0, "")
	e.StartAll(30 * time.Second)
	leader := e.WaitLeader(10*time.Second, 0)
	t.Logf("leader is %d", leader)

	w := startWriteLoad(t, e, "/load", 4)
	defer w.halt()
	w.waitMore(t, 200, 20*time.Second)

	e.Kill(leader)
	killed := time.Now()
	probe := make(chan time.Duration, 1)
	go func() {
		d, err := probeWrite(e, "/probe", 20*time.Second, others(e, leader)...)
		if err != nil {
			t.Error(err)
		}
		probe <- d
	}()
	newLeader := e.WaitLeader(20*time.Second, leader)
	elected := time.Since(killed)
	w.waitMore(t, 200, 30*time.Second)
	first := w.firstAckIssuedAfter(killed)
	t.Logf("%d nodes: leader %d SIGKILLed; member %d reports leader after %v; first create on a fresh raw session after %v; "+
		"first load write issued after the kill acknowledged after %v (go-zookeeper waits 1 s after trying every server)",
		n, leader, newLeader, elected, <-probe, first.Sub(killed))
	w.halt()
	t.Logf("%d acknowledged writes; failed writes by error: %v", w.ackedCount(), w.errorSummary())

	rest := others(e, leader)
	e.WaitServing(20*time.Second, rest...)
	requireAckedEverywhere(t, e, "/load", w.paths(), rest...)
	requireSameTrees(t, e, rest...)

	// The old leader comes back as a follower with the same history.
	e.Start(leader)
	e.WaitServing(30*time.Second, leader)
	requireAckedEverywhere(t, e, "/load", w.paths(), allIDs(e)...)
	requireSameTrees(t, e, allIDs(e)...)
}

// Followers that crash or freeze under write load resync with proposals
// in flight (the leader queues its outstanding proposals behind the sync)
// and end up with the same history.
func TestFollowerCrashAndFreezeUnderLoad(t *testing.T) {
	skipShort(t)
	e := harness.NewEnsemble(t, 3, 0, "")
	e.StartAll(30 * time.Second)
	leader := e.WaitLeader(10*time.Second, 0)
	f := others(e, leader)
	w := startWriteLoad(t, e, "/load", 4)
	defer w.halt()
	w.waitMore(t, 100, 20*time.Second)

	// Crash and restart one follower while writes go on.
	e.Kill(f[0])
	w.waitMore(t, 100, 20*time.Second)
	mark := markLogs(e)
	e.Start(f[0])
	e.WaitServing(30*time.Second, f[0])
	plan := waitSyncPlan(t, e, mark, f[0], 10*time.Second)
	t.Logf("crashed follower %d resynced under load with %s", f[0], plan.Plan)
	w.waitMore(t, 100, 20*time.Second)

	// Freeze the other one longer than syncLimit, then continue it: the
	// leader drops it, it notices the dead connection and resyncs.
	e.Pause(f[1])
	w.waitMore(t, 100, 30*time.Second)
	time.Sleep(1500 * time.Millisecond)
	mark = markLogs(e)
	e.Resume(f[1])
	plan = waitSyncPlan(t, e, mark, f[1], 15*time.Second)
	t.Logf("frozen follower %d resynced under load with %s", f[1], plan.Plan)
	waitMode(t, e, f[1], "follower", 15*time.Second)
	w.waitMore(t, 100, 30*time.Second)
	w.halt()
	require.Equal(t, leader, e.Leader(), "the leader changed although it kept a quorum")
	requireAckedEverywhere(t, e, "/load", w.paths(), allIDs(e)...)
	requireSameTrees(t, e, allIDs(e)...)
}

// Leaders are killed one after another under load in a 5-node ensemble,
// each coming back as a follower before the next kill.
func TestRepeatedLeaderKills(t *testing.T) {
	skipShort(t)
	e := harness.NewEnsemble(t, 5, 0, "")
	e.StartAll(30 * time.Second)
	leader := e.WaitLeader(10*time.Second, 0)
	w := startWriteLoad(t, e, "/load", 4)
	defer w.halt()
	w.waitMore(t, 100, 20*time.Second)
	for round := 0; round < 3; round++ {
		e.Kill(leader)
		nl, took := waitLeaderAmong(t, e, 20*time.Second, others(e, leader)...)
		w.waitMore(t, 50, 30*time.Second)
		t.Logf("round %d: leader %d killed, %d leads after %v", round, leader, nl, took)
		e.Start(leader)
		e.WaitServing(30*time.Second, leader)
		w.waitMore(t, 50, 30*time.Second)
		leader = nl
	}
	w.halt()
	t.Logf("%d acknowledged writes; failed writes by error: %v", w.ackedCount(), w.errorSummary())
	requireAckedEverywhere(t, e, "/load", w.paths(), allIDs(e)...)
	requireSameTrees(t, e, allIDs(e)...)
}
