package datatree

import (
	"errors"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

// asInt64 reinterprets an unsigned bit pattern, so markers can be written
// the way storage.md prints them (0xff00000000002710).
func asInt64(x uint64) int64 { return int64(x) }

// nodeDump is everything a client or a snapshot could observe of a node.
type nodeDump struct {
	Data     string
	ACL      []wire.ACL
	Stat     wire.StatPersisted
	Client   wire.Stat
	Children []string
}

// treeDump is everything observable of a tree except LastZxid, which
// moves for every txn, failed or not.
type treeDump struct {
	Nodes      map[string]nodeDump
	NodeCount  int
	DataSize   int64
	Ephemerals map[int64][]string
	Special    []string
}

func dumpTree(t testing.TB, tr *Tree) treeDump {
	t.Helper()
	d := treeDump{
		Nodes:      map[string]nodeDump{},
		NodeCount:  tr.NodeCount(),
		DataSize:   tr.ApproximateDataSize(),
		Ephemerals: tr.EphemeralSessions(),
	}
	require.NoError(t, tr.Walk(func(path string, data []byte, acl []wire.ACL, stat wire.StatPersisted) error {
		kids, cst, err := tr.GetChildren(path, nil)
		require.NoError(t, err)
		d.Nodes[path] = nodeDump{Data: string(data), ACL: acl, Stat: stat, Client: cst, Children: kids}
		return nil
	}))
	for _, c := range tr.SpecialNodes() {
		d.Special = append(d.Special, c.Path)
	}
	return d
}

func TestNewTreeHoldsTheNodesOfDataTreesConstructor(t *testing.T) {
	tr := New(nil)

	t.Run("the tree counts five nodes because ZooKeeper stores the root under both \"\" and \"/\"", func(t *testing.T) {
		require.Equal(t, 5, tr.NodeCount())
	})
	t.Run("the approximate data size is the sum of path lengths, \"\" counting 0", func(t *testing.T) {
		require.Equal(t, int64(len("/")+len("/zookeeper")+len("/zookeeper/quota")+len("/zookeeper/config")), tr.ApproximateDataSize())
	})
	t.Run("the root shows cversion -1 with its one child, as stat / does on a fresh ZooKeeper", func(t *testing.T) {
		require.Equal(t, wire.Stat{Cversion: -1, NumChildren: 1}, client(t, tr, "/"))
		acl, _, err := tr.GetACL("/")
		require.NoError(t, err)
		require.Equal(t, wire.OpenACLUnsafe, acl)
	})
	t.Run("/zookeeper shows cversion -2 with quota and config as children", func(t *testing.T) {
		kids, st, err := tr.GetChildren(ZooKeeperPath, nil)
		require.NoError(t, err)
		require.Equal(t, []string{"config", "quota"}, kids)
		require.Equal(t, wire.Stat{Cversion: -2, NumChildren: 2}, st)
	})
	t.Run("/zookeeper/quota is an empty open node", func(t *testing.T) {
		require.Equal(t, wire.Stat{}, client(t, tr, QuotaPath))
		acl, _, err := tr.GetACL(QuotaPath)
		require.NoError(t, err)
		require.Equal(t, wire.OpenACLUnsafe, acl)
	})
	t.Run("/zookeeper/config has aversion -1 and a world READ ACL (DataTree.addConfigNode, ZOOKEEPER-2014)", func(t *testing.T) {
		data, st, err := tr.GetData(ConfigPath, nil)
		require.NoError(t, err)
		require.Empty(t, data)
		require.Equal(t, wire.Stat{Aversion: -1}, st)
		acl, _, err := tr.GetACL(ConfigPath)
		require.NoError(t, err)
		require.Equal(t, []wire.ACL{{Perms: wire.PermRead, ID: wire.Id{Scheme: "world", ID: "anyone"}}}, acl)
	})
	t.Run("the root has three descendants, which is what getAllChildrenNumber / answers (nodes.size() - 2)", func(t *testing.T) {
		n, err := tr.AllChildrenNumber("/")
		require.NoError(t, err)
		require.Equal(t, 3, n)
	})
	t.Run("no txn has been applied, so the last zxid is 0", func(t *testing.T) {
		require.Equal(t, int64(0), tr.LastZxid())
	})
}

type applyCase struct {
	name  string
	setup func(t *testing.T, tr *Tree)
	hdr   *wire.TxnHeader
	rec   wire.Record
	want  Result
	// unchanged says the txn must leave every node and counter as it was.
	unchanged bool
	check     func(t *testing.T, tr *Tree)
}

func runApplyCases(t *testing.T, cases []applyCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(nil)
			if tc.setup != nil {
				tc.setup(t, tr)
			}
			before := dumpTree(t, tr)
			wantZxid := max(tr.LastZxid(), tc.hdr.Zxid)
			got := tr.Apply(tc.hdr, tc.rec)
			require.Equal(t, tc.want, got)
			if tc.unchanged {
				require.Equal(t, before, dumpTree(t, tr))
			}
			require.Equal(t, wantZxid, tr.LastZxid(), "every applied txn, failed or not, moves lastProcessedZxid up")
			if tc.check != nil {
				tc.check(t, tr)
			}
		})
	}
}

const (
	sessA int64 = 0x100000000000001
	sessB int64 = 0x100000000000002
)

var digestACL = []wire.ACL{{Perms: wire.PermRead | wire.PermWrite, ID: wire.Id{Scheme: "digest", ID: "bob:Zm9v"}}}

