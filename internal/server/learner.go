package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zkd/zkd/internal/snapshot"
	"github.com/zkd/zkd/internal/txnlog"
	"github.com/zkd/zkd/internal/wire"
	"github.com/zkd/zkd/internal/zab"
)

// learner runs Zab's follower or observer side (Learner, Follower,
// Observer): it syncs with the leader, logs and acknowledges proposals,
// applies commits, and forwards its clients' writes as REQUESTs.
type learner struct {
	p        *peer
	s        *Server
	lg       *zap.Logger
	q        *qconn
	observer bool
	pipe     *pipeline

	mu sync.Mutex
	// proposals are logged (or being logged) and wait for their COMMIT, in
	// zxid order: a COMMIT always names the oldest.
	proposals []*request
	// local are this server's clients' writes forwarded to the leader,
	// per session in request order, to answer when their txn commits.
	local map[wire.SessionID][]*request
	// syncs are client syncs waiting for the leader's SYNC, in order.
	syncs []*request
	// revalidate waits for REVALIDATE answers, by session.
	revalidate map[int64]chan bool
	// touched are sessions with client activity since the last ping.
	touched map[int64]int32
}

func (p *peer) learn(ctx context.Context, leaderID int64, start time.Time) error {
	s := p.s
	m, ok := p.members[leaderID]
	if !ok {
		return fmt.Errorf("learner: leader %d is not a member", leaderID)
	}
	l := &learner{
		p: p, s: s, lg: s.log.With(zap.String("role", p.mode())), observer: p.observer,
		local: map[wire.SessionID][]*request{}, revalidate: map[int64]chan bool{}, touched: map[int64]int32{},
	}
	tick := p.tickDur()
	initWait := time.Duration(s.cfg.InitLimit) * tick
	addr := hostPort(m.Host, m.QuorumPort)
	var nc net.Conn
	var err error
	deadline := time.Now().Add(initWait)
	// The leader decides at the same moment and opens its quorum port a
	// few ms later: retry soon, then back off to ZooKeeper's 100 ms
	// (leaderConnectDelayDuringRetryMs). A fixed 100 ms was a third of a
	// failover.
	retry := 5 * time.Millisecond
	for {
		nc, err = net.DialTimeout("tcp", addr, tick)
		if err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("learner: connect to leader %d at %s: %w", leaderID, addr, err)
		}
		sleepCtx(ctx, retry)
		retry = min(2*retry, 100*time.Millisecond)
	}
	l.q = newQconn(nc)
	defer l.q.close()
	stop := context.AfterFunc(ctx, l.q.close)
	defer stop()

	infoType := zab.PktFollowerInfo
	if l.observer {
		infoType = zab.PktObserverInfo
	}
	li := zab.LearnerInfo{ServerID: p.myid, ProtocolVersion: zab.ProtocolVersion}
	l.q.send(&zab.QuorumPacket{Type: infoType, Zxid: zab.MakeZxid(p.epochs.Accepted, 0), Data: wire.Marshal(&li)})
	pkt, err := l.q.read(initWait)
	if err != nil {
		return fmt.Errorf("learner: waiting for LEADERINFO: %w", err)
	}
	if pkt.Type != zab.PktLeaderInfo {
		return fmt.Errorf("learner: got %s, want LEADERINFO", pkt.Type)
	}
	rep, err := zab.OnLeaderInfo(pkt.Zxid, p.epochs, s.tree.LastZxid())
	if err != nil {
		return err
	}
	if rep.PersistAccepted {
		if err := zab.WriteEpochFile(s.snapDir(), zab.AcceptedEpochFile, rep.NewEpoch); err != nil {
			return err
		}
		p.epochs.Accepted = rep.NewEpoch
	}
	l.q.send(&rep.AckEpoch)

	typ := zab.Participant
	if l.observer {
		typ = zab.Observer
	}
	ls := zab.NewLearnerSync(typ, rep.NewEpoch)
	var pendingTxns []zab.Txn
	for !ls.Done() {
		pkt, err := l.q.read(initWait)
		if err != nil {
			return fmt.Errorf("learner: sync: %w", err)
		}
		actions, err := ls.Step(pkt)
		if err != nil {
			return err
		}
		for _, a := range actions {
			if a.Kind == zab.ActStartServing {
				pendingTxns = a.Txns
				continue
			}
			if err := l.do(a, rep.NewEpoch); err != nil {
				return fmt.Errorf("learner: sync %s: %w", a.Kind, err)
			}
		}
	}
	// Broadcast phase.
	for _, t := range pendingTxns {
		e, err := wire.DecodeTxnEntry(t.Data, s.maxNested())
		if err != nil {
			return err
		}
		l.proposals = append(l.proposals, &request{hdr: e.Header, txn: e.Txn, fromLeader: true, session: wire.SessionID(e.Header.ClientID), op: e.Header.Type})
	}
	l.pipe = s.startRole(l, s.tree.LastZxid())
	p.roleMu.Lock()
	p.learner = l
	p.roleMu.Unlock()
	defer func() {
		// Clients first: between here and stopRole this member has no
		// role (roleNow).
		s.clientsOK.Store(false)
		p.roleMu.Lock()
		p.learner = nil
		p.roleMu.Unlock()
	}()
	s.clientsOK.Store(true)
	l.lg.Info("synced with the leader, serving", zap.Int64("leader", leaderID),
		zap.Int64("epoch", rep.NewEpoch), zap.Stringer("mode", ls.Mode()), zap.Duration("electionToServing", time.Since(start)))
	return l.loop(ctx, time.Duration(s.cfg.SyncLimit)*tick)
}

