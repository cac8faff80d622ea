package server

import (
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/zkd/zkd/internal/auth"
	"github.com/zkd/zkd/internal/datatree"
	"github.com/zkd/zkd/internal/watch"
	"github.com/zkd/zkd/internal/wire"
)

// handleFrame decodes and runs one request. It returns false when the
// connection must close.
func (c *conn) handleFrame(frame []byte) bool {
	start := time.Now()
	d := wire.NewDecoder(frame, c.srv.maxNested())
	var hdr wire.RequestHeader
	hdr.Decode(d)
	if d.Err != nil {
		c.log.Info("closing connection: malformed request header", zap.Error(d.Err))
		return false
	}
	body := frame[d.Off:]
	c.stats.lastOp.Store(int32(hdr.Type))
	c.stats.lastCxid.Store(hdr.Xid)
	// Request tracing: one line per request and one per reply at debug,
	// none at info. Check keeps the disabled case free of allocations.
	if hdr.Type != wire.OpPing {
		if ce := c.log.Check(zap.DebugLevel, "request"); ce != nil {
			ce.Write(zap.Stringer("session", c.sessionID()), zap.Int32("xid", hdr.Xid),
				zap.Stringer("op", hdr.Type), zap.Int("bytes", len(body)))
		}
	}

	switch {
	case hdr.Type == wire.OpAuth:
		// Answered at once, not queued behind pending requests (wire.md §14.4).
		return c.handleAuth(hdr, body)
	case hdr.Type == wire.OpSASL:
		c.log.Info("SASL is not supported; closing connection")
		c.reply(hdr.Xid, 0, wire.ErrAuthFailed, nil, start)
		c.closeAfterFlush()
		return false
	case !hdr.Type.Known() || hdr.Type == wire.OpCreateSession || hdr.Type == wire.OpDeleteContainer:
		c.log.Info("closing connection: unknown opcode", zap.Int32("op", int32(hdr.Type)))
		c.reply(hdr.Xid, -1, wire.ErrUnimplemented, nil, start)
		c.closeAfterFlush()
		return false
	}

	if c.srv.readOnly.Load() && !c.srv.clientsOK.Load() && c.srv.isWriteRequest(hdr.Type) {
		// A read-only server (no quorum) refuses writes.
		c.waitWrites()
		if hdr.Type == wire.OpCloseSession {
			c.srv.sessions.Remove(c.sessionID())
			c.reply(hdr.Xid, c.srv.tree.LastZxid(), wire.OK, nil, start)
			c.closeAfterFlush()
			return false
		}
		c.reply(hdr.Xid, c.srv.tree.LastZxid(), wire.ErrNotReadOnly, nil, start)
		return true
	}
	l, serving := c.srv.roleNow()
	if !serving && c.srv.isWriteRequest(hdr.Type) {
		// The role this connection was served under has ended; the
		// connection is about to be closed with the others (stopRole).
		c.log.Info("closing connection: write between ensemble roles", zap.Stringer("op", hdr.Type))
		return false
	}
	if l != nil && (c.srv.isWriteRequest(hdr.Type) || hdr.Type == wire.OpSync) {
		// A learner forwards writes (and syncs) to the leader and answers
		// when the commit comes back.
		var rec wire.Record
		if hdr.Type == wire.OpSync {
			q := &wire.SyncRequest{}
			if err := wire.Unmarshal(body, c.srv.maxNested(), q); err != nil {
				c.waitWrites()
				c.reply(hdr.Xid, c.srv.tree.LastZxid(), wire.ErrMarshallingError, nil, start)
				return true
			}
			rec = q
		} else {
			rec, _ = decodeWriteRequest(hdr.Type, body, c.srv.maxNested())
		}
		c.beginWrite()
		if c.isClosed() {
			return false
		}
		ids := c.ids()
		l.forward(&request{conn: c, session: c.sessionID(), xid: hdr.Xid, op: hdr.Type, rec: rec, ids: ids, start: start},
			append([]byte(nil), body...), ids, &c.forwards)
		return true
	}
	if hdr.Type == wire.OpSync {
		if l := c.srv.activeLeader(); l != nil {
			// On the leader a sync is answered by the applier once every
			// txn committed so far is applied: a follower may already have
			// applied and answered a commit the leader has not reached.
			q := &wire.SyncRequest{}
			c.waitWrites()
			if err := wire.Unmarshal(body, c.srv.maxNested(), q); err != nil {
				c.reply(hdr.Xid, c.srv.tree.LastZxid(), wire.ErrMarshallingError, nil, start)
				return true
			}
			c.beginWrite()
			if c.isClosed() {
				return false
			}
			if l.syncLocal(&request{conn: c, session: c.sessionID(), xid: hdr.Xid, op: hdr.Type, rec: q, start: start}) {
				return true
			}
			c.endWrite() // not serving yet: answer at once, below
		}
	}
	if c.srv.isWriteRequest(hdr.Type) {
		// A write that cannot be decoded still becomes an error txn and
		// consumes a zxid, as in ZooKeeper (verified: a truncated create is
		// answered -5 with the next zxid).
		rec, code := decodeWriteRequest(hdr.Type, body, c.srv.maxNested())
		c.beginWrite()
		if c.isClosed() {
			return false
		}
		c.srv.pipe().submit(&request{
			conn: c, session: c.sessionID(), xid: hdr.Xid, op: hdr.Type, rec: rec,
			ids: c.ids(), start: start, decodeErr: code,
		})
		return true
	}

	// A read: answered after this connection's earlier writes, and
	// queued before any notification of a txn applied after its look at
	// the tree (Server.order).
	// The reply is written when the burst ends (endBurst), never under
	// the lock.
	c.waitWrites()
	c.srv.order.RLock()
	defer c.srv.order.RUnlock()
	return c.handleRead(hdr, body, start)
}