func TestApplyCreate(t *testing.T) {
	t10 := timeOf(10)
	runApplyCases(t, []applyCase{
		{
			name: "create stores czxid=mzxid=pzxid=zxid and ctime=mtime=txn time (DataTree.createNode)",
			hdr:  hdrFor(wire.OpCreate, 10, sessA),
			rec:  createTxn("/a", "hello", 1),
			want: Result{Type: wire.OpCreate, Path: "/a", Stat: wire.Stat{
				Czxid: 10, Mzxid: 10, Ctime: t10, Mtime: t10, DataLength: 5, Pzxid: 10}},
			check: func(t *testing.T, tr *Tree) {
				require.Equal(t, wire.StatPersisted{Czxid: 10, Mzxid: 10, Ctime: t10, Mtime: t10, Pzxid: 10}, stored(t, tr, "/a"))
				root := stored(t, tr, "/")
				require.Equal(t, int32(1), root.Cversion)
				require.Equal(t, int64(10), root.Pzxid)
				// stored 1 create, 2 live children (zookeeper, a): 2*1-2.
				require.Equal(t, int32(0), client(t, tr, "/").Cversion)
				require.Equal(t, 6, tr.NodeCount())
				require.Equal(t, int64(44+len("/a")+len("hello")), tr.ApproximateDataSize())
				data, _, err := tr.GetData("/a", nil)
				require.NoError(t, err)
				require.Equal(t, "hello", string(data))
				acl, _, err := tr.GetACL("/a")
				require.NoError(t, err)
				require.Equal(t, wire.OpenACLUnsafe, acl)
			},
		},
		{
			name: "create2 changes the tree as create does and answers the same stat",
			hdr:  hdrFor(wire.OpCreate2, 10, sessA),
			rec:  createTxn("/a", "", 1),
			want: Result{Type: wire.OpCreate2, Path: "/a", Stat: wire.Stat{
				Czxid: 10, Mzxid: 10, Ctime: t10, Mtime: t10, Pzxid: 10}},
		},
		{
			name: "create sets the parent's cversion to the txn's parentCVersion and its pzxid to the zxid; the client sees creates+deletes (wire.md §7.1: 7 creates, 1 delete -> 8)",
			setup: func(t *testing.T, tr *Tree) {
				mustCreate(t, tr, 1, "/p", "")
				for i, name := range []string{"a", "b", "c", "d", "e", "f"} {
					mustCreate(t, tr, int64(2+i), "/p/"+name, "")
				}
				require.Equal(t, wire.OK, applyAt(tr, wire.OpDelete, 8, &wire.DeleteTxn{Path: "/p/a"}).Err)
			},
			hdr: hdrFor(wire.OpCreate, 10, sessA),
			rec: createTxn("/p/g", "", 7),
			want: Result{Type: wire.OpCreate, Path: "/p/g", Stat: wire.Stat{
				Czxid: 10, Mzxid: 10, Ctime: t10, Mtime: t10, Pzxid: 10}},
			check: func(t *testing.T, tr *Tree) {
				p := stored(t, tr, "/p")
				require.Equal(t, int32(7), p.Cversion)
				require.Equal(t, int64(10), p.Pzxid)
				st := client(t, tr, "/p")
				require.Equal(t, int32(8), st.Cversion)
				require.Equal(t, int32(6), st.NumChildren)
			},
		},
		{
			name: "create with parentCVersion -1 (a pre-3.x CreateTxnV0) bumps the parent's cversion by one",
			setup: func(t *testing.T, tr *Tree) {
				mustCreate(t, tr, 1, "/p", "")
				mustCreate(t, tr, 2, "/p/a", "")
			},
			hdr:  hdrFor(wire.OpCreate, 10, sessA),
			rec:  createTxn("/p/b", "", -1),
			want: Result{Type: wire.OpCreate, Path: "/p/b", Stat: wire.Stat{Czxid: 10, Mzxid: 10, Ctime: t10, Mtime: t10, Pzxid: 10}},
			check: func(t *testing.T, tr *Tree) {
				p := stored(t, tr, "/p")
				require.Equal(t, int32(2), p.Cversion)
				require.Equal(t, int64(10), p.Pzxid)
			},
		},
		{
			name: "a replayed create whose parentCVersion is not above the parent's leaves the parent's cversion and pzxid alone (fuzzy snapshot replay, DataTree.createNode)",
			setup: func(t *testing.T, tr *Tree) {
				mustCreate(t, tr, 1, "/p", "")
				require.Equal(t, wire.OK, applyAt(tr, wire.OpCreate, 2, createTxn("/p/a", "", 1)).Err)
				require.Equal(t, wire.OK, applyAt(tr, wire.OpCreate, 3, createTxn("/p/x", "", 2)).Err)
			},
			hdr:  hdrFor(wire.OpCreate, 10, sessA),
			rec:  createTxn("/p/b", "", 2),
			want: Result{Type: wire.OpCreate, Path: "/p/b", Stat: wire.Stat{Czxid: 10, Mzxid: 10, Ctime: t10, Mtime: t10, Pzxid: 10}},
			check: func(t *testing.T, tr *Tree) {
				p := stored(t, tr, "/p")
				require.Equal(t, int32(2), p.Cversion)
				require.Equal(t, int64(3), p.Pzxid)
				require.Equal(t, int32(2*2-3), client(t, tr, "/p").Cversion)
			},
		},
		{
			name: "create of an ephemeral stores the header's session as ephemeralOwner and lists the path under that session",
			setup: func(t *testing.T, tr *Tree) {
				mustCreate(t, tr, 1, "/p", "")
			},
			hdr:  hdrFor(wire.OpCreate, 10, sessA),
			rec:  &wire.CreateTxn{Path: "/p/e", Data: []byte("x"), ACL: wire.OpenACLUnsafe, Ephemeral: true, ParentCVersion: 1},
			want: Result{Type: wire.OpCreate, Path: "/p/e", Stat: wire.Stat{Czxid: 10, Mzxid: 10, Ctime: t10, Mtime: t10, EphemeralOwner: sessA, DataLength: 1, Pzxid: 10}},
			check: func(t *testing.T, tr *Tree) {
				require.Equal(t, sessA, stored(t, tr, "/p/e").EphemeralOwner)
				require.Equal(t, []string{"/p/e"}, tr.Ephemerals(sessA))
				require.Empty(t, tr.Ephemerals(sessB))
				require.Equal(t, map[int64][]string{sessA: {"/p/e"}}, tr.EphemeralSessions())
				require.Equal(t, 1, tr.EphemeralCount())
				require.Empty(t, tr.SpecialNodes())
			},
		},
		{
			name: "create of a container stores the 0x8000000000000000 marker but clients see ephemeralOwner 0 (EphemeralType.CONTAINER)",
			hdr:  hdrFor(wire.OpCreateContainer, 10, sessA),
			rec:  &wire.CreateContainerTxn{Path: "/c", Data: []byte("cc"), ACL: wire.OpenACLUnsafe, ParentCVersion: 1},
			want: Result{Type: wire.OpCreateContainer, Path: "/c", Stat: wire.Stat{Czxid: 10, Mzxid: 10, Ctime: t10, Mtime: t10, DataLength: 2, Pzxid: 10}},
			check: func(t *testing.T, tr *Tree) {
				require.Equal(t, asInt64(0x8000000000000000), stored(t, tr, "/c").EphemeralOwner)
				require.Equal(t, int64(0), client(t, tr, "/c").EphemeralOwner)
				sp := tr.SpecialNodes()
				require.Len(t, sp, 1)
				require.Equal(t, "/c", sp[0].Path)
				require.Equal(t, Container, sp[0].Kind)
				require.Equal(t, 2, sp[0].Info.DataLen)
				require.Equal(t, 0, tr.EphemeralCount(), "a container is not an ephemeral")
			},
		},
		{
			name: "create of a TTL node stores 0xFF00..|ttl (ttl 10000 -> 0xff00000000002710) but clients see ephemeralOwner 0",
			hdr:  hdrFor(wire.OpCreateTTL, 10, sessA),
			rec:  &wire.CreateTTLTxn{Path: "/t", ACL: wire.OpenACLUnsafe, ParentCVersion: 1, TTL: 10000},
			want: Result{Type: wire.OpCreateTTL, Path: "/t", Stat: wire.Stat{Czxid: 10, Mzxid: 10, Ctime: t10, Mtime: t10, Pzxid: 10}},
			check: func(t *testing.T, tr *Tree) {
				owner := stored(t, tr, "/t").EphemeralOwner
				require.Equal(t, asInt64(0xff00000000002710), owner)
				require.Equal(t, TTL, KindOf(owner))
				require.Equal(t, int64(10000), TTLOf(owner))
				sp := tr.SpecialNodes()
				require.Len(t, sp, 1)
				require.Equal(t, TTL, sp[0].Kind)
				require.Equal(t, 0, tr.EphemeralCount(), "a TTL node is not an ephemeral")
			},
		},
		{
			name:      "create under a missing parent is NoNode and changes nothing",
			hdr:       hdrFor(wire.OpCreate, 10, sessA),
			rec:       createTxn("/missing/a", "x", 1),
			want:      Result{Type: wire.OpCreate, Err: wire.ErrNoNode},
			unchanged: true,
		},
		{
			name: "create of an existing node is NodeExists and still raises the parent's cversion and pzxid (DataTree.processTxn, for fuzzy-snapshot replay)",
			setup: func(t *testing.T, tr *Tree) {
				mustCreate(t, tr, 1, "/a", "old")
			},
			hdr:  hdrFor(wire.OpCreate, 10, sessA),
			rec:  createTxn("/a", "new", 5),
			want: Result{Type: wire.OpCreate, Err: wire.ErrNodeExists},
			check: func(t *testing.T, tr *Tree) {
				_, st, err := tr.GetData("/", nil)
				require.NoError(t, err)
				require.Equal(t, int32(2*5-2), st.Cversion)
				require.Equal(t, int64(10), st.Pzxid)
				data, _, err := tr.GetData("/a", nil)
				require.NoError(t, err)
				require.Equal(t, "old", string(data))
			},
		},
		{
			name: "create of an ephemeral that exists is NodeExists and does not list it under the new session",
			setup: func(t *testing.T, tr *Tree) {
				require.Equal(t, wire.OK, tr.Apply(hdrFor(wire.OpCreate, 1, sessA), &wire.CreateTxn{Path: "/e", Ephemeral: true, ParentCVersion: 1}).Err)
			},
			hdr:  hdrFor(wire.OpCreate, 10, sessB),
			rec:  &wire.CreateTxn{Path: "/e", Ephemeral: true, ParentCVersion: 2},
			want: Result{Type: wire.OpCreate, Err: wire.ErrNodeExists},
			check: func(t *testing.T, tr *Tree) {
				require.Equal(t, []string{"/e"}, tr.Ephemerals(sessA))
				require.Empty(t, tr.Ephemerals(sessB))
			},
		},
		{
			name: "create under /zookeeper is allowed (wire.md §13: clients may create there in 3.8)",
			hdr:  hdrFor(wire.OpCreate, 10, sessA),
			rec:  createTxn("/zookeeper/mine", "", 1),
			want: Result{Type: wire.OpCreate, Path: "/zookeeper/mine", Stat: wire.Stat{Czxid: 10, Mzxid: 10, Ctime: t10, Mtime: t10, Pzxid: 10}},
			check: func(t *testing.T, tr *Tree) {
				kids, st, err := tr.GetChildren(ZooKeeperPath, nil)
				require.NoError(t, err)
				require.Equal(t, []string{"config", "mine", "quota"}, kids)
				require.Equal(t, wire.Stat{Cversion: 2*1 - 3, NumChildren: 3, Pzxid: 10}, st)
			},
		},
		{
			name: "create with null data (length -1 on the wire) has dataLength 0",
			hdr:  hdrFor(wire.OpCreate, 10, sessA),
			rec:  &wire.CreateTxn{Path: "/n", ACL: wire.OpenACLUnsafe, ParentCVersion: 1},
			want: Result{Type: wire.OpCreate, Path: "/n", Stat: wire.Stat{Czxid: 10, Mzxid: 10, Ctime: t10, Mtime: t10, Pzxid: 10}},
			check: func(t *testing.T, tr *Tree) {
				require.Equal(t, int64(44+len("/n")), tr.ApproximateDataSize())
			},
		},
		{
			name: "create of a grandchild makes the parent's pzxid move, not the grandparent's",
			setup: func(t *testing.T, tr *Tree) {
				mustCreate(t, tr, 1, "/a", "")
				mustCreate(t, tr, 2, "/a/b", "")
			},
			hdr:  hdrFor(wire.OpCreate, 10, sessA),
			rec:  createTxn("/a/b/c", "", 1),
			want: Result{Type: wire.OpCreate, Path: "/a/b/c", Stat: wire.Stat{Czxid: 10, Mzxid: 10, Ctime: t10, Mtime: t10, Pzxid: 10}},
			check: func(t *testing.T, tr *Tree) {
				require.Equal(t, int64(2), stored(t, tr, "/a").Pzxid)
				require.Equal(t, int64(10), stored(t, tr, "/a/b").Pzxid)
				n, err := tr.AllChildrenNumber("/a")
				require.NoError(t, err)
				require.Equal(t, 2, n)
			},
		},
	})
}

