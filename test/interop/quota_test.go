package interop

import (
	"os"
	"testing"

	"github.com/zkd/zkd/test/harness"
)

// TestQuotaStatsAcrossTakeover reproduces a known gap: ZooKeeper keeps
// /zookeeper/quota/<path>/zookeeper_stats up to date (in memory, no txn,
// recomputed when a snapshot is loaded), zkd does not maintain quota
// stats, so the stats node differs after a takeover in either direction.
// Skipped unless INTEROP_QUOTA is set.
func TestQuotaStatsAcrossTakeover(t *testing.T) {
	if os.Getenv("INTEROP_QUOTA") == "" {
		t.Skip("zkd does not maintain quota stats nodes yet; set INTEROP_QUOTA=1 to run")
	}
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
