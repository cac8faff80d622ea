package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/zkd/zkd/internal/admin"
	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/datatree"
	"github.com/zkd/zkd/internal/metrics"
	"github.com/zkd/zkd/internal/session"
	"github.com/zkd/zkd/internal/snapshot"
	"github.com/zkd/zkd/internal/storage"
	"github.com/zkd/zkd/internal/watch"
	"github.com/zkd/zkd/internal/wire"
)

// Version is what srvr/stat/mntr report. The ZooKeeper-style prefix keeps
// tools that parse the version line (zkServer.sh status) working.
var Version = "3.8.0-zkd-dev"

// Server is a standalone zkd server.
type Server struct {
	cfg      *config.Config
	log      *zap.Logger
	serverID int64

	tree     *datatree.Tree
	watches  *watch.Manager
	sessions *session.Tracker
	// order keeps reads and applied txns from interleaving, as
	// ZooKeeper's CommitProcessor does: a read holds it shared from its
	// look at the tree until its reply is queued, and the applier holds
	// it exclusively while it applies txns and queues their replies and
	// notifications. Without it a create applied between a getChildren's
	// look at the tree and the queueing of its reply sends the
	// NodeChildrenChanged before the reply; clients register a watch only
	// when the reply arrives, so they drop that event and wait for ever
	// (a Java DistributedQueue consumer hung in CI this way). Only
	// in-memory work is done under it: replies are queued, never written.
	order sync.RWMutex
	// applying is the applier's flushSet while it holds order: frames
	// queued meanwhile are written when it lets go (outbox), not by
	// waking each connection's writer.
	applying atomic.Pointer[flushSet]
	// readReplyHook, if set (tests only, before Serve), runs between a
	// read's look at the tree and the queueing of its reply: the window
	// Server.order closes.
	readReplyHook func(wire.OpCode)
	// lastNotif is the last notification frame encoded (notification).
	lastNotif atomic.Pointer[notifFrame]
	// snapGate is shared by every store this server opens: one snapshot at
	// a time, including one a closed store left running (reload).
	snapGate storage.SnapshotGate
	// pipeP is the write pipeline. An ensemble member starts a fresh one
	// for every role; pipe() returns the current one.
	pipeP  atomic.Pointer[pipeline]
	pipeMu sync.Mutex // serialises role switches
	// peer is the ensemble member driver; nil for a standalone server.
	peer *peer
	// clientsOK is false while the server cannot serve clients (an
	// ensemble member without a leader); new connections are then closed.
	clientsOK atomic.Bool
	// readOnly is set while an ensemble member without a quorum serves
	// read-only clients (readonlymode.enabled).
	readOnly atomic.Bool
	// expiryCancel stops the session expiry driver (run by standalone
	// servers and by a leader only).
	expiryMu     sync.Mutex
	expiryCancel context.CancelFunc
	expiryDone   chan struct{}
	// store is the txn log and snapshots; nil for an in-memory server
	// (no dataDir), which tests use.
	store *storage.Store
	// recovered describes what startup read from disk.
	recovered *storage.Recovered
	// treeFromDisk is true while the tree is exactly what storage recovery
	// gave (no role has run since): an ensemble member need not rebuild it
	// before its first election. Only the peer loop reads it after start.
	treeFromDisk bool
	// treeSuspect is set while the tree may not be a prefix of the log
	// (a SNAP being loaded, a TRUNC): the next reload rebuilds it from
	// disk instead of fast-forwarding it. Peer loop and learner only.
	treeSuspect bool

	ln       net.Listener
	started  time.Time
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once

	connMu    sync.Mutex
	conns     map[*conn]struct{}
	perIP     map[string]int
	bySession map[wire.SessionID]*conn

	stats serverStats
	// traceMask is what gtmk reports and stmk sets (atomic: concurrent 4lw).
	traceMask atomic.Int64
	// serving is false until the listener accepts and after Stop begins.
	serving atomic.Bool
	// admin is the AdminServer, nil when disabled or not started.
	admin *admin.Server
	// metrics receives exporter events (nopMetrics when off); exporter is
	// the Prometheus registry and listener, nil when off (metrics.go).
	metrics  Metrics
	exporter *metrics.Metrics
	// quotaLog rate-limits the "Quota exceeded" warnings of checkQuota.
	quotaLog *rateLogger
}

