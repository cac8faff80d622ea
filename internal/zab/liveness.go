package zab

// LearnerTracker is the leader's syncLimit bookkeeping (quorum.md §5.4,
// LearnerHandler.tickOfNextAckDeadline and Leader.lead's synced check).
//
// Ticks are the leader's tick counter, advanced by the driver every tickTime
// (Java increments it every second half-tick iteration). A learner is synced
// while tick <= its deadline; the deadline starts generous, to cover the
// sync itself (initLimit), and from the first packet on is syncLimit ticks
// after the latest packet of any kind.
type LearnerTracker struct {
	qv        QuorumVerifier
	self      int64
	initLimit int64
	syncLimit int64
	deadline  map[int64]int64
}

// NewLearnerTracker tracks the learners of leader self.
func NewLearnerTracker(qv QuorumVerifier, self int64, initLimit, syncLimit int64) *LearnerTracker {
	return &LearnerTracker{qv: qv, self: self, initLimit: initLimit, syncLimit: syncLimit, deadline: map[int64]int64{}}
}

// Add starts tracking a learner that connected at tick.
func (t *LearnerTracker) Add(sid, tick int64) {
	t.deadline[sid] = tick + t.initLimit + t.syncLimit
}

// Heard records any packet received from sid at tick.
func (t *LearnerTracker) Heard(sid, tick int64) {
	if _, ok := t.deadline[sid]; ok {
		t.deadline[sid] = tick + t.syncLimit
	}
}

// Remove stops tracking sid (its connection is gone; it is not synced).
func (t *LearnerTracker) Remove(sid int64) { delete(t.deadline, sid) }

// IsSynced reports whether sid is connected and within its deadline.
func (t *LearnerTracker) IsSynced(sid, tick int64) bool {
	d, ok := t.deadline[sid]
	return ok && tick <= d
}

// Synced returns the servers synced at tick, the leader always among them.
// Observers appear here too; HasSyncedQuorum leaves them out.
func (t *LearnerTracker) Synced(tick int64) map[int64]bool {
	s := map[int64]bool{t.self: true}
	for sid, d := range t.deadline {
		if tick <= d {
			s[sid] = true
		}
	}
	return s
}

// HasSyncedQuorum reports whether the synced voters, with the leader, form a
// quorum. When it is false the leader must abandon leadership: it can no
// longer commit, and a partitioned leader must not keep serving.
func (t *LearnerTracker) HasSyncedQuorum(tick int64) bool {
	return t.qv.ContainsQuorum(t.Synced(tick))
}