// do executes one sync action.
func (l *learner) do(a zab.LearnerAction, newEpoch int64) error {
	s := l.s
	switch a.Kind {
	case zab.ActTruncate:
		s.treeSuspect = true
		if err := l.resetLog(a.Zxid); err != nil {
			return err
		}
		return s.reload()
	case zab.ActLoadSnapshot:
		s.treeSuspect = true // until the snapshot is in and the log cut to it
		// A background snapshot an earlier role left running must not walk
		// the tree while it is replaced (it would write a mix of both).
		s.snapGate.Wait()
		s.tree.Reset()
		sessions, err := snapshot.ReadStream(l.q.br, s.tree, s.maxNested())
		if err != nil {
			return err
		}
		s.tree.SetLastZxid(a.Zxid)
		now := time.Now().UnixMilli()
		for _, ss := range sessions {
			s.sessions.Add(wire.SessionID(ss.ID), ss.Timeout, now)
		}
		// Txns this server logged beyond the leader's snapshot belong to a
		// history the ensemble dropped.
		if err := l.resetLog(a.Zxid); err != nil {
			return err
		}
		s.treeSuspect = false
		return nil
	case zab.ActApply:
		for _, t := range a.Txns {
			e, err := wire.DecodeTxnEntry(t.Data, s.maxNested())
			if err != nil {
				return err
			}
			s.tree.Apply(&e.Header, e.Txn)
			s.trackSessionTxn(&e.Header, e.Txn)
		}
	case zab.ActLog:
		for _, t := range a.Txns {
			e, err := wire.DecodeTxnEntry(t.Data, s.maxNested())
			if err != nil {
				return err
			}
			if err := s.store.Append(e); err != nil {
				return err
			}
		}
		return s.store.Sync()
	case zab.ActTakeSnapshot:
		_, err := s.store.Snapshot()
		return err
	case zab.ActPersistCurrentEpoch:
		if err := zab.WriteEpochFile(s.snapDir(), zab.CurrentEpochFile, a.Epoch); err != nil {
			return err
		}
		l.p.epochs.Current = a.Epoch
	case zab.ActSendAck:
		l.q.send(&zab.QuorumPacket{Type: zab.PktAck, Zxid: a.Zxid})
	}
	return nil
}

