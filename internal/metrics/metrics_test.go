package metrics

import (
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

func TestExporter(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	nodes := 5.0
	src := SourceFunc(func() []Sample {
		return []Sample{{Name: "znode_count", Value: nodes}, {Name: "packets_received", Value: 7}, {Name: "znode_count", Value: 99}}
	})
	m := New(src, nil)
	require.Nil(t, m.Addr())
	require.NoError(t, m.Serve("127.0.0.1:0"))
	addr := m.Addr().String()

	m.ObserveRead(2 * time.Millisecond)
	m.ObserveUpdate(3 * time.Millisecond)
	m.ObserveUpdate(5 * time.Millisecond)
	m.ObserveFsync(time.Millisecond)
	m.IncProposal()
	m.IncCommit()
	m.IncDiff()

	fams := scrape(t, addr)
	require.Equal(t, dto.MetricType_GAUGE, fams["znode_count"].GetType())
	require.Equal(t, 5.0, fams["znode_count"].Metric[0].GetGauge().GetValue(), "first sample of a name wins")
	require.Equal(t, dto.MetricType_COUNTER, fams["packets_received"].GetType())
	require.Equal(t, 7.0, fams["packets_received"].Metric[0].GetCounter().GetValue())

	up := fams["updatelatency"]
	require.Equal(t, dto.MetricType_SUMMARY, up.GetType())
	s := up.Metric[0].GetSummary()
	require.Equal(t, uint64(2), s.GetSampleCount())
	require.InDelta(t, 8.0, s.GetSampleSum(), 0.001)
	var qs []float64
	for _, q := range s.Quantile {
		qs = append(qs, q.GetQuantile())
	}
	require.Equal(t, []float64{0.5, 0.9, 0.99}, qs)
	require.Equal(t, uint64(1), fams["readlatency"].Metric[0].GetSummary().GetSampleCount())
	require.Empty(t, fams["fsynctime"].Metric[0].GetSummary().Quantile, "basic summaries have no quantiles")
	require.Equal(t, uint64(1), fams["fsynctime"].Metric[0].GetSummary().GetSampleCount())
	require.Equal(t, 1.0, fams["proposal_count"].Metric[0].GetCounter().GetValue())
	require.Equal(t, 1.0, fams["commit_count"].Metric[0].GetCounter().GetValue())
	require.Equal(t, 1.0, fams["diff_count"].Metric[0].GetCounter().GetValue())
	require.Equal(t, 0.0, fams["snap_count"].Metric[0].GetCounter().GetValue())
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "election_time", "snapshottime", "dbinittime", "connection_request_count", "connection_drop_count"} {
		require.Contains(t, fams, name)
	}

	nodes = 6
	require.Equal(t, 6.0, scrape(t, addr)["znode_count"].Metric[0].GetGauge().GetValue())

	require.NoError(t, m.Close())
	require.NoError(t, m.Close(), "Close twice")
	_, err := http.Get("http://" + addr + "/metrics")
	require.Error(t, err)
}

func TestServeFailure(t *testing.T) {
	a := New(nil, nil)
	require.NoError(t, a.Serve("127.0.0.1:0"))
	defer a.Close()
	b := New(nil, nil)
	require.Error(t, b.Serve(a.Addr().String()))
	require.NoError(t, b.Close())
}

// TestKeyedSamplesAreLabelledLikeZooKeeperSets: members of a gauge set or
// counter set become one family with a "key" label per member, as
// ZooKeeper's PrometheusMetricsProvider exports them
// (quota_count_limit_per_namespace{key="ns1"} 10.0); a member gone from
// the source is gone from the next scrape.
func TestKeyedSamplesAreLabelledLikeZooKeeperSets(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	samples := []Sample{
		{Name: "quota_count_limit_per_namespace", Key: "ns1", Value: 10},
		{Name: "quota_count_limit_per_namespace", Key: "ns2", Value: 12},
		{Name: "quota_count_limit_per_namespace", Key: "ns1", Value: 99},
		{Name: "quota_exceeded_error_per_namespace", Key: "ns2", Value: 3},
		{Name: "znode_count", Value: 5},
	}
	m := New(SourceFunc(func() []Sample { return samples }), nil)
	require.NoError(t, m.Serve("127.0.0.1:0"))
	defer m.Close()

	values := func(f *dto.MetricFamily) map[string]float64 {
		out := map[string]float64{}
		for _, mt := range f.Metric {
			require.Len(t, mt.Label, 1)
			require.Equal(t, "key", mt.Label[0].GetName())
			v := mt.GetGauge().GetValue()
			if f.GetType() == dto.MetricType_COUNTER {
				v = mt.GetCounter().GetValue()
			}
			out[mt.Label[0].GetValue()] = v
		}
		return out
	}
	fams := scrape(t, m.Addr().String())
	limit := fams["quota_count_limit_per_namespace"]
	require.Equal(t, dto.MetricType_GAUGE, limit.GetType())
	require.Equal(t, map[string]float64{"ns1": 10, "ns2": 12}, values(limit), "first sample of a series wins")
	exceeded := fams["quota_exceeded_error_per_namespace"]
	require.Equal(t, dto.MetricType_COUNTER, exceeded.GetType())
	require.Equal(t, map[string]float64{"ns2": 3}, values(exceeded))
	require.Empty(t, fams["znode_count"].Metric[0].Label)

	samples = samples[1:2]
	fams = scrape(t, m.Addr().String())
	require.Equal(t, map[string]float64{"ns2": 12}, values(fams["quota_count_limit_per_namespace"]))
	require.NotContains(t, fams, "quota_exceeded_error_per_namespace")
}
