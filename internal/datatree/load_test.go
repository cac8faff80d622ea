package datatree

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

// buildVariedTree makes a tree with every node kind, a changed ACL, a
// reconfigured /zookeeper/config and some deletes behind it.
func buildVariedTree(t *testing.T) *Tree {
	t.Helper()
	tr := New(nil)
	mustCreate(t, tr, 1, "/app", "root data")
	mustCreate(t, tr, 2, "/app/x", "")
	mustCreate(t, tr, 3, "/app/gone", "")
	require.Equal(t, wire.OK, applyAt(tr, wire.OpDelete, 4, &wire.DeleteTxn{Path: "/app/gone"}).Err)
	require.Equal(t, wire.OK, tr.Apply(hdrFor(wire.OpCreate, 5, sessA), &wire.CreateTxn{Path: "/app/e1", Data: []byte("e"), ACL: wire.OpenACLUnsafe, Ephemeral: true, ParentCVersion: -1}).Err)
	require.Equal(t, wire.OK, tr.Apply(hdrFor(wire.OpCreate, 6, sessB), &wire.CreateTxn{Path: "/e2", ACL: wire.OpenACLUnsafe, Ephemeral: true, ParentCVersion: -1}).Err)
	require.Equal(t, wire.OK, applyAt(tr, wire.OpCreateContainer, 7, &wire.CreateContainerTxn{Path: "/app/c", ACL: wire.OpenACLUnsafe, ParentCVersion: -1}).Err)
	require.Equal(t, wire.OK, applyAt(tr, wire.OpCreateTTL, 8, &wire.CreateTTLTxn{Path: "/app/c/t", Data: []byte("ttl"), ACL: wire.OpenACLUnsafe, ParentCVersion: -1, TTL: 10000}).Err)
	require.Equal(t, wire.OK, applyAt(tr, wire.OpSetACL, 9, &wire.SetACLTxn{Path: "/app/x", ACL: digestACL, Version: 1}).Err)
	require.Equal(t, wire.OK, applyAt(tr, wire.OpSetData, 10, &wire.SetDataTxn{Path: "/app", Data: []byte("v2"), Version: 1}).Err)
	require.Equal(t, wire.OK, applyAt(tr, wire.OpReconfig, 11, &wire.SetDataTxn{Path: ConfigPath, Data: []byte("server.1=h:2888:3888;2181"), Version: -1}).Err)
	mustCreate(t, tr, 12, "/zookeeper/quota/app", "")
	return tr
}

// loadFromWalk copies src into a fresh tree the way a snapshot restore
// does, naming the root "" as ZooKeeper's snapshots do (storage.md §4.4).
func loadFromWalk(t *testing.T, src *Tree) *Tree {
	t.Helper()
	dst := New(nil)
	l := NewLoader(dst)
	require.NoError(t, src.Walk(func(path string, data []byte, acl []wire.ACL, stat wire.StatPersisted) error {
		if path == RootPath {
			path = ""
		}
		return l.Add(path, data, acl, stat)
	}))
	l.Finish()
	dst.SetLastZxid(src.LastZxid())
	return dst
}

func TestLoaderRebuildsTheTreeASnapshotWalkDescribes(t *testing.T) {
	src := buildVariedTree(t)
	dst := loadFromWalk(t, src)

	t.Run("every node's data, ACL, stored stat, client stat and children come back", func(t *testing.T) {
		require.Equal(t, dumpTree(t, src), dumpTree(t, dst))
	})
	t.Run("NodeCount and ApproximateDataSize match the source", func(t *testing.T) {
		require.Equal(t, src.NodeCount(), dst.NodeCount())
		require.Equal(t, src.ApproximateDataSize(), dst.ApproximateDataSize())
	})
	t.Run("the ephemerals of each session are rebuilt from ephemeralOwner", func(t *testing.T) {
		require.Equal(t, map[int64][]string{sessA: {"/app/e1"}, sessB: {"/e2"}}, dst.EphemeralSessions())
		require.Equal(t, 2, dst.EphemeralCount())
	})
	t.Run("containers and TTL nodes are known to the reaper again", func(t *testing.T) {
		sp := dst.SpecialNodes()
		require.Len(t, sp, 2)
		require.Equal(t, "/app/c", sp[0].Path)
		require.Equal(t, Container, sp[0].Kind)
		require.Equal(t, "/app/c/t", sp[1].Path)
		require.Equal(t, TTL, sp[1].Kind)
	})
	t.Run("the special nodes take the snapshot's content", func(t *testing.T) {
		data, st, err := dst.GetData(ConfigPath, nil)
		require.NoError(t, err)
		require.Equal(t, "server.1=h:2888:3888;2181", string(data))
		require.Equal(t, int32(-1), st.Version)
		require.Equal(t, int32(-1), st.Aversion)
	})
	t.Run("the loaded tree applies the next txn as the source does", func(t *testing.T) {
		for _, tr := range []*Tree{src, dst} {
			require.Equal(t, wire.OK, tr.Apply(hdrFor(wire.OpCloseSession, 20, sessA), &wire.CloseSessionTxn{}).Err)
			require.Equal(t, wire.OK, applyAt(tr, wire.OpCreate, 21, createTxn("/app/n", "", 6)).Err)
		}
		require.Equal(t, dumpTree(t, src), dumpTree(t, dst))
	})
}

