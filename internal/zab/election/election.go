package election

import "fmt"

// Timing of FastLeaderElection, in milliseconds.
const (
	// FinalizeWait is how long a server keeps listening, after the votes of a
	// quorum agree with its proposal, for a better vote before it decides.
	// Java restarts the wait on every message that arrives (each poll has
	// this timeout), so do we.
	FinalizeWait = 200
	// MinNotificationInterval is the first re-send timeout
	// (fastleader.minNotificationInterval).
	MinNotificationInterval = 200
	// MaxNotificationInterval caps the doubling re-send timeout
	// (fastleader.maxNotificationInterval).
	MaxNotificationInterval = 60000
)

// Outgoing is one notification to send.
type Outgoing struct {
	// To is the recipient sid; it may be this server itself, in which case
	// the transport delivers it locally (QuorumCnxManager.toSend loopback).
	To int64
	// Msg is the notification; Msg.From is this server.
	Msg Notification
}

// Decision is the end of an election round for this server.
type Decision struct {
	// State is LEADING if Vote.Leader is this server, else FOLLOWING, or
	// OBSERVING for an observer.
	State State
	// Vote is the final vote; Vote.ElectionEpoch is the round decided in,
	// which the server keeps announcing to LOOKING peers.
	Vote Vote
}

// Election is the FLE state machine of one server. It is not safe for
// concurrent use: one driver goroutine calls its methods.
//
// Its behaviour switches with the role: step is stepLooking while an election
// runs and stepDecided once this server follows, leads or observes.
type Election struct {
	self       int64
	q          Quorum
	isObserver bool
	config     []byte

	// lastZxid and currentEpoch are this server's own log position and
	// epoch, the vote it proposes when a round begins (SetLog updates them
	// between rounds).
	lastZxid, currentEpoch int64

	state   State
	started bool
	step    func(e *Election, n Notification, now int64) []Outgoing

	// logicalclock is the election round. Invariant: while looking,
	// every vote in recv has ElectionEpoch == logicalclock.
	logicalclock int64
	// proposal is the vote this server currently pushes while looking
	// (Leader, Zxid and PeerEpoch; the round is logicalclock).
	proposal Vote
	// current is QuorumPeer.currentVote: the last decided vote (or the
	// server's own vote before the first decision). Non-voters are answered
	// with it, as Java does, so an observer only learns stable outcomes.
	current Vote

	// recv holds this round's votes by sender (recvset); outOfElection holds
	// FOLLOWING/LEADING reports of any round (outofelection).
	recv          map[int64]ballot
	outOfElection map[int64]ballot

	// notTimeout is the current re-send interval; resendAt is when the
	// notifications go out again if nothing arrives before.
	notTimeout int64
	resendAt   int64

	// finalizing is set once a quorum agrees with proposal; the server
	// decides at finalizeAt unless a better vote arrives first.
	finalizing bool
	finalizeAt int64

	// decided is set by Step or Tick when they decide; they return it once.
	decided *Decision

	// reachable, when known (SetReachable), lists the voters this server
	// has a live connection to. See heardAllReachable.
	reachable map[int64]bool
}

// New returns the election machine of server self in state LOOKING, not yet
// started. lastZxid and currentEpoch form its initial vote; an observer
// proposes nobody (math.MinInt64 everywhere) and decides OBSERVING.
func New(self int64, q Quorum, lastZxid, currentEpoch int64, isObserver bool) *Election {
	e := &Election{
		self:         self,
		q:            q,
		isObserver:   isObserver,
		lastZxid:     lastZxid,
		currentEpoch: currentEpoch,
		state:        Looking,
		step:         (*Election).stepLooking,
	}
	// QuorumPeer.startLeaderElection: currentVote starts as our own vote.
	e.current = Vote{Leader: self, Zxid: lastZxid, ElectionEpoch: -1, PeerEpoch: currentEpoch}
	e.proposal = e.initVote()
	return e
}

// SetConfig sets the QuorumVerifier text sent in every notification
// (quorum.md §2). Java peers parse it, so a mixed ensemble needs it.
func (e *Election) SetConfig(cfg []byte) { e.config = append([]byte(nil), cfg...) }

// SetLog updates this server's last logged zxid and current epoch, used as
// its own vote by the next Start.
func (e *Election) SetLog(lastZxid, currentEpoch int64) {
	e.lastZxid, e.currentEpoch = lastZxid, currentEpoch
}

