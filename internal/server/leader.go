package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/zkd/zkd/internal/snapshot"
	"github.com/zkd/zkd/internal/txnlog"
	"github.com/zkd/zkd/internal/wire"
	"github.com/zkd/zkd/internal/zab"
)

// commitLogCount is how many committed txns the leader keeps in memory to
// sync lagging learners by DIFF (ZooKeeper's commitLogCount).
const commitLogCount = 500

// leader runs Zab's leader side (Leader.lead + LearnerHandler).
type leader struct {
	p     *peer
	s     *Server
	lg    *zap.Logger
	ln    net.Listener
	pipe  *pipeline
	epoch int64

	// mu guards everything below. The commit path holds it, so syncing a
	// learner under it sees a frozen history and then joins the broadcast
	// without a gap.
	mu           sync.Mutex
	disc         *zab.Discovery
	newLeaderAck *zab.AckQuorum
	uptodate     bool
	bc           *zab.Broadcast
	handlers     map[int64]*learnerHandler
	forwarding   map[int64]*learnerHandler
	// peerObs are the outboxes of forwarding, for the applier to read
	// without l.mu (applied); replaced whenever forwarding changes.
	peerObs atomic.Pointer[[]*outbox]
	pending map[int64]*request // proposed, not committed
	pdata   map[int64][]byte   // their PROPOSAL payloads
	hist    []histEntry        // recent committed txns, ascending
	tracker *zab.LearnerTracker
	tick    int64
	syncq   *zab.SyncQueue
	failErr error // set when the role must end
	// handed is the zxid of the last txn handed to the applier; the tree
	// reaches it asynchronously.
	handed int64
	// owners maps a session to the member its client is connected to
	// (0: this leader). Sessions not in it (from before this leadership)
	// are not checked until a member claims them.
	owners map[wire.SessionID]int64
	// proposal sizes for srvr/mntr (-1 until the first proposal).
	lastSize, minSize, maxSize int
	started                    time.Time
}

type histEntry struct {
	zxid int64
	data []byte
}

type learnerHandler struct {
	l        *leader
	sid      int64
	observer bool
	q        *qconn
}

