package ensemble

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/test/harness"
)

// Quota stats are changed by each member as it applies the same txns, with
// no txn of their own, and recounted by a member that reloads its tree, so
// every member, including one that was down and caught up, serves the same
// zookeeper_stats; a hard limit fails writes through any member.
func TestQuotaStatsAgreeOnEveryMember(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process ensemble test")
	}
	e := harness.NewEnsemble(t, 3, 0, "zookeeper.enforceQuota=true")
	e.StartAll(30 * time.Second)
	leader := e.WaitLeader(10*time.Second, 0)
	follower := others(e, leader)[0]
	c := connect(t, e.Member(follower).ClientAddr)
	open := zk.WorldACL(zk.PermAll)
	for _, n := range []struct{ path, data string }{
		{"/q", "abc"},
		{"/zookeeper/quota/q", ""},
		{"/zookeeper/quota/q/zookeeper_limits", "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=40"},
		{"/zookeeper/quota/q/zookeeper_stats", "count=0,bytes=0"},
	} {
		_, err := c.Create(n.path, []byte(n.data), 0, open)
		require.NoError(t, err, e.Logs())
	}
	for i := 0; i < 20; i++ {
		_, err := c.Create(fmt.Sprintf("/q/a%02d", i), []byte("xy"), 0, open)
		require.NoError(t, err)
	}
	requireSameTrees(t, e, allIDs(e)...)

	// A member that misses writes catches up by replaying them (or loading
	// the leader's snapshot) and agrees again.
	lagger := others(e, leader, follower)[0]
	e.Kill(lagger)
	for i := 20; i < 39; i++ {
		_, err := c.Create(fmt.Sprintf("/q/a%02d", i), []byte("xyz"), 0, open)
		require.NoError(t, err)
	}
	_, err := c.Create("/q/over", nil, 0, open)
	require.ErrorContains(t, err, "-125", "QuotaExceeded through a follower")
	e.Start(lagger)
	e.WaitServing(30*time.Second, lagger)
	requireSameTrees(t, e, allIDs(e)...)
	data, _, err := connect(t, e.Member(lagger).ClientAddr).Get("/zookeeper/quota/q/zookeeper_stats")
	require.NoError(t, err)
	require.Equal(t, "count=40,bytes=100", string(data))
}