// isWriteRequest says which requests go down the write pipeline. A bare
// check (op 13) does not: ZooKeeper 3.8 logs it as a txn its own loader
// rejects; zkd answers it like a conditional read (docs/divergence.md).
func (s *Server) isWriteRequest(op wire.OpCode) bool {
	return op.IsWrite() && op != wire.OpCheck
}

func decodeWriteRequest(op wire.OpCode, body []byte, max int) (wire.Record, wire.Code) {
	var rec wire.Record
	switch op {
	case wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer:
		rec = &wire.CreateRequest{}
	case wire.OpCreateTTL:
		rec = &wire.CreateTTLRequest{}
	case wire.OpDelete:
		rec = &wire.DeleteRequest{}
	case wire.OpSetData:
		rec = &wire.SetDataRequest{}
	case wire.OpSetACL:
		rec = &wire.SetACLRequest{}
	case wire.OpMulti:
		rec = &wire.MultiRequest{}
	case wire.OpReconfig:
		rec = &wire.ReconfigRequest{}
	case wire.OpCloseSession:
		return nil, wire.OK
	default:
		return nil, wire.ErrUnimplemented
	}
	if err := wire.Unmarshal(body, max, rec); err != nil {
		return nil, wire.ErrMarshallingError
	}
	return rec, wire.OK
}

// reply queues a reply frame: header plus optional body. A non-OK code
// never carries a body (wire.md §4). A non-zero start records the
// request's latency as a read.
func (c *conn) reply(xid int32, zxid int64, code wire.Code, body wire.Record, start time.Time) {
	c.replyAs(false, xid, zxid, code, body, start)
}

// replyTxn is reply for a request that went through the write pipeline
// as a txn: its latency is an update latency (ZooKeeper tells them apart
// by the txn header).
func (c *conn) replyTxn(xid int32, zxid int64, code wire.Code, body wire.Record, start time.Time) {
	c.replyAs(true, xid, zxid, code, body, start)
}