// New builds a server from a configuration. It does not listen yet.
func New(cfg *config.Config, log *zap.Logger) (*Server, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.TickTime <= 0 {
		return nil, fmt.Errorf("server: tickTime must be positive, got %d", cfg.TickTime)
	}
	w := watch.NewManager()
	s := &Server{
		cfg:       cfg,
		log:       log,
		serverID:  1, // standalone servers use 1 in session ids (wire.md §3.4)
		watches:   w,
		conns:     map[*conn]struct{}{},
		perIP:     map[string]int{},
		bySession: map[wire.SessionID]*conn{},
		quotaLog:  newRateLogger(log, time.Now),
	}
	if cfg.EnforceQuota {
		log.Info("zookeeper.enforceQuota = true, Quota Enforce enables")
	}
	s.setupMetrics()
	now := time.Now().UnixMilli()
	if cfg.Quorum() {
		myid, err := readMyID(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		s.serverID = myid
	}
	s.sessions = session.New(s.serverID, int64(cfg.TickTime), now)
	if cfg.DataDir == "" {
		s.tree = datatree.New(w)
	} else if err := s.openStorage(now); err != nil {
		return nil, err
	}
	if cfg.Quorum() {
		var err error
		if s.peer, err = newPeer(s, s.serverID); err != nil {
			return nil, err
		}
	}
	s.pipeP.Store(newPipeline(s))
	s.stats.reset()
	s.traceMask.Store(defaultTraceMask)
	return s, nil
}

// openStorage recovers the tree and sessions from the data directories
// and opens the txn log for appends.
func (s *Server) openStorage(now int64) error {
	loadStart := time.Now()
	rec, err := storage.Recover(s.snapDir(), s.logDir(), s.maxNested(), s.watches, s.log)
	if err != nil {
		return err
	}
	s.metrics.ObserveDBInit(time.Since(loadStart))
	s.recovered = rec
	s.tree = rec.Tree
	for id, timeout := range rec.Sessions {
		// Restored sessions get a full timeout from now, as in ZooKeeper:
		// their clients may reconnect and keep their ephemerals.
		s.sessions.Add(wire.SessionID(id), timeout, now)
	}
	if err := s.openStore(); err != nil {
		return err
	}
	st := s.store
	s.treeFromDisk = true
	switch {
	case rec.SnapshotZxid < 0 || len(rec.DroppedEphemerals) > 0:
		// No snapshot yet, or a change (dropped ephemerals) that no log
		// holds: snapshot now, but in the background, not before serving
		// as ZooKeeper does (with a large tree that is its whole write
		// time added to the start). Until it is written the older snapshot
		// and the logs cover everything: a crash drops the same ephemerals
		// again.
		st.SnapshotInBackground()
	case rec.Replayed > 0:
		// The replayed txns count towards snapCount like new ones: the
		// next snapshot comes when the log since the last one is long,
		// not at every start, where writing a large tree competes with
		// loading it (and, in an ensemble, with the other members).
		st.NoteReplayed(rec.Replayed)
	}
	return nil
}

// snapshotSessions lists the live sessions for a snapshot.
func (s *Server) snapshotSessions() []snapshot.Session {
	list := s.sessions.Sessions()
	out := make([]snapshot.Session, 0, len(list))
	for _, ss := range list {
		out = append(out, snapshot.Session{ID: int64(ss.ID), Timeout: ss.Timeout})
	}
	return out
}

// activeLearner is the running follower/observer role, or nil.
func (s *Server) activeLearner() *learner {
	l, _ := s.roleNow()
	return l
}

// roleNow reads the ensemble role once: the running learner (nil on a
// leader) and whether this server may take sessions and writes at all.
// A standalone server always may; an ensemble member only while it has a
// role. Between roles it must not: a write prepared on a member that was
// following would take a zxid the leader hands out too, and a session
// resumed there would be validated by nobody. Checking clientsOK first is
// not enough: the role may end between that check and this read (a kazoo
// client once resumed its session on a member in that gap and was
// dropped at once).
func (s *Server) roleNow() (*learner, bool) {
	if s.peer == nil {
		return nil, true
	}
	s.peer.roleMu.Lock()
	defer s.peer.roleMu.Unlock()
	return s.peer.learner, s.peer.learner != nil || s.peer.leader != nil
}

// activeLeader is the running leader role, or nil.
func (s *Server) activeLeader() *leader {
	if s.peer == nil {
		return nil
	}
	s.peer.roleMu.Lock()
	defer s.peer.roleMu.Unlock()
	return s.peer.leader
}

// touchSession records client activity: the local tracker, and on a
// learner the touch table it reports to the leader in pings.
func (s *Server) touchSession(id wire.SessionID, timeout int32) {
	s.sessions.Touch(id, time.Now().UnixMilli())
	if l := s.activeLearner(); l != nil && id != 0 {
		l.touch(id, timeout)
	}
}

// pipe is the current write pipeline.
func (s *Server) pipe() *pipeline { return s.pipeP.Load() }

// startSessionExpiry runs the session expiry driver (standalone, leader).
func (s *Server) startSessionExpiry() {
	s.expiryMu.Lock()
	defer s.expiryMu.Unlock()
	if s.expiryCancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	done := make(chan struct{})
	s.expiryCancel, s.expiryDone = cancel, done
	go func() {
		defer close(done)
		_ = session.Run(ctx, s.sessions, session.NewRealClock(), int64(s.cfg.TickTime), s.expireSessions)
	}()
}

// stopSessionExpiry stops it and waits.
func (s *Server) stopSessionExpiry() {
	s.expiryMu.Lock()
	cancel, done := s.expiryCancel, s.expiryDone
	s.expiryCancel, s.expiryDone = nil, nil
	s.expiryMu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// Tree exposes the data tree (tests, admin tools).
func (s *Server) Tree() *datatree.Tree { return s.tree }

// Addr is the listening address, once Start has returned.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Start listens on the configured client address and serves until Stop.
func (s *Server) Start() error {
	if s.cfg.DataDir != "" {
		if err := os.MkdirAll(s.cfg.DataDir, 0o755); err != nil {
			return fmt.Errorf("server: create dataDir: %w", err)
		}
	}
	addr := net.JoinHostPort(s.cfg.ClientPortAddress, fmt.Sprint(s.cfg.ClientPort))
	// Accepted connections get no TCP keepalive unless clientTcpKeepAlive
	// asks for it, as in ZooKeeper; Go's default would turn it on and cost
	// setsockopt calls on every accept.
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return fmt.Errorf("server: listen on %s: %w", addr, err)
	}
	return s.Serve(ln)
}

// Serve serves on an existing listener (tests pass 127.0.0.1:0).
func (s *Server) Serve(ln net.Listener) error {
	s.ln = ln
	s.started = time.Now()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.acceptLoop() }()
	go func() { defer s.wg.Done(); s.reaperLoop() }()
	// Decided before the peer starts: its goroutine swaps s.store (reload).
	autopurge := s.store != nil && s.cfg.AutopurgePurgeInterval > 0
	if s.peer != nil {
		if err := s.peer.start(s.ctx); err != nil {
			s.cancel()
			ln.Close()
			s.wg.Wait()
			return err
		}
	} else {
		s.pipe().start()
		s.startSessionExpiry()
		s.clientsOK.Store(true)
	}
	if autopurge {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.purgeLoop() }()
	}
	s.startMetrics()
	s.startAdmin()
	s.serving.Store(true)
	s.log.Info("serving clients", zap.Stringer("addr", ln.Addr()),
		zap.Int("tickTime", s.cfg.TickTime),
		zap.Int("minSessionTimeout", s.cfg.MinSessionTimeout),
		zap.Int("maxSessionTimeout", s.cfg.MaxSessionTimeout))
	return nil
}

