package server_test

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/go-zookeeper/zk"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// metricsLines turn the Prometheus exporter on, on a loopback port picked
// at run time.
var metricsLines = []string{"zkd.metrics.enabled=true", "metricsProvider.httpHost=127.0.0.1", "metricsProvider.httpPort=0"}

func scrapeMetrics(t *testing.T, s *itServer) map[string]*dto.MetricFamily {
	t.Helper()
	addr := s.srv.MetricsAddr()
	require.NotNil(t, addr, "metrics exporter not listening")
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr.String() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

func gaugeOf(t *testing.T, fams map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	f, ok := fams[name]
	require.True(t, ok, "metric %s missing", name)
	require.Equal(t, dto.MetricType_GAUGE, f.GetType(), name)
	return f.Metric[0].GetGauge().GetValue()
}

func counterOf(t *testing.T, fams map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	f, ok := fams[name]
	require.True(t, ok, "metric %s missing", name)
	require.Equal(t, dto.MetricType_COUNTER, f.GetType(), name)
	return f.Metric[0].GetCounter().GetValue()
}

func summaryCount(t *testing.T, fams map[string]*dto.MetricFamily, name string) uint64 {
	t.Helper()
	f, ok := fams[name]
	require.True(t, ok, "metric %s missing", name)
	require.Equal(t, dto.MetricType_SUMMARY, f.GetType(), name)
	return f.Metric[0].GetSummary().GetSampleCount()
}

func TestMetricsExporter(t *testing.T) {
	s := startServer(t, metricsLines...)
	c := s.connectZK(t)

	before := scrapeMetrics(t, s)
	nodes := gaugeOf(t, before, "znode_count")
	reads := summaryCount(t, before, "readlatency")
	updates := summaryCount(t, before, "updatelatency")
	require.Contains(t, before, "outstanding_requests")
	gaugeOf(t, before, "outstanding_requests")
	require.GreaterOrEqual(t, counterOf(t, before, "connection_request_count"), 1.0)
	for _, name := range []string{"watch_count", "ephemerals_count", "approximate_data_size", "global_sessions",
		"uptime", "last_client_response_size", "avg_latency"} {
		gaugeOf(t, before, name)
	}
	counterOf(t, before, "packets_received")
	counterOf(t, before, "commit_count")
	// The quantile convention of ZooKeeper's Prometheus provider.
	var qs []float64
	for _, q := range before["readlatency"].Metric[0].GetSummary().Quantile {
		qs = append(qs, q.GetQuantile())
	}
	require.Equal(t, []float64{0.5, 0.9, 0.99}, qs)
	var goSeen, procSeen bool
	for name := range before {
		goSeen = goSeen || strings.HasPrefix(name, "go_")
		procSeen = procSeen || strings.HasPrefix(name, "process_")
	}
	require.True(t, goSeen, "go_ runtime collector missing")
	require.True(t, procSeen, "process_ collector missing")
	// dataDir is set, so recovery was timed.
	require.Equal(t, uint64(1), summaryCount(t, before, "dbinittime"))

	for i := range 3 {
		_, err := c.Create(fmt.Sprintf("/m%d", i), []byte("x"), 0, zk.WorldACL(zk.PermAll))
		require.NoError(t, err)
	}
	for i := range 4 {
		_, _, err := c.Get(fmt.Sprintf("/m%d", i%3))
		require.NoError(t, err)
	}
	after := scrapeMetrics(t, s)
	require.Equal(t, nodes+3, gaugeOf(t, after, "znode_count"))
	require.GreaterOrEqual(t, summaryCount(t, after, "updatelatency"), updates+3)
	require.GreaterOrEqual(t, summaryCount(t, after, "readlatency"), reads+4)
	require.Positive(t, summaryCount(t, after, "fsynctime"), "txn log fsyncs observed")
}

func TestMetricsConnections(t *testing.T) {
	s := startServer(t, metricsLines...)
	c1 := s.connectZK(t)
	base := gaugeOf(t, scrapeMetrics(t, s), "num_alive_connections")
	require.GreaterOrEqual(t, base, 1.0)

	c2 := s.connectZK(t)
	c3 := s.connectZK(t)
	eventually(t, "two more connections", func() bool {
		return gaugeOf(t, scrapeMetrics(t, s), "num_alive_connections") == base+2
	})
	c2.Close()
	c3.Close()
	eventually(t, "connections closed", func() bool {
		return gaugeOf(t, scrapeMetrics(t, s), "num_alive_connections") == base
	})
	_ = c1
}

func TestMetricsDisabledByDefault(t *testing.T) {
	s := startServer(t)
	require.Nil(t, s.srv.MetricsAddr())
}

func TestMetricsEnabledByProviderClass(t *testing.T) {
	s := startServer(t,
		"metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider",
		"metricsProvider.httpHost=127.0.0.1", "metricsProvider.httpPort=0")
	require.Contains(t, scrapeMetrics(t, s), "znode_count")
}

func TestMetricsListenFailureIsNotFatal(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	s := startServer(t, "zkd.metrics.enabled=true", "metricsProvider.httpHost=127.0.0.1",
		fmt.Sprintf("metricsProvider.httpPort=%d", port))
	require.Nil(t, s.srv.MetricsAddr())
	c := s.connectZK(t)
	_, err = c.Create("/still-serving", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
}
