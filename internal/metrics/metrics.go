// Package metrics exports zkd's figures to Prometheus under the names
// ZooKeeper's PrometheusMetricsProvider uses, so existing dashboards and
// alerts work unchanged (docs/metrics.md lists what is and is not exported).
//
// Two kinds of metric live here. Figures the server already keeps (node
// counts, connections, packet counters...) are pulled from a Source when
// Prometheus scrapes, so they cost nothing on the request path. Events the
// server does not otherwise count (latencies, proposals, commits, learner
// syncs, fsyncs...) are pushed through the methods of *Metrics, which the
// server calls through a narrow interface of its own.
package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// PrometheusProviderClass is the metricsProvider.className that turns the
// exporter on, as in ZooKeeper.
const PrometheusProviderClass = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"

// Sample is one pulled figure: a ZooKeeper metric name (no zk_ prefix) and
// its current value. A member of one of ZooKeeper's gauge sets or counter
// sets (per-namespace figures) also has a Key, exported as the label
// "key", as ZooKeeper's provider does: quota_count_limit_per_namespace{key="app"}.
// A name is always sampled with a Key or always without.
type Sample struct {
	Name  string
	Key   string
	Value float64
}

// KeyLabel is the label that carries the Key of a gauge set or counter set
// member (PrometheusMetricsProvider.LABEL).
const KeyLabel = "key"

// Source supplies the pulled figures at scrape time. It must be safe for
// concurrent use.
type Source interface {
	MetricSamples() []Sample
}

// SourceFunc adapts a function to Source.
type SourceFunc func() []Sample

// MetricSamples implements Source.
func (f SourceFunc) MetricSamples() []Sample { return f() }

// counterNames are the pulled figures exported as counters; every other
// pulled figure is a gauge.
var counterNames = map[string]bool{
	"packets_received":  true,
	"packets_sent":      true,
	"auth_failed_count": true,

	"quota_exceeded_error_per_namespace": true,
}

// help texts for the pulled figures; a name not listed gets a generic one.
var help = map[string]string{
	"znode_count":                "Number of znodes in the data tree, including the root.",
	"watch_count":                "Number of watches set by clients.",
	"ephemerals_count":           "Number of ephemeral znodes.",
	"approximate_data_size":      "Sum of znode path and data lengths, in bytes.",
	"num_alive_connections":      "Number of open client connections.",
	"outstanding_requests":       "Number of write requests queued and not yet answered.",
	"global_sessions":            "Number of global sessions.",
	"local_sessions":             "Number of local sessions.",
	"uptime":                     "Milliseconds since the server started serving.",
	"packets_received":           "Client packets received.",
	"packets_sent":               "Client packets sent.",
	"auth_failed_count":          "Failed client authentications.",
	"quorum_size":                "Number of voting members of the ensemble.",
	"learners":                   "Learners connected to this leader.",
	"synced_followers":           "Followers synced with this leader.",
	"synced_observers":           "Observers synced with this leader.",
	"pending_syncs":              "Learner syncs in progress on this leader.",
	"leader_uptime":              "Milliseconds since this server became leader.",
	"last_proposal_size":         "Size in bytes of the last proposal.",
	"min_proposal_size":          "Smallest proposal size in bytes.",
	"max_proposal_size":          "Largest proposal size in bytes.",
	"avg_latency":                "Average request latency in milliseconds.",
	"min_latency":                "Minimum request latency in milliseconds.",
	"max_latency":                "Maximum request latency in milliseconds.",
	"last_client_response_size":  "Size in bytes of the last reply to a client (-1 if none).",
	"min_client_response_size":   "Smallest reply size in bytes (-1 if none).",
	"max_client_response_size":   "Largest reply size in bytes (-1 if none).",
	"open_file_descriptor_count": "Open file descriptors.",
	"max_file_descriptor_count":  "File descriptor limit.",

	"quota_count_limit_per_namespace":    "Sum of the node count limits of the quotas in a top namespace (hard if set, else soft; -1 for none).",
	"quota_bytes_limit_per_namespace":    "Sum of the byte limits of the quotas in a top namespace (hard if set, else soft; -1 for none).",
	"quota_count_usage_per_namespace":    "Sum of the node counts of the quotas in a top namespace.",
	"quota_bytes_usage_per_namespace":    "Sum of the data bytes of the quotas in a top namespace.",
	"quota_exceeded_error_per_namespace": "Writes refused with QuotaExceeded, by top namespace of the path.",
}