func (c *conn) replyAs(txn bool, xid int32, zxid int64, code wire.Code, body wire.Record, start time.Time) {
	var e wire.Encoder
	at := e.BeginFrame()
	h := wire.ReplyHeader{Xid: xid, Zxid: zxid, Err: code}
	h.Encode(&e)
	if code == wire.OK && body != nil {
		body.Encode(&e)
	}
	e.EndFrame(at)
	// Traced before it is queued: once the client has the reply, the
	// line is there.
	if xid != wire.XidPing {
		if ce := c.log.Check(zap.DebugLevel, "reply"); ce != nil {
			fields := []zap.Field{zap.Stringer("session", c.sessionID()), zap.Int32("xid", xid),
				zap.Stringer("zxid", wire.Zxid(zxid)), zap.Stringer("err", code), zap.Bool("txn", txn)}
			if !start.IsZero() {
				fields = append(fields, zap.Duration("latency", time.Since(start)))
			}
			ce.Write(fields...)
		}
	}
	// Counted before it is queued too: a client that has its reply and
	// then scrapes the metrics finds the request in them.
	c.srv.stats.recordResponseSize(len(e.B) - 4)
	if !start.IsZero() {
		lat := time.Since(start)
		c.stats.recordLatency(lat, zxid)
		c.srv.stats.recordLatency(lat)
		if txn {
			c.srv.metrics.ObserveUpdate(lat)
		} else {
			c.srv.metrics.ObserveRead(lat)
		}
	}
	c.send(e.B)
}

// Notify queues a watch notification (watch.Watcher).
func (c *conn) Notify(path string, ev wire.EventType, zxid int64) {
	c.send(c.srv.notification(path, ev))
}

// notifFrame is an encoded notification, kept for the next Notify.
type notifFrame struct {
	path  string
	ev    wire.EventType
	frame []byte
}

// notification returns the wire frame of a watch event. One change that
// fires many watchers calls Notify for each of them in a row with the
// same event, so the last frame is kept and shared: encoded once, not
// once per watcher. Queued frames are never written to after send, so
// the connections can share it.
func (s *Server) notification(path string, ev wire.EventType) []byte {
	if f := s.lastNotif.Load(); f != nil && f.ev == ev && f.path == path {
		return f.frame
	}
	var e wire.Encoder
	at := e.BeginFrame()
	// 3.8 sends zxid -1 in notification headers (wire.md §10.1).
	h := wire.ReplyHeader{Xid: wire.XidNotification, Zxid: -1, Err: wire.OK}
	h.Encode(&e)
	we := wire.WatcherEvent{Type: ev, State: wire.StateSyncConnected, Path: path}
	we.Encode(&e)
	e.EndFrame(at)
	s.lastNotif.Store(&notifFrame{path: path, ev: ev, frame: e.B})
	return e.B
}

func (c *conn) handleAuth(hdr wire.RequestHeader, body []byte) bool {
	var pkt wire.AuthPacket
	if err := wire.Unmarshal(body, c.srv.maxNested(), &pkt); err != nil {
		c.reply(hdr.Xid, 0, wire.ErrAuthFailed, nil, time.Time{})
		c.closeAfterFlush()
		return false
	}
	if pkt.Scheme == "ip" {
		// The ip identity is added at connect; re-adding it is a no-op.
		c.reply(hdr.Xid, 0, wire.OK, nil, time.Time{})
		return true
	}
	ids, err := auth.Authenticate(pkt.Scheme, pkt.Auth, c.srv.cfg.SuperDigest, c.srv.cfg.DigestAuthEnabled)
	if err != nil {
		c.srv.stats.authFailed.Add(1)
		c.log.Info("authentication failed", zap.String("scheme", pkt.Scheme), zap.Error(err))
		c.reply(hdr.Xid, 0, wire.ErrAuthFailed, nil, time.Time{})
		c.closeAfterFlush()
		return false
	}
	c.authMu.Lock()
	for _, id := range ids {
		dup := false
		for _, have := range c.authIDs {
			if have == id {
				dup = true
				break
			}
		}
		if !dup {
			c.authIDs = append(c.authIDs, id)
		}
	}
	c.authMu.Unlock()
	c.reply(hdr.Xid, 0, wire.OK, nil, time.Time{})
	return true
}