// Stop closes the listener and every connection and waits for the
// server's goroutines. Sessions are not closed: like ZooKeeper, a restart
// (once durable) lets clients resume them.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.serving.Store(false)
		if s.admin != nil {
			s.admin.Close()
		}
		if s.ln != nil {
			s.ln.Close()
		}
		if s.cancel != nil {
			s.cancel()
		}
		s.connMu.Lock()
		conns := make([]*conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.connMu.Unlock()
		for _, c := range conns {
			c.close()
		}
		s.wg.Wait()
		s.stopMetrics()
		s.stopSessionExpiry()
		s.pipe().stop()
		if s.store != nil {
			if err := s.store.Close(); err != nil {
				s.log.Warn("closing the transaction log", zap.Error(err))
			}
		}
		s.snapGate.Wait() // one a closed store left running, if any
		s.log.Info("server stopped")
	})
}

func (s *Server) acceptLoop() {
	var delay time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.ctx.Err() != nil {
				return
			}
			// Out of file descriptors and the like: back off, keep serving.
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay < time.Second {
				delay *= 2
			}
			s.log.Warn("accept failed", zap.Error(err), zap.Duration("retryIn", delay))
			select {
			case <-time.After(delay):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		delay = 0
		if s.cfg.ClientTCPKeepAlive {
			if tc, ok := nc.(*net.TCPConn); ok {
				_ = tc.SetKeepAlive(true)
			}
		}
		c := newConn(s, nc)
		if !s.register(c) {
			// maxClientCnxns: accept and close at once, no bytes (wire.md §1).
			s.log.Warn("too many connections from client, closing",
				zap.String("ip", c.ip), zap.Int("max", s.cfg.MaxClientCnxns))
			s.metrics.IncConnectionRejected()
			nc.Close()
			continue
		}
		s.wg.Add(1)
		go func() { defer s.wg.Done(); c.serve() }()
	}
}

