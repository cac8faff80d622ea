package server

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zkd/zkd/internal/datatree"
	"github.com/zkd/zkd/internal/wire"
)

// checkQuota is ZooKeeperServer.checkQuota, run by prepare for creates
// (countDiff 1, bytesDiff the new data's length) and setData (countDiff 0,
// bytesDiff new minus current length) before the txn is built. With
// zookeeper.enforceQuota off it checks nothing, as in ZooKeeper 3.8.
//
// Like ZooKeeper it reads the quota set, limits and stats of the applied
// tree, not of prepared but unapplied txns: two creates in one multi are
// both measured against the same stats.
//
// A limit that would be passed is logged ("Quota exceeded: ..."), rate
// limited as ZooKeeper's RateLogger does; a hard limit also fails the op
// with QuotaExceeded and counts it under the top namespace of path
// (quota_exceeded_error_per_namespace). Limits or stats data that Java
// could not parse fail it with MarshallingError, the code
// PrepRequestProcessor gives any unexpected exception.
func (p *pipeline) checkQuota(path string, bytesDiff, countDiff int64) wire.Code {
	if !p.s.cfg.EnforceQuota {
		return wire.OK
	}
	prefix := p.s.tree.MaxQuotaPrefix(path)
	if prefix == "" {
		return wire.OK
	}
	limits, found, code := p.readStatsTrack(datatree.QuotaLimitPath(prefix), "Missing limit node for quota")
	if !found {
		return code
	}
	checkCount := countDiff != 0 && (limits.Count() > -1 || limits.CountHardLimit() > -1)
	checkBytes := bytesDiff != 0 && (limits.Bytes() > -1 || limits.ByteHardLimit() > -1)
	if !checkCount && !checkBytes {
		return wire.OK
	}
	usage, found, code := p.readStatsTrack(datatree.QuotaStatPath(prefix), "Missing node for stat")
	if !found {
		return code
	}
	// The hard limit, when set, is the one checked (zookeeperQuotas.md:
	// "the hard quota has the priority").
	exceeded := func(what, limitName string, next, soft, hard int64) bool {
		limit, kind := soft, "soft"
		if hard > -1 {
			limit, kind = hard, "hard"
		}
		if next <= limit {
			return false
		}
		p.s.quotaLog.log(fmt.Sprintf("Quota exceeded: %s [current %s=%d, %s%s=%d]",
			prefix, what, next, kind, limitName, limit))
		return hard > -1
	}
	// As in ZooKeeper, bytes are not checked (nor logged) once the count
	// has failed the op.
	if checkCount && exceeded("count", "CountLimit", usage.Count()+countDiff, limits.Count(), limits.CountHardLimit()) ||
		checkBytes && exceeded("bytes", "ByteLimit", usage.Bytes()+bytesDiff, limits.Bytes(), limits.ByteHardLimit()) {
		p.s.stats.countQuotaExceeded(path)
		return wire.ErrQuotaExceeded
	}
	return wire.OK
}

// readStatsTrack reads and parses a quota node of the applied tree. A
// missing node is logged with missing (ZooKeeper's words) and lets the
// write through (found false, OK); data that does not parse answers
// MarshallingError (found false).
func (p *pipeline) readStatsTrack(path, missing string) (datatree.StatsTrack, bool, wire.Code) {
	data, _, err := p.s.tree.GetData(path, nil)
	if err != nil {
		p.s.log.Error(missing, zap.String("path", path))
		return datatree.StatsTrack{}, false, wire.OK
	}
	st, err := datatree.ParseStatsTrack(data)
	if err != nil {
		p.s.log.Error("cannot parse quota data", zap.String("path", path), zap.ByteString("data", data))
		return datatree.StatsTrack{}, false, wire.ErrMarshallingError
	}
	return st, true, wire.OK
}

// rateLogger logs a WARN line the first time a message is seen and, while
// the same message repeats, once more per interval with how many times it
// came (ZooKeeper's RateLogger, 100 ms). A different message first flushes
// the count of the previous one. The quota messages carry the new count or
// size, so in practice each op that passes a limit logs one line, as in
// ZooKeeper.
type rateLogger struct {
	lg       *zap.Logger
	interval time.Duration
	now      func() time.Time

	mu    sync.Mutex
	msg   string
	count int
	since time.Time
}

func newRateLogger(log *zap.Logger, now func() time.Time) *rateLogger {
	return &rateLogger{lg: log, interval: 100 * time.Millisecond, now: now}
}

func (r *rateLogger) log(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if msg == r.msg && r.msg != "" {
		r.count++
		if now.Sub(r.since) >= r.interval {
			r.flush()
			r.msg, r.since = msg, now
		}
		return
	}
	r.flush()
	r.msg, r.since = msg, now
	r.lg.Warn(msg)
}

// flush reports the repeats of the current message. Caller holds r.mu.
func (r *rateLogger) flush() {
	if r.msg != "" && r.count > 0 {
		r.lg.Warn(r.msg, zap.Int("times", r.count))
	}
	r.msg, r.count = "", 0
}

// Names of ZooKeeper 3.8's per-namespace quota metrics (QuotaMetricsUtils):
// four gauge sets and a counter set, each keyed by top namespace.
const (
	quotaCountLimitMetric    = "quota_count_limit_per_namespace"
	quotaBytesLimitMetric    = "quota_bytes_limit_per_namespace"
	quotaCountUsageMetric    = "quota_count_usage_per_namespace"
	quotaBytesUsageMetric    = "quota_bytes_usage_per_namespace"
	quotaExceededErrorMetric = "quota_exceeded_error_per_namespace"
)

// quotaFigure is one member of a per-namespace quota metric.
type quotaFigure struct {
	name, namespace string
	value           int64
}

// quotaFigures are the per-namespace quota metrics at this moment: the
// gauge sets from a walk of /zookeeper/quota (the tree's read locks only,
// no I/O; see datatree.QuotaByNamespace), then the QuotaExceeded counts.
// The order is stable: by metric, then by namespace.
func (s *Server) quotaFigures() []quotaFigure {
	byNS := s.tree.QuotaByNamespace()
	namespaces := slices.Sorted(maps.Keys(byNS))
	var out []quotaFigure
	add := func(name string, has func(datatree.NamespaceQuota) bool, value func(datatree.NamespaceQuota) int64) {
		for _, ns := range namespaces {
			if q := byNS[ns]; has(q) {
				out = append(out, quotaFigure{name, ns, value(q)})
			}
		}
	}
	limits := func(q datatree.NamespaceQuota) bool { return q.Limits }
	usage := func(q datatree.NamespaceQuota) bool { return q.Usage }
	add(quotaCountLimitMetric, limits, func(q datatree.NamespaceQuota) int64 { return q.CountLimit })
	add(quotaBytesLimitMetric, limits, func(q datatree.NamespaceQuota) int64 { return q.BytesLimit })
	add(quotaCountUsageMetric, usage, func(q datatree.NamespaceQuota) int64 { return q.CountUsage })
	add(quotaBytesUsageMetric, usage, func(q datatree.NamespaceQuota) int64 { return q.BytesUsage })
	exceeded := s.stats.quotaExceededCounts()
	for _, ns := range slices.Sorted(maps.Keys(exceeded)) {
		out = append(out, quotaFigure{quotaExceededErrorMetric, ns, exceeded[ns]})
	}
	return out
}