// checkACL applies the configured skipACL and the connection's identities.
func (c *conn) checkACL(acl []wire.ACL, perm int32) wire.Code {
	if err := auth.Check(acl, perm, c.ids(), c.srv.cfg.SkipACL); err != nil {
		return wire.ErrNoAuth
	}
	return wire.OK
}

func (c *conn) handleRead(hdr wire.RequestHeader, body []byte, start time.Time) bool {
	s := c.srv
	tree := s.tree
	max := s.maxNested()
	var w watch.Watcher
	zxid := func() int64 { return tree.LastZxid() }
	fail := func(code wire.Code) bool {
		s.beforeReadReply(hdr.Type)
		c.reply(hdr.Xid, zxid(), code, nil, start)
		return true
	}
	ok := func(body wire.Record) bool {
		s.beforeReadReply(hdr.Type)
		c.reply(hdr.Xid, zxid(), wire.OK, body, start)
		return true
	}
	decode := func(r wire.Record) bool {
		if err := wire.Unmarshal(body, max, r); err != nil {
			// Truncated record: MarshallingError, connection stays open.
			c.reply(hdr.Xid, zxid(), wire.ErrMarshallingError, nil, start)
			return false
		}
		return true
	}

	switch hdr.Type {
	case wire.OpPing:
		c.reply(wire.XidPing, zxid(), wire.OK, nil, time.Time{})
		return true

	case wire.OpExists:
		var r wire.ExistsRequest
		if !decode(&r) {
			return true
		}
		if r.Watch {
			w = c
		}
		st, err := tree.Exists(r.Path, w)
		if err != nil {
			return fail(wire.ErrNoNode)
		}
		return ok(&wire.ExistsResponse{Stat: st})

	case wire.OpGetData:
		var r wire.GetDataRequest
		if !decode(&r) {
			return true
		}
		if code := c.readACL(r.Path, wire.PermRead); code != wire.OK {
			return fail(code)
		}
		if r.Watch {
			w = c
		}
		data, st, err := tree.GetData(r.Path, w)
		if err != nil {
			return fail(wire.ErrNoNode)
		}
		return ok(&wire.GetDataResponse{Data: data, Stat: st})

	case wire.OpGetChildren, wire.OpGetChildren2:
		var r wire.GetChildrenRequest
		if !decode(&r) {
			return true
		}
		if code := c.readACL(r.Path, wire.PermRead); code != wire.OK {
			return fail(code)
		}
		if r.Watch {
			w = c
		}
		kids, st, err := tree.GetChildren(r.Path, w)
		if err != nil {
			return fail(wire.ErrNoNode)
		}
		if hdr.Type == wire.OpGetChildren {
			return ok(&wire.GetChildrenResponse{Children: kids})
		}
		return ok(&wire.GetChildren2Response{Children: kids, Stat: st})

	case wire.OpGetACL:
		var r wire.GetACLRequest
		if !decode(&r) {
			return true
		}
		acl, st, err := tree.GetACL(r.Path)
		if err != nil {
			return fail(wire.ErrNoNode)
		}
		if code := c.checkACL(acl, wire.PermRead|wire.PermAdmin); code != wire.OK {
			return fail(code)
		}
		if c.checkACL(acl, wire.PermAdmin) != wire.OK {
			acl = auth.RedactForReader(acl)
		}
		return ok(&wire.GetACLResponse{ACL: acl, Stat: st})

	case wire.OpCheck:
		var r wire.CheckVersionRequest
		if !decode(&r) {
			return true
		}
		return fail(c.checkVersion(r.Path, r.Version))

	case wire.OpSync:
		var r wire.SyncRequest
		if !decode(&r) {
			return true
		}
		return ok(&wire.SyncResponse{Path: r.Path})

	case wire.OpMultiRead:
		var r wire.MultiRequest
		if !decode(&r) {
			return true
		}
		return ok(c.multiRead(&r))

	case wire.OpGetAllChildrenNumber:
		var r wire.GetAllChildrenNumberRequest
		if !decode(&r) {
			return true
		}
		if code := c.readACL(r.Path, wire.PermRead); code != wire.OK {
			return fail(code)
		}
		n, err := tree.AllChildrenNumber(r.Path)
		if err != nil {
			return fail(wire.ErrNoNode)
		}
		return ok(&wire.GetAllChildrenNumberResponse{TotalNumber: int32(n)})

	case wire.OpGetEphemerals:
		var r wire.GetEphemeralsRequest
		if !decode(&r) {
			return true
		}
		all := tree.Ephemerals(int64(c.sessionID()))
		prefix := strings.TrimSpace(r.PrefixPath)
		out := make([]string, 0, len(all))
		for _, p := range all {
			if prefix == "" || prefix == "/" || strings.HasPrefix(p, r.PrefixPath) {
				out = append(out, p)
			}
		}
		return ok(&wire.GetEphemeralsResponse{Ephemerals: out})

	case wire.OpWhoAmI:
		return ok(&wire.WhoAmIResponse{ClientInfo: clientInfos(c.ids())})

	case wire.OpAddWatch:
		var r wire.AddWatchRequest
		if !decode(&r) {
			return true
		}
		switch r.Mode {
		case wire.AddWatchPersistent:
			s.watches.AddPersistent(r.Path, c, false)
		case wire.AddWatchPersistentRecursive:
			s.watches.AddPersistent(r.Path, c, true)
		default:
			// ZooKeeper fails to map the mode and answers MarshallingError
			// (verified with mode 2).
			return fail(wire.ErrMarshallingError)
		}
		return ok(&wire.ErrorResponse{Err: wire.OK})

	case wire.OpCheckWatches, wire.OpRemoveWatches:
		var r wire.CheckWatchesRequest // same layout as RemoveWatchesRequest
		if !decode(&r) {
			return true
		}
		var found bool
		if hdr.Type == wire.OpCheckWatches {
			found = s.watches.Has(r.Path, c, r.Type)
		} else {
			found = s.watches.Remove(r.Path, c, r.Type)
		}
		if !found {
			return fail(wire.ErrNoWatcher)
		}
		return ok(nil)

	case wire.OpSetWatches:
		var r wire.SetWatches
		if !decode(&r) {
			return true
		}
		c.setWatches(r.RelativeZxid, r.DataWatches, r.ExistWatches, r.ChildWatches, nil, nil)
		return ok(nil)

	case wire.OpSetWatches2:
		var r wire.SetWatches2
		if !decode(&r) {
			return true
		}
		c.setWatches(r.RelativeZxid, r.DataWatches, r.ExistWatches, r.ChildWatches,
			r.PersistentWatches, r.PersistentRecursiveWatches)
		return ok(nil)

	}
	c.reply(hdr.Xid, -1, wire.ErrUnimplemented, nil, start)
	c.closeAfterFlush()
	return false
}

