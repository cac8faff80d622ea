package datatree

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

func TestStatsTrackParsesAsJavaDoes(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     map[string]int64
		bad      bool
	}{
		{name: "empty data has no keys", in: "", want: map[string]int64{}},
		{name: "the 3.4 format", in: "count=3,bytes=10", want: map[string]int64{"count": 3, "bytes": 10}},
		{name: "the 3.7 format with the extra equals", in: "count=10,bytes=-1=;byteHardLimit=-1;countHardLimit=5",
			want: map[string]int64{"count": 10, "bytes": -1, "byteHardLimit": -1, "countHardLimit": 5}},
		{name: "runs of separators are one", in: "count=1,;,bytes=2;;", want: map[string]int64{"count": 1, "bytes": 2}},
		{name: "an empty value reads -1", in: "count==7", want: map[string]int64{"count": -1}},
		{name: "a later duplicate wins", in: "count=1,count=2", want: map[string]int64{"count": 2}},
		{name: "a plus sign is a sign", in: "count=+4", want: map[string]int64{"count": 4}},
		{name: "a pair without a value is refused", in: "count=", bad: true},
		{name: "a leading separator is refused", in: ",count=1", bad: true},
		{name: "a value that is not a long is refused", in: "count=ten", bad: true},
		{name: "spaces are not trimmed", in: "count= 1", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := ParseStatsTrack([]byte(tc.in))
			if tc.bad {
				require.ErrorIs(t, err, ErrBadStatsTrack)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, st.vals)
		})
	}
}

func TestStatsTrackStringIsJavasToString(t *testing.T) {
	var st StatsTrack
	require.Equal(t, "count=-1,bytes=-1", st.String(), "missing keys print -1")
	st.Set(StatCount, 10)
	st.Set(StatBytes, -1)
	require.Equal(t, "count=10,bytes=-1", st.String())
	st.Set(StatCountHardLimit, -1)
	st.Set(StatByteHardLimit, 7)
	// What zkCli 3.8 writes for "setquota -n 10 /q" after "-B 7".
	require.Equal(t, "count=10,bytes=-1=;byteHardLimit=7;countHardLimit=-1", st.String())
	back, err := ParseStatsTrack([]byte(st.String()))
	require.NoError(t, err)
	require.Equal(t, st.vals, back.vals)
}

// setQuota writes the nodes zkCli's setquota writes: the quota path's
// parents, then limits, then stats with count=0,bytes=0.
func setQuota(t testing.TB, tr *Tree, zxid *int64, path, limits string) {
	t.Helper()
	qp := QuotaPath
	for _, c := range strings.Split(path, "/")[1:] {
		qp += "/" + c
		if _, ok := tr.Info(qp); !ok {
			*zxid++
			mustCreate(t, tr, *zxid, qp, "")
		}
	}
	*zxid++
	mustCreate(t, tr, *zxid, qp+"/"+QuotaLimitNode, limits)
	*zxid++
	mustCreate(t, tr, *zxid, qp+"/"+QuotaStatNode, "count=0,bytes=0")
}

func statsOf(t testing.TB, tr *Tree, path string) string {
	t.Helper()
	data, _, err := tr.GetData(QuotaStatPath(path), nil)
	require.NoError(t, err)
	return string(data)
}