// sourceCollector turns a Source into gauges and counters on every scrape.
// It is unchecked (Describe sends nothing) because which figures exist
// depends on the server's role, as in ZooKeeper.
type sourceCollector struct {
	src Source

	mu    sync.Mutex
	descs map[string]*prometheus.Desc
}

func (c *sourceCollector) Describe(chan<- *prometheus.Desc) {}

func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	type series struct{ name, key string }
	seen := map[series]bool{}
	for _, s := range c.src.MetricSamples() {
		if seen[series{s.Name, s.Key}] {
			continue
		}
		seen[series{s.Name, s.Key}] = true
		typ := prometheus.GaugeValue
		if counterNames[s.Name] {
			typ = prometheus.CounterValue
		}
		var labels []string
		if s.Key != "" {
			labels = []string{s.Key}
		}
		m, err := prometheus.NewConstMetric(c.desc(s.Name, s.Key != ""), typ, s.Value, labels...)
		if err != nil {
			continue
		}
		ch <- m
	}
}

// desc is the description of name, with the key label when keyed.
func (c *sourceCollector) desc(name string, keyed bool) *prometheus.Desc {
	id := name
	if keyed {
		id += "{" + KeyLabel + "}"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.descs[id]; ok {
		return d
	}
	h := help[name]
	if h == "" {
		h = name
	}
	var labels []string
	if keyed {
		labels = []string{KeyLabel}
	}
	d := prometheus.NewDesc(name, h, labels, nil)
	c.descs[id] = d
	return d
}

// Metrics owns a registry with zkd's metrics and, once Serve is called,
// the HTTP exporter. Its Observe/Inc methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry
	log *zap.Logger

	readLatency   prometheus.Summary
	updateLatency prometheus.Summary
	fsyncTime     prometheus.Summary
	electionTime  prometheus.Summary
	snapshotTime  prometheus.Summary
	dbInitTime    prometheus.Summary

	proposals   prometheus.Counter
	commits     prometheus.Counter
	snaps       prometheus.Counter
	diffs       prometheus.Counter
	connReqs    prometheus.Counter
	connRejects prometheus.Counter
	connDrops   prometheus.Counter

	mu   sync.Mutex
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// advanced is a summary with quantiles, as ZooKeeper's provider builds for
// its "advanced" summaries (0.5, 0.9, 0.99).
func advanced(name, help string) prometheus.Summary {
	return prometheus.NewSummary(prometheus.SummaryOpts{
		Name:       name,
		Help:       help,
		Objectives: map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001},
		MaxAge:     10 * time.Minute,
		AgeBuckets: 5,
	})
}

// basic is a summary with only _count and _sum, as ZooKeeper's "basic"
// summaries.
func basic(name, help string) prometheus.Summary {
	return prometheus.NewSummary(prometheus.SummaryOpts{Name: name, Help: help})
}