// SetReachable tells the machine which voters may still send a vote (the
// driver's view; nil means unknown, the default): every voter but those
// known gone, whose connection broke and has not come back. With it, a
// server whose proposal a quorum agrees with and which has the votes of
// every reachable voter decides at once instead of after the finalize
// wait: a better vote could only come from a voter that is gone, which is
// what the wait is for. Java always waits; after a leader crash that wait
// is most of the failover time. Deciding without the gone voters is safe
// for the same reason deciding after the wait is: the leader is the best
// of a quorum, and any quorum holds every committed txn. A voter never
// heard from (at startup, not up yet) must not count as gone: others may
// hear its better vote and decide differently.
func (e *Election) SetReachable(voters []int64) {
	if voters == nil {
		e.reachable = nil
		return
	}
	e.reachable = make(map[int64]bool, len(voters))
	for _, v := range voters {
		e.reachable[v] = true
	}
}

// heardAllReachable reports whether this round holds a vote from every
// reachable voter (false when reachability is unknown).
func (e *Election) heardAllReachable() bool {
	if e.reachable == nil {
		return false
	}
	for _, v := range e.q.Voters() {
		if v == e.self || !e.reachable[v] {
			continue
		}
		if _, ok := e.recv[v]; !ok {
			return false
		}
	}
	return true
}

// State returns this server's state.
func (e *Election) State() State { return e.state }

// LogicalClock returns the current election round.
func (e *Election) LogicalClock() int64 { return e.logicalclock }

// Vote returns the proposal while looking, the final vote otherwise.
func (e *Election) Vote() Vote {
	if e.state == Looking {
		v := e.proposal
		v.ElectionEpoch = e.logicalclock
		return v
	}
	return e.current
}

// initVote is the proposal a round starts from (getInitId,
// getInitLastLoggedZxid, getPeerEpoch).
func (e *Election) initVote() Vote {
	v := Vote{Leader: e.self, Zxid: e.lastZxid, PeerEpoch: e.currentEpoch}
	if !e.q.IsVoter(e.self) {
		v.Leader = noVote.Leader
	}
	if e.isObserver {
		v.Zxid, v.PeerEpoch = noVote.Zxid, noVote.PeerEpoch
	}
	return v
}

// Start begins a new round (lookForLeader): logicalclock+1, propose our own
// vote, forget the previous round, send the proposal to every voter
// including ourselves. It is also how a server that lost its leader goes
// back to LOOKING.
func (e *Election) Start(now int64) []Outgoing {
	e.become(Looking)
	e.started = true
	e.logicalclock++
	e.proposal = e.initVote()
	e.recv = map[int64]ballot{}
	e.outOfElection = map[int64]ballot{}
	e.notTimeout = MinNotificationInterval
	e.resendAt = now + e.notTimeout
	e.finalizing = false
	return e.broadcast()
}

// SetDecided puts the machine in a decided state without an election, for a
// server known to be FOLLOWING or LEADING (or OBSERVING) with the given
// vote, and for Zab to refresh the vote it announces when its epoch changes
// (QuorumPeer.updateElectionVote). The logical clock becomes the vote's
// round, as after a decision.
func (e *Election) SetDecided(state State, v Vote) error {
	if state == Looking || !state.valid() {
		return fmt.Errorf("election: SetDecided with state %s", state)
	}
	e.started = true
	e.logicalclock = v.ElectionEpoch
	e.current = v
	e.become(state)
	return nil
}

// become switches the role.
func (e *Election) become(s State) {
	e.state = s
	if s == Looking {
		e.step = (*Election).stepLooking
		return
	}
	e.step = (*Election).stepDecided
	e.finalizing = false
	// leaveInstance: the round's tables are of no further use.
	e.recv, e.outOfElection = nil, nil
}

// Step handles one received notification at time now (ms). It returns the
// notifications to send and, when this server has just decided, the
// Decision. Out must be sent even when a Decision is returned.
// n.From must be set by the caller from the connection.
func (e *Election) Step(n Notification, now int64) (out []Outgoing, d *Decision) {
	if !e.q.IsVoter(n.From) {
		// WorkerReceiver: non-voters (observers) get our current vote at
		// once and are never counted, whatever our state.
		return e.answerNonVoter(n), nil
	}
	if !n.State.valid() || !e.started {
		return nil, nil
	}
	out = e.step(e, n, now)
	d, e.decided = e.decided, nil
	return out, d
}