func TestQuotaStatsFollowCreateDeleteSetData(t *testing.T) {
	type op struct {
		typ  wire.OpCode
		path string
		data string
	}
	for _, tc := range []struct {
		name string
		ops  []op
		want string
	}{
		{name: "the quota'd node itself counts", want: "count=1,bytes=3"},
		{name: "a create adds one and its bytes",
			ops:  []op{{wire.OpCreate, "/q/a", "12345"}},
			want: "count=2,bytes=8"},
		{name: "a grandchild counts too",
			ops:  []op{{wire.OpCreate, "/q/a", ""}, {wire.OpCreate, "/q/a/b", "xy"}},
			want: "count=3,bytes=5"},
		{name: "a delete takes one and its bytes away",
			ops:  []op{{wire.OpCreate, "/q/a", "12345"}, {wire.OpDelete, "/q/a", ""}},
			want: "count=1,bytes=3"},
		{name: "setData adds the difference",
			ops:  []op{{wire.OpCreate, "/q/a", "12345"}, {wire.OpSetData, "/q/a", "1"}},
			want: "count=2,bytes=4"},
		{name: "setData of the quota'd node counts",
			ops:  []op{{wire.OpSetData, "/q", "0123456789"}},
			want: "count=1,bytes=10"},
		{name: "nodes beside the quota do not count",
			ops:  []op{{wire.OpCreate, "/qq", "xx"}, {wire.OpCreate, "/other", "yy"}, {wire.OpSetData, "/other", "zzzz"}},
			want: "count=1,bytes=3"},
		{name: "deleting the quota'd node leaves count 0",
			ops:  []op{{wire.OpDelete, "/q", ""}},
			want: "count=0,bytes=0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(nil)
			zxid := int64(1)
			mustCreate(t, tr, zxid, "/q", "abc")
			setQuota(t, tr, &zxid, "/q", "count=10,bytes=-1")
			require.Equal(t, "count=1,bytes=3", statsOf(t, tr, "/q"), "the stats create recounts")
			for _, o := range tc.ops {
				zxid++
				var r Result
				switch o.typ {
				case wire.OpCreate:
					r = applyAt(tr, o.typ, zxid, createTxn(o.path, o.data, -1))
				case wire.OpDelete:
					r = applyAt(tr, o.typ, zxid, &wire.DeleteTxn{Path: o.path})
				case wire.OpSetData:
					r = applyAt(tr, o.typ, zxid, &wire.SetDataTxn{Path: o.path, Data: []byte(o.data), Version: 1})
				}
				require.Equal(t, wire.OK, r.Err, "%v %s", o.typ, o.path)
			}
			require.Equal(t, tc.want, statsOf(t, tr, "/q"))
		})
	}
}

func TestQuotaStatsChangeNoStatNorSize(t *testing.T) {
	tr := New(nil)
	zxid := int64(1)
	mustCreate(t, tr, zxid, "/q", "")
	setQuota(t, tr, &zxid, "/q", "count=10,bytes=-1")
	before := stored(t, tr, QuotaStatPath("/q"))
	size := tr.ApproximateDataSize()
	zxid++
	mustCreate(t, tr, zxid, "/q/a", "12345")
	require.Equal(t, before, stored(t, tr, QuotaStatPath("/q")), "no txn: no mzxid, no version")
	// ZooKeeper's nodeDataSize counts the new node only, not the stats'
	// new length.
	require.Equal(t, size+int64(len("/q/a")+5), tr.ApproximateDataSize())
}

func TestQuotaInsideMultiCountsEverySubOp(t *testing.T) {
	tr := New(nil)
	zxid := int64(1)
	mustCreate(t, tr, zxid, "/q", "")
	setQuota(t, tr, &zxid, "/q", "count=10,bytes=-1")
	zxid++
	r := applyAt(tr, wire.OpMulti, zxid, multi(
		sub(wire.OpCreate, createTxn("/q/a", "aa", -1)),
		sub(wire.OpCreate, createTxn("/q/b", "bbb", -1)),
		sub(wire.OpSetData, &wire.SetDataTxn{Path: "/q/a", Data: []byte("a"), Version: 1}),
		sub(wire.OpDelete, &wire.DeleteTxn{Path: "/q/b"}),
	))
	require.Equal(t, wire.OK, r.Err)
	require.Equal(t, "count=2,bytes=1", statsOf(t, tr, "/q"))

	zxid++
	r = applyAt(tr, wire.OpMulti, zxid, multi(
		sub(wire.OpCreate, createTxn("/q/c", "cc", -1)),
		sub(wire.OpError, &wire.ErrorTxn{Err: wire.ErrQuotaExceeded}),
	))
	require.Equal(t, wire.ErrQuotaExceeded, r.Err)
	require.Equal(t, "count=2,bytes=1", statsOf(t, tr, "/q"), "a failed multi changes nothing")
}