// resetLog cuts the txn log back to zxid (Zab's TRUNC).
func (l *learner) resetLog(zxid int64) error {
	s := l.s
	if err := s.store.Close(); err != nil {
		l.lg.Warn("closing the transaction log", zap.Error(err))
	}
	if err := txnlog.Truncate(s.logDir(), zxid); err != nil {
		return err
	}
	// Snapshots newer than the cut would bring the dropped txns back.
	snaps, err := snapshot.List(s.snapDir())
	if err != nil {
		return err
	}
	for _, f := range snaps {
		if f.Zxid > zxid {
			if err := os.Remove(f.Path); err != nil {
				return fmt.Errorf("learner: remove %s newer than the truncation point: %w", f.Path, err)
			}
		}
	}
	return s.openStore()
}

// loop is the broadcast phase.
func (l *learner) loop(ctx context.Context, timeout time.Duration) error {
	for {
		pkt, err := l.q.read(timeout)
		if err != nil {
			if ctx.Err() != nil {
				return errRoleEnded
			}
			return fmt.Errorf("learner: lost the leader: %w", err)
		}
		switch pkt.Type {
		case zab.PktProposal:
			r, err := l.txnRequest(pkt.Data)
			if err != nil {
				return err
			}
			l.mu.Lock()
			l.proposals = append(l.proposals, r)
			l.mu.Unlock()
			if !l.pipe.toSync(r) {
				return errRoleEnded
			}
		case zab.PktCommit, zab.PktCommitAndActivate:
			l.mu.Lock()
			if len(l.proposals) == 0 || l.proposals[0].hdr.Zxid != pkt.Zxid {
				l.mu.Unlock()
				return fmt.Errorf("learner: COMMIT %s does not name the oldest pending proposal", wire.Zxid(pkt.Zxid))
			}
			r := l.proposals[0]
			l.proposals = l.proposals[1:]
			l.attachLocked(r)
			l.mu.Unlock()
			l.pipe.commit(r)
		case zab.PktInform, zab.PktInformAndActivate:
			data := pkt.Data
			if pkt.Type == zab.PktInformAndActivate {
				if _, rest, err := zab.ParseActivate(data); err == nil {
					data = rest
				}
			}
			r, err := l.txnRequest(data)
			if err != nil {
				return err
			}
			l.mu.Lock()
			l.attachLocked(r)
			l.mu.Unlock()
			if !l.pipe.toSync(r) {
				return errRoleEnded
			}
		case zab.PktPing:
			l.mu.Lock()
			touches := make([]zab.SessionTouch, 0, len(l.touched))
			for id, to := range l.touched {
				touches = append(touches, zab.SessionTouch{SessionID: id, Timeout: to})
			}
			l.touched = map[int64]int32{}
			l.mu.Unlock()
			l.q.sendNow(&zab.QuorumPacket{Type: zab.PktPing, Zxid: pkt.Zxid, Data: zab.EncodeTouches(touches)})
		case zab.PktSync:
			l.mu.Lock()
			var r *request
			if len(l.syncs) > 0 {
				r = l.syncs[0]
				l.syncs = l.syncs[1:]
			}
			l.mu.Unlock()
			if r != nil {
				// Answered by the applier, after every commit received
				// before this SYNC.
				l.pipe.commit(r)
			}
		case zab.PktRevalidate:
			id, valid, err := zab.ParseRevalidateResponse(pkt.Data)
			if err != nil {
				return err
			}
			l.mu.Lock()
			ch := l.revalidate[id]
			delete(l.revalidate, id)
			l.mu.Unlock()
			if ch != nil {
				ch <- valid
			}
		}
	}
}

func (l *learner) txnRequest(data []byte) (*request, error) {
	e, err := wire.DecodeTxnEntry(data, l.s.maxNested())
	if err != nil {
		return nil, fmt.Errorf("learner: undecodable proposal: %w", err)
	}
	return &request{hdr: e.Header, txn: e.Txn, fromLeader: true, session: wire.SessionID(e.Header.ClientID), op: e.Header.Type}, nil
}