func TestApplyDelete(t *testing.T) {
	runApplyCases(t, []applyCase{
		{
			name: "delete removes the node, keeps the parent's stored cversion and raises its pzxid (DataTree.deleteNode)",
			setup: func(t *testing.T, tr *Tree) {
				mustCreate(t, tr, 1, "/p", "")
				mustCreate(t, tr, 2, "/p/a", "data")
			},
			hdr:  hdrFor(wire.OpDelete, 10, sessA),
			rec:  &wire.DeleteTxn{Path: "/p/a"},
			want: Result{Type: wire.OpDelete},
			check: func(t *testing.T, tr *Tree) {
				_, err := tr.Exists("/p/a", nil)
				require.ErrorIs(t, err, ErrNoNode)
				p := stored(t, tr, "/p")
				require.Equal(t, int32(1), p.Cversion)
				require.Equal(t, int64(10), p.Pzxid)
				// One create and one delete of a child: 2*1-0.
				require.Equal(t, wire.Stat{Czxid: 1, Mzxid: 1, Ctime: timeOf(1), Mtime: timeOf(1), Cversion: 2, Pzxid: 10}, client(t, tr, "/p"))
				require.Equal(t, 6, tr.NodeCount())
				require.Equal(t, int64(44+len("/p")), tr.ApproximateDataSize())
			},
		},
		{
			name: "deleteContainer (type 20) deletes like delete",
			setup: func(t *testing.T, tr *Tree) {
				require.Equal(t, wire.OK, applyAt(tr, wire.OpCreateContainer, 1, &wire.CreateContainerTxn{Path: "/c", ParentCVersion: 1}).Err)
			},
			hdr:  hdrFor(wire.OpDeleteContainer, 10, 0),
			rec:  &wire.DeleteTxn{Path: "/c"},
			want: Result{Type: wire.OpDeleteContainer},
			check: func(t *testing.T, tr *Tree) {
				require.Empty(t, tr.SpecialNodes(), "the reaper must not see a deleted container")
				require.Equal(t, int64(10), stored(t, tr, "/").Pzxid)
			},
		},
		{
			name: "a replayed delete with a zxid below the parent's pzxid leaves pzxid alone (it might have been set by a later create)",
			setup: func(t *testing.T, tr *Tree) {
				mustCreate(t, tr, 1, "/p", "")
				mustCreate(t, tr, 2, "/p/a", "")
				mustCreate(t, tr, 5, "/p/b", "")
			},
			hdr:  hdrFor(wire.OpDelete, 3, sessA),
			rec:  &wire.DeleteTxn{Path: "/p/a"},
			want: Result{Type: wire.OpDelete},
			check: func(t *testing.T, tr *Tree) {
				require.Equal(t, int64(5), stored(t, tr, "/p").Pzxid)
			},
		},
		{
			// Only replay meets this (prepare refuses it): the parent's
			// pzxid still moves up, as in ZooKeeper's deleteNode.
			name: "delete of a missing node is NoNode and only raises the parent's pzxid",
			hdr:  hdrFor(wire.OpDelete, 10, sessA),
			rec:  &wire.DeleteTxn{Path: "/nope"},
			want: Result{Type: wire.OpDelete, Err: wire.ErrNoNode},
			check: func(t *testing.T, tr *Tree) {
				info, ok := tr.Info("/")
				require.True(t, ok)
				require.Equal(t, int64(10), info.Stat.Pzxid)
				_, ok = tr.Info("/nope")
				require.False(t, ok)
			},
		},
		{
			name:      "delete under a missing parent is NoNode and changes nothing",
			hdr:       hdrFor(wire.OpDelete, 10, sessA),
			rec:       &wire.DeleteTxn{Path: "/nope/a"},
			want:      Result{Type: wire.OpDelete, Err: wire.ErrNoNode},
			unchanged: true,
		},
		{
			name: "delete of an ephemeral drops it from its session's list",
			setup: func(t *testing.T, tr *Tree) {
				require.Equal(t, wire.OK, tr.Apply(hdrFor(wire.OpCreate, 1, sessA), &wire.CreateTxn{Path: "/e1", Ephemeral: true, ParentCVersion: -1}).Err)
				require.Equal(t, wire.OK, tr.Apply(hdrFor(wire.OpCreate, 2, sessA), &wire.CreateTxn{Path: "/e2", Ephemeral: true, ParentCVersion: -1}).Err)
			},
			hdr:  hdrFor(wire.OpDelete, 10, sessB),
			rec:  &wire.DeleteTxn{Path: "/e1"},
			want: Result{Type: wire.OpDelete},
			check: func(t *testing.T, tr *Tree) {
				require.Equal(t, []string{"/e2"}, tr.Ephemerals(sessA))
				require.Equal(t, 1, tr.EphemeralCount())
			},
		},
		{
			name: "delete of a session's last ephemeral forgets the session",
			setup: func(t *testing.T, tr *Tree) {
				require.Equal(t, wire.OK, tr.Apply(hdrFor(wire.OpCreate, 1, sessA), &wire.CreateTxn{Path: "/e1", Ephemeral: true, ParentCVersion: -1}).Err)
			},
			hdr:  hdrFor(wire.OpDelete, 10, sessA),
			rec:  &wire.DeleteTxn{Path: "/e1"},
			want: Result{Type: wire.OpDelete},
			check: func(t *testing.T, tr *Tree) {
				require.Empty(t, tr.EphemeralSessions())
				require.Equal(t, 0, tr.EphemeralCount())
			},
		},
		{
			name: "delete of a TTL node drops it from SpecialNodes",
			setup: func(t *testing.T, tr *Tree) {
				require.Equal(t, wire.OK, applyAt(tr, wire.OpCreateTTL, 1, &wire.CreateTTLTxn{Path: "/t", ParentCVersion: 1, TTL: 5}).Err)
				require.Equal(t, wire.OK, applyAt(tr, wire.OpCreateTTL, 2, &wire.CreateTTLTxn{Path: "/u", ParentCVersion: 2, TTL: 5}).Err)
			},
			hdr:  hdrFor(wire.OpDeleteContainer, 10, 0),
			rec:  &wire.DeleteTxn{Path: "/t"},
			want: Result{Type: wire.OpDeleteContainer},
			check: func(t *testing.T, tr *Tree) {
				sp := tr.SpecialNodes()
				require.Len(t, sp, 1)
				require.Equal(t, "/u", sp[0].Path)
			},
		},
	})
}

