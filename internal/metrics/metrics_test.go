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
		return []Sample{{"znode_count", nodes}, {"packets_received", 7}, {"znode_count", 99}}
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