func (p *peer) lead(ctx context.Context, start time.Time) error {
	s := p.s
	addr := hostPort(p.self.Host, p.self.QuorumPort)
	if s.cfg.QuorumListenOnAllIPs {
		addr = hostPort("", p.self.QuorumPort)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("leader: listen on quorum port %s: %w", addr, err)
	}
	l := &leader{
		p: p, s: s, lg: s.log.With(zap.String("role", "leader")), ln: ln,
		disc:       zab.NewDiscovery(p.qv, p.myid, zab.StateSummary{CurrentEpoch: p.epochs.Current, LastZxid: s.tree.LastZxid()}),
		handlers:   map[int64]*learnerHandler{},
		forwarding: map[int64]*learnerHandler{},
		pending:    map[int64]*request{},
		pdata:      map[int64][]byte{},
		owners:     map[wire.SessionID]int64{},
		tracker:    zab.NewLearnerTracker(p.qv, p.myid, int64(s.cfg.InitLimit), int64(s.cfg.SyncLimit)),
	}
	p.roleMu.Lock()
	p.leader = l
	p.roleMu.Unlock()
	defer func() {
		// Clients first: between here and stopRole this member has no
		// role (roleNow).
		s.clientsOK.Store(false)
		p.roleMu.Lock()
		p.leader = nil
		p.roleMu.Unlock()
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer l.closeAll()
	wg.Add(1)
	go func() { defer wg.Done(); l.acceptLoop(ctx, &wg) }()

	initWait := time.Duration(s.cfg.InitLimit) * p.tickDur()
	l.mu.Lock()
	l.disc.Connect(p.myid, p.epochs.Accepted)
	l.mu.Unlock()
	if err := l.waitFor(ctx, initWait, func() bool { _, ok := l.disc.NewEpoch(); return ok }); err != nil {
		return fmt.Errorf("leader: no quorum of followers connected within initLimit: %w", err)
	}
	l.mu.Lock()
	epoch, _ := l.disc.NewEpoch()
	l.epoch = epoch
	l.mu.Unlock()
	if err := zab.WriteEpochFile(s.snapDir(), zab.AcceptedEpochFile, epoch); err != nil {
		return err
	}
	p.epochs.Accepted = epoch
	l.mu.Lock()
	_, _ = l.disc.AckEpoch(p.myid, s.tree.LastZxid(), p.epochs.Current)
	l.mu.Unlock()
	if err := l.waitFor(ctx, initWait, func() bool { return l.disc.EpochAcked() }); err != nil {
		return fmt.Errorf("leader: no quorum acknowledged epoch %d: %w", epoch, err)
	}
	if err := zab.WriteEpochFile(s.snapDir(), zab.CurrentEpochFile, epoch); err != nil {
		return err
	}
	p.epochs.Current = epoch

	// The new epoch's history starts from everything this leader has.
	base := zab.MakeZxid(epoch, 0)
	l.mu.Lock()
	l.bc = zab.NewBroadcast(p.qv, base)
	l.syncq = zab.NewSyncQueue(base)
	l.newLeaderAck = zab.NewAckQuorum(p.qv, p.myid)
	l.newLeaderAck.Add(p.myid)
	l.hist = l.loadHistory()
	l.handed = s.tree.LastZxid()
	l.pipe = s.startRole(l, base)
	l.mu.Unlock()

	if err := l.waitFor(ctx, initWait, func() bool { return l.newLeaderAck.Reached() }); err != nil {
		return fmt.Errorf("leader: no quorum acknowledged NEWLEADER: %w", err)
	}
	l.mu.Lock()
	l.uptodate = true
	l.mu.Unlock()
	// Sessions live on; each gets a full timeout from now (as ZooKeeper's
	// leader does when it takes over the session tracker).
	now := time.Now().UnixMilli()
	for _, ss := range s.sessions.Sessions() {
		s.sessions.Touch(ss.ID, now)
	}
	s.startSessionExpiry()
	s.clientsOK.Store(true)
	l.mu.Lock()
	l.started = time.Now()
	l.mu.Unlock()
	l.lg.Info("leading", zap.Int64("epoch", epoch), zap.Duration("electionToServing", time.Since(start)))
	return l.heartbeat(ctx)
}

// waitFor polls cond (under l.mu) until it holds, the role fails, ctx ends
// or the timeout passes.
func (l *leader) waitFor(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		l.mu.Lock()
		ok, ferr := cond(), l.failErr
		l.mu.Unlock()
		if ok {
			return nil
		}
		if ferr != nil {
			return ferr
		}
		if ctx.Err() != nil {
			return errRoleEnded
		}
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// heartbeat pings learners every tickTime/2 and steps down when fewer than
// a quorum stay in sync (Leader.lead's loop).
func (l *leader) heartbeat(ctx context.Context) error {
	t := time.NewTicker(l.p.tickDur() / 2)
	defer t.Stop()
	half := false
	for {
		select {
		case <-ctx.Done():
			return errRoleEnded
		case <-t.C:
		}
		l.mu.Lock()
		if half {
			l.tick++
		}
		half = !half
		if l.failErr != nil {
			err := l.failErr
			l.mu.Unlock()
			return err
		}
		lastProposed := l.bc.LastProposed()
		// Only learners past their sync packet: a Java learner still
		// waiting for LEADERINFO or for DIFF/SNAP/TRUNC exits on any other
		// packet ("Got unexpected packet from leader"), which is why
		// ZooKeeper's LearnerHandler.ping waits for sendingThreadStarted.
		for _, h := range l.forwarding {
			h.q.send(&zab.QuorumPacket{Type: zab.PktPing, Zxid: lastProposed})
		}
		ok := l.tracker.HasSyncedQuorum(l.tick)
		l.mu.Unlock()
		if !ok {
			return errors.New("leader: lost the quorum of synced followers")
		}
	}
}

func (l *leader) closeAll() {
	l.ln.Close()
	l.mu.Lock()
	for _, h := range l.handlers {
		h.q.close()
	}
	l.mu.Unlock()
}

func (l *leader) fail(err error) {
	l.mu.Lock()
	if l.failErr == nil {
		l.failErr = err
	}
	l.mu.Unlock()
}

// loadHistory reads the newest committed txns from the log for DIFF sync.
// Caller holds l.mu.
func (l *leader) loadHistory() []histEntry {
	// Only txns from the newest snapshot on are history, as ZooKeeper's
	// committedLog holds only the txns replayed after the snapshot it
	// loaded. A member synced by SNAP keeps the log it had before: it may
	// hold an uncommitted tail of an abandoned epoch and then a gap up to
	// the SNAP point. Read as history, such a log made this member, once
	// leader, send the dead txns by DIFF to a lagging learner and skip the
	// gap (test/ensemble TestSnapSyncedFormerLeaderLeadsLater). Everything
	// up to the newest snapshot is in it, so a learner that far behind
	// gets a SNAP instead.
	from := int64(0)
	if snaps, err := snapshot.List(l.s.snapDir()); err == nil && len(snaps) > 0 {
		from = snaps[0].Zxid
	}
	it, err := txnlog.NewIterator(l.s.logDir(), from, l.s.maxNested())
	if err != nil {
		return nil
	}
	defer it.Close()
	// Only the last commitLogCount entries are kept, so only they are
	// decoded: the log since the snapshot may hold a hundred thousand.
	type rawTxn struct {
		zxid int64
		body []byte
	}
	ring := make([]rawTxn, 0, commitLogCount)
	next := 0
	last := l.s.tree.LastZxid()
	for {
		z, body, err := it.NextRaw()
		if err != nil || z > last {
			break
		}
		if len(ring) < commitLogCount {
			ring = append(ring, rawTxn{z, body})
		} else {
			ring[next] = rawTxn{z, body}
			next = (next + 1) % commitLogCount
		}
	}
	out := make([]histEntry, 0, len(ring))
	for i := range ring {
		r := ring[(next+i)%len(ring)]
		e, err := wire.DecodeTxnEntry(r.body, l.s.maxNested())
		if err != nil {
			return nil
		}
		out = append(out, histEntry{zxid: r.zxid, data: wire.AppendTxnEntry(nil, e)})
	}
	return out
}

func (l *leader) acceptLoop(ctx context.Context, wg *sync.WaitGroup) {
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			return
		}
		h := &learnerHandler{l: l, q: newQconn(nc)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer h.q.close()
			if err := h.run(ctx); err != nil && !errors.Is(err, io.EOF) && ctx.Err() == nil {
				l.lg.Info("learner connection ended", zap.Int64("sid", h.sid), zap.Error(err))
			}
			l.mu.Lock()
			if l.handlers[h.sid] == h {
				delete(l.handlers, h.sid)
				delete(l.forwarding, h.sid)
				l.forwardingChangedLocked()
				l.tracker.Remove(h.sid)
			}
			l.mu.Unlock()
		}()
	}
}