// readACL checks perm on an existing node; a missing node is NoNode, which
// ZooKeeper reports before NoAuth.
func (c *conn) readACL(path string, perm int32) wire.Code {
	info, ok := c.srv.tree.Info(path)
	if !ok {
		return wire.ErrNoNode
	}
	return c.checkACL(info.ACL, perm)
}

func (c *conn) checkVersion(path string, version int32) wire.Code {
	if datatree.ValidatePath(path) != nil {
		return wire.ErrBadArguments
	}
	info, ok := c.srv.tree.Info(path)
	if !ok {
		return wire.ErrNoNode
	}
	if code := c.checkACL(info.ACL, wire.PermRead); code != wire.OK {
		return code
	}
	if version != -1 && version != info.Stat.Version {
		return wire.ErrBadVersion
	}
	return wire.OK
}

// multiRead evaluates each read independently; failures become error
// results and watches are never set (wire.md §8.2).
func (c *conn) multiRead(r *wire.MultiRequest) *wire.MultiResponse {
	resp := &wire.MultiResponse{}
	for _, op := range r.Ops {
		var res wire.MultiResult
		switch q := op.Req.(type) {
		case *wire.GetDataRequest:
			if code := c.readACL(q.Path, wire.PermRead); code != wire.OK {
				res = wire.MultiResult{Type: wire.OpError, Err: code}
				break
			}
			data, st, err := c.srv.tree.GetData(q.Path, nil)
			if err != nil {
				res = wire.MultiResult{Type: wire.OpError, Err: wire.ErrNoNode}
				break
			}
			res = wire.MultiResult{Type: wire.OpGetData, Body: &wire.GetDataResponse{Data: data, Stat: st}}
		case *wire.GetChildrenRequest:
			if code := c.readACL(q.Path, wire.PermRead); code != wire.OK {
				res = wire.MultiResult{Type: wire.OpError, Err: code}
				break
			}
			kids, _, err := c.srv.tree.GetChildren(q.Path, nil)
			if err != nil {
				res = wire.MultiResult{Type: wire.OpError, Err: wire.ErrNoNode}
				break
			}
			res = wire.MultiResult{Type: wire.OpGetChildren, Body: &wire.GetChildrenResponse{Children: kids}}
		default:
			res = wire.MultiResult{Type: wire.OpError, Err: wire.ErrBadArguments}
		}
		resp.Results = append(resp.Results, res)
	}
	return resp
}

