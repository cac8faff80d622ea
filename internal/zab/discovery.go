package zab

import (
	"errors"
	"fmt"
)

// StateSummary is what a server's history amounts to for comparing
// recency: its currentEpoch, then its last zxid (Java StateSummary).
type StateSummary struct {
	CurrentEpoch int64
	LastZxid     int64
}

// MoreRecentThan reports whether s's history is strictly newer than o's.
func (s StateSummary) MoreRecentThan(o StateSummary) bool {
	return s.CurrentEpoch > o.CurrentEpoch ||
		(s.CurrentEpoch == o.CurrentEpoch && s.LastZxid > o.LastZxid)
}

// ErrLearnerAhead means a learner's ACKEPOCH showed a history more recent than
// the leader's. The election picked the wrong leader (or state changed since):
// leading would lose that learner's txns, so the leader must give up and go
// back to LOOKING (quorum.md §5.2 step 5).
var ErrLearnerAhead = errors.New("zab: learner is more recent than the leader")

// ErrEpochNotDecided means an ACKEPOCH arrived before the new epoch was
// chosen; no LEADERINFO can have been sent, so the peer is misbehaving or the
// driver called AckEpoch too early.
var ErrEpochNotDecided = errors.New("zab: ACKEPOCH before the new epoch was decided")

// Discovery is the leader's side of epoch agreement (quorum.md §5.2,
// Leader.getEpochToPropose and waitForEpochAck).
//
// The driver, per learner connection and for the leader itself:
//
//  1. Connect(sid, acceptedEpoch) on FOLLOWERINFO/OBSERVERINFO (and once for
//     the leader with its own acceptedEpoch). When it returns decidedNow,
//     persist acceptedEpoch = NewEpoch() BEFORE sending any LEADERINFO;
//     then every learner waiting in Connect gets LEADERINFO(NewEpoch()<<32).
//  2. AckEpoch(sid, lastZxid, currentEpoch) on ACKEPOCH (and once for the
//     leader with its own state, after the epoch is decided). When it returns
//     quorumNow, persist currentEpoch = NewEpoch() before syncing learners.
//
// Both waits are bounded by initLimit ticks, which the driver enforces.
type Discovery struct {
	leader StateSummary
	// epoch is max(acceptedEpoch seen)+1 until decided, then fixed: late
	// joiners get the already chosen epoch even if theirs is higher.
	epoch      int64
	connecting *AckQuorum
	acked      *AckQuorum
}

// NewDiscovery starts epoch agreement for leader self whose own history is
// summarised by state (its currentEpoch and last processed zxid before this
// round).
func NewDiscovery(qv QuorumVerifier, self int64, state StateSummary) *Discovery {
	return &Discovery{
		leader:     state,
		epoch:      -1,
		connecting: NewAckQuorum(qv, self),
		acked:      NewAckQuorum(qv, self),
	}
}

// Connect records a server (learner or the leader itself) with its
// acceptedEpoch. Every server's epoch raises the proposal, observers
// included, but only voters count towards the quorum that decides it.
// decidedNow is true on the call that completed that quorum.
func (d *Discovery) Connect(sid, acceptedEpoch int64) (decidedNow bool) {
	if d.connecting.Reached() {
		return false
	}
	if acceptedEpoch >= d.epoch {
		d.epoch = acceptedEpoch + 1
	}
	return d.connecting.Add(sid)
}

// NewEpoch returns the chosen epoch once decided.
func (d *Discovery) NewEpoch() (epoch int64, decided bool) {
	if !d.connecting.Reached() {
		return 0, false
	}
	return d.epoch, true
}

// AckEpoch records an ACKEPOCH: lastZxid is the packet's zxid and
// currentEpoch its data (NoEpoch when the learner had already accepted this
// epoch; that still reports its last zxid for DecideSync but is not an ack).
//
// Until the quorum is reached, a learner more recent than the leader yields
// ErrLearnerAhead. Once it is reached, later acks change nothing, as in Java:
// the epoch is already current and the late learner is simply synced.
func (d *Discovery) AckEpoch(sid, lastZxid, currentEpoch int64) (quorumNow bool, err error) {
	if !d.connecting.Reached() {
		return false, ErrEpochNotDecided
	}
	if d.acked.Reached() || currentEpoch == NoEpoch {
		return false, nil
	}
	ss := StateSummary{CurrentEpoch: currentEpoch, LastZxid: lastZxid}
	if ss.MoreRecentThan(d.leader) {
		return false, fmt.Errorf("%w: sid %d has epoch %d zxid 0x%x, leader has epoch %d zxid 0x%x",
			ErrLearnerAhead, sid, currentEpoch, lastZxid, d.leader.CurrentEpoch, d.leader.LastZxid)
	}
	return d.acked.Add(sid), nil
}

// EpochAcked reports whether a quorum including the leader has acked the
// new epoch.
func (d *Discovery) EpochAcked() bool { return d.acked.Reached() }

// LearnerEpochReply is the learner's answer to LEADERINFO (quorum.md §5.2
// step 4, Learner.registerWithLeader).
type LearnerEpochReply struct {
	// PersistAccepted: write acceptedEpoch = NewEpoch BEFORE sending ACKEPOCH,
	// so a crash cannot let this server ack an older leader afterwards.
	PersistAccepted bool
	NewEpoch        int64
	// AckEpoch is the ACKEPOCH to send: zxid = the learner's last logged
	// zxid, data = EncodeAckEpoch(currentEpoch or NoEpoch).
	AckEpoch QuorumPacket
}

// ErrLeaderBehind means LEADERINFO proposed an epoch older than one this
// learner already accepted; it must disconnect and go back to election.
var ErrLeaderBehind = errors.New("zab: leader proposed an epoch older than the accepted one")

// OnLeaderInfo computes the learner's reply to LEADERINFO{zxid}.
func OnLeaderInfo(leaderInfoZxid int64, mine Epochs, lastLoggedZxid int64) (LearnerEpochReply, error) {
	newEpoch := EpochOf(leaderInfoZxid)
	r := LearnerEpochReply{NewEpoch: newEpoch}
	switch {
	case newEpoch > mine.Accepted:
		r.PersistAccepted = true
		r.AckEpoch = QuorumPacket{Type: PktAckEpoch, Zxid: lastLoggedZxid, Data: EncodeAckEpoch(mine.Current)}
	case newEpoch == mine.Accepted:
		// Already accepted (e.g. rejoining the same leader): report the last
		// zxid but do not count as a fresh epoch ack.
		r.AckEpoch = QuorumPacket{Type: PktAckEpoch, Zxid: lastLoggedZxid, Data: EncodeAckEpoch(NoEpoch)}
	default:
		return r, fmt.Errorf("%w: leader %d, accepted %d", ErrLeaderBehind, newEpoch, mine.Accepted)
	}
	return r, nil
}
