package server

import (
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/zkd/zkd/internal/datatree"
	"github.com/zkd/zkd/internal/wire"
)

// request is one write on its way through the pipeline.
type request struct {
	conn     *conn // nil for server-issued requests (expiry, reaper)
	session  wire.SessionID
	xid      int32
	op       wire.OpCode
	rec      wire.Record // decoded request record (nil for closeSession)
	ids      []wire.Id   // the connection's identities when it was sent
	start    time.Time
	internal bool // issued by the server itself: cxid 0, no reply
	// decodeErr is set when the request record could not be decoded: it
	// becomes an error txn with this code.
	decodeErr wire.Code

	connect *wire.ConnectRequest // createSession: answer with a ConnectResponse
	onDone  chan struct{}        // closed once applied and answered

	// Set by prepare. Invariant: hdr.Zxid is unique and increasing in the
	// order requests leave prepare, which is the order they are applied.
	hdr wire.TxnHeader
	txn wire.Record
	// remote marks a request forwarded by a learner: the learner answers
	// its client, the leader does not.
	remote bool
	// fromLeader marks a txn received from the leader (PROPOSAL/INFORM):
	// it was prepared there.
	fromLeader bool
	// syncOf is the learner whose forwarded sync this is (leader side).
	syncOf int64
	// via is the member the client is connected to: the forwarding
	// learner's sid for remote requests, 0 for the leader's own clients.
	via int64
	// gen is the prepare generation: after a log write fails, every
	// request prepared in the failed generation is refused (see syncLoop).
	gen int64
	// failed is set by the sync loop when the txn could not be logged; the
	// applier then answers it with SystemError instead of applying it.
	failed bool
}

// pipeline orders writes through three goroutines:
//
//	prepare (assigns zxids, validates) -> sync (appends to the txn log,
//	one fsync per batch: group commit) -> apply (tree, watches, replies)
//
// The sync stage is the commit point; Zab (#4) plugs in there too. Since
// prepare runs ahead of apply, it validates against the tree *plus* the
// changes of txns prepared but not yet applied (outstanding).
type pipeline struct {
	s       *Server
	in      chan *request // never closed: submit may race with stop
	quit    chan struct{}
	syncCh  chan *request
	applyCh chan *request
	wg      sync.WaitGroup

	zxid int64 // last assigned; owned by the prepare goroutine

	started, stopped atomic.Bool

	// rep is the ensemble role's hook, nil when standalone.
	rep atomic.Pointer[replicator]

	// gen and the reset fields implement recovery from a failed log write:
	// the sync loop sets resetTo (the last durable zxid) and failedGen;
	// prepare, before its next request, waits for the applier to reach
	// resetTo, drops outstanding changes, rewinds zxid and starts gen+1.
	gen       atomic.Int64
	resetMu   sync.Mutex
	resetTo   int64
	needReset bool

	outMu       sync.Mutex
	outstanding map[string]change // path -> newest pending view of it
	outOrder    []pendingChange   // FIFO by zxid, to expire entries once applied

	// flushes are the connections the applier's current batch queued to.
	flushes flushSet
}

type change struct {
	zxid int64
	info *datatree.Info // nil: the node will not exist
}

type pendingChange struct {
	zxid int64
	path string
}

func newPipeline(s *Server) *pipeline {
	return &pipeline{
		s:           s,
		in:          make(chan *request, 4096),
		quit:        make(chan struct{}),
		syncCh:      make(chan *request, 4096),
		applyCh:     make(chan *request, 4096),
		outstanding: map[string]change{},
	}
}

func (p *pipeline) start() { p.startAt(p.s.tree.LastZxid()) }

// startAt starts the goroutines with zxid as the last assigned zxid (a new
// leader starts at newEpoch<<32).
func (p *pipeline) startAt(zxid int64) {
	p.zxid = zxid
	p.started.Store(true)
	p.wg.Add(3)
	go func() {
		defer p.wg.Done()
		for {
			var r *request
			select {
			case r = <-p.in:
			case <-p.quit:
				// Requests still queued belong to closed connections.
				return
			}
			if r.op == wire.OpSync && r.remote {
				// A learner's sync takes no zxid; it is registered here so
				// it follows every write submitted before it.
				p.s.stats.outstanding.Add(-1)
				if l, ok := p.replicator().(*leader); ok {
					l.registerSync(r.syncOf, p.zxid)
				}
				continue
			}
			if p.refusesLocal(r) {
				continue
			}
			p.maybeReset()
			r.gen = p.gen.Load()
			p.prepare(r)
			if !p.toSync(r) {
				return
			}
		}
	}()
	syncDone := make(chan struct{})
	go func() {
		defer p.wg.Done()
		defer close(syncDone)
		p.syncLoop()
	}()
	go func() {
		defer p.wg.Done()
		for {
			select {
			case r := <-p.applyCh:
				p.applyBatch(r)
			case <-syncDone:
				// The sync loop is gone; apply what it handed over.
				for {
					select {
					case r := <-p.applyCh:
						p.applyBatch(r)
					default:
						return
					}
				}
			}
		}
	}()
}