// setWatches re-registers watches after a reconnect, sending catch-up
// events for changes the client missed (DataTree.setWatches, wire.md §10.4).
// Events are queued before the reply, which the caller sends next.
func (c *conn) setWatches(rel int64, data, exist, child, persistent, recursive []string) {
	tree := c.srv.tree
	w := c.srv.watches
	for _, p := range data {
		info, ok := tree.Info(p)
		switch {
		case !ok:
			c.Notify(p, wire.EventNodeDeleted, -1)
		case info.Stat.Mzxid > rel:
			c.Notify(p, wire.EventNodeDataChanged, -1)
		default:
			w.Add(watch.Data, p, c, watch.Standard)
		}
	}
	for _, p := range exist {
		if _, ok := tree.Info(p); ok {
			c.Notify(p, wire.EventNodeCreated, -1)
		} else {
			w.Add(watch.Data, p, c, watch.Standard)
		}
	}
	for _, p := range child {
		info, ok := tree.Info(p)
		switch {
		case !ok:
			c.Notify(p, wire.EventNodeDeleted, -1)
		case info.Stat.Pzxid > rel:
			c.Notify(p, wire.EventNodeChildrenChanged, -1)
		default:
			w.Add(watch.Child, p, c, watch.Standard)
		}
	}
	for _, p := range persistent {
		w.AddPersistent(p, c, false)
	}
	for _, p := range recursive {
		w.AddPersistent(p, c, true)
	}
}

// clientInfos is whoAmI's view of a connection's identities: digest ids
// show only the user name (ServerCnxn.getClientInfos).
func clientInfos(ids []wire.Id) []wire.ClientInfo {
	out := make([]wire.ClientInfo, 0, len(ids))
	for _, id := range ids {
		user := id.ID
		if id.Scheme == "digest" {
			if i := strings.IndexByte(user, ':'); i >= 0 {
				user = user[:i]
			}
		}
		out = append(out, wire.ClientInfo{AuthScheme: id.Scheme, User: user})
	}
	return out
}
