package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/zkd/zkd/internal/session"
	"github.com/zkd/zkd/internal/wire"
)

// sessionlessTimeout closes connections that never finish the handshake
// (zookeeper.nio.sessionlessCnxnTimeout).
const sessionlessTimeout = 10 * time.Second

// maxQueuedBytes bounds the replies queued for a client that does not
// read; past it the connection is closed rather than letting one slow
// client grow the server's memory without limit.
const maxQueuedBytes = 64 << 20

// maxPendingWrites bounds the writes one connection may have in the
// pipeline; the reader stops reading the socket until some complete.
const maxPendingWrites = 1000

// conn is one client connection. The reader goroutine (serve) decodes
// requests; the writer goroutine (writeLoop) sends queued frames. Replies
// are queued in request order: reads wait for the connection's earlier
// writes to be applied (waitWrites) before they run.
type conn struct {
	srv    *Server
	nc     net.Conn
	remote string // "/ip:port" as ZooKeeper prints it
	ip     string
	log    *zap.Logger

	ob        *outbox
	done      chan struct{}
	closeOnce sync.Once
	// inBurst and forwards belong to the reader goroutine: a burst of
	// requests is being handled (beginBurst), and the learner's outbox
	// to the leader if the burst forwarded writes there.
	inBurst  bool
	forwards flushSet

	sid     atomic.Int64 // session id once established
	timeout atomic.Int32

	authMu  sync.Mutex
	authIDs []wire.Id

	// pending counts this connection's writes between submit and reply.
	pendMu   sync.Mutex
	pendCond *sync.Cond
	pending  int

	stats connStats
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		srv:    s,
		nc:     nc,
		remote: "/" + nc.RemoteAddr().String(),
		done:   make(chan struct{}),
	}
	c.ob = newOutbox(nc, c.close)
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		c.ip = ta.IP.String()
		c.remote = "/" + ta.IP.String() + ":" + fmt.Sprint(ta.Port)
	} else {
		c.ip = nc.RemoteAddr().String()
	}
	c.log = s.log.With(zap.String("client", c.remote))
	c.pendCond = sync.NewCond(&c.pendMu)
	c.stats.established = time.Now()
	// Every connection starts with the ip identity (IPAuthenticationProvider).
	c.authIDs = []wire.Id{{Scheme: "ip", ID: c.ip}}
	return c
}

func (c *conn) sessionID() wire.SessionID { return wire.SessionID(c.sid.Load()) }

// SessionID names this connection's watches in dumps.
func (c *conn) SessionID() wire.SessionID { return c.sessionID() }

func (c *conn) ids() []wire.Id {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	return append([]wire.Id(nil), c.authIDs...)
}

func (c *conn) serve() {
	defer c.finish()
	c.ob.start()
	// A small read buffer keeps 10,000 idle connections cheap; larger
	// frames are read straight into their own buffer.
	br := bufio.NewReaderSize(c.nc, 8<<10)
	_ = c.nc.SetReadDeadline(time.Now().Add(sessionlessTimeout))

	// A fresh connection whose first four bytes spell a known four-letter
	// word is a command, not a session (wire.md §16).
	if head, err := br.Peek(4); err == nil {
		if cmd := string(head); isFourLetterWord(cmd) {
			c.srv.stats.packetsReceived.Add(1)
			_, _ = br.Discard(4)
			c.runFourLetterWord(cmd, br)
			return
		}
	}
	frame, err := wire.ReadFrame(br, c.srv.maxFrame(), nil)
	if err != nil {
		c.logReadError("handshake", err)
		return
	}
	c.srv.stats.packetsReceived.Add(1)
	c.stats.received.Add(1)
	if !c.handshake(frame) {
		return
	}
	_ = c.nc.SetReadDeadline(time.Time{})

	// Requests that arrived together are a burst: their replies (and the
	// writes a learner forwards) are queued while it is read and written
	// together when it ends, by this goroutine (outbox), before it blocks
	// on the socket again.
	var buf []byte
	defer c.endBurst()
	for {
		if br.Buffered() == 0 {
			c.endBurst()
		}
		frame, err := wire.ReadFrame(br, c.srv.maxFrame(), buf)
		if err != nil {
			c.logReadError("read", err)
			return
		}
		if cap(frame) > cap(buf) && cap(frame) <= 64<<10 {
			buf = frame[:0]
		}
		c.srv.stats.packetsReceived.Add(1)
		c.stats.received.Add(1)
		c.srv.touchSession(c.sessionID(), c.timeout.Load())
		c.beginBurst()
		if !c.handleFrame(frame) {
			return
		}
	}
}

// beginBurst holds the connection's replies for the reader to write
// (endBurst). Reader goroutine only.
func (c *conn) beginBurst() {
	if !c.inBurst {
		c.inBurst = true
		c.ob.hold()
	}
}

