package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/zkd/zkd/internal/admin"
	"github.com/zkd/zkd/internal/snapshot"
	"github.com/zkd/zkd/internal/wire"
)

// This file implements admin.Backend: the AdminServer's view of the
// server. The values come from the same sources as the four-letter words,
// so mntr and the monitor command agree.

var _ admin.Backend = (*Server)(nil)

// startAdmin starts the AdminServer when admin.enableServer is set. A
// listen failure is logged, not fatal, as in ZooKeeper.
func (s *Server) startAdmin() {
	if !s.cfg.AdminEnableServer {
		return
	}
	addr := net.JoinHostPort(s.cfg.AdminServerAddress, strconv.Itoa(s.cfg.AdminServerPort))
	a, err := admin.Start(addr, s, admin.Options{
		CommandURL:  s.cfg.AdminCommandURL,
		IdleTimeout: time.Duration(s.cfg.AdminIdleTimeout) * time.Millisecond,
		Log:         s.log.Named("admin"),
		Pprof:       s.cfg.AdminPprof,
	})
	if err != nil {
		s.log.Warn("problem starting the AdminServer; continuing without it", zap.Error(err))
		return
	}
	s.admin = a
}

// AdminAddr is the AdminServer's listening address, nil when it does not
// run (disabled, or its port was taken). admin.serverPort=0 picks a port.
func (s *Server) AdminAddr() net.Addr {
	if s.admin == nil {
		return nil
	}
	return s.admin.Addr()
}

// MonitorValues is Monitor for the AdminServer: the same keys and values
// as mntr, so the monitor command mirrors it.
func (s *Server) MonitorValues() []admin.KV {
	kvs := s.Monitor()
	out := make([]admin.KV, len(kvs))
	for i, kv := range kvs {
		v := kv.Value
		// mntr prints some numbers pre-formatted ("0.0"); keep the text
		// but let JSON carry it as a number, as ZooKeeper does.
		if str, ok := v.(string); ok {
			if _, err := strconv.ParseFloat(str, 64); err == nil {
				v = json.Number(str)
			}
		}
		out[i] = admin.KV{Key: kv.Key, Value: v}
	}
	return out
}

// Serving reports whether the server answers clients.
func (s *Server) Serving() bool {
	return s.serving.Load() && (s.clientsOK.Load() || s.readOnly.Load())
}

// AdminServerStats is ServerStats, the client reply sizes and, on a
// leader, the proposal sizes.
func (s *Server) AdminServerStats() (admin.ServerStats, admin.ResponseStats, *admin.ProposalStats) {
	min, avg, max := s.stats.latency()
	avgF, _ := strconv.ParseFloat(javaAvg(avg), 64)
	last, rmin, rmax := s.stats.responseSizes()
	st := admin.ServerStats{
		PacketsSent:               s.stats.packetsSent.Load(),
		PacketsReceived:           s.stats.packetsReceived.Load(),
		ClientResponseStats:       admin.ResponseStats{LastBufferSize: last, MinBufferSize: rmin, MaxBufferSize: rmax},
		DataDirSize:               dirSize(s.snapDir()),
		LogDirSize:                dirSize(s.logDir()),
		LastProcessedZxid:         s.tree.LastZxid(),
		OutstandingRequests:       s.stats.outstanding.Load(),
		ServerState:               s.mode(),
		AvgLatency:                avgF,
		MaxLatency:                max,
		MinLatency:                min,
		NumAliveClientConnections: len(s.connList()),
		Uptime:                    time.Since(s.started).Milliseconds(),
		AuthFailedCount:           s.stats.authFailed.Load(),
	}
	var ps *admin.ProposalStats
	if l := s.activeLeader(); l != nil {
		last, min, max := l.proposalSizes()
		ps = &admin.ProposalStats{LastBufferSize: int64(last), MinBufferSize: int64(min), MaxBufferSize: int64(max)}
	}
	return st, st.ClientResponseStats, ps
}