func TestQuotaLimitsAndStatsOrder(t *testing.T) {
	t.Run("data created before the quota is counted by the stats create", func(t *testing.T) {
		tr := New(nil)
		mustCreate(t, tr, 1, "/q", "1")
		mustCreate(t, tr, 2, "/q/a", "22")
		mustCreate(t, tr, 3, "/q/a/b", "333")
		zxid := int64(3)
		setQuota(t, tr, &zxid, "/q", "count=1,bytes=-1")
		require.Equal(t, "count=3,bytes=6", statsOf(t, tr, "/q"))
		require.Equal(t, []string{"/q"}, tr.QuotaPaths())
	})
	t.Run("stats created without limits are counted once and then left alone", func(t *testing.T) {
		tr := New(nil)
		mustCreate(t, tr, 1, "/q", "1")
		mustCreate(t, tr, 2, "/zookeeper/quota/q", "")
		mustCreate(t, tr, 3, QuotaStatPath("/q"), "count=0,bytes=0")
		require.Equal(t, "count=1,bytes=1", statsOf(t, tr, "/q"))
		mustCreate(t, tr, 4, "/q/a", "22")
		require.Equal(t, "count=1,bytes=1", statsOf(t, tr, "/q"), "no limits node: no quota")
	})
	t.Run("limits created after stats start the tracking from the old count", func(t *testing.T) {
		tr := New(nil)
		mustCreate(t, tr, 1, "/q", "1")
		mustCreate(t, tr, 2, "/zookeeper/quota/q", "")
		mustCreate(t, tr, 3, QuotaStatPath("/q"), "count=0,bytes=0")
		mustCreate(t, tr, 4, "/q/a", "22")
		mustCreate(t, tr, 5, QuotaLimitPath("/q"), "count=5,bytes=-1")
		mustCreate(t, tr, 6, "/q/b", "333")
		require.Equal(t, "count=2,bytes=4", statsOf(t, tr, "/q"), "ZooKeeper does not recount when limits arrive")
	})
	t.Run("deleting limits stops the tracking", func(t *testing.T) {
		tr := New(nil)
		mustCreate(t, tr, 1, "/q", "")
		zxid := int64(1)
		setQuota(t, tr, &zxid, "/q", "count=5,bytes=-1")
		zxid++
		require.Equal(t, wire.OK, applyAt(tr, wire.OpDelete, zxid, &wire.DeleteTxn{Path: QuotaLimitPath("/q")}).Err)
		require.Empty(t, tr.QuotaPaths())
		zxid++
		mustCreate(t, tr, zxid, "/q/a", "x")
		require.Equal(t, "count=1,bytes=0", statsOf(t, tr, "/q"))
	})
	for _, tc := range []struct{ name, written, want string }{
		{"extra keys written to the stats node survive updates", "count=1,bytes=0,zeta=9", "count=2,bytes=1=;zeta=9"},
		{"malformed data written to the stats node is left as it is", "garbage", "garbage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(nil)
			mustCreate(t, tr, 1, "/q", "")
			zxid := int64(1)
			setQuota(t, tr, &zxid, "/q", "count=5,bytes=-1")
			zxid++
			require.Equal(t, wire.OK, applyAt(tr, wire.OpSetData, zxid, &wire.SetDataTxn{Path: QuotaStatPath("/q"), Data: []byte(tc.written), Version: 1}).Err)
			zxid++
			mustCreate(t, tr, zxid, "/q/a", "x")
			require.Equal(t, tc.want, statsOf(t, tr, "/q"))
		})
	}
}

