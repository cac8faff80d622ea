package server

import (
	"net"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/zkd/zkd/internal/metrics"
)

// Metrics receives the events the metrics exporter counts and the server
// does not otherwise keep. The server always holds one (nopMetrics when
// the exporter is off), so callers need no nil checks; every method must
// be cheap and safe for concurrent use.
type Metrics interface {
	ObserveRead(time.Duration)
	ObserveUpdate(time.Duration)
	ObserveFsync(time.Duration)
	ObserveElection(time.Duration)
	ObserveSnapshot(time.Duration)
	ObserveDBInit(time.Duration)
	IncProposal()
	IncCommit()
	IncSnap()
	IncDiff()
	IncConnectionRequest()
	IncConnectionRejected()
}

type nopMetrics struct{}

func (nopMetrics) ObserveRead(time.Duration)     {}
func (nopMetrics) ObserveUpdate(time.Duration)   {}
func (nopMetrics) ObserveFsync(time.Duration)    {}
func (nopMetrics) ObserveElection(time.Duration) {}
func (nopMetrics) ObserveSnapshot(time.Duration) {}
func (nopMetrics) ObserveDBInit(time.Duration)   {}
func (nopMetrics) IncProposal()                  {}
func (nopMetrics) IncCommit()                    {}
func (nopMetrics) IncSnap()                      {}
func (nopMetrics) IncDiff()                      {}
func (nopMetrics) IncConnectionRequest()         {}
func (nopMetrics) IncConnectionRejected()        {}

// setupMetrics builds the Prometheus registry when the configuration asks
// for it (metricsProvider.className or zkd.metrics.enabled). It runs in
// New, before storage is opened, so fsync and load times are observed.
func (s *Server) setupMetrics() {
	s.metrics = nopMetrics{}
	if !s.cfg.PrometheusEnabled() {
		return
	}
	s.exporter = metrics.New(metrics.SourceFunc(s.MetricSamples), s.log)
	s.metrics = s.exporter
}

// startMetrics starts the /metrics listener. A failure is logged: the
// server serves clients without it, as ZooKeeper does not, but a metrics
// port clash should not take a member down.
func (s *Server) startMetrics() {
	if s.exporter == nil {
		return
	}
	addr := net.JoinHostPort(s.cfg.MetricsHTTPHost, strconv.Itoa(s.cfg.MetricsHTTPPort))
	if err := s.exporter.Serve(addr); err != nil {
		s.log.Error("cannot start the Prometheus metrics exporter", zap.String("addr", addr), zap.Error(err))
		return
	}
	s.log.Info("Prometheus metrics exporter started", zap.Stringer("addr", s.exporter.Addr()))
}

// stopMetrics closes the /metrics listener.
func (s *Server) stopMetrics() {
	if s.exporter == nil {
		return
	}
	if err := s.exporter.Close(); err != nil {
		s.log.Warn("closing the metrics exporter", zap.Error(err))
	}
}

// MetricsAddr is the Prometheus exporter's listening address, or nil when
// it is off or failed to listen.
func (s *Server) MetricsAddr() net.Addr {
	if s.exporter == nil {
		return nil
	}
	return s.exporter.Addr()
}

// MetricSamples are the mntr figures that are numbers, under their
// ZooKeeper names, the per-namespace quota figures with the namespace as
// their key; the exporter pulls them at scrape time.
func (s *Server) MetricSamples() []metrics.Sample {
	kv := s.monitorFigures()
	quota := s.quotaFigures()
	out := make([]metrics.Sample, 0, len(kv)+len(quota))
	for _, f := range quota {
		out = append(out, metrics.Sample{Name: f.name, Key: f.namespace, Value: float64(f.value)})
	}
	for _, e := range kv {
		var v float64
		switch x := e.Value.(type) {
		case int:
			v = float64(x)
		case int32:
			v = float64(x)
		case int64:
			v = float64(x)
		case uint64:
			v = float64(x)
		case float64:
			v = x
		case string:
			f, err := strconv.ParseFloat(x, 64)
			if err != nil {
				continue // version, server_state, peer_state
			}
			v = f
		default:
			continue
		}
		out = append(out, metrics.Sample{Name: e.Key, Value: v})
	}
	return out
}