func TestApplySetDataAndSetACL(t *testing.T) {
	runApplyCases(t, []applyCase{
		{
			name: "setData stores the txn's version as is, moves mzxid and mtime and keeps czxid, ctime and pzxid (DataTree.setData)",
			setup: func(t *testing.T, tr *Tree) {
				mustCreate(t, tr, 1, "/a", "x")
			},
			hdr:  hdrFor(wire.OpSetData, 10, sessA),
			rec:  &wire.SetDataTxn{Path: "/a", Data: []byte("yz"), Version: 7},
			want: Result{Type: wire.OpSetData, Stat: wire.Stat{Czxid: 1, Mzxid: 10, Ctime: timeOf(1), Mtime: timeOf(10), Version: 7, DataLength: 2, Pzxid: 1}},
			check: func(t *testing.T, tr *Tree) {
				data, _, err := tr.GetData("/a", nil)
				require.NoError(t, err)
				require.Equal(t, "yz", string(data))
				require.Equal(t, int64(44+len("/a")+2), tr.ApproximateDataSize())
			},
		},
		{
			name: "setData with null data gives dataLength 0 and shrinks the data size",
			setup: func(t *testing.T, tr *Tree) {
				mustCreate(t, tr, 1, "/a", "xyz")
			},
			hdr:  hdrFor(wire.OpSetData, 10, sessA),
			rec:  &wire.SetDataTxn{Path: "/a", Version: 1},
			want: Result{Type: wire.OpSetData, Stat: wire.Stat{Czxid: 1, Mzxid: 10, Ctime: timeOf(1), Mtime: timeOf(10), Version: 1, Pzxid: 1}},
			check: func(t *testing.T, tr *Tree) {
				require.Equal(t, int64(44+len("/a")), tr.ApproximateDataSize())
			},
		},
		{
			name: "setData reports numChildren and the client cversion of a parent",
			setup: func(t *testing.T, tr *Tree) {
				mustCreate(t, tr, 1, "/a", "")
				mustCreate(t, tr, 2, "/a/b", "")
				mustCreate(t, tr, 3, "/a/c", "")
				require.Equal(t, wire.OK, applyAt(tr, wire.OpDelete, 4, &wire.DeleteTxn{Path: "/a/b"}).Err)
			},
			hdr:  hdrFor(wire.OpSetData, 10, sessA),
			rec:  &wire.SetDataTxn{Path: "/a", Data: []byte("d"), Version: 1},
			want: Result{Type: wire.OpSetData, Stat: wire.Stat{Czxid: 1, Mzxid: 10, Ctime: timeOf(1), Mtime: timeOf(10), Version: 1, Cversion: 3, DataLength: 1, NumChildren: 1, Pzxid: 4}},
		},
		{
			name: "reconfig (type 16) is a SetDataTxn on /zookeeper/config with version -1 (storage.md §3.5)",
			hdr:  hdrFor(wire.OpReconfig, 10, sessA),
			rec:  &wire.SetDataTxn{Path: ConfigPath, Data: []byte("server.1=a:1:2;3"), Version: -1},
			want: Result{Type: wire.OpReconfig, Stat: wire.Stat{Mzxid: 10, Mtime: timeOf(10), Version: -1, Aversion: -1, DataLength: 16}},
		},
		{
			name:      "setData of a missing node is NoNode and changes nothing",
			hdr:       hdrFor(wire.OpSetData, 10, sessA),
			rec:       &wire.SetDataTxn{Path: "/nope", Data: []byte("x"), Version: 1},
			want:      Result{Type: wire.OpSetData, Err: wire.ErrNoNode},
			unchanged: true,
		},
		{
			name: "setACL stores the new aversion and ACL and leaves mzxid and mtime alone (DataTree.setACL)",
			setup: func(t *testing.T, tr *Tree) {
				mustCreate(t, tr, 1, "/a", "x")
			},
			hdr:  hdrFor(wire.OpSetACL, 10, sessA),
			rec:  &wire.SetACLTxn{Path: "/a", ACL: digestACL, Version: 3},
			want: Result{Type: wire.OpSetACL, Stat: wire.Stat{Czxid: 1, Mzxid: 1, Ctime: timeOf(1), Mtime: timeOf(1), Aversion: 3, DataLength: 1, Pzxid: 1}},
			check: func(t *testing.T, tr *Tree) {
				acl, _, err := tr.GetACL("/a")
				require.NoError(t, err)
				require.Equal(t, digestACL, acl)
				info, ok := tr.Info("/a")
				require.True(t, ok)
				require.Equal(t, digestACL, info.ACL)
				require.Equal(t, 1, info.DataLen)
			},
		},
		{
			name:      "setACL of a missing node is NoNode and changes nothing",
			hdr:       hdrFor(wire.OpSetACL, 10, sessA),
			rec:       &wire.SetACLTxn{Path: "/nope", ACL: digestACL, Version: 1},
			want:      Result{Type: wire.OpSetACL, Err: wire.ErrNoNode},
			unchanged: true,
		},
	})
}

