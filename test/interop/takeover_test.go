package interop

import (
	"fmt"
	"testing"

	"github.com/zkd/zkd/internal/wire"
	"github.com/zkd/zkd/test/harness"
)

// TestZooKeeperDataDirServedByZkd: Apache ZooKeeper writes a varied tree
// (its txns after the startup snapshot.0 are only in the log, so zkd must
// replay them), leaves a session with ephemerals open, and is stopped;
// zkd started on the same data directory must serve the identical tree
// (data, every stat field, ACLs) and let the open session resume.
func TestZooKeeperDataDirServedByZkd(t *testing.T) {
	harness.RequireOrSkip(t, harness.ZooKeeperAvailable())
	// With the default snapCount every txn after the startup snapshot.0
	// is only in the log; with a small one ZooKeeper also takes fuzzy
	// snapshots while the workload runs, and zkd loads the newest.
	for _, tc := range []struct {
		mode      stopMode
		snapCount int
	}{{sigterm, 0}, {sigkill, 0}, {sigterm, 60}, {sigkill, 60}, {tornTail, 60}} {
		name := tc.mode.String()
		if tc.snapCount > 0 {
			name += fmt.Sprintf("/snapCount=%d", tc.snapCount)
		}
		t.Run(name, func(t *testing.T) {
			runChain(t, tc.mode, tc.snapCount, []serverKind{zooKeeper, zkd})
		})
	}
}

// TestZkdDataDirServedByZooKeeper is the reverse, and then back again:
// zkd writes, ZooKeeper takes over and writes more (also changing zkd's
// nodes), zkd takes over again, and ZooKeeper once more. Every handover
// compares the whole tree and resumes the open session.
func TestZkdDataDirServedByZooKeeper(t *testing.T) {
	harness.RequireOrSkip(t, harness.ZooKeeperAvailable())
	// A small snapCount makes both servers take fuzzy snapshots during
	// the workload, so each loads the other's snapshots, not only logs.
	for _, mode := range []stopMode{sigterm, sigkill, tornTail} {
		t.Run(mode.String(), func(t *testing.T) {
			runChain(t, mode, 60, []serverKind{zkd, zooKeeper, zkd, zooKeeper})
		})
	}
}

// runChain starts the servers in order on one data directory. Each server
// but the first must serve exactly the tree its predecessor had when it
// was stopped and resume the session it left open; each but the last
// then writes a subtree of its own, changes its predecessor's, opens a
// session that stays alive, and is stopped as mode says.
func runChain(t *testing.T, mode stopMode, snapCount int, kinds []serverKind) {
	var extra []string
	if snapCount > 0 {
		extra = append(extra, fmt.Sprintf("snapCount=%d", snapCount))
	}
	d := newDataDir(t, extra...)
	var (
		want     []znode
		wantFrom string
		live     *liveSession
		prev     string
	)
	for i, kind := range kinds {
		name := fmt.Sprintf("%s#%d", kind, i+1)
		p := d.start(kind)
		if want != nil {
			got := dumpTree(t, p.Addr)
			t.Logf("%s on %s: %d nodes, files: %s", name, wantFrom+"'s data", len(got), d.listing())
			requireSameTree(t, wantFrom, want, name, got)
			for _, e := range live.ephemerals {
				if n, ok := findNode(got, e); !ok || n.Stat.EphemeralOwner != live.id {
					t.Fatalf("%s: ephemeral %s of the open session is missing", name, e)
				}
			}
			live.resume(t, p.Addr)
		}
		if i == len(kinds)-1 {
			p.Stop()
			break
		}
		prefix := fmt.Sprintf("/%s-%d", kind, i+1)
		populate(t, p.Addr, prefix)
		if prev != "" {
			mutate(t, p.Addr, prev)
		}
		live = openLive(t, p.Addr, prefix)
		want, wantFrom = dumpTree(t, p.Addr), name
		checkWorkload(t, name, want, prefix)
		// A last request on the open session right before the stop, so
		// its expiry clock is fresh for the next server.
		if _, err := live.rc.Call(wire.OpPing, nil); err != nil {
			t.Fatalf("ping open session: %v", err)
		}
		d.stop(p, mode)
		live.rc.Close()
		prev = prefix
	}
}

// checkWorkload spot-checks that the tree a server built holds what the
// workload meant to write, so a comparison of two equally wrong trees
// cannot pass.
func checkWorkload(t *testing.T, name string, tree []znode, prefix string) {
	t.Helper()
	get := func(path string) znode {
		t.Helper()
		n, ok := findNode(tree, path)
		if !ok {
			t.Fatalf("%s: %s missing after the workload", name, path)
		}
		return n
	}
	if n := get(prefix + "/null"); n.Data != nil {
		t.Errorf("%s: %s/null has data %q, want null", name, prefix, n.Data)
	}
	if n := get(prefix + "/empty"); n.Data == nil || len(n.Data) != 0 {
		t.Errorf("%s: %s/empty data %v, want empty", name, prefix, n.Data)
	}
	// Containers and TTL nodes report owner 0 to clients.
	for _, p := range []string{"/container", "/ttl"} {
		if n := get(prefix + p); n.Stat.EphemeralOwner != 0 {
			t.Errorf("%s: %s%s owner %#x, want 0", name, prefix, p, uint64(n.Stat.EphemeralOwner))
		}
	}
	if n := get(prefix + "/ver"); n.Stat.Version != 7 || n.Stat.Aversion != 2 || string(n.Data) != "from multi" {
		t.Errorf("%s: %s/ver version %d aversion %d data %q", name, prefix, n.Stat.Version, n.Stat.Aversion, n.Data)
	}
	if n := get(prefix + "/acl-auth"); len(n.ACL) != 2 || n.ACL[0].ID.Scheme != "digest" {
		t.Errorf("%s: %s/acl-auth ACL %s, want alice's and bob's digests", name, prefix, aclString(n.ACL))
	}
	if n := get(prefix + "/many"); n.Stat.NumChildren != 200 {
		t.Errorf("%s: %s/many has %d children", name, prefix, n.Stat.NumChildren)
	}
	if _, ok := findNode(tree, prefix+"/eph-of-closed"); ok {
		t.Errorf("%s: ephemeral of a closed session still there", name)
	}
	if _, ok := findNode(tree, prefix+"/multi/never"); ok {
		t.Errorf("%s: failed multi left a node", name)
	}
}