// New builds the registry: the Go runtime and process collectors, the
// pulled figures of src (nil for none) and the pushed metrics.
func New(src Source, log *zap.Logger) *Metrics {
	if log == nil {
		log = zap.NewNop()
	}
	m := &Metrics{
		reg:           prometheus.NewRegistry(),
		log:           log,
		readLatency:   advanced("readlatency", "Read request latency in milliseconds."),
		updateLatency: advanced("updatelatency", "Update request latency in milliseconds."),
		fsyncTime:     basic("fsynctime", "Transaction log fsync time in milliseconds."),
		electionTime:  basic("election_time", "Leader election time in milliseconds."),
		snapshotTime:  basic("snapshottime", "Snapshot write time in milliseconds."),
		dbInitTime:    basic("dbinittime", "Time to load the database at startup, in milliseconds."),
		proposals:     prometheus.NewCounter(prometheus.CounterOpts{Name: "proposal_count", Help: "Proposals sent by this server as leader."}),
		commits:       prometheus.NewCounter(prometheus.CounterOpts{Name: "commit_count", Help: "Proposals committed by this server as leader."}),
		snaps:         prometheus.NewCounter(prometheus.CounterOpts{Name: "snap_count", Help: "Learners synced by SNAP."}),
		diffs:         prometheus.NewCounter(prometheus.CounterOpts{Name: "diff_count", Help: "Learners synced by DIFF."}),
		connReqs:      prometheus.NewCounter(prometheus.CounterOpts{Name: "connection_request_count", Help: "Client connections accepted."}),
		connRejects:   prometheus.NewCounter(prometheus.CounterOpts{Name: "connection_rejected", Help: "Client connections refused by maxClientCnxns."}),
		// zkd has no connection throttle, so nothing is dropped by it;
		// the counter exists, at 0, for dashboards that chart it.
		connDrops: prometheus.NewCounter(prometheus.CounterOpts{Name: "connection_drop_count", Help: "Client connections dropped by the connection throttle (always 0: zkd has none)."}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.readLatency, m.updateLatency, m.fsyncTime, m.electionTime, m.snapshotTime, m.dbInitTime,
		m.proposals, m.commits, m.snaps, m.diffs, m.connReqs, m.connRejects, m.connDrops,
	)
	if src != nil {
		m.reg.MustRegister(&sourceCollector{src: src, descs: map[string]*prometheus.Desc{}})
	}
	return m
}

// Registry is the registry behind /metrics.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: zap.NewStdLog(m.log)})
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ObserveRead records a read request's latency.
func (m *Metrics) ObserveRead(d time.Duration) { m.readLatency.Observe(ms(d)) }

// ObserveUpdate records a write request's latency.
func (m *Metrics) ObserveUpdate(d time.Duration) { m.updateLatency.Observe(ms(d)) }

// ObserveFsync records a txn log fsync.
func (m *Metrics) ObserveFsync(d time.Duration) { m.fsyncTime.Observe(ms(d)) }

// ObserveElection records how long a leader election took.
func (m *Metrics) ObserveElection(d time.Duration) { m.electionTime.Observe(ms(d)) }

// ObserveSnapshot records how long writing a snapshot took.
func (m *Metrics) ObserveSnapshot(d time.Duration) { m.snapshotTime.Observe(ms(d)) }

// ObserveDBInit records how long loading the database took.
func (m *Metrics) ObserveDBInit(d time.Duration) { m.dbInitTime.Observe(ms(d)) }

// IncProposal counts a proposal.
func (m *Metrics) IncProposal() { m.proposals.Inc() }

// IncCommit counts a commit.
func (m *Metrics) IncCommit() { m.commits.Inc() }

// IncSnap counts a learner synced by SNAP.
func (m *Metrics) IncSnap() { m.snaps.Inc() }

// IncDiff counts a learner synced by DIFF.
func (m *Metrics) IncDiff() { m.diffs.Inc() }

// IncConnectionRequest counts an accepted client connection.
func (m *Metrics) IncConnectionRequest() { m.connReqs.Inc() }

// IncConnectionRejected counts a connection refused by maxClientCnxns.
func (m *Metrics) IncConnectionRejected() { m.connRejects.Inc() }

// Serve starts the HTTP exporter on addr (host:port; port 0 picks one) in
// its own goroutine, serving /metrics.
func (m *Metrics) Serve(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	m.mu.Lock()
	m.srv, m.ln, m.done = srv, ln, done
	m.mu.Unlock()
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Warn("metrics exporter stopped", zap.Error(err))
		}
	}()
	return nil
}

// Addr is the exporter's listening address, nil before Serve.
func (m *Metrics) Addr() net.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ln == nil {
		return nil
	}
	return m.ln.Addr()
}

// Close stops the exporter and waits for its goroutine.
func (m *Metrics) Close() error {
	m.mu.Lock()
	srv, done := m.srv, m.done
	m.srv, m.done = nil, nil
	m.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := srv.Shutdown(ctx)
	if err != nil {
		_ = srv.Close()
	}
	<-done
	return err
}