// refusesLocal drops a request submitted to a learner's pipeline, which
// takes txns from the leader only (toSync, commit). Nothing should submit
// there, but a client's write or a server-issued close racing a role
// change could: preparing it would give it a zxid the leader hands out
// too, and two members would log different txns under one zxid. Its
// connection is closed; the client retries elsewhere.
func (p *pipeline) refusesLocal(r *request) bool {
	if _, ok := p.replicator().(*learner); !ok {
		return false
	}
	p.s.stats.outstanding.Add(-1)
	p.s.log.Warn("dropping a request submitted to a learner's pipeline",
		zap.Stringer("op", r.op), zap.Stringer("session", r.session))
	if c := r.conn; c != nil && !r.internal {
		c.endWrite()
		c.close()
	}
	return true
}

// replicator is what an ensemble role adds between logging and applying;
// standalone servers have none and apply what they logged. The sync loop
// calls proposing before it logs a batch (a leader sends its PROPOSALs
// first, as ZooKeeper does) and logged once the batch is durable. The
// role then hands committed requests to commit, in zxid order.
type replicator interface {
	proposing(batch []*request)
	logged(batch []*request)
	// applied runs after an apply batch, before its replies are written.
	applied()
}

func (p *pipeline) replicator() replicator {
	if r := p.rep.Load(); r != nil {
		return *r
	}
	return nil
}

// setReplicator installs (or, with nil, removes) the ensemble role.
func (p *pipeline) setReplicator(r replicator) {
	if r == nil {
		p.rep.Store(nil)
		return
	}
	p.rep.Store(&r)
}

// toSync hands a request to the sync loop to be logged; false after stop.
// syncCh is never closed: learners push proposals into it from their own
// goroutines.
func (p *pipeline) toSync(r *request) bool {
	select {
	case p.syncCh <- r:
		return true
	case <-p.quit:
		return false
	}
}

// commit passes a committed request to the applier. Callers must call it
// in zxid order. After stop it drops the request: the role has ended.
func (p *pipeline) commit(r *request) {
	select {
	case p.applyCh <- r:
	case <-p.quit:
	}
}

// maxBatch bounds how many txns share one fsync.
const maxBatch = 1000

// syncLoop logs prepared txns. It takes whatever is queued (group commit:
// under load many txns share one fsync; under light load a lone txn is
// synced at once, with no artificial delay), appends, syncs, and only then
// passes them on to be applied and answered.
func (p *pipeline) syncLoop() {
	store := p.s.store
	var failedGen int64 = -1
	batch := make([]*request, 0, maxBatch)
	entries := make([]*wire.TxnEntry, 0, maxBatch)
	for {
		var r *request
		select {
		case r = <-p.syncCh:
		case <-p.quit:
			return
		}
		batch = append(batch[:0], r)
	drain:
		for len(batch) < maxBatch {
			select {
			case r2 := <-p.syncCh:
				batch = append(batch, r2)
			default:
				break drain
			}
		}
		rep := p.replicator()
		if rep != nil {
			rep.proposing(batch)
		}
		if store != nil {
			entries = entries[:0]
			for _, r := range batch {
				if r.gen <= failedGen {
					// Prepared on top of txns that were never logged.
					r.failed = true
					continue
				}
				entries = append(entries, &wire.TxnEntry{Header: r.hdr, Txn: r.txn})
			}
			if len(entries) > 0 {
				err := store.Append(entries...)
				if err == nil {
					err = store.Sync()
				}
				if err != nil {
					failedGen = p.logFailed(err, batch)
				} else {
					store.AfterSync()
				}
			}
		}
		if rep != nil {
			rep.logged(batch)
			continue
		}
		for _, r := range batch {
			p.commit(r)
		}
	}
}

// logFailed handles a failed append or fsync: the batch (and anything
// prepared after it in the same generation) is answered with an error and
// not applied; prepare is asked to rewind to the last durable zxid. It
// returns the generation to refuse.
func (p *pipeline) logFailed(err error, batch []*request) int64 {
	last := p.s.store.LastLoggedZxid()
	p.s.log.Error("writing the transaction log failed; failing the affected requests",
		zap.Error(err), zap.Int("requests", len(batch)), zap.Stringer("lastDurableZxid", wire.Zxid(last)))
	gen := int64(-1)
	for _, r := range batch {
		if r.hdr.Zxid > last {
			r.failed = true
		}
		if r.gen > gen {
			gen = r.gen
		}
	}
	p.resetMu.Lock()
	p.resetTo = last
	p.needReset = true
	p.resetMu.Unlock()
	return gen
}