// Respond is the receiver side of a server that is not looking (quorum.md §3
// step 5): a LOOKING voter gets our final vote, our state and the round we
// decided in; a non-voter gets our final vote with our logical clock. It
// returns nothing while looking (Step handles that).
//
// Divergence: a non-voter (observer) itself never answers. Voters ignore
// whatever a non-voter says except to answer it, so such answers carry no
// information, and in Java a decided observer and a LOOKING voter answer
// each other at network speed until the voter decides (and each duplicate
// doubles the exchange). An observer still learns everything it needs from
// the voters' answers to its own broadcasts.

func (e *Election) Respond(n Notification) []Outgoing {
	if e.state == Looking {
		return nil
	}
	if !e.q.IsVoter(n.From) {
		return e.answerNonVoter(n)
	}
	if n.State != Looking || !e.q.IsVoter(e.self) {
		return nil
	}
	return []Outgoing{e.reply(n.From, e.current, e.current.ElectionEpoch)}
}

// answerNonVoter gives a non-voter our current vote with our logical clock.
func (e *Election) answerNonVoter(n Notification) []Outgoing {
	if !e.q.IsVoter(e.self) {
		return nil
	}
	return []Outgoing{e.reply(n.From, e.current, e.logicalclock)}
}

func (e *Election) stepDecided(n Notification, _ int64) []Outgoing { return e.Respond(n) }

// stepLooking is one iteration of lookForLeader's loop for notification n
// from a voter.
func (e *Election) stepLooking(n Notification, now int64) []Outgoing {
	var out []Outgoing
	// WorkerReceiver answers a LOOKING sender whose round is behind ours
	// before the notification is even queued, so that it catches up.
	if n.State == Looking && n.ElectionEpoch < e.logicalclock && e.q.IsVoter(e.self) {
		out = append(out, e.reply(n.From, e.proposal, e.logicalclock))
	}
	// Any notification ends the poll, so the re-send timer restarts.
	e.resendAt = now + e.notTimeout

	if e.finalizing {
		if !beats(e.q, n.Vote, e.proposal) {
			// Java reads and discards it, and polls again for a full
			// finalizeWait. It still tells us this voter is heard from.
			if n.State == Looking && n.ElectionEpoch == e.logicalclock && e.q.IsVoter(n.Leader) {
				out = append(out, e.correct(n)...)
				e.recv[n.From] = ballot{Vote: n.Vote, state: Looking}
				if e.heardAllReachable() {
					v := e.proposal
					v.ElectionEpoch = e.logicalclock
					e.decide(v)
					return out
				}
			}
			e.finalizeAt = now + FinalizeWait
			return out
		}
		// A better vote: "put it back" and carry on with the election.
		e.finalizing = false
	}
	if !e.q.IsVoter(n.Leader) {
		return out
	}

	switch n.State {
	case Looking:
		out = append(out, e.fromLooking(n, now)...)
	case Following, Leading:
		e.fromDecided(n)
	case Observing:
		// Observers never vote.
	}
	return out
}

// fromLooking applies a LOOKING voter's notification.
func (e *Election) fromLooking(n Notification, now int64) []Outgoing {
	// A server (or sender) with zxid -1 has no usable log; Java refuses to
	// count it.
	if e.initVote().Zxid == -1 || n.Zxid == -1 {
		return nil
	}
	var out []Outgoing
	switch {
	case n.ElectionEpoch > e.logicalclock:
		// We are behind: join the sender's round, forget ours, and propose
		// the better of its vote and our own.
		e.logicalclock = n.ElectionEpoch
		clear(e.recv)
		e.proposal = e.initVote()
		if beats(e.q, n.Vote, e.proposal) {
			e.proposal = pvote(n.Vote)
		}
		out = e.broadcast()
	case n.ElectionEpoch < e.logicalclock:
		return nil
	case beats(e.q, n.Vote, e.proposal):
		e.proposal = pvote(n.Vote)
		out = e.broadcast()
	default:
		out = e.correct(n)
	}
	e.recv[n.From] = ballot{Vote: n.Vote, state: Looking}

	mine := e.proposal
	mine.ElectionEpoch = e.logicalclock
	if e.tally(e.recv, ballot{Vote: mine, state: Looking}) {
		if e.heardAllReachable() {
			e.decide(mine)
			return out
		}
		e.finalizing = true
		e.finalizeAt = now + FinalizeWait
	}
	return out
}

