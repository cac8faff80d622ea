package zab

// QuorumVerifier decides which sets of servers form a quorum. Implementations
// must be pure and safe to share; they never fail.
type QuorumVerifier interface {
	// ContainsQuorum reports whether the voters in set form a quorum.
	// Non-voters in set are ignored.
	ContainsQuorum(set map[int64]bool) bool
	// IsVoter reports whether sid is a voting participant. Observers and
	// unknown servers are not; their acks never count.
	IsVoter(sid int64) bool
}

// Majority is QuorumMaj: a set of voters, any strict majority of which is a
// quorum.
type Majority struct {
	voters map[int64]bool
}

// NewMajority returns the majority verifier over the given voter sids.
func NewMajority(voters ...int64) Majority {
	m := Majority{voters: make(map[int64]bool, len(voters))}
	for _, v := range voters {
		m.voters[v] = true
	}
	return m
}

// ContainsQuorum reports whether more than half of the voters are in set.
func (m Majority) ContainsQuorum(set map[int64]bool) bool {
	n := 0
	for sid, in := range set {
		if in && m.voters[sid] {
			n++
		}
	}
	return n > len(m.voters)/2
}

// IsVoter reports whether sid is one of the voters.
func (m Majority) IsVoter(sid int64) bool { return m.voters[sid] }

// AckQuorum collects acks from voters until they form a quorum that
// includes the leader. It is the shape of every leader-side wait in
// discovery and sync: epoch proposals, ACKEPOCH and the NEWLEADER ACK.
type AckQuorum struct {
	qv     QuorumVerifier
	leader int64
	acks   map[int64]bool
	done   bool
}

// NewAckQuorum returns an empty ack set for the given leader.
func NewAckQuorum(qv QuorumVerifier, leader int64) *AckQuorum {
	return &AckQuorum{qv: qv, leader: leader, acks: map[int64]bool{}}
}

// Add records sid's ack (non-voters are ignored, repeats are harmless) and
// reports whether this ack completed the quorum. It returns true exactly
// once, so the caller can hang its one-time work (persisting an epoch,
// releasing waiting learners) on it.
func (a *AckQuorum) Add(sid int64) (reachedNow bool) {
	if a.qv.IsVoter(sid) {
		a.acks[sid] = true
	}
	if a.done || !a.acks[a.leader] || !a.qv.ContainsQuorum(a.acks) {
		return false
	}
	a.done = true
	return true
}

// Reached reports whether the quorum has been reached.
func (a *AckQuorum) Reached() bool { return a.done }

// Has reports whether sid's ack was counted.
func (a *AckQuorum) Has(sid int64) bool { return a.acks[sid] }
