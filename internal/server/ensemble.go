package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/session"
	"github.com/zkd/zkd/internal/snapshot"
	"github.com/zkd/zkd/internal/storage"
	"github.com/zkd/zkd/internal/txnlog"
	"github.com/zkd/zkd/internal/wire"
	"github.com/zkd/zkd/internal/zab"
	"github.com/zkd/zkd/internal/zab/election"
	"github.com/zkd/zkd/internal/zab/electionnet"
)

// Peer states, as QuorumPeer.ServerState numbers them.
const (
	stateLooking   = int32(election.Looking)
	stateFollowing = int32(election.Following)
	stateLeading   = int32(election.Leading)
	stateObserving = int32(election.Observing)
)

// peer runs this server as a member of an ensemble (QuorumPeer): it
// elects a leader with Fast Leader Election, then leads, follows or
// observes with Zab until that role ends, and starts over.
//
// The pure protocol cores live in internal/zab (epochs, sync plans,
// proposal bookkeeping, learner sync) and internal/zab/election (FLE);
// this file and leader.go / learner.go do the I/O around them.
type peer struct {
	s        *Server
	myid     int64
	self     config.Server
	members  map[int64]config.Server
	voters   *election.QuorumMaj
	qv       zab.QuorumVerifier
	observer bool

	net   *electionnet.Manager
	state atomic.Int32
	// leaderID is the last elected leader (the AdminServer's leader command).
	leaderID atomic.Int64

	// elect is the current FLE machine; it answers LOOKING peers while this
	// server leads or follows. Guarded by electMu.
	electMu sync.Mutex
	elect   *election.Election
	// looking receives notifications while an election runs.
	looking chan election.Notification

	epochs zab.Epochs

	// role is the running leader or learner (for 4lw and mntr).
	roleMu  sync.Mutex
	leader  *leader
	learner *learner
}

// readMyID reads <dataDir>/myid (the first line, a decimal id).
func readMyID(dataDir string) (int64, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "myid"))
	if err != nil {
		return 0, fmt.Errorf("ensemble: read myid: %w", err)
	}
	line := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
	id, err := strconv.ParseInt(line, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("ensemble: myid %q is not a number: %w", line, err)
	}
	return id, nil
}

func newPeer(s *Server, myid int64) (*peer, error) {
	p := &peer{s: s, myid: myid, members: map[int64]config.Server{}, looking: make(chan election.Notification, 256)}
	var voterIDs []int64
	for _, m := range s.cfg.Servers {
		p.members[m.ID] = m
		if !m.Observer {
			voterIDs = append(voterIDs, m.ID)
		}
	}
	self, ok := p.members[myid]
	if !ok {
		return nil, fmt.Errorf("ensemble: myid %d has no server.%d line", myid, myid)
	}
	p.self = self
	p.observer = self.Observer || s.cfg.PeerType == "observer"
	p.voters = election.NewQuorumMaj(voterIDs...)
	p.qv = zab.NewMajority(voterIDs...)
	return p, nil
}

// configText is the QuorumVerifier text ZooKeeper puts in notifications
// and NEWLEADER.
func (p *peer) configText() []byte {
	var b strings.Builder
	for _, m := range p.s.cfg.Servers {
		fmt.Fprintf(&b, "server.%d=%s\n", m.ID, m.String())
	}
	b.WriteString("version=0")
	return []byte(b.String())
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// start opens the election transport and runs the peer loop until ctx ends.
func (p *peer) start(ctx context.Context) error {
	peers := map[int64]string{}
	for id, m := range p.members {
		if id != p.myid {
			peers[id] = hostPort(m.Host, m.ElectionPort)
		}
	}
	n, err := electionnet.New(p.myid, hostPort(p.self.Host, p.self.ElectionPort), peers, p.s.log)
	if err != nil {
		return err
	}
	p.net = n
	if err := n.Start(); err != nil {
		n.Close()
		return err
	}
	p.s.wg.Add(2)
	go func() { defer p.s.wg.Done(); p.recvLoop(ctx) }()
	go func() { defer p.s.wg.Done(); p.run(ctx) }()
	return nil
}

// recvLoop feeds election messages to the running election, or answers
// them with our vote while we lead or follow.
func (p *peer) recvLoop(ctx context.Context) {
	defer p.net.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-p.net.Recv():
			if !ok {
				return
			}
			var n election.Notification
			if err := n.Decode(m.Payload); err != nil {
				continue
			}
			n.From = m.From
			if p.state.Load() == stateLooking {
				select {
				case p.looking <- n:
				default: // the election re-sends; dropping under overload is safe
				}
				continue
			}
			p.electMu.Lock()
			var out []election.Outgoing
			if p.elect != nil {
				out = p.elect.Respond(n)
			}
			p.electMu.Unlock()
			p.send(out)
		}
	}
}