// correct answers a voter of our round whose vote is worse than our
// proposal with the proposal. Java answers only senders of older rounds
// and otherwise lets the re-send timer (200 ms and more) spread the better
// vote; after a leader crash the survivor that entered the round last has
// often already been told the others' votes while it was still following,
// and answered them from its old state, so that wait was most of a
// failover. The answer is sent once per worse vote received, and a voter
// adopts it at once, so it cannot loop.
func (e *Election) correct(n Notification) []Outgoing {
	if n.From == e.self || n.ElectionEpoch != e.logicalclock || !e.q.IsVoter(e.self) ||
		!beats(e.q, e.proposal, n.Vote) {
		return nil
	}
	return []Outgoing{e.reply(n.From, e.proposal, e.logicalclock)}
}

// fromDecided applies a FOLLOWING or LEADING voter's report.
func (e *Election) fromDecided(n Notification) {
	report := ballot{Vote: n.Vote, state: n.State, version: n.Version}
	if n.ElectionEpoch == e.logicalclock {
		// Same round: count it with the LOOKING votes. Java stores it with
		// version 0 (see ballot.agrees).
		e.recv[n.From] = ballot{Vote: n.Vote, state: n.State}
		if e.tally(e.recv, report) && e.checkLeader(e.recv, n.Leader, n.ElectionEpoch) {
			e.decide(n.Vote)
			return
		}
	}
	// Reports of any round: enough of them for one leader means an
	// ensemble is already running and we join it (ZOOKEEPER-1732).
	e.outOfElection[n.From] = report
	if e.tally(e.outOfElection, report) && e.checkLeader(e.outOfElection, n.Leader, n.ElectionEpoch) {
		e.logicalclock = n.ElectionEpoch
		e.decide(n.Vote)
	}
}

// Tick advances time to now (ms): it decides when a finalize wait has run
// out, and re-sends the proposal when nothing arrived for the current
// notification interval, doubling the interval up to
// MaxNotificationInterval. Java re-sends only if a send queue is empty and
// reconnects otherwise; the driver may also reconnect (electionnet
// ConnectAll) whenever Tick re-sends.
func (e *Election) Tick(now int64) (out []Outgoing, d *Decision) {
	if e.state != Looking || !e.started {
		return nil, nil
	}
	if e.finalizing {
		if now >= e.finalizeAt || e.heardAllReachable() {
			v := e.proposal
			v.ElectionEpoch = e.logicalclock
			e.decide(v)
		}
		d, e.decided = e.decided, nil
		return nil, d
	}
	if now < e.resendAt {
		return nil, nil
	}
	out = e.broadcast()
	e.notTimeout = min(2*e.notTimeout, MaxNotificationInterval)
	e.resendAt = now + e.notTimeout
	return out, nil
}

// decide ends the round with vote v.
func (e *Election) decide(v Vote) {
	s := Following
	switch {
	case v.Leader == e.self:
		s = Leading
	case e.isObserver:
		s = Observing
	}
	e.current = v
	e.become(s)
	e.decided = &Decision{State: s, Vote: v}
}

// tally reports whether the senders whose ballots agree with target form a
// quorum (getVoteTracker + hasAllQuorums).
func (e *Election) tally(votes map[int64]ballot, target ballot) bool {
	acks := make(map[int64]bool, len(votes))
	for sid, b := range votes {
		if target.agrees(b) {
			acks[sid] = true
		}
	}
	return e.q.ContainsQuorum(acks)
}

// checkLeader is FastLeaderElection.checkLeader: a quorum for another server
// only counts if that server itself reported LEADING (so a crashed leader is
// not elected again and again); a quorum for us only counts in our own
// round.
func (e *Election) checkLeader(votes map[int64]ballot, leader, electionEpoch int64) bool {
	if leader != e.self {
		b, ok := votes[leader]
		return ok && b.state == Leading
	}
	return e.logicalclock == electionEpoch
}

// broadcast sends the proposal to every voter (sendNotifications); an
// observer is no voter and so does not send to itself.
func (e *Election) broadcast() []Outgoing {
	voters := e.q.Voters()
	out := make([]Outgoing, 0, len(voters))
	for _, sid := range voters {
		out = append(out, e.reply(sid, e.proposal, e.logicalclock))
	}
	return out
}

// reply builds a notification carrying v in round electionEpoch with our
// state.
func (e *Election) reply(to int64, v Vote, electionEpoch int64) Outgoing {
	v.ElectionEpoch = electionEpoch
	return Outgoing{To: to, Msg: Notification{
		From:    e.self,
		State:   e.state,
		Vote:    v,
		Version: CurrentVersion,
		Config:  e.config,
	}}
}

// pvote keeps the parts of a vote that form a proposal; the round is
// always our logicalclock.
func pvote(v Vote) Vote { v.ElectionEpoch = 0; return v }
