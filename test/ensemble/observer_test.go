package ensemble

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/test/harness"
)

// Observers forward writes, see every write, report Mode: observer, and
// are not needed by the quorum.
func TestObserver(t *testing.T) {
	skipShort(t)
	e := harness.NewEnsemble(t, 3, 1, "")
	e.StartAll(30 * time.Second)
	leader := e.WaitLeader(10*time.Second, 0)
	const obs = 4
	require.Equal(t, "observer", e.Member(obs).Proc().Mode())

	co := connectMembers(t, e, obs)
	_, err := co.Create("/o", []byte("x"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err, e.Logs())
	acked := createN(t, co, "/o", "viaobserver", 30)
	// Writes through the voters reach the observer too.
	cv := connectMembers(t, e, others(e, obs)...)
	acked = append(acked, createN(t, cv, "/o", "viavoters", 30)...)
	requireAckedEverywhere(t, e, "/o", acked, allIDs(e)...)
	requireSameTrees(t, e, allIDs(e)...)

	// Without the observer the voters carry on.
	e.Kill(obs)
	acked = append(acked, createN(t, cv, "/o", "withoutobserver", 30)...)
	requireAckedEverywhere(t, e, "/o", acked, others(e, obs)...)

	// Back, it catches up, and it follows a new leader after failover.
	e.Start(obs)
	e.WaitServing(30*time.Second, obs)
	require.Equal(t, "observer", e.Member(obs).Proc().Mode())
	requireSameTrees(t, e, allIDs(e)...)
	e.Kill(leader)
	rest := others(e, leader)
	e.WaitServing(30*time.Second, rest...)
	nl := e.WaitLeader(20*time.Second, leader)
	require.NotEqual(t, obs, nl)
	waitMode(t, e, obs, "observer", 20*time.Second)
	co2 := connectMembers(t, e, obs)
	acked = append(acked, createN(t, co2, "/o", "afterfailover", 30)...)
	requireAckedEverywhere(t, e, "/o", acked, rest...)
	requireSameTrees(t, e, rest...)
}