// run is one learner's LearnerHandler: discovery, sync, then broadcast.
func (h *learnerHandler) run(ctx context.Context) error {
	l := h.l
	s := l.s
	tick := l.p.tickDur()
	initWait := time.Duration(s.cfg.InitLimit) * tick
	pkt, err := h.q.read(initWait)
	if err != nil {
		return err
	}
	if pkt.Type != zab.PktFollowerInfo && pkt.Type != zab.PktObserverInfo {
		return fmt.Errorf("leader: first packet %s, want FOLLOWERINFO", pkt.Type)
	}
	info, err := zab.ParseLearnerInfo(pkt.Data)
	if err != nil {
		return err
	}
	h.sid = info.ServerID
	h.observer = pkt.Type == zab.PktObserverInfo
	l.mu.Lock()
	if old := l.handlers[h.sid]; old != nil {
		old.q.close()
	}
	l.handlers[h.sid] = h
	l.disc.Connect(h.sid, zab.EpochOf(pkt.Zxid))
	l.mu.Unlock()
	if err := l.waitFor(ctx, initWait, func() bool { _, ok := l.disc.NewEpoch(); return ok }); err != nil {
		return err
	}
	l.mu.Lock()
	epoch, _ := l.disc.NewEpoch()
	l.mu.Unlock()
	h.q.send(&zab.QuorumPacket{Type: zab.PktLeaderInfo, Zxid: zab.MakeZxid(epoch, 0), Data: zab.EncodeLeaderInfo()})
	ack, err := h.q.read(initWait)
	if err != nil {
		return err
	}
	if ack.Type != zab.PktAckEpoch {
		return fmt.Errorf("leader: got %s, want ACKEPOCH", ack.Type)
	}
	cur, err := zab.ParseAckEpoch(ack.Data)
	if err != nil {
		return err
	}
	l.mu.Lock()
	_, aerr := l.disc.AckEpoch(h.sid, ack.Zxid, cur)
	l.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	if err := l.waitFor(ctx, initWait, func() bool { return l.pipe != nil }); err != nil {
		return err
	}
	if err := h.sync(ack.Zxid); err != nil {
		return err
	}
	h.q.send(&zab.QuorumPacket{Type: zab.PktNewLeader, Zxid: zab.MakeZxid(epoch, 0), Data: l.p.configText()})
	// The learner acks NEWLEADER; proposals sent meanwhile may be acked
	// too, so read until the NEWLEADER ack.
	for {
		pkt, err := h.q.read(initWait)
		if err != nil {
			return err
		}
		if pkt.Type != zab.PktAck {
			continue
		}
		if pkt.Zxid == zab.MakeZxid(epoch, 0) {
			break
		}
		l.ack(h.sid, pkt.Zxid)
	}
	l.mu.Lock()
	l.newLeaderAck.Add(h.sid)
	l.mu.Unlock()
	if err := l.waitFor(ctx, initWait, func() bool { return l.newLeaderAck.Reached() }); err != nil {
		return err
	}
	h.q.send(&zab.QuorumPacket{Type: zab.PktUpToDate, Zxid: -1})
	l.mu.Lock()
	l.tracker.Add(h.sid, l.tick)
	l.mu.Unlock()
	return h.broadcast(ctx)
}