// Nested quotas are refused by zkCli, not by the server (zookeeperQuotas.md,
// SetQuotaCommand.checkIfParentQuota): written directly, the deepest quota
// covering a node is the one that counts it, as PathTrie.findMaxPrefix
// finds it.
func TestNestedQuotasCountInTheDeepest(t *testing.T) {
	tr := New(nil)
	zxid := int64(0)
	for _, p := range []string{"/a", "/a/b"} {
		zxid++
		mustCreate(t, tr, zxid, p, "")
	}
	setQuota(t, tr, &zxid, "/a", "count=100,bytes=-1")
	setQuota(t, tr, &zxid, "/a/b", "count=100,bytes=-1")
	require.Equal(t, "count=2,bytes=0", statsOf(t, tr, "/a"))
	require.Equal(t, "count=1,bytes=0", statsOf(t, tr, "/a/b"))
	for _, p := range []string{"/a/x", "/a/b/y", "/a/b/y/z"} {
		zxid++
		mustCreate(t, tr, zxid, p, "1")
	}
	require.Equal(t, "count=3,bytes=1", statsOf(t, tr, "/a"), "/a/b's subtree is /a/b's alone")
	require.Equal(t, "count=3,bytes=2", statsOf(t, tr, "/a/b"))
	require.Equal(t, "/a/b", tr.MaxQuotaPrefix("/a/b/y/z"))
	require.Equal(t, "/a", tr.MaxQuotaPrefix("/a/bb"))
	require.Equal(t, "", tr.MaxQuotaPrefix("/"))
}

func TestQuotaPathQuirksOfPathTrie(t *testing.T) {
	tr := New(nil)
	tr.addQuota("/a/b")
	require.Equal(t, "/a/b", tr.MaxQuotaPrefix("/a/ /b/c"), "blank components are skipped, as PathTrie's split does")
	tr.addQuota("")
	require.Equal(t, []string{"/a/b"}, tr.QuotaPaths(), "no quota on the root")
	tr.addQuota("X/y") // from a limits node under /zookeeper/quotaX/y
	require.Equal(t, "/X/y", tr.MaxQuotaPrefix("/X/y/z"))
}

// A quota's stats equal a plain recount of its subtree after any mix of
// writes (the model is the recount, DataTree.getCounts).
func TestQuotaStatsMatchARecountAfterRandomWrites(t *testing.T) {
	seed := int64(20240611)
	rng := rand.New(rand.NewSource(seed))
	tr := New(nil)
	zxid := int64(0)
	for _, p := range []string{"/q", "/r"} {
		zxid++
		mustCreate(t, tr, zxid, p, "")
	}
	setQuota(t, tr, &zxid, "/q", "count=10,bytes=-1")
	live := []string{"/q", "/r"}
	for i := 0; i < 2000; i++ {
		zxid++
		p := live[rng.Intn(len(live))]
		switch rng.Intn(3) {
		case 0:
			child := fmt.Sprintf("%s/n%d", p, i)
			mustCreate(t, tr, zxid, child, strings.Repeat("x", rng.Intn(20)))
			live = append(live, child)
		case 1:
			if info, ok := tr.Info(p); ok && info.NumChildren == 0 && p != "/q" && p != "/r" {
				require.Equal(t, wire.OK, applyAt(tr, wire.OpDelete, zxid, &wire.DeleteTxn{Path: p}).Err)
				live = remove(live, p)
			}
		case 2:
			require.Equal(t, wire.OK, applyAt(tr, wire.OpSetData, zxid, &wire.SetDataTxn{Path: p, Data: []byte(strings.Repeat("y", rng.Intn(20))), Version: 1}).Err)
		}
	}
	count, bytes := tr.quotaCounts("/q")
	require.Equal(t, fmt.Sprintf("count=%d,bytes=%d", count, bytes), statsOf(t, tr, "/q"), "seed %d", seed)
}

func remove(list []string, p string) []string {
	return slices.DeleteFunc(list, func(q string) bool { return q == p })
}