// maybeReset rewinds prepare after a failed log write, once the applier
// has caught up with the last durable txn.
func (p *pipeline) maybeReset() {
	p.resetMu.Lock()
	need, to := p.needReset, p.resetTo
	p.needReset = false
	p.resetMu.Unlock()
	if !need {
		return
	}
	// Requests of the failed generation still in flight will be refused;
	// wait until everything durable is applied so the tree is the truth.
	for p.s.tree.LastZxid() < to {
		time.Sleep(time.Millisecond)
	}
	p.outMu.Lock()
	p.outstanding = map[string]change{}
	p.outOrder = p.outOrder[:0]
	p.outMu.Unlock()
	p.zxid = to
	p.gen.Add(1)
}

// submit hands a write to the pipeline. It may be called at any time,
// even during or after Stop: once the server's context is done the
// request is dropped (its connection is being closed anyway).
func (p *pipeline) submit(r *request) {
	if r.start.IsZero() {
		r.start = time.Now()
	}
	p.s.stats.outstanding.Add(1)
	select {
	case p.in <- r:
	case <-p.s.ctx.Done():
		p.s.stats.outstanding.Add(-1)
		if r.conn != nil && !r.internal {
			r.conn.endWrite()
		}
	}
}

func (p *pipeline) stop() { p.stopOnce() }

// stopOnce stops the goroutines (if started) and waits; later calls do
// nothing.
func (p *pipeline) stopOnce() {
	if !p.stopped.CompareAndSwap(false, true) {
		return
	}
	close(p.quit)
	p.wg.Wait()
}

// maxApplyBatch bounds how many txns the applier applies under one hold
// of Server.order, so reads wait at most that long behind writes.
const maxApplyBatch = 64

// applyBatch applies r and whatever else is already committed (up to
// maxApplyBatch) with reads held off (Server.order): taking the lock once
// per batch, not once per txn, keeps a write-heavy load from paying for
// it per txn.
//
// The batch's replies and notifications are written once the lock is
// released, by this goroutine where the sockets have room (flushSet).
func (p *pipeline) applyBatch(r *request) {
	p.s.order.Lock()
	p.s.applying.Store(&p.flushes)
	p.apply(r)
batch:
	for i := 1; i < maxApplyBatch; i++ {
		select {
		case r = <-p.applyCh:
			p.apply(r)
		default:
			break batch
		}
	}
	p.s.applying.Store(nil)
	p.s.order.Unlock()
	if rep := p.replicator(); rep != nil {
		rep.applied()
	}
	p.flushes.flush()
}

// apply applies a prepared txn to the tree and answers its client.
func (p *pipeline) apply(r *request) {
	s := p.s
	if r.failed {
		p.refuse(r)
		return
	}
	if r.op == wire.OpSync {
		// A learner's client sync, released by the leader's SYNC after
		// every commit before it has been applied.
		if c := r.conn; c != nil {
			path := ""
			if q, ok := r.rec.(*wire.SyncRequest); ok {
				path = q.Path
			}
			c.reply(r.xid, s.tree.LastZxid(), wire.OK, &wire.SyncResponse{Path: path}, r.start)
			c.endWrite()
		}
		return
	}
	res := s.tree.Apply(&r.hdr, r.txn)
	if r.fromLeader {
		s.trackSessionTxn(&r.hdr, r.txn)
	} else {
		p.forget(r.hdr.Zxid)
		s.stats.outstanding.Add(-1)
	}

	switch r.op {
	case wire.OpCreateSession:
		if c := r.conn; c != nil {
			pw := passwordOf(r.session)
			c.sendConnectResponse(r.connect, c.timeout.Load(), r.session, pw[:])
			c.endWrite()
		}
		if r.onDone != nil {
			close(r.onDone)
		}
		return
	case wire.OpCloseSession:
		s.sessions.Remove(r.session)
		if r.internal || r.conn == nil {
			// Expired (here or, on a learner, by the leader): drop the
			// client's connection if it is ours.
			if c := s.connOf(r.session); c != nil {
				c.close()
			}
			return
		}
		if c := r.conn; c != nil {
			c.replyTxn(r.xid, r.hdr.Zxid, wire.OK, nil, r.start)
			c.closeAfterFlush()
			c.endWrite()
		}
		return
	}
	if r.internal || r.conn == nil {
		if res.Err != wire.OK {
			s.log.Debug("server-issued txn failed", zap.Stringer("op", r.op), zap.Stringer("err", res.Err))
		}
		return
	}
	c := r.conn
	if res.Err == wire.ErrSessionMoved {
		// ZooKeeper answers nothing and drops the connection: the client
		// reconnects to the member that owns its session now.
		s.log.Info("closing connection: session moved to another member", zap.Stringer("session", r.session),
			zap.Stringer("op", r.op))
		c.endWrite()
		c.close()
		return
	}
	if res.Err != wire.OK && (r.op != wire.OpMulti || r.decodeErr != wire.OK) {
		c.replyTxn(r.xid, r.hdr.Zxid, res.Err, nil, r.start)
	} else {
		c.replyTxn(r.xid, r.hdr.Zxid, wire.OK, responseFor(r, &res), r.start)
	}
	c.endWrite()
}

