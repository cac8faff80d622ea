package zab

// SyncQueue holds learners' sync() requests until they may be answered
// (quorum.md §7, Leader.processSync and the pendingSyncs of commit).
//
// A sync forwarded by a learner must not be answered before every proposal
// the leader issued before it has committed: SYNC travels on the same ordered
// stream as COMMIT, so the learner, on seeing SYNC, has applied everything
// committed before the sync and can answer its client with data at least as
// new as any write acknowledged before the sync was issued.
type SyncQueue struct {
	lastCommitted int64
	// pending is ordered by after: syncs are registered with the leader's
	// lastProposed, which never decreases.
	pending []pendingSync
}

type pendingSync struct {
	learner int64
	after   int64
}

// NewSyncQueue starts with the leader's last committed zxid.
func NewSyncQueue(lastCommitted int64) *SyncQueue {
	return &SyncQueue{lastCommitted: lastCommitted}
}

// RegisterSync records learner's sync, issued when afterZxid was the leader's
// last proposed zxid. It returns true when it may be answered now (nothing
// before it is outstanding); otherwise it is queued and a later Committed
// returns it. Answers to one learner keep the order of its requests.
func (q *SyncQueue) RegisterSync(learner, afterZxid int64) (answerNow bool) {
	// Only answer at once when nothing is queued: a queued sync of the same
	// learner must not be overtaken, because the learner matches each SYNC
	// to its oldest pending request.
	if afterZxid <= q.lastCommitted && len(q.pending) == 0 {
		return true
	}
	q.pending = append(q.pending, pendingSync{learner: learner, after: afterZxid})
	return false
}

// Committed records that zxid committed (in zxid order, as Broadcast.Ack
// returns them) and returns the learners whose syncs may now be answered, one
// entry per SYNC to send, in registration order.
func (q *SyncQueue) Committed(zxid int64) []int64 {
	if zxid > q.lastCommitted {
		q.lastCommitted = zxid
	}
	var out []int64
	for len(q.pending) > 0 && q.pending[0].after <= q.lastCommitted {
		out = append(out, q.pending[0].learner)
		q.pending = q.pending[1:]
	}
	return out
}

// Pending is the number of syncs waiting for commits.
func (q *SyncQueue) Pending() int { return len(q.pending) }