// A quota on /zookeeper covers its own quota nodes: the stats node is the
// node being written, or its parent, and must be updated without taking
// a lock the apply already holds. ZooKeeper counts the new stats node in
// its recount and then once more as a create under the quota; so do we.
func TestQuotaOnZookeeperCoversItsOwnNodes(t *testing.T) {
	tr := New(nil)
	zxid := int64(0)
	setQuota(t, tr, &zxid, ZooKeeperPath, "count=100,bytes=-1")
	// /zookeeper, quota, config, quota/zookeeper, limits (18 bytes), stats
	// (15 bytes) recounted, then the stats create itself once more.
	require.Equal(t, "count=7,bytes=48", statsOf(t, tr, ZooKeeperPath))
	zxid++
	require.Equal(t, wire.OK, applyAt(tr, wire.OpSetData, zxid, &wire.SetDataTxn{Path: QuotaStatPath(ZooKeeperPath), Data: []byte("count=1,bytes=1"), Version: 1}).Err)
	// Then the write's own size change (16 to 15 bytes) is added to it.
	require.Equal(t, "count=1,bytes=0", statsOf(t, tr, ZooKeeperPath), "a setData of the stats node is counted in what it wrote")
	zxid++
	mustCreate(t, tr, zxid, QuotaStatPath(ZooKeeperPath)+"/child", "abc")
	require.Equal(t, "count=2,bytes=3", statsOf(t, tr, ZooKeeperPath), "the parent is the stats node")
	zxid++
	require.Equal(t, wire.OK, applyAt(tr, wire.OpDelete, zxid, &wire.DeleteTxn{Path: QuotaStatPath(ZooKeeperPath) + "/child"}).Err)
	require.Equal(t, "count=1,bytes=0", statsOf(t, tr, ZooKeeperPath))
}

func TestQuotaStatsRecountedAfterLoad(t *testing.T) {
	src := New(nil)
	zxid := int64(0)
	for _, p := range []string{"/q", "/q/a", "/p"} {
		zxid++
		mustCreate(t, src, zxid, p, "12")
	}
	setQuota(t, src, &zxid, "/q", "count=10,bytes=-1")
	setQuota(t, src, &zxid, "/p", "count=1,bytes=1")
	// A stale stats value, as a snapshot of another server might hold: the
	// load recounts it.
	zxid++
	require.Equal(t, wire.OK, applyAt(src, wire.OpSetData, zxid, &wire.SetDataTxn{Path: QuotaStatPath("/q"), Data: []byte("count=99,bytes=99"), Version: 1}).Err)

	dst := loadFromWalk(t, src)
	require.Equal(t, []string{"/p", "/q"}, dst.QuotaPaths())
	require.Equal(t, "count=2,bytes=4", statsOf(t, dst, "/q"))
	require.Equal(t, "count=1,bytes=2", statsOf(t, dst, "/p"))
	zxid++
	mustCreate(t, dst, zxid, "/q/b", "333")
	require.Equal(t, "count=3,bytes=7", statsOf(t, dst, "/q"), "tracking goes on after the load")

	dst.Reset()
	require.Empty(t, dst.QuotaPaths(), "Reset forgets the quotas")
}

func TestSetupQuotaSkipsLimitsWithChildren(t *testing.T) {
	tr := New(nil)
	zxid := int64(0)
	zxid++
	mustCreate(t, tr, zxid, "/q", "")
	setQuota(t, tr, &zxid, "/q", "count=10,bytes=-1")
	zxid++
	mustCreate(t, tr, zxid, QuotaLimitPath("/q")+"/child", "")
	tr.SetupQuota()
	require.Empty(t, tr.QuotaPaths(), "traverseNode only looks at leaves")
}

func TestTopNamespaceIsPathUtilsGetTopNamespace(t *testing.T) {
	for _, tc := range []struct {
		path, want string
		ok         bool
	}{
		{"/a", "a", true},
		{"/a/b/c", "a", true},
		{"/a/", "a", true},
		{"/", "", false},
		{"", "", false},
		{"/zookeeper_limits", "zookeeper_limits", true},
	} {
		ns, ok := TopNamespace(tc.path)
		require.Equal(t, tc.ok, ok, tc.path)
		require.Equal(t, tc.want, ns, tc.path)
	}
}