// sync brings the learner up to the leader's committed history and adds
// it to the broadcast, all under l.mu so no commit slips between.
func (h *learnerHandler) sync(peerZxid int64) error {
	l := h.l
	s := l.s
	l.mu.Lock()
	defer l.mu.Unlock()
	// Commits are handed to the applier asynchronously; the history we
	// describe must be applied to the tree first.
	for s.tree.LastZxid() < l.handed {
		time.Sleep(time.Millisecond)
	}
	hist := &zab.MemHistory{Processed: s.tree.LastZxid()}
	for _, e := range l.hist {
		hist.Committed = append(hist.Committed, e.zxid)
	}
	plan := zab.DecideSync(peerZxid, hist)
	l.lg.Info("syncing learner", zap.Int64("sid", h.sid), zap.Stringer("peerZxid", wire.Zxid(peerZxid)), zap.Stringer("plan", plan))
	switch plan.Kind {
	case zab.SyncSnap:
		// The walk is spooled to disk, not memory: a large tree is not held
		// twice while a learner drains it.
		st, err := snapshot.SpoolStream(s.snapDir(), s.tree, s.sessionsForSnap())
		if err != nil {
			return fmt.Errorf("leader: snapshot for learner %d: %w", h.sid, err)
		}
		h.q.send(&zab.QuorumPacket{Type: zab.PktSnap, Zxid: s.tree.LastZxid()})
		h.q.sendBody(st, st.Close)
		s.metrics.IncSnap()
	case zab.SyncTrunc:
		h.q.send(&zab.QuorumPacket{Type: zab.PktTrunc, Zxid: plan.Zxid})
	default:
		h.q.send(&zab.QuorumPacket{Type: zab.PktDiff, Zxid: plan.Zxid})
		s.metrics.IncDiff()
	}
	if plan.Kind != zab.SyncSnap {
		for _, e := range l.hist {
			if e.zxid > plan.SendFrom && e.zxid <= plan.SendTo {
				h.q.send(&zab.QuorumPacket{Type: zab.PktProposal, Zxid: e.zxid, Data: e.data})
				h.q.send(&zab.QuorumPacket{Type: zab.PktCommit, Zxid: e.zxid})
			}
		}
	}
	// Proposals in flight: the learner logs them and will see their COMMIT.
	zxids := make([]int64, 0, len(l.pending))
	for z := range l.pending {
		zxids = append(zxids, z)
	}
	sort.Slice(zxids, func(i, j int) bool { return zxids[i] < zxids[j] })
	for _, z := range zxids {
		h.q.send(&zab.QuorumPacket{Type: zab.PktProposal, Zxid: z, Data: l.pdata[z]})
	}
	l.forwarding[h.sid] = h
	l.forwardingChangedLocked()
	return nil
}

// forwardingChangedLocked republishes the outboxes of forwarding. Caller
// holds l.mu.
func (l *leader) forwardingChangedLocked() {
	obs := make([]*outbox, 0, len(l.forwarding))
	for _, h := range l.forwarding {
		obs = append(obs, h.q.ob)
	}
	l.peerObs.Store(&obs)
}

