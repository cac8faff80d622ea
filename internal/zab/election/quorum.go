package election

import "sort"

// Quorum is the voting view of the ensemble (QuorumVerifier). Implementations
// must be deterministic and must not change while an election uses them; a
// reconfiguration builds a new Election.
type Quorum interface {
	// IsVoter reports whether sid is a voting member (weight > 0).
	IsVoter(sid int64) bool
	// ContainsQuorum reports whether the sids in set (true values only) form
	// a quorum. Non-voters in set are ignored.
	ContainsQuorum(set map[int64]bool) bool
	// Voters lists the voting members in ascending order: the recipients of
	// every broadcast.
	Voters() []int64
}

// QuorumMaj is a plain majority over the voting members (flexible.QuorumMaj):
// a set is a quorum when it holds more than half of the voters.
type QuorumMaj struct {
	voters map[int64]bool
	sorted []int64
}

// NewQuorumMaj returns a majority verifier over the given voting sids.
// Observers are not passed in; duplicates are ignored.
func NewQuorumMaj(voters ...int64) *QuorumMaj {
	q := &QuorumMaj{voters: make(map[int64]bool, len(voters))}
	for _, sid := range voters {
		if !q.voters[sid] {
			q.voters[sid] = true
			q.sorted = append(q.sorted, sid)
		}
	}
	sort.Slice(q.sorted, func(i, j int) bool { return q.sorted[i] < q.sorted[j] })
	return q
}

// IsVoter implements Quorum.
func (q *QuorumMaj) IsVoter(sid int64) bool { return q.voters[sid] }

// ContainsQuorum implements Quorum: more than half of the voters. Only
// voters count, as SyncedLearnerTracker.addAck filters acks by the voting
// view before QuorumMaj.containsQuorum compares the size with half.
func (q *QuorumMaj) ContainsQuorum(set map[int64]bool) bool {
	n := 0
	for sid, in := range set {
		if in && q.voters[sid] {
			n++
		}
	}
	return n > len(q.voters)/2
}

// Voters implements Quorum.
func (q *QuorumMaj) Voters() []int64 { return append([]int64(nil), q.sorted...) }