// TestQuotaByNamespaceSumsAsQuotaMetricsUtils checks the per-namespace
// figures against what ZooKeeper 3.8's QuotaMetricsUtils computes for the
// same nodes (the values of the first cases were read from a real 3.8.0
// server's mntr).
func TestQuotaByNamespaceSumsAsQuotaMetricsUtils(t *testing.T) {
	type build func(t *testing.T, tr *Tree, zxid *int64)
	create := func(path, data string) build {
		return func(t *testing.T, tr *Tree, zxid *int64) {
			*zxid++
			mustCreate(t, tr, *zxid, path, data)
		}
	}
	createNull := func(path string) build {
		return func(t *testing.T, tr *Tree, zxid *int64) {
			*zxid++
			r := applyAt(tr, wire.OpCreate, *zxid, &wire.CreateTxn{Path: path, ACL: wire.OpenACLUnsafe, ParentCVersion: -1})
			require.Equal(t, wire.OK, r.Err)
		}
	}
	quota := func(path, limits string) build {
		return func(t *testing.T, tr *Tree, zxid *int64) { setQuota(t, tr, zxid, path, limits) }
	}
	for _, tc := range []struct {
		name  string
		steps []build
		want  map[string]NamespaceQuota
	}{
		{name: "no quota, no namespace", want: map[string]NamespaceQuota{}},
		{name: "a soft count limit: no byte limit sums as -1",
			steps: []build{create("/ns1", "abc"), create("/ns1/a", "12345"), quota("/ns1", softCount(10))},
			want:  map[string]NamespaceQuota{"ns1": {Limits: true, CountLimit: 10, BytesLimit: -1, Usage: true, CountUsage: 2, BytesUsage: 8}}},
		{name: "the hard limit is the one reported when both are set",
			steps: []build{create("/ns1", ""), quota("/ns1", "count=10,bytes=50=;byteHardLimit=100;countHardLimit=3")},
			want:  map[string]NamespaceQuota{"ns1": {Limits: true, CountLimit: 3, BytesLimit: 100, Usage: true, CountUsage: 1}}},
		{name: "quotas on two paths of one namespace add up",
			steps: []build{create("/ns2", ""), create("/ns2/x", ""), create("/ns2/y", "hello"),
				quota("/ns2/x", "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=5"),
				quota("/ns2/y", "count=7,bytes=50=;byteHardLimit=200;countHardLimit=-1"),
				create("/ns2/x/c1", ""), create("/ns2/x/c2", "")},
			want: map[string]NamespaceQuota{"ns2": {Limits: true, CountLimit: 12, BytesLimit: 199, Usage: true, CountUsage: 4, BytesUsage: 5}}},
		{name: "a quota below another counts in the same namespace",
			steps: []build{create("/a", "1"), create("/a/b", "22"), quota("/a", softCount(4)), quota("/a/b", softCount(2))},
			// /a's stats were counted before /a/b had its quota: both see /a/b.
			want: map[string]NamespaceQuota{"a": {Limits: true, CountLimit: 6, BytesLimit: -2, Usage: true, CountUsage: 3, BytesUsage: 5}}},
		{name: "namespaces are kept apart",
			steps: []build{create("/p", ""), create("/q", "xyz"), quota("/p", softCount(1)), quota("/q", softCount(2))},
			want: map[string]NamespaceQuota{
				"p": {Limits: true, CountLimit: 1, BytesLimit: -1, Usage: true, CountUsage: 1},
				"q": {Limits: true, CountLimit: 2, BytesLimit: -1, Usage: true, CountUsage: 1, BytesUsage: 3}}},
		{name: "null data is skipped, empty data reads as no limits",
			steps: []build{create(QuotaPath+"/nul", ""), createNull(QuotaPath + "/nul/" + QuotaLimitNode),
				create(QuotaPath+"/emp", ""), create(QuotaPath+"/emp/"+QuotaLimitNode, "")},
			want: map[string]NamespaceQuota{"emp": {Limits: true, CountLimit: -1, BytesLimit: -1}}},
		{name: "a limits node without stats gives limits only",
			steps: []build{create(QuotaPath+"/l", ""), create(QuotaPath+"/l/"+QuotaLimitNode, "count=5,bytes=6")},
			want:  map[string]NamespaceQuota{"l": {Limits: true, CountLimit: 5, BytesLimit: 6}}},
		{name: "only leaves count",
			steps: []build{create("/q", ""), quota("/q", softCount(1)), create(QuotaLimitPath("/q")+"/child", "")},
			want:  map[string]NamespaceQuota{"q": {Usage: true, CountUsage: 1}}},
		{name: "data that does not parse is skipped",
			steps: []build{create("/q", ""), quota("/q", "count=ten")},
			want:  map[string]NamespaceQuota{"q": {Usage: true, CountUsage: 1}}},
		{name: "a limits node right under /zookeeper/quota is namespace zookeeper_limits",
			steps: []build{create(QuotaPath+"/"+QuotaLimitNode, "count=1,bytes=2")},
			want:  map[string]NamespaceQuota{QuotaLimitNode: {Limits: true, CountLimit: 1, BytesLimit: 2}}},
		{name: "a deleted quota is gone",
			steps: []build{create("/q", ""), quota("/q", softCount(1)),
				func(t *testing.T, tr *Tree, zxid *int64) {
					for _, p := range []string{QuotaLimitPath("/q"), QuotaStatPath("/q")} {
						*zxid++
						require.Equal(t, wire.OK, applyAt(tr, wire.OpDelete, *zxid, &wire.DeleteTxn{Path: p}).Err)
					}
				}},
			want: map[string]NamespaceQuota{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(nil)
			zxid := int64(0)
			for _, s := range tc.steps {
				s(t, tr, &zxid)
			}
			require.Equal(t, tc.want, tr.QuotaByNamespace())
		})
	}
}

