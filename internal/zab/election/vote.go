package election

import (
	"fmt"
	"math"

	"github.com/zkd/zkd/internal/wire"
)

// Vote is a proposal for (or a report of) a leader.
type Vote struct {
	// Leader is the sid of the proposed or believed leader.
	Leader int64
	// Zxid is the last logged zxid of Leader, as known by the voter.
	Zxid int64
	// ElectionEpoch is the election round (logical clock) the vote belongs to.
	ElectionEpoch int64
	// PeerEpoch is Leader's currentEpoch.
	PeerEpoch int64
}

// noVote is what an observer proposes: it can never beat a real vote, and
// its Leader is no voter, so nobody counts it (FastLeaderElection.getInitId
// and friends).
var noVote = Vote{Leader: math.MinInt64, Zxid: math.MinInt64, PeerEpoch: math.MinInt64}

// String prints a vote the way the election logs read best:
// (leader, zxid, round, peerEpoch).
func (v Vote) String() string {
	return fmt.Sprintf("(%d, %s, ee=%d, pe=%d)", v.Leader, wire.Zxid(v.Zxid), v.ElectionEpoch, v.PeerEpoch)
}

// beats is FastLeaderElection.totalOrderPredicate: cand wins over cur when its
// leader is a voter (weight > 0) and it has a higher peerEpoch, else an equal
// peerEpoch and a higher zxid, else both equal and a higher sid. The round
// (ElectionEpoch) plays no part.
func beats(q Quorum, cand, cur Vote) bool {
	if !q.IsVoter(cand.Leader) {
		return false
	}
	if cand.PeerEpoch != cur.PeerEpoch {
		return cand.PeerEpoch > cur.PeerEpoch
	}
	if cand.Zxid != cur.Zxid {
		return cand.Zxid > cur.Zxid
	}
	return cand.Leader > cur.Leader
}

// ballot is a vote as stored in the recv and outOfElection tables: the vote,
// the state of its sender and the message version it came with. State and
// version decide which fields must agree when counting (Vote.equals).
type ballot struct {
	Vote
	state   State
	version int32
}

// agrees is Vote.equals. If either side is a LOOKING vote, all four fields
// must match. Between two FOLLOWING/LEADING reports, zxid and round are
// skipped because followers update them after the election (ZOOKEEPER-1805);
// peerEpoch is compared unless exactly one side has message version 0, which
// is how Java stays compatible with pre-ZOOKEEPER-1732 peers.
//
// Note the Java quirk this reproduces: FOLLOWING/LEADING reports of the
// current round are stored in recv with version 0, so against a version-2
// report only the leader is compared.
func (b ballot) agrees(o ballot) bool {
	if b.state == Looking || o.state == Looking {
		return b.Vote == o.Vote
	}
	if (b.version > 0) != (o.version > 0) {
		return b.Leader == o.Leader
	}
	return b.Leader == o.Leader && b.PeerEpoch == o.PeerEpoch
}
