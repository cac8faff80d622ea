package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

// quotaMntr is the per-namespace quota lines of mntr, key to value.
func quotaMntr(t *testing.T, s *itServer) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(s.fourLetter(t, "mntr"), "\n") {
		k, v, ok := strings.Cut(line, "\t")
		if ok && strings.Contains(k, "_quota_") {
			out[k] = v
		}
	}
	return out
}

// keyedValues is a labelled family as label "key" -> value; it checks that
// key is the family's only label, as ZooKeeper's provider exports its
// gauge sets and counter sets.
func keyedValues(t *testing.T, fams map[string]*dto.MetricFamily, name string, typ dto.MetricType) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	f, ok := fams[name]
	if !ok {
		return out
	}
	require.Equal(t, typ, f.GetType(), name)
	for _, m := range f.Metric {
		require.Len(t, m.Label, 1, name)
		require.Equal(t, "key", m.Label[0].GetName(), name)
		v := m.GetGauge().GetValue()
		if typ == dto.MetricType_COUNTER {
			v = m.GetCounter().GetValue()
		}
		out[m.Label[0].GetValue()] = v
	}
	return out
}

// quotaProm is the five quota families of a scrape, name -> key -> value.
func quotaProm(t *testing.T, s *itServer) map[string]map[string]float64 {
	t.Helper()
	fams := scrapeMetrics(t, s)
	out := map[string]map[string]float64{}
	for _, name := range []string{"quota_count_limit_per_namespace", "quota_bytes_limit_per_namespace",
		"quota_count_usage_per_namespace", "quota_bytes_usage_per_namespace"} {
		out[name] = keyedValues(t, fams, name, dto.MetricType_GAUGE)
	}
	out["quota_exceeded_error_per_namespace"] = keyedValues(t, fams, "quota_exceeded_error_per_namespace", dto.MetricType_COUNTER)
	return out
}

// mntrFromProm is what mntr must print for the figures of a scrape:
// zk_<namespace>_<metric>, as ZooKeeper's DefaultMetricsProvider does.
func mntrFromProm(prom map[string]map[string]float64) map[string]string {
	out := map[string]string{}
	for name, byNS := range prom {
		for ns, v := range byNS {
			out[fmt.Sprintf("zk_%s_%s", ns, name)] = fmt.Sprint(int64(v))
		}
	}
	return out
}