// NodeCount is srvr's node count.
func (s *Server) NodeCount() int { return s.tree.NodeCount() }

// ReadOnly reports read-only mode (isro).
func (s *Server) ReadOnly() bool { return s.readOnly.Load() && !s.clientsOK.Load() }

// Connections is ServerCnxn.getConnectionInfo for every client connection.
func (s *Server) Connections(brief bool) []map[string]any {
	var out []map[string]any
	for _, c := range s.sortedConns() {
		m := map[string]any{
			"remote_socket_address": c.remote,
			"interest_ops":          c.interestOps(false),
			"outstanding_requests":  c.queued(),
			"packets_received":      c.stats.received.Load(),
			"packets_sent":          c.stats.sent.Load(),
		}
		if !brief {
			st := &c.stats
			st.latMu.Lock()
			avg := int64(0)
			if st.count > 0 {
				avg = st.totalLat / st.count
			}
			m["session_id"] = int64(c.sessionID())
			m["last_operation"] = opAbbrev(wire.OpCode(st.lastOp.Load()))
			m["established"] = st.established.UnixMilli()
			m["session_timeout"] = c.timeout.Load()
			m["last_cxid"] = st.lastCxid.Load()
			m["last_zxid"] = st.lastZxid.Load()
			m["last_response_time"] = st.lastResp.Load()
			m["last_latency"], m["min_latency"], m["avg_latency"], m["max_latency"] = st.lastLat, st.minLat, avg, st.maxLat
			st.latMu.Unlock()
		}
		out = append(out, m)
	}
	return out
}

// ResetConnectionStats is crst.
func (s *Server) ResetConnectionStats() {
	for _, c := range s.connList() {
		c.stats.reset()
	}
}

// ResetServerStats is srst.
func (s *Server) ResetServerStats() { s.stats.reset() }

// ResetObserverStats is orst; zkd keeps no per-observer counters.
func (s *Server) ResetObserverStats() {}

// Conf is ZooKeeperServerConf.toMap.
func (s *Server) Conf() []admin.KV {
	return []admin.KV{
		{Key: "client_port", Value: s.cfg.ClientPort},
		{Key: "data_dir", Value: s.snapDir()},
		{Key: "data_log_dir", Value: s.logDir()},
		{Key: "tick_time", Value: s.cfg.TickTime},
		{Key: "max_client_cnxns", Value: s.cfg.MaxClientCnxns},
		{Key: "min_session_timeout", Value: s.cfg.MinSessionTimeout},
		{Key: "max_session_timeout", Value: s.cfg.MaxSessionTimeout},
		{Key: "server_id", Value: s.serverID},
		{Key: "client_port_listen_backlog", Value: -1},
	}
}

// Environment is envi's key=value list.
func (s *Server) Environment() []admin.KV {
	var b bytes.Buffer
	s.writeEnvi(&b)
	var out []admin.KV
	for _, line := range strings.Split(b.String(), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			out = append(out, admin.KV{Key: k, Value: v})
		}
	}
	return out
}

// DirSizes is dirs.
func (s *Server) DirSizes() (int64, int64) { return dirSize(s.snapDir()), dirSize(s.logDir()) }

// SessionExpiry maps expiry deadlines (ms) to the sessions expiring then.
func (s *Server) SessionExpiry() map[int64][]int64 {
	out := map[int64][]int64{}
	for _, b := range s.sessions.Dump(time.Now().UnixMilli()).Buckets {
		for _, id := range b.IDs {
			out[b.Deadline] = append(out[b.Deadline], int64(id))
		}
	}
	return out
}

// Ephemerals maps sessions to their ephemeral paths.
func (s *Server) Ephemerals() map[int64][]string {
	out := map[int64][]string{}
	for id, paths := range s.tree.EphemeralSessions() {
		out[id] = paths
	}
	return out
}

// TraceMask is gtmk.
func (s *Server) TraceMask() int64 { return s.traceMask.Load() }

// SetTraceMask is stmk.
func (s *Server) SetTraceMask(m int64) { s.traceMask.Store(m) }