func TestApplyErrorCheckAndSessionTxns(t *testing.T) {
	withEphemerals := func(t *testing.T, tr *Tree) {
		mustCreate(t, tr, 1, "/p", "")
		require.Equal(t, wire.OK, tr.Apply(hdrFor(wire.OpCreate, 2, sessA), &wire.CreateTxn{Path: "/p/e1", Data: []byte("12"), Ephemeral: true, ParentCVersion: -1}).Err)
		require.Equal(t, wire.OK, tr.Apply(hdrFor(wire.OpCreate, 3, sessA), &wire.CreateTxn{Path: "/e2", Ephemeral: true, ParentCVersion: -1}).Err)
		require.Equal(t, wire.OK, tr.Apply(hdrFor(wire.OpCreate, 4, sessB), &wire.CreateTxn{Path: "/p/o", Ephemeral: true, ParentCVersion: -1}).Err)
	}
	closedA := func(t *testing.T, tr *Tree) {
		for _, p := range []string{"/p/e1", "/e2"} {
			_, err := tr.Exists(p, nil)
			require.ErrorIs(t, err, ErrNoNode, p)
		}
		_, err := tr.Exists("/p/o", nil)
		require.NoError(t, err, "another session's ephemeral stays")
		require.Empty(t, tr.Ephemerals(sessA))
		require.Equal(t, []string{"/p/o"}, tr.Ephemerals(sessB))
		require.Equal(t, 1, tr.EphemeralCount())
		require.Equal(t, int64(10), stored(t, tr, "/p").Pzxid)
		require.Equal(t, int64(10), stored(t, tr, "/").Pzxid)
		require.Equal(t, int32(2*2-1), client(t, tr, "/p").Cversion)
		require.Equal(t, 5+2, tr.NodeCount())
		require.Equal(t, int64(44+len("/p")+len("/p/o")), tr.ApproximateDataSize())
	}
	runApplyCases(t, []applyCase{
		{
			name:      "an ErrorTxn reports its code and changes nothing (failed writes are logged too)",
			setup:     withEphemerals,
			hdr:       hdrFor(wire.OpError, 10, sessA),
			rec:       &wire.ErrorTxn{Err: wire.ErrBadVersion},
			want:      Result{Type: wire.OpError, Err: wire.ErrBadVersion},
			unchanged: true,
		},
		{
			name:      "a bare CheckVersionTxn changes nothing (3.8 logs one for a lone check; storage.md §3.5)",
			setup:     withEphemerals,
			hdr:       hdrFor(wire.OpCheck, 10, sessA),
			rec:       &wire.CheckVersionTxn{Path: "/p", Version: 0},
			want:      Result{Type: wire.OpCheck},
			unchanged: true,
		},
		{
			name:      "createSession changes nothing in the tree (sessions live in the session tracker)",
			setup:     withEphemerals,
			hdr:       hdrFor(wire.OpCreateSession, 10, sessA),
			rec:       &wire.CreateSessionTxn{TimeOut: 30000},
			want:      Result{Type: wire.OpCreateSession},
			unchanged: true,
		},
		{
			name:  "closeSession deletes exactly the session's ephemerals and raises their parents' pzxid (DataTree.killSession)",
			setup: withEphemerals,
			hdr:   hdrFor(wire.OpCloseSession, 10, sessA),
			rec:   &wire.CloseSessionTxn{Paths2Delete: []string{"/e2", "/p/e1"}},
			want:  Result{Type: wire.OpCloseSession},
			check: closedA,
		},
		{
			name:  "closeSession without a record (logs before closeSessionTxn.enabled) deletes the session's ephemerals too",
			setup: withEphemerals,
			hdr:   hdrFor(wire.OpCloseSession, 10, sessA),
			rec:   nil,
			want:  Result{Type: wire.OpCloseSession},
			check: closedA,
		},
		{
			name:  "closeSession with an empty record (decoded from an empty body) deletes the session's ephemerals too",
			setup: withEphemerals,
			hdr:   hdrFor(wire.OpCloseSession, 10, sessA),
			rec:   &wire.CloseSessionTxn{},
			want:  Result{Type: wire.OpCloseSession},
			check: closedA,
		},
		{
			name:      "closeSession of a session without ephemerals changes nothing",
			setup:     withEphemerals,
			hdr:       hdrFor(wire.OpCloseSession, 10, 0x999),
			rec:       &wire.CloseSessionTxn{},
			want:      Result{Type: wire.OpCloseSession},
			unchanged: true,
		},
		{
			name:      "a record of a type Apply does not know is MarshallingError and changes nothing",
			setup:     withEphemerals,
			hdr:       hdrFor(wire.OpCreate, 10, sessA),
			rec:       &wire.TxnHeader{},
			want:      Result{Type: wire.OpCreate, Err: wire.ErrMarshallingError},
			unchanged: true,
		},
	})
}