// endBurst writes what the burst queued: the connection's replies and
// the writes forwarded to the leader. Also called before the reader
// blocks inside a burst (flushBurst), so nothing waits on it.
func (c *conn) endBurst() {
	if c.inBurst {
		c.inBurst = false
		c.ob.release()
	}
	c.forwards.flush()
}

// flushBurst writes what the burst has queued so far, when the reader is
// about to wait for the pipeline.
func (c *conn) flushBurst() {
	c.ob.flush()
	c.forwards.flush()
}

// flushTimeout bounds how long a connection that asked to close after
// its last reply (closeAfterFlush) waits for the writer to send it.
const flushTimeout = 5 * time.Second

// finish runs when the reader stops. A connection with a final reply
// queued (closeAfterFlush: an expired-session ConnectResponse, an
// Unimplemented reply, ...) is closed by the writer once that reply is
// out; closing here at once would drop it.
func (c *conn) finish() {
	if c.ob.draining() {
		t := time.NewTimer(flushTimeout)
		defer t.Stop()
		select {
		case <-c.done:
			return
		case <-t.C:
		}
	}
	c.close()
}

func (c *conn) logReadError(stage string, err error) {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		c.log.Debug("client closed connection", zap.String("stage", stage))
	case errors.Is(err, wire.ErrFrameTooLarge):
		// jute.maxbuffer exceeded: ZooKeeper closes without a reply.
		c.log.Warn("closing connection: packet length out of range", zap.String("stage", stage),
			zap.Int("jute.maxbuffer", c.srv.maxFrame()), zap.Error(err))
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.log.Info("closing connection: no handshake in time", zap.String("stage", stage))
			return
		}
		c.log.Debug("closing connection", zap.String("stage", stage), zap.Error(err))
	}
}

// handshake processes the ConnectRequest (ZooKeeperServer.processConnectRequest).
// It returns false when the connection must close.
func (c *conn) handshake(frame []byte) bool {
	var req wire.ConnectRequest
	if err := wire.Unmarshal(frame, c.srv.maxNested(), &req); err != nil {
		c.log.Info("closing connection: malformed ConnectRequest", zap.Error(err))
		return false
	}
	c.srv.metrics.IncConnectionRequest()
	if req.LastZxidSeen > c.srv.tree.LastZxid() {
		// The client has seen a newer state than ours: make it try another
		// server by closing without a reply.
		c.log.Info("refusing session: client has seen a newer zxid",
			zap.Stringer("clientZxid", wire.Zxid(req.LastZxidSeen)),
			zap.Stringer("ourZxid", wire.Zxid(c.srv.tree.LastZxid())))
		return false
	}
	if !c.srv.clientsOK.Load() {
		if c.srv.readOnly.Load() && req.ReadOnly {
			return c.readOnlyHandshake(&req)
		}
		// An ensemble member without a leader serves nobody (but clients
		// that accept a read-only server, when readonlymode.enabled).
		c.log.Debug("refusing session: not serving (no quorum)")
		return false
	}
	learner, serving := c.srv.roleNow()
	if !serving {
		c.log.Debug("refusing session: between ensemble roles")
		return false
	}
	timeout := c.srv.negotiateTimeout(req.TimeOut)
	now := time.Now().UnixMilli()
	if req.SessionID == 0 {
		sess := c.srv.sessions.Create(timeout, now)
		c.sid.Store(int64(sess.ID))
		c.timeout.Store(timeout)
		c.srv.bindSession(sess.ID, c)
		// createSession is a transaction; the reply goes out when it is
		// applied, and only then do we read further requests.
		done := make(chan struct{})
		c.beginWrite()
		r := &request{
			conn: c, session: sess.ID, op: wire.OpCreateSession,
			rec: &wire.CreateSessionTxn{TimeOut: timeout}, connect: &req, onDone: done,
		}
		if learner != nil {
			var e wire.Encoder
			e.Int(timeout)
			learner.forward(r, e.B, nil, nil)
		} else {
			if l := c.srv.activeLeader(); l != nil {
				l.setOwner(sess.ID, 0)
			}
			c.srv.pipe().submit(r)
		}
		select {
		case <-done:
		case <-c.done:
			return false
		}
		c.log.Debug("session established", zap.Stringer("session", sess.ID), zap.Int32("timeout", timeout))
		return true
	}

	id := wire.SessionID(req.SessionID)
	// Close any other connection of this session first, even if the
	// password turns out wrong (verified against ZooKeeper).
	if old := c.srv.connOf(id); old != nil && old != c {
		c.log.Info("closing the session's previous connection", zap.Stringer("session", id),
			zap.String("previous", old.nc.RemoteAddr().String()))
		old.close()
	}
	err := c.srv.sessions.Validate(id, req.Passwd)
	if err == nil && learner != nil {
		// Only the leader knows whether the session is still alive.
		var valid bool
		valid, err = learner.revalidateSession(id, timeout, time.Duration(c.srv.cfg.SyncLimit*c.srv.cfg.TickTime)*time.Millisecond)
		if err == nil && !valid {
			err = errors.New("the leader says the session expired")
		}
	}
	if err != nil {
		c.log.Info("refusing session reconnect", zap.Stringer("session", id), zap.Error(err))
		c.sendConnectResponse(&req, 0, 0, nil)
		c.closeAfterFlush()
		return false
	}
	c.srv.sessions.SetTimeout(id, timeout, now)
	if l := c.srv.activeLeader(); l != nil {
		l.setOwner(id, 0)
	}
	c.sid.Store(int64(id))
	c.timeout.Store(timeout)
	c.srv.bindSession(id, c)
	pw := session.Password(id)
	c.sendConnectResponse(&req, timeout, id, pw[:])
	c.log.Debug("session resumed", zap.Stringer("session", id))
	return true
}