// applied implements replicator. The COMMITs of what the applier just
// applied were queued to the learners before the applier got the txns;
// writing them now, before the batch's replies, means a learner has them
// before a client of the leader hears of the write, so another client on
// that learner rarely reads the old state (ZooKeeper promises that only
// after a sync, but its leader also sends COMMITs before it applies, and
// recipes such as barriers lean on that). An outbox its writer goroutine
// is already writing is left to it.
func (l *leader) applied() {
	if obs := l.peerObs.Load(); obs != nil {
		for _, o := range *obs {
			o.flush()
		}
	}
}

// broadcast serves a synced learner: acks, forwarded requests, pings,
// revalidations and syncs.
func (h *learnerHandler) broadcast(ctx context.Context) error {
	l := h.l
	s := l.s
	// Once synced, a learner must be heard from every syncLimit ticks (it
	// answers each ping, sent every half tick), as LearnerHandler sets
	// soTimeout to syncLimit·tickTime after the NEWLEADER ACK. A longer
	// timeout kept a frozen learner attached: the leader buffered every
	// packet for it, and it later carried on from a stale stream instead of
	// resyncing.
	timeout := time.Duration(s.cfg.SyncLimit) * l.p.tickDur()
	for {
		pkt, err := h.q.read(timeout)
		if err != nil {
			return err
		}
		l.mu.Lock()
		l.tracker.Heard(h.sid, l.tick)
		l.mu.Unlock()
		switch pkt.Type {
		case zab.PktAck:
			l.ack(h.sid, pkt.Zxid)
		case zab.PktPing:
			touches, _ := zab.ParseTouches(pkt.Data)
			now := time.Now().UnixMilli()
			for _, t := range touches {
				s.sessions.Touch(wire.SessionID(t.SessionID), now)
			}
		case zab.PktRevalidate:
			id, timeout, err := zab.ParseRevalidateRequest(pkt.Data)
			if err != nil {
				return err
			}
			valid := s.sessions.Touch(wire.SessionID(id), time.Now().UnixMilli())
			if valid {
				s.sessions.SetTimeout(wire.SessionID(id), timeout, time.Now().UnixMilli())
				l.setOwner(wire.SessionID(id), h.sid)
			}
			h.q.send(&zab.QuorumPacket{Type: zab.PktRevalidate, Zxid: pkt.Zxid, Data: zab.EncodeRevalidateResponse(id, valid)})
		case zab.PktRequest:
			if err := h.request(pkt); err != nil {
				return err
			}
		}
	}
}

// request submits a learner's forwarded client request to the pipeline.
func (h *learnerHandler) request(pkt *zab.QuorumPacket) error {
	l := h.l
	s := l.s
	rp, err := zab.ParseRequest(pkt.Data)
	if err != nil {
		return err
	}
	id := wire.SessionID(rp.SessionID)
	switch rp.Type {
	case wire.OpSync:
		// Through the pipeline, so it is registered after every write this
		// learner forwarded before it has been given a zxid: the SYNC must
		// not overtake their COMMITs.
		l.pipe.submit(&request{session: id, op: wire.OpSync, remote: true, syncOf: h.sid})
		return nil
	case wire.OpCreateSession:
		d := wire.NewDecoder(rp.Body, 0)
		timeout := d.Int()
		s.sessions.Add(id, timeout, time.Now().UnixMilli())
		l.setOwner(id, h.sid)
		l.pipe.submit(&request{session: id, op: wire.OpCreateSession, rec: &wire.CreateSessionTxn{TimeOut: timeout}, remote: true, via: h.sid})
		return nil
	}
	rec, code := decodeWriteRequest(rp.Type, rp.Body, s.maxNested())
	l.pipe.submit(&request{session: id, xid: rp.Cxid, op: rp.Type, rec: rec, ids: pkt.AuthInfo, decodeErr: code, remote: true, via: h.sid})
	return nil
}

// ack records a follower's (or the leader's own) ACK and commits what it
// completes.
func (l *leader) ack(sid, zxid int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bc == nil {
		return
	}
	for _, z := range l.bc.Ack(sid, zxid) {
		l.commitLocked(z)
	}
}