// refuse answers a request whose txn could not be logged: SystemError for
// a write, an invalid-session ConnectResponse for a session being created.
// Nothing was applied.
func (p *pipeline) refuse(r *request) {
	s := p.s
	s.stats.outstanding.Add(-1)
	p.forget(r.hdr.Zxid)
	switch r.op {
	case wire.OpCreateSession:
		s.sessions.Remove(r.session)
		if c := r.conn; c != nil {
			c.sendConnectResponse(r.connect, 0, 0, nil)
			c.closeAfterFlush()
			c.endWrite()
		}
		if r.onDone != nil {
			close(r.onDone)
		}
		return
	case wire.OpCloseSession:
		if r.internal {
			// The session expired but its close could not be logged: try
			// again a tick later, or its ephemerals would outlive it.
			id := r.session
			time.AfterFunc(time.Duration(s.cfg.TickTime)*time.Millisecond, func() {
				if s.ctx.Err() == nil {
					s.pipe().submit(&request{session: id, op: wire.OpCloseSession, internal: true})
				}
			})
			return
		}
	}
	if r.internal || r.conn == nil {
		return
	}
	r.conn.replyTxn(r.xid, s.tree.LastZxid(), wire.ErrSystemError, nil, r.start)
	if r.op == wire.OpCloseSession {
		r.conn.closeAfterFlush()
	}
	r.conn.endWrite()
}

// responseFor builds the reply body of an applied write.
func responseFor(r *request, res *datatree.Result) wire.Record {
	switch r.op {
	case wire.OpCreate:
		return &wire.CreateResponse{Path: res.Path}
	case wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL:
		return &wire.Create2Response{Path: res.Path, Stat: res.Stat}
	case wire.OpSetData:
		return &wire.SetDataResponse{Stat: res.Stat}
	case wire.OpSetACL:
		return &wire.SetACLResponse{Stat: res.Stat}
	case wire.OpMulti:
		ops := r.rec.(*wire.MultiRequest).Ops
		out := &wire.MultiResponse{Results: make([]wire.MultiResult, 0, len(res.Multi))}
		for i, sub := range res.Multi {
			if sub.Type == wire.OpError || sub.Err != wire.OK {
				out.Results = append(out.Results, wire.MultiResult{Type: wire.OpError, Err: sub.Err})
				continue
			}
			var typ wire.OpCode
			if i < len(ops) {
				typ = ops[i].Type
			}
			switch typ {
			case wire.OpCreate, wire.OpCreate2:
				// ZooKeeper 3.8 answers a create2 sub-op with a plain create
				// result (verified by test/diff).
				out.Results = append(out.Results, wire.MultiResult{Type: wire.OpCreate, Body: &wire.CreateResponse{Path: sub.Path}})
			case wire.OpCreateContainer, wire.OpCreateTTL:
				// Containers and TTL nodes report as create2 (OpResult.CreateResult).
				out.Results = append(out.Results, wire.MultiResult{Type: wire.OpCreate2, Body: &wire.Create2Response{Path: sub.Path, Stat: sub.Stat}})
			case wire.OpSetData:
				out.Results = append(out.Results, wire.MultiResult{Type: wire.OpSetData, Body: &wire.SetDataResponse{Stat: sub.Stat}})
			default: // delete, check
				out.Results = append(out.Results, wire.MultiResult{Type: typ})
			}
		}
		return out
	}
	return nil
}

// forget drops outstanding changes made by txns up to zxid, which the
// tree now reflects.
func (p *pipeline) forget(zxid int64) {
	p.outMu.Lock()
	defer p.outMu.Unlock()
	i := 0
	for ; i < len(p.outOrder) && p.outOrder[i].zxid <= zxid; i++ {
		pc := p.outOrder[i]
		if c, ok := p.outstanding[pc.path]; ok && c.zxid == pc.zxid {
			delete(p.outstanding, pc.path)
		}
	}
	p.outOrder = append(p.outOrder[:0], p.outOrder[i:]...)
}