// attachLocked matches a committed txn with the local client request it
// answers, if this server forwarded it. Caller holds l.mu.
func (l *learner) attachLocked(r *request) {
	id := wire.SessionID(r.hdr.ClientID)
	q := l.local[id]
	for i, lr := range q {
		if lr.xid != r.hdr.Cxid {
			continue
		}
		l.local[id] = append(q[:i:i], q[i+1:]...)
		if len(l.local[id]) == 0 {
			delete(l.local, id)
		}
		r.conn, r.xid, r.op, r.rec, r.start, r.connect, r.onDone = lr.conn, lr.xid, lr.op, lr.rec, lr.start, lr.connect, lr.onDone
		return
	}
}

// proposing implements replicator (nothing: learners do not propose).
func (l *learner) proposing([]*request) {}

// applied implements replicator: nothing to send ahead of the replies.
func (l *learner) applied() {}

// logged implements replicator: a follower ACKs each logged proposal; an
// observer, which gets txns already committed (INFORM), applies them.
func (l *learner) logged(batch []*request) {
	var fs flushSet
	for _, r := range batch {
		if r.failed {
			l.q.close() // a learner that cannot log drops out and resyncs
			continue
		}
		if l.observer {
			l.pipe.commit(r)
			continue
		}
		l.q.sendLater(&zab.QuorumPacket{Type: zab.PktAck, Zxid: r.hdr.Zxid}, &fs)
	}
	fs.flush()
}

// forward sends a client's write to the leader and remembers it so the
// commit can be answered. r has conn, xid, op, rec, start set. With fs
// the packet is written when fs is flushed (the end of the client's
// burst), else at once.
func (l *learner) forward(r *request, body []byte, ids []wire.Id, fs *flushSet) {
	l.mu.Lock()
	if r.op == wire.OpSync {
		l.syncs = append(l.syncs, r)
	} else {
		l.local[r.session] = append(l.local[r.session], r)
	}
	l.mu.Unlock()
	pkt := &zab.QuorumPacket{Type: zab.PktRequest, Zxid: -1,
		Data:     zab.EncodeRequest(zab.RequestPayload{SessionID: int64(r.session), Cxid: r.xid, Type: r.op, Body: body}),
		AuthInfo: ids}
	if fs != nil {
		l.q.sendLater(pkt, fs)
		return
	}
	l.q.sendNow(pkt)
}

// touch records client activity for the next ping's touch table.
func (l *learner) touch(id wire.SessionID, timeout int32) {
	l.mu.Lock()
	l.touched[int64(id)] = timeout
	l.mu.Unlock()
}

// revalidateSession asks the leader whether a session a client wants to
// resume is still alive (and makes this server its owner).
func (l *learner) revalidateSession(id wire.SessionID, timeout int32, wait time.Duration) (bool, error) {
	ch := make(chan bool, 1)
	l.mu.Lock()
	l.revalidate[int64(id)] = ch
	l.mu.Unlock()
	l.q.send(&zab.QuorumPacket{Type: zab.PktRevalidate, Zxid: zab.RevalidateZxid, Data: zab.EncodeRevalidateRequest(int64(id), timeout)})
	select {
	case v := <-ch:
		return v, nil
	case <-time.After(wait):
		l.mu.Lock()
		delete(l.revalidate, int64(id))
		l.mu.Unlock()
		return false, errors.New("learner: no REVALIDATE answer from the leader")
	}
}

// trackSessionTxn keeps the session table in step with applied
// createSession/closeSession txns, so any member can take over as leader.
func (s *Server) trackSessionTxn(hdr *wire.TxnHeader, txn wire.Record) {
	switch hdr.Type {
	case wire.OpCreateSession:
		if t, ok := txn.(*wire.CreateSessionTxn); ok {
			s.sessions.Add(wire.SessionID(hdr.ClientID), t.TimeOut, time.Now().UnixMilli())
		}
	case wire.OpCloseSession:
		s.sessions.Remove(wire.SessionID(hdr.ClientID))
	}
}