// softCount is the limits data zkCli 3.8 writes for "setquota -n n".
func softCount(n int) string {
	return fmt.Sprintf("count=%d,bytes=-1=;byteHardLimit=-1;countHardLimit=-1", n)
}

// TestQuotaByNamespaceSeesAMultiWhole reads the per-namespace figures
// while an applier sets and removes a quota with one multi each time (run
// it with -race): a read sees the limits and stats nodes together or not
// at all, never one without the other.
func TestQuotaByNamespaceSeesAMultiWhole(t *testing.T) {
	rounds := 300
	if testing.Short() {
		rounds = 50
	}
	tr := New(nil)
	zxid := int64(1)
	mustCreate(t, tr, zxid, "/q", "x")
	zxid++
	mustCreate(t, tr, zxid, QuotaPath+"/q", "")

	done := make(chan struct{})
	var reads int
	var torn []NamespaceQuota
	go func() {
		defer close(done)
		for i := 0; i < rounds; i++ {
			zxid++
			r := applyAt(tr, wire.OpMulti, zxid, multi(
				sub(wire.OpCreate, createTxn(QuotaLimitPath("/q"), softCount(3), -1)),
				sub(wire.OpCreate, createTxn(QuotaStatPath("/q"), "count=0,bytes=0", -1)),
			))
			if r.Err != wire.OK {
				panic(fmt.Sprintf("set quota: %v", r.Err))
			}
			zxid++
			r = applyAt(tr, wire.OpMulti, zxid, multi(
				sub(wire.OpDelete, &wire.DeleteTxn{Path: QuotaLimitPath("/q")}),
				sub(wire.OpDelete, &wire.DeleteTxn{Path: QuotaStatPath("/q")}),
			))
			if r.Err != wire.OK {
				panic(fmt.Sprintf("delete quota: %v", r.Err))
			}
		}
	}()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		got := tr.QuotaByNamespace()
		reads++
		if q, ok := got["q"]; ok && (!q.Limits || !q.Usage || q.CountLimit != 3 || q.CountUsage != 1) {
			torn = append(torn, q)
		}
	}
	require.Empty(t, torn, "reads that saw half a multi (of %d)", reads)
}