func (c *conn) sendConnectResponse(req *wire.ConnectRequest, timeout int32, id wire.SessionID, passwd []byte) {
	if passwd == nil {
		passwd = make([]byte, 16)
	}
	resp := wire.ConnectResponse{
		TimeOut: timeout, SessionID: int64(id), Passwd: passwd,
		HasReadOnly: req.HasReadOnly, ReadOnly: false,
	}
	c.send(wire.MarshalFrame(&resp))
}

// beginWrite records a write entering the pipeline for this connection.
func (c *conn) beginWrite() {
	c.pendMu.Lock()
	if c.pending >= maxPendingWrites {
		c.pendMu.Unlock()
		c.flushBurst()
		c.pendMu.Lock()
	}
	for c.pending >= maxPendingWrites && !c.isClosed() {
		c.pendCond.Wait()
	}
	c.pending++
	c.pendMu.Unlock()
}

// endWrite is called by the applier after the write's reply is queued.
func (c *conn) endWrite() {
	c.pendMu.Lock()
	c.pending--
	c.pendMu.Unlock()
	c.pendCond.Broadcast()
}

// waitWrites blocks until every earlier write of this connection has been
// applied and answered, so a read sees them and answers after them.
func (c *conn) waitWrites() {
	c.pendMu.Lock()
	if c.pending > 0 {
		c.pendMu.Unlock()
		c.flushBurst()
		c.pendMu.Lock()
	}
	for c.pending > 0 && !c.isClosed() {
		c.pendCond.Wait()
	}
	c.pendMu.Unlock()
}

// send queues one encoded frame. It never blocks on the network. Who
// writes it: the applier, reads and anything else that brackets its sends
// with a flush (see outbox) leave that to the flush; otherwise the
// connection's writer goroutine is woken.
func (c *conn) send(frame []byte) {
	act, queued, ok := c.ob.push(outItem{b: frame})
	if !ok {
		return
	}
	c.srv.stats.packetsSent.Add(1)
	c.stats.sent.Add(1)
	if queued > maxQueuedBytes {
		c.log.Warn("closing connection: client is not reading its replies",
			zap.Int("queuedBytes", maxQueuedBytes))
		go c.close()
		return
	}
	if !act {
		return
	}
	if fs := c.srv.applying.Load(); fs != nil {
		// The applier flushes its batch's connections once it lets
		// reads in again.
		fs.add(c.ob)
		return
	}
	c.ob.kick()
}

// closeAfterFlush closes the connection once queued frames are written.
func (c *conn) closeAfterFlush() { c.ob.closeAfterDrain() }

func (c *conn) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// close tears the connection down once: socket, registry, watches. The
// session itself lives on until it expires or is closed by a request.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.ob.shutdown()
		c.srv.unregister(c)
		c.srv.watches.RemoveWatcher(c)
		// Wake a reader blocked on backpressure so it can exit.
		c.pendCond.Broadcast()
	})
}

// readOnlyHandshake serves a client that accepts a read-only server while
// this ensemble member has no quorum (readonlymode.enabled): a local
// session, no txn; writes get NotReadOnly (ReadOnlyZooKeeperServer).
func (c *conn) readOnlyHandshake(req *wire.ConnectRequest) bool {
	s := c.srv
	timeout := s.negotiateTimeout(req.TimeOut)
	now := time.Now().UnixMilli()
	id := wire.SessionID(req.SessionID)
	if id == 0 {
		id = s.sessions.Create(timeout, now).ID
	} else if s.sessions.Validate(id, req.Passwd) != nil {
		c.sendConnectResponse(req, 0, 0, nil)
		c.closeAfterFlush()
		return false
	}
	c.sid.Store(int64(id))
	c.timeout.Store(timeout)
	s.bindSession(id, c)
	pw := session.Password(id)
	resp := wire.ConnectResponse{TimeOut: timeout, SessionID: int64(id), Passwd: pw[:], HasReadOnly: req.HasReadOnly, ReadOnly: true}
	c.send(wire.MarshalFrame(&resp))
	c.log.Debug("read-only session", zap.Stringer("session", id))
	return true
}