// Digests is hash: the digest of the tree as it stands (see fourletter.go).
func (s *Server) Digests() []admin.Digest {
	return []admin.Digest{{Zxid: s.tree.LastZxid(), DigestVersion: 2, Digest: snapshot.TreeDigest(s.tree)}}
}

// InitialConfig is the configuration the server started with.
func (s *Server) InitialConfig() string { return s.cfg.String() }

// LastSnapshot is the newest snapshot written or recovered from.
func (s *Server) LastSnapshot() (int64, int64, bool) {
	if s.store == nil {
		return 0, 0, false
	}
	zxid, path, at := s.store.LastSnapshot()
	if path != "" {
		return zxid, at.UnixMilli(), true
	}
	if s.recovered != nil && s.recovered.SnapshotZxid >= 0 {
		return s.recovered.SnapshotZxid, s.started.UnixMilli(), true
	}
	return 0, 0, false
}

// Leader is the leader command's view.
func (s *Server) Leader() admin.LeaderInfo {
	p := s.peer
	if p == nil {
		return admin.LeaderInfo{}
	}
	info := admin.LeaderInfo{Quorum: true, IsLeader: s.activeLeader() != nil, LeaderID: -1}
	if p.state.Load() != stateLooking {
		info.LeaderID = p.leaderID.Load()
		if m, ok := p.members[info.LeaderID]; ok {
			info.LeaderIP = m.Host
		}
	}
	return info
}

// Observers is obsr: zkd counts synced observers but keeps no per-observer
// handler info.
func (s *Server) Observers() (int, []map[string]any) {
	if l := s.activeLeader(); l != nil {
		_, _, observers, _ := l.stats()
		return observers, nil
	}
	return 0, nil
}

// VotingView maps voter ids to their server lines.
func (s *Server) VotingView() map[int64]string {
	if s.peer == nil {
		return nil
	}
	out := map[int64]string{}
	for id, m := range s.peer.members {
		if !m.Observer {
			out[id] = m.String()
		}
	}
	return out
}

// WatchesBySession is wchc.
func (s *Server) WatchesBySession() map[int64][]string {
	out := map[int64][]string{}
	for id, paths := range s.watches.BySession() {
		out[int64(id)] = paths
	}
	return out
}

// WatchesByPath is wchp.
func (s *Server) WatchesByPath() map[string][]int64 {
	out := map[string][]int64{}
	for p, ids := range s.watches.ByPath() {
		for _, id := range ids {
			out[p] = append(out[p], int64(id))
		}
	}
	return out
}

// WatchSummary is wchs.
func (s *Server) WatchSummary() (int, int, int) {
	sum := s.watches.DataSummary()
	return sum.Connections, sum.Paths, sum.Watches
}

// ZabState is the zabstate command's view.
func (s *Server) ZabState() admin.ZabInfo {
	p := s.peer
	if p == nil {
		return admin.ZabInfo{}
	}
	z := admin.ZabInfo{
		Quorum:          true,
		MyID:            p.myid,
		IsLeader:        s.activeLeader() != nil,
		QuorumAddress:   hostPort(p.self.Host, p.self.QuorumPort),
		ElectionAddress: hostPort(p.self.Host, p.self.ElectionPort),
		Voting:          !p.observer,
		ZabState:        "broadcast",
	}
	if p.state.Load() == stateLooking {
		z.ZabState = "election"
	}
	return z
}

// errNoStorage answers snapshot on a server without a dataDir.
var errNoStorage = errors.New("snapshots need a dataDir: this server keeps its data in memory")

// TakeSnapshot writes a snapshot now (3.9's snapshot command).
func (s *Server) TakeSnapshot() (int64, string, error) {
	if s.store == nil {
		return 0, "", errNoStorage
	}
	path, err := s.store.Snapshot()
	if err != nil {
		return 0, "", err
	}
	zxid, _, _ := s.store.LastSnapshot()
	return zxid, path, nil
}