func (p *peer) send(out []election.Outgoing) {
	for _, o := range out {
		p.net.Send(o.To, o.Msg.Encode())
	}
}

// run is the QuorumPeer main loop.
func (p *peer) run(ctx context.Context) {
	for ctx.Err() == nil {
		p.state.Store(stateLooking)
		if p.s.treeFromDisk {
			// Fresh from recovery at startup: rebuilding it would read the
			// same files again (seconds for a large tree).
			p.s.treeFromDisk = false
		} else if err := p.s.reload(); err != nil {
			p.s.log.Error("reloading the data tree before an election failed; retrying", zap.Error(err))
			sleepCtx(ctx, time.Second)
			continue
		}
		epochs, err := zab.LoadEpochs(p.s.snapDir(), p.s.tree.LastZxid())
		if err != nil {
			p.s.log.Error("epoch files are inconsistent; this server cannot take part", zap.Error(err))
			sleepCtx(ctx, time.Second)
			continue
		}
		p.epochs = epochs
		roTimer := p.startReadOnlyTimer()
		electStart := time.Now()
		d := p.lookForLeader(ctx)
		roTimer.Stop()
		if d != nil {
			p.s.metrics.ObserveElection(time.Since(electStart))
		}
		if p.s.readOnly.Swap(false) {
			// Read-only clients must reconnect to a read-write server.
			for _, c := range p.s.connList() {
				c.close()
			}
		}
		if d == nil {
			return
		}
		start := time.Now()
		p.leaderID.Store(d.Vote.Leader)
		p.s.log.Info("election decided", zap.Int64("leader", d.Vote.Leader),
			zap.Stringer("state", d.State), zap.Stringer("zxid", wire.Zxid(d.Vote.Zxid)))
		var roleErr error
		switch {
		case d.Vote.Leader == p.myid:
			p.state.Store(stateLeading)
			roleErr = p.lead(ctx, start)
		default:
			if p.observer {
				p.state.Store(stateObserving)
			} else {
				p.state.Store(stateFollowing)
			}
			roleErr = p.learn(ctx, d.Vote.Leader, start)
		}
		p.s.stopRole()
		if ctx.Err() != nil {
			return
		}
		p.s.log.Warn("leaving role, back to leader election", zap.Error(roleErr))
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// lookForLeader runs one FLE round and returns its decision.
func (p *peer) lookForLeader(ctx context.Context) *election.Decision {
	// One machine for the life of the server, as Java's FastLeaderElection:
	// its logical clock goes on from round to round. A fresh machine per
	// election restarted every round at 1, so a member still FOLLOWING a
	// dead leader looked like a vote of the new round.
	p.electMu.Lock()
	e := p.elect
	if e == nil {
		e = election.New(p.myid, p.voters, p.s.tree.LastZxid(), p.epochs.Current, p.observer)
		e.SetConfig(p.configText())
		p.elect = e
	} else {
		e.SetLog(p.s.tree.LastZxid(), p.epochs.Current)
	}
	out := e.Start(nowMs())
	p.electMu.Unlock()
	p.dropStaleReports()
	p.send(out)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		var d *election.Decision
		select {
		case <-ctx.Done():
			return nil
		case n := <-p.looking:
			p.electMu.Lock()
			e.SetReachable(p.reachableVoters())
			out, d = e.Step(n, nowMs())
			p.electMu.Unlock()
			if ce := p.s.log.Check(zap.DebugLevel, "election notification"); ce != nil {
				ce.Write(zap.Int64("from", n.From), zap.Stringer("state", n.State), zap.Int64("leader", n.Leader),
					zap.Stringer("zxid", wire.Zxid(n.Zxid)), zap.Int64("round", n.ElectionEpoch),
					zap.Int64s("lost", p.net.Lost()), zap.Int("sent", len(out)))
			}
		case <-tick.C:
			p.electMu.Lock()
			e.SetReachable(p.reachableVoters())
			out, d = e.Tick(nowMs())
			p.electMu.Unlock()
			// Peers are dialed when a notification times out and is sent
			// again (Send dials a peer without a connection), as Java's
			// FLE does, with the notification timeout's backoff. Dialing
			// every tick made a smaller sid keep dialing a larger one
			// while that one was dialing back: each dial closed the
			// larger sid's fresh connection (the challenge rule), and the
			// two members could re-establish their connection every
			// 50 ms instead of electing.
			if len(out) > 0 {
				p.net.ConnectAll()
			}
		}
		p.send(out)
		if d != nil {
			return d
		}
	}
}

// dropStaleReports empties the election inbox of FOLLOWING/LEADING reports
// left from the last election (answers that came after it decided). Their
// leader may be the one that just died: read by this round, with the other
// members' old FOLLOWING reports they made a quorum for it, and the member
// followed a dead leader until initLimit ran out (seen in
// TestRepeatedLeaderKills). Live decided members answer this round's
// notifications again, so nothing is lost; LOOKING votes stay queued.
func (p *peer) dropStaleReports() {
	var keep []election.Notification
	for drained := false; !drained; {
		select {
		case n := <-p.looking:
			if n.State == election.Looking {
				keep = append(keep, n)
			}
		default:
			drained = true
		}
	}
	for _, n := range keep {
		select {
		case p.looking <- n:
		default: // the election re-sends; dropping under overload is safe
		}
	}
}

// reachableVoters is every voter but those whose election connection broke
// and has not come back (see election.SetReachable).
func (p *peer) reachableVoters() []int64 {
	lost := map[int64]bool{}
	for _, sid := range p.net.Lost() {
		lost[sid] = true
	}
	var out []int64
	for _, v := range p.voters.Voters() {
		if !lost[v] {
			out = append(out, v)
		}
	}
	return out
}

func nowMs() int64 { return time.Now().UnixMilli() }

func (p *peer) tickDur() time.Duration { return time.Duration(p.s.cfg.TickTime) * time.Millisecond }

// startReadOnlyTimer turns on read-only service if the election has not
// ended after max(2 s, tickTime), as QuorumPeer does with
// readonlymode.enabled.
func (p *peer) startReadOnlyTimer() *time.Timer {
	wait := max(2*time.Second, p.tickDur())
	return time.AfterFunc(wait, func() {
		if p.s.cfg.ReadOnlyModeEnabled && p.state.Load() == stateLooking {
			p.s.readOnly.Store(true)
			p.s.log.Info("no quorum: serving read-only clients")
		}
	})
}

// mode is what srvr and mntr report.
func (p *peer) mode() string {
	if p.s.readOnly.Load() && p.state.Load() == stateLooking {
		return "read-only"
	}
	switch p.state.Load() {
	case stateLeading:
		return "leader"
	case stateFollowing:
		return "follower"
	case stateObserving:
		return "observer"
	}
	return "looking"
}

// peerState is mntr's zk_peer_state ("following - broadcast", ...).
func (p *peer) peerState() string {
	switch p.state.Load() {
	case stateLeading:
		return "leading - broadcast"
	case stateFollowing:
		return "following - broadcast"
	case stateObserving:
		return "observing - broadcast"
	}
	return "looking"
}

// errRoleEnded is returned when a role ends because the server stops.
var errRoleEnded = errors.New("ensemble: server stopping")

// reload closes the txn log and brings the tree up to the last logged
// txn, so that an election votes with every logged txn, then reopens the
// log. Normally the tree is the log's committed prefix and the tail is
// applied on top (ZooKeeper's fastForwardDataBase): milliseconds, where a
// rebuild from the snapshot of a million-node tree took seconds of every
// failover. A tree left half-loaded by a failed SNAP, or after a TRUNC,
// is rebuilt from disk.
func (s *Server) reload() error {
	if s.store != nil {
		// A fast-forward only moves the tree forward: a background
		// snapshot may go on meanwhile (the gate keeps the next store from
		// starting another).
		closeStore := s.store.CloseLog
		if s.treeSuspect {
			closeStore = s.store.Close
		}
		if err := closeStore(); err != nil {
			s.log.Warn("closing the transaction log", zap.Error(err))
		}
		s.store = nil
	}
	if !s.treeSuspect {
		start := time.Now()
		n, err := storage.FastForward(s.logDir(), s.tree, s.maxNested(), s.trackSessionTxn)
		if err == nil {
			s.log.Info("data tree fast-forwarded to the end of the log", zap.Int("txns", n),
				zap.Stringer("lastZxid", wire.Zxid(s.tree.LastZxid())), zap.Duration("took", time.Since(start)))
			return s.openStore()
		}
		s.log.Warn("fast-forwarding the data tree failed; rebuilding it from disk", zap.Error(err))
	}
	// The rebuild replaces the tree: a snapshot still walking it ends first.
	s.snapGate.Wait()
	rec, err := storage.Recover(s.snapDir(), s.logDir(), s.maxNested(), nil, s.log)
	if err != nil {
		return err
	}
	// Take the rebuilt content in place (s.tree is shared by the whole
	// server): no second copy of a large tree.
	s.tree.ReplaceWith(rec.Tree)
	s.tree.SetLastZxid(rec.LastZxid)
	now := time.Now().UnixMilli()
	for _, ss := range s.sessions.Sessions() {
		if _, ok := rec.Sessions[int64(ss.ID)]; !ok {
			s.sessions.Remove(ss.ID)
		}
	}
	for id, timeout := range rec.Sessions {
		s.sessions.Add(wire.SessionID(id), timeout, now)
	}
	s.treeSuspect = false
	return s.openStore()
}

// openStore opens the txn log for appends on the current tree.
func (s *Server) openStore() error {
	st, err := storage.Open(storage.Options{
		SnapDir:   s.snapDir(),
		LogDir:    s.logDir(),
		SnapCount: s.cfg.SnapCount,
		Log: txnlog.Options{
			PreAllocSize:          int64(s.cfg.PreAllocSizeKB) * 1024,
			ForceSync:             s.cfg.ForceSync,
			FsyncWarningThreshold: time.Duration(s.cfg.FsyncWarningThresholdMs) * time.Millisecond,
			OnFsync:               s.metrics.ObserveFsync,
		},
		OnSnapshot: s.metrics.ObserveSnapshot,
		Gate:       &s.snapGate,
	}, s.tree, s.snapshotSessions, s.log)
	if err != nil {
		return err
	}
	s.store = st
	return nil
}

// startRole starts a fresh write pipeline for a role (its own prepare,
// sync and apply goroutines, so nothing of an earlier role leaks into it).
func (s *Server) startRole(rep replicator, firstZxidBase int64) *pipeline {
	p := newPipeline(s)
	p.setReplicator(rep)
	s.pipeMu.Lock()
	s.pipeP.Store(p)
	s.pipeMu.Unlock()
	p.startAt(firstZxidBase)
	return p
}

// stopRole stops serving clients and the role's pipeline.
func (s *Server) stopRole() {
	s.clientsOK.Store(false)
	for _, c := range s.connList() {
		c.close()
	}
	s.stopSessionExpiry()
	s.pipeMu.Lock()
	p := s.pipe()
	s.pipeMu.Unlock()
	p.stopOnce()
}

// snapshotSessionsList is snapshotSessions for the SNAP stream.
func (s *Server) sessionsForSnap() []snapshot.Session { return s.snapshotSessions() }

var _ = session.PasswordLen
