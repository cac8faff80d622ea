// Package ensemble runs zkd ensembles as separate processes on loopback
// and checks Zab's guarantees through real clients.
package ensemble

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/test/harness"
)

func connect(t *testing.T, addrs ...string) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect(addrs, 4*time.Second, zk.WithLogInfo(false))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// dump reads a whole subtree: path -> data + the stat fields every member
// must agree on.
func dump(t *testing.T, c *zk.Conn, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(p string)
	walk = func(p string) {
		data, st, err := c.Get(p)
		require.NoError(t, err, p)
		out[p] = fmt.Sprintf("%q cz=%x mz=%x pz=%x v=%d cv=%d av=%d eo=%x n=%d",
			data, st.Czxid, st.Mzxid, st.Pzxid, st.Version, st.Cversion, st.Aversion, st.EphemeralOwner, st.NumChildren)
		kids, _, err := c.Children(p)
		require.NoError(t, err, p)
		sort.Strings(kids)
		for _, k := range kids {
			if p == "/" {
				walk("/" + k)
			} else {
				walk(p + "/" + k)
			}
		}
	}
	walk(root)
	return out
}

// requireSameTrees syncs each member and compares their trees.
func requireSameTrees(t *testing.T, e *harness.Ensemble, ids ...int) {
	t.Helper()
	var first map[string]string
	for _, id := range ids {
		c := connect(t, e.Member(id).ClientAddr)
		_, err := c.Sync("/")
		require.NoError(t, err)
		d := dump(t, c, "/")
		if first == nil {
			first = d
			continue
		}
		require.Equal(t, first, d, "member %d differs from member %d", id, ids[0])
	}
}

// Zab elects one leader; writes through any member are visible on all
// after sync; a killed leader is replaced and the old one catches up.
func TestThreeNodesElectWriteFailOverAndCatchUp(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process ensemble test")
	}
	e := harness.NewEnsemble(t, 3, 0, "")
	e.StartAll(30 * time.Second)
	leader := e.WaitLeader(10*time.Second, 0)
	t.Logf("leader is %d", leader)
	follower := 1
	if follower == leader {
		follower = 2
	}
	c := connect(t, e.Member(follower).ClientAddr)
	_, err := c.Create("/a", []byte("1"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err, e.Logs())
	for i := 0; i < 50; i++ {
		_, err := c.Create(fmt.Sprintf("/a/n%02d", i), []byte("x"), 0, zk.WorldACL(zk.PermAll))
		require.NoError(t, err)
	}
	_, err = c.Set("/a", []byte("2"), 0)
	require.NoError(t, err)
	requireSameTrees(t, e, 1, 2, 3)

	e.Kill(leader)
	start := time.Now()
	newLeader := e.WaitLeader(20*time.Second, leader)
	t.Logf("new leader %d after %v", newLeader, time.Since(start))
	var rest []int
	for _, m := range e.Members {
		if m.ID != leader {
			rest = append(rest, m.ID)
		}
	}
	e.WaitServing(20*time.Second, rest...)
	c2 := connect(t, e.Member(rest[0]).ClientAddr, e.Member(rest[1]).ClientAddr)
	_, err = c2.Create("/after", []byte("y"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err, e.Logs())

	e.Start(leader)
	e.WaitServing(30*time.Second, leader)
	requireSameTrees(t, e, 1, 2, 3)
}