// TestQuotaMetricsPerNamespaceLikeZooKeeper sets quotas the way zkCli 3.8
// does and checks the per-namespace quota metrics of ZooKeeper 3.8
// (QuotaMetricsUtils, ZooKeeperServer.updateQuotaExceededMetrics) in mntr
// and in the Prometheus exposition. The first script and its mntr lines
// are those of a run against Apache ZooKeeper 3.8.0 (setquota -n 10 -B 100
// /ns1; setquota -N 5 /ns2/x; setquota -b 50 -B 200 -n 7 /ns2/y; then
// create until QuotaExceeded).
func TestQuotaMetricsPerNamespaceLikeZooKeeper(t *testing.T) {
	s := startServer(t, append(metricsLines, "zookeeper.enforceQuota=true")...)
	c := s.connectZK(t)
	r := s.rawSession(t, 2000)
	create := func(path, data string) wire.Code {
		return r.call(wire.OpCreate, &wire.CreateRequest{Path: path, Data: []byte(data), ACL: wire.OpenACLUnsafe}, nil).Err
	}
	for _, n := range []struct{ path, data string }{{"/ns1", "abc"}, {"/ns1/a", "12345"}, {"/ns2", ""}, {"/ns2/x", ""}, {"/ns2/y", "hello"}} {
		require.Equal(t, wire.OK, create(n.path, n.data), n.path)
	}
	require.Empty(t, quotaMntr(t, s), "no quota, no quota lines")

	// Count and bytes, soft and hard; two quotas under one namespace.
	setQuotaLikeZkCli(t, c.Conn, "/ns1", "count=10,bytes=-1=;byteHardLimit=100;countHardLimit=-1")
	setQuotaLikeZkCli(t, c.Conn, "/ns2/x", "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=5")
	setQuotaLikeZkCli(t, c.Conn, "/ns2/y", "count=7,bytes=50=;byteHardLimit=200;countHardLimit=-1")
	for i := 1; i <= 4; i++ {
		require.Equal(t, wire.OK, create(fmt.Sprintf("/ns2/x/c%d", i), ""))
	}
	require.Equal(t, wire.ErrQuotaExceeded, create("/ns2/x/c5", ""))
	require.Equal(t, wire.ErrQuotaExceeded, create("/ns1/big", strings.Repeat("z", 150)))

	wantProm := map[string]map[string]float64{
		// ns2: 5 (hard) + 7 (soft); bytes: -1 (none on /ns2/x) + 200 (hard wins over soft 50).
		"quota_count_limit_per_namespace":    {"ns1": 10, "ns2": 12},
		"quota_bytes_limit_per_namespace":    {"ns1": 100, "ns2": 199},
		"quota_count_usage_per_namespace":    {"ns1": 2, "ns2": 6},
		"quota_bytes_usage_per_namespace":    {"ns1": 8, "ns2": 5},
		"quota_exceeded_error_per_namespace": {"ns1": 1, "ns2": 1},
	}
	require.Equal(t, wantProm, quotaProm(t, s))
	// What ZooKeeper 3.8.0 printed for the same script.
	require.Equal(t, map[string]string{
		"zk_ns1_quota_count_limit_per_namespace":    "10",
		"zk_ns2_quota_count_limit_per_namespace":    "12",
		"zk_ns1_quota_bytes_limit_per_namespace":    "100",
		"zk_ns2_quota_bytes_limit_per_namespace":    "199",
		"zk_ns1_quota_count_usage_per_namespace":    "2",
		"zk_ns2_quota_count_usage_per_namespace":    "6",
		"zk_ns1_quota_bytes_usage_per_namespace":    "8",
		"zk_ns2_quota_bytes_usage_per_namespace":    "5",
		"zk_ns1_quota_exceeded_error_per_namespace": "1",
		"zk_ns2_quota_exceeded_error_per_namespace": "1",
	}, quotaMntr(t, s))

	t.Run("passing a soft limit is not an error", func(t *testing.T) {
		for i := 1; i <= 7; i++ { // /ns2/y counts 8 nodes, soft limit 7
			require.Equal(t, wire.OK, create(fmt.Sprintf("/ns2/y/s%d", i), ""))
		}
		got := quotaProm(t, s)
		require.Equal(t, map[string]float64{"ns1": 1, "ns2": 1}, got["quota_exceeded_error_per_namespace"])
		require.Equal(t, 13.0, got["quota_count_usage_per_namespace"]["ns2"])
	})

	t.Run("a refused multi counts once, under the namespace of the failing op", func(t *testing.T) {
		var resp wire.MultiResponse
		h := r.call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.MultiOp{
			{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/ns2/x/m1", ACL: wire.OpenACLUnsafe}},
			{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/ns2/x/m2", ACL: wire.OpenACLUnsafe}},
		}}, &resp)
		require.Equal(t, wire.OK, h.Err)
		require.Equal(t, wire.ErrQuotaExceeded, resp.Results[0].Err)
		setData := r.call(wire.OpSetData, &wire.SetDataRequest{Path: "/ns1/a", Data: []byte(strings.Repeat("z", 200)), Version: -1}, nil)
		require.Equal(t, wire.ErrQuotaExceeded, setData.Err)
		got := quotaProm(t, s)
		require.Equal(t, map[string]float64{"ns1": 2, "ns2": 2}, got["quota_exceeded_error_per_namespace"])
	})

	t.Run("srst zeroes the QuotaExceeded counts and keeps their namespaces", func(t *testing.T) {
		require.Equal(t, "Server stats reset.\n", s.fourLetter(t, "srst"))
		got := quotaProm(t, s)
		require.Equal(t, map[string]float64{"ns1": 0, "ns2": 0}, got["quota_exceeded_error_per_namespace"])
		mntr := quotaMntr(t, s)
		require.Equal(t, "0", mntr["zk_ns1_quota_exceeded_error_per_namespace"])
		require.Equal(t, "0", mntr["zk_ns2_quota_exceeded_error_per_namespace"])
	})

	t.Run("the gauges follow the tree: a removed quota is gone at the next scrape", func(t *testing.T) {
		// zkCli's "delquota /ns2/y" and "delquota /ns1".
		for _, p := range []string{"/zookeeper/quota/ns2/y/zookeeper_limits", "/zookeeper/quota/ns2/y/zookeeper_stats", "/zookeeper/quota/ns2/y",
			"/zookeeper/quota/ns1/zookeeper_limits", "/zookeeper/quota/ns1/zookeeper_stats", "/zookeeper/quota/ns1"} {
			require.NoError(t, c.Delete(p, -1), p)
		}
		got := quotaProm(t, s)
		require.Equal(t, map[string]map[string]float64{
			"quota_count_limit_per_namespace":    {"ns2": 5},
			"quota_bytes_limit_per_namespace":    {"ns2": -1},
			"quota_count_usage_per_namespace":    {"ns2": 5},
			"quota_bytes_usage_per_namespace":    {"ns2": 0},
			"quota_exceeded_error_per_namespace": {"ns1": 0, "ns2": 0},
		}, got)
		require.Equal(t, mntrFromProm(got), quotaMntr(t, s), "mntr and /metrics report the same figures")
	})
}

// TestQuotaMetricsInMntrWithoutTheExporter: like ZooKeeper's default
// metrics provider, mntr and the AdminServer's monitor report the quota
// figures whether or not the Prometheus exporter is on; monitor has them
// as JSON numbers under the mntr keys without zk_ (ZooKeeper 3.8.0's
// monitor: "app_quota_bytes_limit_per_namespace": 5).
func TestQuotaMetricsInMntrWithoutTheExporter(t *testing.T) {
	s, base := startAdminServer(t)
	c := s.connectZK(t)
	_, err := c.Create("/app", []byte("12"), 0, openACL)
	require.NoError(t, err)
	setQuotaLikeZkCli(t, c.Conn, "/app", hardBytes5)
	want := map[string]string{
		"zk_app_quota_count_limit_per_namespace": "-1",
		"zk_app_quota_bytes_limit_per_namespace": "5",
		"zk_app_quota_count_usage_per_namespace": "1",
		"zk_app_quota_bytes_usage_per_namespace": "2",
	}
	require.Equal(t, want, quotaMntr(t, s))
	_, monitor := adminGet(t, base, "/commands/monitor")
	for k, v := range want {
		require.Equal(t, json.Number(v), monitor[strings.TrimPrefix(k, "zk_")], k)
	}
}
