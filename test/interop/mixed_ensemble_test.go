package interop

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/test/harness"
)

// zkd speaks ZooKeeper's election and Zab packets, so zkd servers and
// Apache ZooKeeper 3.8 servers form one ensemble: two zkd members and one
// ZooKeeper member elect a leader, replicate writes made through any of
// them, and survive the loss of the leader whichever implementation it is.
func TestMixedEnsembleWithApacheZooKeeper(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process ensemble test")
	}
	harness.RequireOrSkip(t, harness.ZooKeeperAvailable())
	e := harness.NewEnsemble(t, 3, 0, "")
	e.Start(1)
	e.Start(2)
	e.StartWith(3, "java", harness.ZooKeeperQuorumArgs())
	e.WaitServing(60*time.Second, 1, 2, 3)

	conns := map[int]*zk.Conn{}
	for id := 1; id <= 3; id++ {
		c, _, err := zk.Connect([]string{e.Member(id).ClientAddr}, 5*time.Second, zk.WithLogInfo(false))
		require.NoError(t, err)
		t.Cleanup(c.Close)
		conns[id] = c
	}
	for id, c := range conns {
		_, err := c.Create(fmt.Sprintf("/via%d", id), []byte{byte(id)}, 0, zk.WorldACL(zk.PermAll))
		require.NoError(t, err, "write through member %d\n%s", id, e.Logs())
	}
	requireSameChildren(t, conns)

	// Kill whoever leads, then write through the survivors.
	leader := waitAnyLeader(t, e)
	t.Logf("leader is member %d (%s)", leader, map[bool]string{true: "Apache ZooKeeper", false: "zkd"}[leader == 3])
	e.Kill(leader)
	delete(conns, leader)
	deadline := time.Now().Add(30 * time.Second)
	for id, c := range conns {
		for {
			_, err := c.Create(fmt.Sprintf("/after%d", id), nil, 0, zk.WorldACL(zk.PermAll))
			if err == nil || err == zk.ErrNodeExists {
				break
			}
			require.True(t, time.Now().Before(deadline), "no write through member %d after the leader died: %v\n%s", id, err, e.Logs())
			time.Sleep(200 * time.Millisecond)
		}
	}
	requireSameChildren(t, conns)
}

func waitAnyLeader(t *testing.T, e *harness.Ensemble) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range e.Members {
			if m.Running() && m.Proc().Mode() == "leader" {
				return m.ID
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no leader\n%s", e.Logs())
	return 0
}

func requireSameChildren(t *testing.T, conns map[int]*zk.Conn) {
	t.Helper()
	var want []string
	for id, c := range conns {
		_, err := c.Sync("/")
		require.NoError(t, err)
		kids, _, err := c.Children("/")
		require.NoError(t, err)
		sort.Strings(kids)
		if want == nil {
			want = kids
			continue
		}
		require.Equal(t, want, kids, "member %d", id)
	}
}