func TestApplyMulti(t *testing.T) {
	t10 := timeOf(10)
	withM := func(t *testing.T, tr *Tree) {
		mustCreate(t, tr, 1, "/m", "")
		mustCreate(t, tr, 2, "/x", "")
	}
	runApplyCases(t, []applyCase{
		{
			name:  "a multi applies every sub-op in order at the shared zxid and reports each one (DataTree.processTxn)",
			setup: withM,
			hdr:   hdrFor(wire.OpMulti, 10, sessA),
			rec: multi(
				sub(wire.OpCreate, createTxn("/m/a", "a", 1)),
				sub(wire.OpCreate2, createTxn("/m/b", "", 2)),
				sub(wire.OpSetData, &wire.SetDataTxn{Path: "/m", Data: []byte("d"), Version: 1}),
				sub(wire.OpCheck, &wire.CheckVersionTxn{Path: "/m", Version: 1}),
				sub(wire.OpDelete, &wire.DeleteTxn{Path: "/m/a"}),
				sub(wire.OpCreateContainer, &wire.CreateContainerTxn{Path: "/c", ParentCVersion: 4}),
				sub(wire.OpCreateTTL, &wire.CreateTTLTxn{Path: "/c/t", ParentCVersion: 1, TTL: 99}),
				sub(wire.OpDeleteContainer, &wire.DeleteTxn{Path: "/x"}),
			),
			want: Result{Type: wire.OpMulti, Multi: []Result{
				{Type: wire.OpCreate, Path: "/m/a", Stat: wire.Stat{Czxid: 10, Mzxid: 10, Ctime: t10, Mtime: t10, DataLength: 1, Pzxid: 10}},
				{Type: wire.OpCreate2, Path: "/m/b", Stat: wire.Stat{Czxid: 10, Mzxid: 10, Ctime: t10, Mtime: t10, Pzxid: 10}},
				{Type: wire.OpSetData, Stat: wire.Stat{Czxid: 1, Mzxid: 10, Ctime: timeOf(1), Mtime: t10, Version: 1, Cversion: 2*2 - 2, DataLength: 1, NumChildren: 2, Pzxid: 10}},
				{Type: wire.OpCheck},
				{Type: wire.OpDelete},
				{Type: wire.OpCreateContainer, Path: "/c", Stat: wire.Stat{Czxid: 10, Mzxid: 10, Ctime: t10, Mtime: t10, Pzxid: 10}},
				{Type: wire.OpCreateTTL, Path: "/c/t", Stat: wire.Stat{Czxid: 10, Mzxid: 10, Ctime: t10, Mtime: t10, Pzxid: 10}},
				{Type: wire.OpDeleteContainer},
			}},
			check: func(t *testing.T, tr *Tree) {
				kids, st, err := tr.GetChildren("/m", nil)
				require.NoError(t, err)
				require.Equal(t, []string{"b"}, kids)
				require.Equal(t, wire.Stat{Czxid: 1, Mzxid: 10, Ctime: timeOf(1), Mtime: t10, Version: 1, Cversion: 3, DataLength: 1, NumChildren: 1, Pzxid: 10}, st)
				require.Equal(t, []string{"/", "/c", "/c/t", "/m", "/m/b", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"}, walkPaths(t, tr))
				root := stored(t, tr, "/")
				require.Equal(t, int32(4), root.Cversion)
				require.Equal(t, int64(10), root.Pzxid)
				var special []string
				for _, c := range tr.SpecialNodes() {
					special = append(special, c.Path)
				}
				require.Equal(t, []string{"/c", "/c/t"}, special)
			},
		},
		{
			name:  "a multi with an error sub-txn applies nothing and reports OK, the code, then RuntimeInconsistency (storage.md §3.7: [create /m2, error -103, error -2])",
			setup: withM,
			hdr:   hdrFor(wire.OpMulti, 10, sessA),
			rec: multi(
				sub(wire.OpCreate, createTxn("/m2", "", 3)),
				sub(wire.OpError, &wire.ErrorTxn{Err: wire.ErrBadVersion}),
				sub(wire.OpError, &wire.ErrorTxn{Err: wire.ErrRuntimeInconsistency}),
			),
			want: Result{Type: wire.OpMulti, Err: wire.ErrBadVersion, Multi: []Result{
				{Type: wire.OpError, Err: wire.OK},
				{Type: wire.OpError, Err: wire.ErrBadVersion},
				{Type: wire.OpError, Err: wire.ErrRuntimeInconsistency},
			}},
			unchanged: true,
		},
		{
			name:  "a failed multi's ops after the error report RuntimeInconsistency even when logged as real txns",
			setup: withM,
			hdr:   hdrFor(wire.OpMulti, 10, sessA),
			rec: multi(
				sub(wire.OpSetData, &wire.SetDataTxn{Path: "/m", Data: []byte("z"), Version: 1}),
				sub(wire.OpDelete, &wire.DeleteTxn{Path: "/x"}),
				sub(wire.OpError, &wire.ErrorTxn{Err: wire.ErrNoNode}),
				sub(wire.OpCreate, createTxn("/y", "", 3)),
				sub(wire.OpCheck, &wire.CheckVersionTxn{Path: "/m"}),
			),
			want: Result{Type: wire.OpMulti, Err: wire.ErrNoNode, Multi: []Result{
				{Type: wire.OpError, Err: wire.OK},
				{Type: wire.OpError, Err: wire.OK},
				{Type: wire.OpError, Err: wire.ErrNoNode},
				{Type: wire.OpError, Err: wire.ErrRuntimeInconsistency},
				{Type: wire.OpError, Err: wire.ErrRuntimeInconsistency},
			}},
			unchanged: true,
		},
		{
			name:  "a multi with an undecodable sub-txn applies nothing and blames it with MarshallingError",
			setup: withM,
			hdr:   hdrFor(wire.OpMulti, 10, sessA),
			rec: &wire.MultiTxn{Txns: []wire.Txn{
				{Type: wire.OpCreate, Data: wire.Marshal(createTxn("/y", "", 3))},
				{Type: wire.OpCreate, Data: []byte{0, 0}},
			}},
			want: Result{Type: wire.OpMulti, Err: wire.ErrMarshallingError, Multi: []Result{
				{Type: wire.OpError, Err: wire.OK},
				{Type: wire.OpError, Err: wire.ErrMarshallingError},
			}},
			unchanged: true,
		},
		{
			name:  "a multi whose sub-op fails at apply time (replay meeting NodeExists) still applies the others, as processTxn does",
			setup: withM,
			hdr:   hdrFor(wire.OpMulti, 10, sessA),
			rec: multi(
				sub(wire.OpCreate, createTxn("/m", "", 3)),
				sub(wire.OpCreate, createTxn("/n", "", 3)),
			),
			want: Result{Type: wire.OpMulti, Err: wire.ErrNodeExists, Multi: []Result{
				{Type: wire.OpCreate, Err: wire.ErrNodeExists},
				{Type: wire.OpCreate, Path: "/n", Stat: wire.Stat{Czxid: 10, Mzxid: 10, Ctime: t10, Mtime: t10, Pzxid: 10}},
			}},
			check: func(t *testing.T, tr *Tree) {
				_, err := tr.Exists("/n", nil)
				require.NoError(t, err)
			},
		},
		{
			name:      "an empty multi changes nothing",
			setup:     withM,
			hdr:       hdrFor(wire.OpMulti, 10, sessA),
			rec:       &wire.MultiTxn{},
			want:      Result{Type: wire.OpMulti},
			unchanged: true,
		},
		{
			name:  "an ephemeral created in a multi belongs to the header's session",
			setup: withM,
			hdr:   hdrFor(wire.OpMulti, 10, sessB),
			rec: multi(
				sub(wire.OpCreate, &wire.CreateTxn{Path: "/m/e", Ephemeral: true, ParentCVersion: 1}),
			),
			want: Result{Type: wire.OpMulti, Multi: []Result{
				{Type: wire.OpCreate, Path: "/m/e", Stat: wire.Stat{Czxid: 10, Mzxid: 10, Ctime: t10, Mtime: t10, EphemeralOwner: sessB, Pzxid: 10}},
			}},
			check: func(t *testing.T, tr *Tree) {
				require.Equal(t, []string{"/m/e"}, tr.Ephemerals(sessB))
			},
		},
	})
}

func TestApplyNeverLowersTheLastZxid(t *testing.T) {
	tr := New(nil)
	mustCreate(t, tr, 20, "/a", "")
	require.Equal(t, int64(20), tr.LastZxid())
	// A replayed txn below what the snapshot already holds (fuzzy snapshot).
	applyAt(tr, wire.OpSetData, 15, &wire.SetDataTxn{Path: "/a", Version: 1})
	require.Equal(t, int64(20), tr.LastZxid())
	tr.SetLastZxid(7)
	require.Equal(t, int64(7), tr.LastZxid(), "SetLastZxid is the loader's override")
}

// TestApplyFiresTheEventsOfDataTree checks wire.md §10.3: which watches a
// change triggers, with the txn's zxid, and that one-shot watches go.
func TestApplyFiresTheEventsOfDataTree(t *testing.T) {
	type reg struct {
		who  string
		kind string // exists, data, child
		path string
	}
	cases := []struct {
		name  string
		setup func(t *testing.T, tr *Tree)
		regs  []reg
		hdr   *wire.TxnHeader
		rec   wire.Record
		want  map[string][]event
	}{
		{
			name: "create P fires NodeCreated on exist watches of P and NodeChildrenChanged on child watches of its parent",
			setup: func(t *testing.T, tr *Tree) {
				mustCreate(t, tr, 1, "/p", "")
			},
			regs: []reg{{"x", "exists", "/p/a"}, {"c", "child", "/p"}, {"d", "data", "/p"}, {"r", "child", "/"}},
			hdr:  hdrFor(wire.OpCreate, 10, sessA),
			rec:  createTxn("/p/a", "", 1),
			want: map[string][]event{
				"x": {{"/p/a", wire.EventNodeCreated, 10}},
				"c": {{"/p", wire.EventNodeChildrenChanged, 10}},
			},
		},
		{
			name: "delete P fires NodeDeleted once to a watcher with data and child watches on P, and NodeChildrenChanged on the parent",
			setup: func(t *testing.T, tr *Tree) {
				mustCreate(t, tr, 1, "/p", "")
				mustCreate(t, tr, 2, "/p/a", "")
			},
			regs: []reg{{"both", "data", "/p/a"}, {"both", "child", "/p/a"}, {"d", "exists", "/p/a"}, {"c", "child", "/p/a"}, {"pc", "child", "/p"}, {"pd", "data", "/p"}},
			hdr:  hdrFor(wire.OpDelete, 10, sessA),
			rec:  &wire.DeleteTxn{Path: "/p/a"},
			want: map[string][]event{
				"both": {{"/p/a", wire.EventNodeDeleted, 10}},
				"d":    {{"/p/a", wire.EventNodeDeleted, 10}},
				"c":    {{"/p/a", wire.EventNodeDeleted, 10}},
				"pc":   {{"/p", wire.EventNodeChildrenChanged, 10}},
			},
		},
		{
			name: "setData P fires NodeDataChanged on data watches of P only",
			setup: func(t *testing.T, tr *Tree) {
				mustCreate(t, tr, 1, "/p", "")
			},
			regs: []reg{{"d", "data", "/p"}, {"x", "exists", "/p"}, {"c", "child", "/p"}, {"r", "child", "/"}},
			hdr:  hdrFor(wire.OpSetData, 10, sessA),
			rec:  &wire.SetDataTxn{Path: "/p", Data: []byte("v"), Version: 1},
			want: map[string][]event{
				"d": {{"/p", wire.EventNodeDataChanged, 10}},
				"x": {{"/p", wire.EventNodeDataChanged, 10}},
			},
		},
		{
			name: "setACL fires nothing",
			setup: func(t *testing.T, tr *Tree) {
				mustCreate(t, tr, 1, "/p", "")
			},
			regs: []reg{{"d", "data", "/p"}, {"c", "child", "/p"}, {"r", "child", "/"}},
			hdr:  hdrFor(wire.OpSetACL, 10, sessA),
			rec:  &wire.SetACLTxn{Path: "/p", ACL: digestACL, Version: 1},
			want: map[string][]event{},
		},
		{
			name: "a failed create fires nothing",
			setup: func(t *testing.T, tr *Tree) {
				mustCreate(t, tr, 1, "/p", "")
			},
			regs: []reg{{"d", "data", "/p"}, {"r", "child", "/"}},
			hdr:  hdrFor(wire.OpCreate, 10, sessA),
			rec:  createTxn("/p", "", 5),
			want: map[string][]event{},
		},
		{
			name: "a multi fires the events of each sub-op (wire.md §10.3)",
			setup: func(t *testing.T, tr *Tree) {
				mustCreate(t, tr, 1, "/p", "")
			},
			regs: []reg{{"x", "exists", "/p/a"}, {"c", "child", "/p"}, {"d", "data", "/p"}},
			hdr:  hdrFor(wire.OpMulti, 10, sessA),
			rec: multi(
				sub(wire.OpCreate, createTxn("/p/a", "", 1)),
				sub(wire.OpSetData, &wire.SetDataTxn{Path: "/p", Version: 1}),
			),
			want: map[string][]event{
				"x": {{"/p/a", wire.EventNodeCreated, 10}},
				"c": {{"/p", wire.EventNodeChildrenChanged, 10}},
				"d": {{"/p", wire.EventNodeDataChanged, 10}},
			},
		},
		{
			name: "a failed multi fires nothing",
			setup: func(t *testing.T, tr *Tree) {
				mustCreate(t, tr, 1, "/p", "")
			},
			regs: []reg{{"x", "exists", "/p/a"}, {"c", "child", "/p"}, {"d", "data", "/p"}},
			hdr:  hdrFor(wire.OpMulti, 10, sessA),
			rec: multi(
				sub(wire.OpCreate, createTxn("/p/a", "", 1)),
				sub(wire.OpError, &wire.ErrorTxn{Err: wire.ErrBadVersion}),
			),
			want: map[string][]event{},
		},
		{
			name: "closeSession fires NodeDeleted for each ephemeral and NodeChildrenChanged on its parent",
			setup: func(t *testing.T, tr *Tree) {
				mustCreate(t, tr, 1, "/p", "")
				require.Equal(t, wire.OK, tr.Apply(hdrFor(wire.OpCreate, 2, sessA), &wire.CreateTxn{Path: "/p/e", Ephemeral: true, ParentCVersion: -1}).Err)
			},
			regs: []reg{{"d", "data", "/p/e"}, {"c", "child", "/p"}},
			hdr:  hdrFor(wire.OpCloseSession, 10, sessA),
			rec:  &wire.CloseSessionTxn{Paths2Delete: []string{"/p/e"}},
			want: map[string][]event{
				"d": {{"/p/e", wire.EventNodeDeleted, 10}},
				"c": {{"/p", wire.EventNodeChildrenChanged, 10}},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(nil)
			tc.setup(t, tr)
			recs := map[string]*recorder{}
			for i, r := range tc.regs {
				w := recs[r.who]
				if w == nil {
					w = newRecorder(int64(i + 1))
					recs[r.who] = w
				}
				var err error
				switch r.kind {
				case "exists":
					// exists sets its watch whether or not the node is there.
					if _, err = tr.Exists(r.path, w); errors.Is(err, ErrNoNode) {
						err = nil
					}
				case "data":
					_, _, err = tr.GetData(r.path, w)
				case "child":
					_, _, err = tr.GetChildren(r.path, w)
				}
				require.NoError(t, err, "register %+v", r)
			}
			tr.Apply(tc.hdr, tc.rec)
			got := map[string][]event{}
			for who, w := range recs {
				if evs := w.got(); len(evs) > 0 {
					sort.Slice(evs, func(i, j int) bool { return evs[i].Type < evs[j].Type })
					got[who] = evs
				}
			}
			require.Equal(t, tc.want, got)
			// One-shot watches are gone once fired; the others stay.
			left := 0
			for _, r := range tc.regs {
				fired := false
				for _, e := range got[r.who] {
					fired = fired || e.Path == r.path
				}
				if !fired {
					left++
				}
			}
			require.Equal(t, left, tr.Watches().Count())
		})
	}
}

func TestGetDataRegistersAWatchOnlyWhenTheNodeExistsButExistsAlwaysDoes(t *testing.T) {
	// wire.md §10.2: getData and getChildren on NoNode set no watch; exists
	// sets one whether or not the node is there.
	tr := New(nil)
	w := newRecorder(1)
	_, _, err := tr.GetData("/a", w)
	require.ErrorIs(t, err, ErrNoNode)
	_, _, err = tr.GetChildren("/a", w)
	require.ErrorIs(t, err, ErrNoNode)
	require.Equal(t, 0, tr.Watches().Count())
	_, err = tr.Exists("/a", w)
	require.ErrorIs(t, err, ErrNoNode)
	require.True(t, tr.Watches().Has("/a", w, wire.WatcherData))
	mustCreate(t, tr, 1, "/a", "")
	require.Equal(t, []event{{"/a", wire.EventNodeCreated, 1}}, w.got())
	_, _, err = tr.GetACL("/missing")
	require.ErrorIs(t, err, ErrNoNode)
	_, ok := tr.Info("/missing")
	require.False(t, ok)
	_, err = tr.AllChildrenNumber("/missing")
	require.ErrorIs(t, err, ErrNoNode)
}

func TestTreeCounters(t *testing.T) {
	tr := New(nil)
	mustCreate(t, tr, 1, "/a", "12345")
	mustCreate(t, tr, 2, "/a/b", "")
	mustCreate(t, tr, 3, "/a/b/c", "xy")
	mustCreate(t, tr, 4, "/b", "")
	require.Equal(t, wire.OK, tr.Apply(hdrFor(wire.OpCreate, 5, sessA), &wire.CreateTxn{Path: "/b/e", Ephemeral: true, ParentCVersion: -1}).Err)
	require.Equal(t, wire.OK, tr.Apply(hdrFor(wire.OpCreate, 6, sessB), &wire.CreateTxn{Path: "/b/f", Ephemeral: true, ParentCVersion: -1}).Err)
	require.Equal(t, wire.OK, applyAt(tr, wire.OpCreateContainer, 7, &wire.CreateContainerTxn{Path: "/a/k", ParentCVersion: -1}).Err)
	require.Equal(t, wire.OK, applyAt(tr, wire.OpCreateTTL, 8, &wire.CreateTTLTxn{Path: "/a/b/t", ParentCVersion: -1, TTL: MaxTTL}).Err)

	t.Run("NodeCount is znodes plus one (root under \"\" and \"/\" in DataTree.nodes)", func(t *testing.T) {
		require.Equal(t, 4+8+1, tr.NodeCount())
	})
	t.Run("ApproximateDataSize sums path and data lengths of every node", func(t *testing.T) {
		var want int64
		require.NoError(t, tr.Walk(func(path string, data []byte, _ []wire.ACL, _ wire.StatPersisted) error {
			want += int64(len(path) + len(data))
			return nil
		}))
		require.Equal(t, want, tr.ApproximateDataSize())
	})
	t.Run("EphemeralCount counts ephemerals of every session, not containers or TTL nodes", func(t *testing.T) {
		require.Equal(t, 2, tr.EphemeralCount())
		require.Equal(t, map[int64][]string{sessA: {"/b/e"}, sessB: {"/b/f"}}, tr.EphemeralSessions())
	})
	t.Run("SpecialNodes lists containers and TTL nodes sorted, with their kind and metadata", func(t *testing.T) {
		sp := tr.SpecialNodes()
		require.Len(t, sp, 2)
		require.Equal(t, "/a/b/t", sp[0].Path)
		require.Equal(t, TTL, sp[0].Kind)
		require.Equal(t, MaxTTL, TTLOf(sp[0].Info.Stat.EphemeralOwner))
		require.Equal(t, "/a/k", sp[1].Path)
		require.Equal(t, Container, sp[1].Kind)
		require.Equal(t, int64(7), sp[1].Info.Stat.Czxid)
	})
	t.Run("AllChildrenNumber counts every descendant but not the node itself (getAllChildrenNumber)", func(t *testing.T) {
		for path, want := range map[string]int{"/": 3 + 8, "/a": 4, "/a/b": 2, "/a/b/c": 0, "/b": 2, "/zookeeper": 2} {
			n, err := tr.AllChildrenNumber(path)
			require.NoError(t, err, path)
			require.Equal(t, want, n, path)
		}
	})
	t.Run("Walk visits parents before children and children in name order", func(t *testing.T) {
		require.Equal(t, []string{"/", "/a", "/a/b", "/a/b/c", "/a/b/t", "/a/k", "/b", "/b/e", "/b/f",
			"/zookeeper", "/zookeeper/config", "/zookeeper/quota"}, walkPaths(t, tr))
	})
	t.Run("Walk stops at the first error its callback returns", func(t *testing.T) {
		stop := errorString("stop")
		var seen []string
		err := tr.Walk(func(path string, _ []byte, _ []wire.ACL, _ wire.StatPersisted) error {
			seen = append(seen, path)
			if path == "/a/b" {
				return stop
			}
			return nil
		})
		require.ErrorIs(t, err, stop)
		require.Equal(t, []string{"/", "/a", "/a/b"}, seen)
	})
}

type errorString string

func (e errorString) Error() string { return string(e) }

func TestKindOfDecodesTheStoredOwner(t *testing.T) {
	cases := []struct {
		name  string
		owner int64
		want  Kind
	}{
		{"0 is a persistent node", 0, Persistent},
		{"a session id is an ephemeral", sessA, Ephemeral},
		{"0x8000000000000000 is a container (EphemeralType.CONTAINER_EPHEMERAL_OWNER)", asInt64(0x8000000000000000), Container},
		{"0xFF00000000000001 is a TTL node of 1 ms", asInt64(0xff00000000000001), TTL},
		{"0xFF000FFFFFFFFFFF is a TTL node of the largest ttl", TTLOwner(MaxTTL), TTL},
		{"0xFF01000000000001 has a non-zero feature field, so it is not TTL", asInt64(0xff01000000000001), Ephemeral},
		{"0xFE00000000000001 lacks the 0xFF top byte, so it is not TTL", asInt64(0xfe00000000000001), Ephemeral},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, KindOf(tc.owner))
		})
	}
	require.Equal(t, int64(12345), TTLOf(TTLOwner(12345)))
}