// commitLocked sends COMMIT (INFORM to observers), releases syncs and
// hands the request to the applier. Caller holds l.mu; zxids arrive in
// order.
func (l *leader) commitLocked(z int64) {
	r, data := l.pending[z], l.pdata[z]
	delete(l.pending, z)
	delete(l.pdata, z)
	l.hist = append(l.hist, histEntry{zxid: z, data: data})
	if len(l.hist) > 2*commitLogCount {
		l.hist = append(l.hist[:0], l.hist[len(l.hist)-commitLogCount:]...)
	}
	for _, h := range l.forwarding {
		if h.observer {
			h.q.send(&zab.QuorumPacket{Type: zab.PktInform, Zxid: z, Data: data})
		} else {
			h.q.send(&zab.QuorumPacket{Type: zab.PktCommit, Zxid: z})
		}
	}
	for _, sid := range l.syncq.Committed(z) {
		if h := l.handlers[sid]; h != nil {
			h.q.send(&zab.QuorumPacket{Type: zab.PktSync, Zxid: 0})
		}
	}
	l.handed = z
	l.s.metrics.IncCommit()
	if r != nil {
		l.pipe.commit(r)
	}
}

// syncLocal queues a sync from one of the leader's own clients behind
// every commit handed to the applier so far, which answers it once they
// are applied. False when the role has no pipeline yet.
func (l *leader) syncLocal(r *request) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pipe == nil {
		return false
	}
	l.pipe.commit(r)
	return true
}

// proposing implements replicator: PROPOSAL to the followers before the
// leader logs the batch itself.
func (l *leader) proposing(batch []*request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range batch {
		z := r.hdr.Zxid
		if err := l.bc.Propose(z); err != nil {
			l.failLocked(err)
			continue
		}
		data := wire.AppendTxnEntry(nil, &wire.TxnEntry{Header: r.hdr, Txn: r.txn})
		l.noteSize(len(data))
		l.s.metrics.IncProposal()
		l.pending[z] = r
		l.pdata[z] = data
		for _, h := range l.forwarding {
			if !h.observer {
				h.q.send(&zab.QuorumPacket{Type: zab.PktProposal, Zxid: z, Data: data})
			}
		}
	}
}

func (l *leader) failLocked(err error) {
	if l.failErr == nil {
		l.failErr = err
	}
}

// logged implements replicator: the leader's own ACK once durable.
func (l *leader) logged(batch []*request) {
	for _, r := range batch {
		if r.failed {
			// A leader that cannot log cannot lead (ZooKeeper exits here).
			l.fail(errors.New("leader: writing the transaction log failed"))
			continue
		}
		l.ack(l.p.myid, r.hdr.Zxid)
	}
}

// mntr figures of a leader.
func (l *leader) stats() (learners, syncedFollowers, syncedObservers, pendingSyncs int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, h := range l.forwarding {
		if h.observer {
			syncedObservers++
		} else {
			syncedFollowers++
		}
	}
	if l.syncq != nil { // nil until a quorum acknowledged the new epoch
		pendingSyncs = l.syncq.Pending()
	}
	return len(l.handlers), syncedFollowers, syncedObservers, pendingSyncs
}

// noteSize records a proposal's size. Caller holds l.mu.
func (l *leader) noteSize(n int) {
	if l.minSize == 0 || n < l.minSize {
		l.minSize = n
	}
	if n > l.maxSize {
		l.maxSize = n
	}
	l.lastSize = n
}

// proposalSizes is srvr's "Proposal sizes last/min/max" (-1 before any).
func (l *leader) proposalSizes() (last, min, max int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.maxSize == 0 {
		return -1, -1, -1
	}
	return l.lastSize, l.minSize, l.maxSize
}

func (l *leader) uptime() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started.IsZero() {
		return 0
	}
	return time.Since(l.started)
}

// registerSync is called by prepare, in request order, for a learner's
// sync: answer it once every txn prepared so far (up to lastZxid) has
// committed.
func (l *leader) registerSync(sid, lastZxid int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.syncq.RegisterSync(sid, lastZxid) {
		if h := l.handlers[sid]; h != nil {
			h.q.send(&zab.QuorumPacket{Type: zab.PktSync, Zxid: 0})
		}
	}
}

// setOwner records that a session's client is now on member via (0: this
// leader), after a create or a revalidation there.
func (l *leader) setOwner(id wire.SessionID, via int64) {
	l.mu.Lock()
	l.owners[id] = via
	l.mu.Unlock()
}

// ownsSession reports whether a request for session id arriving via a
// member may proceed.
func (l *leader) ownsSession(id wire.SessionID, via int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	owner, known := l.owners[id]
	return !known || owner == via
}
