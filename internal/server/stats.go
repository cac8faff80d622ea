package server

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkd/zkd/internal/datatree"
)

// serverStats are the counters behind srvr/stat/mntr (ServerStats.java).
type serverStats struct {
	packetsReceived atomic.Int64
	packetsSent     atomic.Int64
	outstanding     atomic.Int64
	authFailed      atomic.Int64

	latMu    sync.Mutex
	latMin   int64 // ms
	latMax   int64
	latTotal int64
	latCount int64

	// Reply sizes in bytes (length prefix excluded); -1 until a reply.
	respLast atomic.Int64
	respMin  atomic.Int64
	respMax  atomic.Int64

	// quotaExceeded counts the writes refused with QuotaExceeded, by top
	// namespace of the written path: ZooKeeper's counter set
	// quota_exceeded_error_per_namespace. Only the server that prepares
	// writes (standalone, or the leader) counts.
	quotaMu       sync.Mutex
	quotaExceeded map[string]int64
}

func (s *serverStats) reset() {
	s.packetsReceived.Store(0)
	s.packetsSent.Store(0)
	s.latMu.Lock()
	s.latMin, s.latMax, s.latTotal, s.latCount = 0, 0, 0, 0
	s.latMu.Unlock()
	s.respLast.Store(-1)
	s.respMin.Store(-1)
	s.respMax.Store(-1)
	// ZooKeeper's srst resets its counter sets to 0 and keeps their keys
	// (SimpleCounterSet.reset; verified with 3.8.0's mntr).
	s.quotaMu.Lock()
	for ns := range s.quotaExceeded {
		s.quotaExceeded[ns] = 0
	}
	s.quotaMu.Unlock()
}

// countQuotaExceeded counts a write to path refused with QuotaExceeded
// (ZooKeeperServer.updateQuotaExceededMetrics).
func (s *serverStats) countQuotaExceeded(path string) {
	ns, ok := datatree.TopNamespace(path)
	if !ok {
		return
	}
	s.quotaMu.Lock()
	if s.quotaExceeded == nil {
		s.quotaExceeded = map[string]int64{}
	}
	s.quotaExceeded[ns]++
	s.quotaMu.Unlock()
}

// quotaExceededCounts is a copy of the QuotaExceeded counts by namespace.
func (s *serverStats) quotaExceededCounts() map[string]int64 {
	s.quotaMu.Lock()
	defer s.quotaMu.Unlock()
	return maps.Clone(s.quotaExceeded)
}

func (s *serverStats) recordResponseSize(n int) {
	v := int64(n)
	s.respLast.Store(v)
	for {
		m := s.respMin.Load()
		if (m >= 0 && v >= m) || s.respMin.CompareAndSwap(m, v) {
			break
		}
	}
	for {
		m := s.respMax.Load()
		if v <= m || s.respMax.CompareAndSwap(m, v) {
			break
		}
	}
}

// responseSizes returns the last, min and max reply size (-1 if none).
func (s *serverStats) responseSizes() (last, min, max int64) {
	return s.respLast.Load(), s.respMin.Load(), s.respMax.Load()
}

func (s *serverStats) recordLatency(d time.Duration) {
	ms := d.Milliseconds()
	s.latMu.Lock()
	if s.latCount == 0 || ms < s.latMin {
		s.latMin = ms
	}
	if ms > s.latMax {
		s.latMax = ms
	}
	s.latTotal += ms
	s.latCount++
	s.latMu.Unlock()
}

// latency returns min, avg, max in ms (0s when nothing was measured).
func (s *serverStats) latency() (int64, float64, int64) {
	s.latMu.Lock()
	defer s.latMu.Unlock()
	if s.latCount == 0 {
		return 0, 0, 0
	}
	return s.latMin, float64(s.latTotal) / float64(s.latCount), s.latMax
}

// connStats are the per-connection figures cons prints.
type connStats struct {
	established time.Time
	received    atomic.Int64
	sent        atomic.Int64
	lastOp      atomic.Int32
	lastCxid    atomic.Int32
	lastZxid    atomic.Int64
	lastResp    atomic.Int64 // ms epoch

	latMu    sync.Mutex
	lastLat  int64
	minLat   int64
	maxLat   int64
	totalLat int64
	count    int64
}

func (c *connStats) recordLatency(d time.Duration, zxid int64) {
	ms := d.Milliseconds()
	c.lastResp.Store(time.Now().UnixMilli())
	if zxid >= 0 {
		c.lastZxid.Store(zxid)
	}
	c.latMu.Lock()
	c.lastLat = ms
	if c.count == 0 || ms < c.minLat {
		c.minLat = ms
	}
	if ms > c.maxLat {
		c.maxLat = ms
	}
	c.totalLat += ms
	c.count++
	c.latMu.Unlock()
}

func (c *connStats) reset() {
	c.received.Store(0)
	c.sent.Store(0)
	c.latMu.Lock()
	c.lastLat, c.minLat, c.maxLat, c.totalLat, c.count = 0, 0, 0, 0, 0
	c.latMu.Unlock()
}
