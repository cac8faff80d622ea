package diff

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
	"github.com/zkd/zkd/test/harness"
)

// Limits as zkCli 3.8's setquota writes them (StatsTrack.toString).
const (
	hardCount3  = "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3"
	hardBytes10 = "count=-1,bytes=-1=;byteHardLimit=10;countHardLimit=-1"
	softCount1  = "count=1,bytes=-1=;byteHardLimit=-1;countHardLimit=-1"
	bothCount   = "count=1,bytes=-1=;byteHardLimit=-1;countHardLimit=5"
)

// setQuotaSteps are the creates zkCli's setquota makes for a new quota on
// path (SetQuotaCommand.createQuota): the parents under /zookeeper/quota,
// the limits node, and a stats node written as count=0,bytes=0, which the
// server recounts on create.
func setQuotaSteps(path, limits string) []step {
	var out []step
	qp := "/zookeeper/quota"
	for _, part := range strings.Split(path, "/")[1:] {
		qp += "/" + part
		out = append(out, create("A", qp, "", 0))
	}
	return append(out,
		create("A", qp+"/zookeeper_limits", limits, 0),
		create("A", qp+"/zookeeper_stats", "count=0,bytes=0", 0),
	)
}

func stats(path string) step {
	return step{"A", wire.OpGetData, &wire.GetDataRequest{Path: "/zookeeper/quota" + path + "/zookeeper_stats"}}
}

func setData(path, data string) step {
	return step{"A", wire.OpSetData, &wire.SetDataRequest{Path: path, Data: []byte(data), Version: -1}}
}

func del(path string) step {
	return step{"A", wire.OpDelete, &wire.DeleteRequest{Path: path, Version: -1}}
}

func multiStep(ops ...wire.MultiOp) step {
	return step{"A", wire.OpMulti, &wire.MultiRequest{Ops: ops}}
}

func createOp(path, data string) wire.MultiOp {
	return wire.MultiOp{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: path, Data: []byte(data), ACL: open}}
}

// quotaScript drives soft and hard quotas through every write that counts.
func quotaScript() []step {
	var s []step
	add := func(st ...step) { s = append(s, st...) }

	// Data that exists before the quota is counted when stats are created.
	add(create("A", "/q", "q", 0), create("A", "/q/pre", "12345", 0))
	add(setQuotaSteps("/q", hardCount3)...)
	add(stats("/q"))
	add(create("A", "/q/a", "", 0))      // count 3: fits
	add(create("A", "/q/b", "", 0))      // count 4: QuotaExceeded
	add(create("A", "/q/a/deep", "", 0)) // the whole subtree
	add(stats("/q"))
	add(del("/q/pre"), create("A", "/q/e", "", 1), stats("/q")) // ephemerals count
	add(create("A", "/q/s-", "", 2))                            // sequential: QuotaExceeded
	// Every check reads the applied stats: both creates of this multi fit.
	add(del("/q/a"), multiStep(createOp("/q/m1", ""), createOp("/q/m2", "")), stats("/q"))
	// In a multi, the failing op gets QuotaExceeded and the rest 0 / -2.
	add(multiStep(createOp("/free", ""), createOp("/q/m3", "x"), createOp("/free2", "")))
	add(setData("/q/m1", strings.Repeat("z", 100)), stats("/q")) // no byte limit
	// A limits change (setquota on an existing quota) applies at once.
	add(setData("/zookeeper/quota/q/zookeeper_limits", "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=10"))
	add(create("A", "/q/c", "", 0), stats("/q"))

	add(create("A", "/b", "", 0))
	add(setQuotaSteps("/b", hardBytes10)...)
	add(create("A", "/b/a", "123456", 0)) // bytes 6
	add(setData("/b/a", "1234567890"))    // 10: fits
	add(setData("/b/a", "12345678901"))   // 11: QuotaExceeded
	add(create("A", "/b/x", "y", 0))      // 11: QuotaExceeded
	add(create("A", "/b/x", "", 0))       // 0 bytes: only a count, not limited
	add(multiStep(
		wire.MultiOp{Type: wire.OpSetData, Req: &wire.SetDataRequest{Path: "/b/a", Data: []byte("1"), Version: -1}},
		createOp("/b/y", "123456789"),
	)) // the create is measured against the applied 10: QuotaExceeded
	add(setData("/b/a", "1"), create("A", "/b/y", "123456789", 0), stats("/b"))

	// A soft quota never fails a write; hard wins where both are set.
	add(create("A", "/s", "", 0))
	add(setQuotaSteps("/s", softCount1)...)
	add(create("A", "/s/a", "", 0), create("A", "/s/b", "", 0), stats("/s"))
	add(create("A", "/h", "", 0))
	add(setQuotaSteps("/h", bothCount)...)
	add(create("A", "/h/a", "", 0), create("A", "/h/b", "", 0), create("A", "/h/c", "", 0))
	add(create("A", "/h/d", "", 0), create("A", "/h/e", "", 0), stats("/h"))

	// delquota removes the limits node: no checks, no tracking after it.
	add(del("/zookeeper/quota/h/zookeeper_limits"), create("A", "/h/e", "", 0), stats("/h"))
	// A quota below another (zkCli refuses it, the server does not): the
	// deepest one counts. /zookeeper/quota/s exists: NodeExists, which
	// zkCli would have avoided.
	add(create("A", "/s/n", "", 0))
	add(setQuotaSteps("/s/n", hardCount3)...)
	add(create("A", "/s/n/a", "", 0), create("A", "/s/c", "", 0), stats("/s"), stats("/s/n"))
	// Closing the session deletes its ephemeral /q/e: B reads the result.
	add(step{"A", wire.OpCloseSession, nil})
	add(step{"B", wire.OpGetData, &wire.GetDataRequest{Path: "/zookeeper/quota/q/zookeeper_stats"}})
	return s
}