func TestLoaderAcceptsTheRootAsEmptyOrSlash(t *testing.T) {
	for _, root := range []string{"", "/"} {
		t.Run("root named "+`"`+root+`"`, func(t *testing.T) {
			tr := New(nil)
			l := NewLoader(tr)
			rootStat := wire.StatPersisted{Cversion: 3, Pzxid: 9}
			require.NoError(t, l.Add(root, nil, wire.OpenACLUnsafe, rootStat))
			require.NoError(t, l.Add("/a", []byte("abc"), wire.OpenACLUnsafe, wire.StatPersisted{Czxid: 9, Mzxid: 9, Pzxid: 9}))
			require.Equal(t, rootStat, stored(t, tr, "/"))
			kids, st, err := tr.GetChildren("/", nil)
			require.NoError(t, err)
			require.Equal(t, []string{"a", "zookeeper"}, kids)
			require.Equal(t, int32(2*3-2), st.Cversion)
			require.Equal(t, 6, tr.NodeCount())
			require.Equal(t, int64(44+len("/a")+3), tr.ApproximateDataSize())
		})
	}
}

func TestLoaderRefusesANodeWhoseParentWasNotLoadedFirst(t *testing.T) {
	// A snapshot is a pre-order walk (storage.md §4.4); anything else is
	// corrupt and must not produce an orphan.
	tr := New(nil)
	l := NewLoader(tr)
	err := l.Add("/a/b", nil, wire.OpenACLUnsafe, wire.StatPersisted{})
	require.Error(t, err)
	require.Contains(t, err.Error(), `"/a/b"`)
	require.Contains(t, err.Error(), `"/a"`)
	require.Equal(t, 5, tr.NodeCount())
	_, ok := tr.Info("/a/b")
	require.False(t, ok)
}

func TestLoaderReplacingASpecialNodeAdjustsTheDataSize(t *testing.T) {
	tr := New(nil)
	l := NewLoader(tr)
	require.NoError(t, l.Add(ConfigPath, []byte("cfg"), wire.ReadACLUnsafe, wire.StatPersisted{Aversion: -1, Version: -1}))
	require.Equal(t, int64(44+3), tr.ApproximateDataSize())
	require.Equal(t, 5, tr.NodeCount())
	require.NoError(t, l.Add(ConfigPath, nil, wire.ReadACLUnsafe, wire.StatPersisted{Aversion: -1}))
	require.Equal(t, int64(44), tr.ApproximateDataSize())
}

func TestDropEphemeralsExceptDeletesTheNodesOfSessionsThatDidNotSurvive(t *testing.T) {
	// ZooKeeperServer.loadData: after restore, ephemerals whose session is
	// not in the session table are deleted at the restored zxid.
	const sessC int64 = 0x100000000000003
	tr := New(nil)
	mustCreate(t, tr, 1, "/p", "")
	for i, e := range []struct {
		path  string
		owner int64
	}{{"/p/a1", sessA}, {"/p/a2", sessA}, {"/p/b1", sessB}, {"/c1", sessC}} {
		require.Equal(t, wire.OK, tr.Apply(hdrFor(wire.OpCreate, int64(2+i), e.owner), &wire.CreateTxn{Path: e.path, Data: []byte("d"), Ephemeral: true, ParentCVersion: -1}).Err)
	}
	w := newRecorder(1)
	_, _, err := tr.GetChildren("/p", w)
	require.NoError(t, err)

	dropped := tr.DropEphemeralsExcept(map[int64]bool{sessB: true}, 50)
	sort.Strings(dropped)
	require.Equal(t, []string{"/c1", "/p/a1", "/p/a2"}, dropped)
	require.Equal(t, map[int64][]string{sessB: {"/p/b1"}}, tr.EphemeralSessions())
	require.Equal(t, 1, tr.EphemeralCount())
	require.Equal(t, int64(50), stored(t, tr, "/p").Pzxid)
	require.Equal(t, int64(50), stored(t, tr, "/").Pzxid)
	require.Equal(t, []string{"/", "/p", "/p/b1", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"}, walkPaths(t, tr))
	require.Equal(t, []event{{"/p", wire.EventNodeChildrenChanged, 50}}, w.got())

	require.Empty(t, tr.DropEphemeralsExcept(map[int64]bool{sessB: true}, 51), "a second pass finds nothing")
	require.Equal(t, []string{"/p/b1"}, tr.DropEphemeralsExcept(nil, 52))
	require.Equal(t, 0, tr.EphemeralCount())
}