func TestParentAndName(t *testing.T) {
	cases := []struct{ path, parent, name string }{
		{"/a", "/", "a"},
		{"/a/b", "/a", "b"},
		{"/a/b/c", "/a/b", "c"},
		{"/zookeeper/config", "/zookeeper", "config"},
	}
	for _, tc := range cases {
		t.Run(tc.path+" splits into "+tc.parent+" and "+tc.name, func(t *testing.T) {
			p, n := ParentAndName(tc.path)
			require.Equal(t, tc.parent, p)
			require.Equal(t, tc.name, n)
		})
	}
}

// A delete replayed over a fuzzy snapshot that already lacks the node
// still raises the parent's pzxid (ZooKeeper's deleteNode, ZOOKEEPER-3125).
func TestReplayedDeleteOfAMissingNodeRaisesParentPzxid(t *testing.T) {
	tr := New(nil)
	mustCreate(t, tr, 1, "/p", "x")
	res := tr.Apply(&wire.TxnHeader{Zxid: 9, Type: wire.OpDelete}, &wire.DeleteTxn{Path: "/p/gone"})
	require.Equal(t, wire.ErrNoNode, res.Err)
	info, ok := tr.Info("/p")
	require.True(t, ok)
	require.Equal(t, int64(9), info.Stat.Pzxid)
	// Never lowered.
	tr.Apply(&wire.TxnHeader{Zxid: 5, Type: wire.OpDelete}, &wire.DeleteTxn{Path: "/p/gone"})
	info, _ = tr.Info("/p")
	require.Equal(t, int64(9), info.Stat.Pzxid)
}