// TestQuotasLikeZooKeeper runs the quota script against Apache ZooKeeper
// 3.8 and zkd, both with quota enforcement on: the QuotaExceeded results
// and every zookeeper_stats read must be the same.
func TestQuotasLikeZooKeeper(t *testing.T) {
	// ZooKeeper copies the unknown zoo.cfg key enforceQuota into the
	// system property zookeeper.enforceQuota; the -D makes sure it is set
	// before ZooKeeperServer's static initialiser reads it.
	cfg := "enforceQuota=true\n"
	zk := harness.StartZooKeeper(t, cfg, "-Dzookeeper.enforceQuota=true")
	zkd := harness.StartZkd(t, cfg)
	want := transcriptOf(t, zk.Addr, quotaScript())
	if t.Failed() {
		t.Logf("zookeeper log:\n%s", zk.Log())
	}
	got := transcriptOf(t, zkd.Addr, quotaScript())
	if !assertSame(t, want, got) {
		t.Logf("zookeeper transcript:\n%s", strings.Join(want, "\n"))
		t.Logf("zkd log:\n%s", zkd.Log())
	}
	if !strings.Contains(strings.Join(want, "\n"), "QuotaExceeded") {
		t.Error("ZooKeeper never answered QuotaExceeded: is enforceQuota on?")
	}
}

// quotaMetricsLines are the per-namespace quota lines of mntr
// (zk_<namespace>_quota_..._per_namespace), sorted: ZooKeeper prints them
// in hash order.
func quotaMetricsLines(t *testing.T, addr string) []string {
	t.Helper()
	out, err := harness.FourLetterWord(addr, "mntr", 5*time.Second)
	require.NoError(t, err)
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		k, _, _ := strings.Cut(l, "\t")
		if strings.Contains(k, "_quota_") && strings.HasSuffix(k, "_per_namespace") {
			lines = append(lines, l)
		}
	}
	sort.Strings(lines)
	return lines
}

// quotaMetricsScript is the quota script plus the quota nodes whose data
// QuotaMetricsUtils treats specially: empty limits (no limit: -1), null
// limits (skipped), and a limits node that is not a leaf (skipped).
func quotaMetricsScript() []step {
	s := quotaScript()
	return append(s,
		create("B", "/zookeeper/quota/emp", "", 0),
		create("B", "/zookeeper/quota/emp/zookeeper_limits", "", 0),
		create("B", "/zookeeper/quota/nul", "", 0),
		step{"B", wire.OpCreate, &wire.CreateRequest{Path: "/zookeeper/quota/nul/zookeeper_limits", Data: nil, ACL: open}},
		create("B", "/zookeeper/quota/kid", "", 0),
		create("B", "/zookeeper/quota/kid/zookeeper_limits", "count=1,bytes=1", 0),
		create("B", "/zookeeper/quota/kid/zookeeper_limits/c", "count=2,bytes=2", 0),
	)
}

// TestQuotaMetricsLikeZooKeeper runs the quota script against Apache
// ZooKeeper 3.8 and zkd and requires the same per-namespace quota lines
// in mntr (QuotaMetricsUtils' gauge sets and the
// quota_exceeded_error_per_namespace counter set), before and after srst.
func TestQuotaMetricsLikeZooKeeper(t *testing.T) {
	cfg := "enforceQuota=true\n"
	zk := harness.StartZooKeeper(t, cfg, "-Dzookeeper.enforceQuota=true")
	zkd := harness.StartZkd(t, cfg)
	transcriptOf(t, zk.Addr, quotaMetricsScript())
	transcriptOf(t, zkd.Addr, quotaMetricsScript())

	want := quotaMetricsLines(t, zk.Addr)
	t.Logf("ZooKeeper's quota lines:\n%s", strings.Join(want, "\n"))
	require.NotEmpty(t, want, "ZooKeeper printed no quota lines")
	require.Contains(t, strings.Join(want, "\n"), "_quota_exceeded_error_per_namespace\t", "no QuotaExceeded counted: is enforceQuota on?")
	require.Equal(t, want, quotaMetricsLines(t, zkd.Addr))

	for _, addr := range []string{zk.Addr, zkd.Addr} {
		_, err := harness.FourLetterWord(addr, "srst", 5*time.Second)
		require.NoError(t, err)
	}
	require.Equal(t, quotaMetricsLines(t, zk.Addr), quotaMetricsLines(t, zkd.Addr), "after srst")
}
