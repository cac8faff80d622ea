package interop

import (
	"testing"

	"github.com/zkd/zkd/test/harness"
)

// TestQuotaStatsAcrossTakeover: ZooKeeper keeps
// /zookeeper/quota/<path>/zookeeper_stats up to date in memory (no txn)
// and recounts it when it loads a snapshot; zkd does the same, so after
// either server takes over the other's dataDir the stats node, like every
// other node, is what the first server served.
func TestQuotaStatsAcrossTakeover(t *testing.T) {
	harness.RequireOrSkip(t, harness.ZooKeeperAvailable())
	for _, kinds := range [][]serverKind{{zooKeeper, zkd}, {zkd, zooKeeper}} {
		t.Run(string(kinds[0])+" to "+string(kinds[1]), func(t *testing.T) {
			d := newDataDir(t)
			p := d.start(kinds[0])
			c := connect(t, p.Addr)
			// What zkCli's setquota -n 10 /q writes.
			for _, n := range []struct{ path, data string }{
				{"/q", ""},
				{"/zookeeper/quota/q", ""},
				{"/zookeeper/quota/q/zookeeper_limits", "count=10,bytes=-1"},
				{"/zookeeper/quota/q/zookeeper_stats", "count=0,bytes=0"},
				{"/q/a", "12345"},
				{"/q/b", "1234567"},
			} {
				if _, err := c.Create(n.path, []byte(n.data), 0, open); err != nil {
					t.Fatalf("create %s: %v", n.path, err)
				}
			}
			c.Close()
			want := dumpTree(t, p.Addr)
			p.Stop()
			p = d.start(kinds[1])
			requireSameTree(t, string(kinds[0]), want, string(kinds[1]), dumpTree(t, p.Addr))
		})
	}
}