func (s *Server) register(c *conn) bool {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.ctx.Err() != nil {
		return false
	}
	if s.cfg.MaxClientCnxns > 0 && s.perIP[c.ip] >= s.cfg.MaxClientCnxns {
		return false
	}
	s.perIP[c.ip]++
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) unregister(c *conn) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if _, ok := s.conns[c]; !ok {
		return
	}
	delete(s.conns, c)
	if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
		delete(s.perIP, c.ip)
	}
	if id := c.sessionID(); id != 0 && s.bySession[id] == c {
		delete(s.bySession, id)
	}
}

// bindSession makes c the connection of session id and returns the
// connection it replaces, if any.
func (s *Server) bindSession(id wire.SessionID, c *conn) *conn {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	old := s.bySession[id]
	s.bySession[id] = c
	if old == c {
		return nil
	}
	return old
}

func (s *Server) connOf(id wire.SessionID) *conn {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	return s.bySession[id]
}

func (s *Server) connList() []*conn {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	out := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// expireSessions is called by the session driver with sessions whose
// deadline passed. Each gets a closeSession txn issued by the server
// (cxid 0), and its connection, if any, is closed.
func (s *Server) expireSessions(ids []wire.SessionID) {
	for _, id := range ids {
		s.log.Info("session expired", zap.Stringer("session", id))
		s.pipe().submit(&request{session: id, op: wire.OpCloseSession, internal: true})
	}
}

// negotiateTimeout clamps a requested timeout into the configured bounds.
func (s *Server) negotiateTimeout(req int32) int32 {
	t := int(req)
	if t < s.cfg.MinSessionTimeout {
		t = s.cfg.MinSessionTimeout
	}
	if t > s.cfg.MaxSessionTimeout {
		t = s.cfg.MaxSessionTimeout
	}
	return int32(t)
}

// maxFrame is the largest frame accepted (jute.maxbuffer).
func (s *Server) maxFrame() int { return s.cfg.JuteMaxBuffer }

// maxNested bounds lengths inside a record (jute.maxbuffer + extrasize).
func (s *Server) maxNested() int { return s.cfg.JuteMaxBuffer + s.cfg.JuteMaxBufferExtraSize }

// purgeLoop is ZooKeeper's DatadirCleanupManager: at start and then every
// autopurge.purgeInterval hours, keep the newest autopurge.snapRetainCount
// snapshots and the logs they need.
func (s *Server) purgeLoop() {
	every := time.Duration(s.cfg.AutopurgePurgeInterval) * time.Hour
	for {
		res, err := storage.Purge(s.snapDir(), s.logDir(), s.cfg.AutopurgeSnapRetainCount)
		if err != nil {
			s.log.Warn("autopurge failed", zap.Error(err))
		} else if len(res.Snapshots)+len(res.Logs) > 0 {
			s.log.Info("autopurge removed old files", zap.Int("snapshots", len(res.Snapshots)), zap.Int("logs", len(res.Logs)))
		}
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// beforeReadReply runs the test hook, if any (readReplyHook).
func (s *Server) beforeReadReply(op wire.OpCode) {
	if h := s.readReplyHook; h != nil {
		h(op)
	}
}
