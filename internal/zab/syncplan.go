package zab

import (
	"fmt"
	"sort"
)

// SyncKind is how the leader brings a learner up to date.
type SyncKind int

const (
	// SyncDiff: DIFF, then the committed txns the learner lacks.
	SyncDiff SyncKind = iota + 1
	// SyncTrunc: TRUNC (the learner cuts its log back), then the committed
	// txns after the truncation point.
	SyncTrunc
	// SyncSnap: SNAP and a full snapshot stream.
	SyncSnap
)

func (k SyncKind) String() string {
	switch k {
	case SyncDiff:
		return "DIFF"
	case SyncTrunc:
		return "TRUNC"
	case SyncSnap:
		return "SNAP"
	}
	return fmt.Sprintf("SyncKind(%d)", int(k))
}

// History is the leader's view of its committed txns for choosing a sync
// (LearnerHandler.syncFollower). Implementations answer from the in-memory
// committed log and, when txn-log sync is allowed, the on-disk log. The
// methods are queries only and must not fail; an implementation that cannot
// read its log should answer as if the log were absent (a SNAP follows).
type History interface {
	// LastProcessed is the zxid of the last txn applied to the leader's tree.
	LastProcessed() int64
	// CommittedLog returns the first and last zxid of the in-memory
	// committed log; ok is false when it is empty.
	CommittedLog() (min, max int64, ok bool)
	// LogCovers reports whether the on-disk log may be used to sync a peer
	// whose last zxid is zxid: txn-log sync is enabled, the log holds a txn
	// at or before zxid, and what would be read is within the size limit
	// (snapshotSizeFactor × snapshot size).
	LogCovers(zxid int64) bool
	// Ceil returns the smallest committed zxid >= zxid that the leader can
	// send (memory or disk).
	Ceil(zxid int64) (int64, bool)
	// Prev returns the largest committed zxid < zxid that the leader can send.
	Prev(zxid int64) (int64, bool)
}

// SyncPlan is the leader's decision for one learner. The driver sends, in
// order: the Kind packet (DIFF/TRUNC with zxid Zxid; SNAP with zxid Zxid
// followed by the snapshot stream and SnapSignature), then PROPOSAL+COMMIT for
// every committed txn with SendFrom < zxid <= SendTo, then — as from any
// other point of its log — in-flight proposals above SendTo, then NEWLEADER.
type SyncPlan struct {
	Kind SyncKind
	// Zxid is the zxid field of the DIFF, TRUNC or SNAP packet.
	Zxid int64
	// TruncZxid is where the learner's log is cut back to (== Zxid for
	// SyncTrunc); -1 when nothing is truncated.
	TruncZxid int64
	// SendFrom and SendTo bound the committed txns to send as
	// PROPOSAL+COMMIT: those with SendFrom < zxid <= SendTo. SendFrom is
	// also the point from which the leader starts forwarding to the learner.
	SendFrom int64
	SendTo   int64
}

func (p SyncPlan) String() string {
	return fmt.Sprintf("%s zxid=0x%x trunc=0x%x send=(0x%x,0x%x]", p.Kind, p.Zxid, p.TruncZxid, p.SendFrom, p.SendTo)
}

// DecideSync chooses DIFF, TRUNC or SNAP for a learner whose ACKEPOCH
// reported peerLastZxid (quorum.md §5.3):
//
//   - peer == leader's last processed: empty DIFF{peer};
//   - peer beyond the committed log and not an epoch start: TRUNC{max};
//   - peer within [min, max] of the committed log, or before min with a
//     usable on-disk log: walk the history from peer. If peer itself is
//     there, or peer is an epoch start (epoch<<32, which no txn has), DIFF{max}
//     and the txns after peer. If peer is missing but the next txn is in the
//     same epoch, the learner has txns nobody committed: TRUNC to the
//     previous txn, then the txns after it. If the next txn is in a later
//     epoch, TRUNC cannot cross the boundary: SNAP;
//   - anything else, including an empty learner: SNAP{lastProcessed}.
//
// An empty committed log is treated as [lastProcessed, lastProcessed], as
// Java does, so an up-to-date or ahead learner still avoids a snapshot.
func DecideSync(peerLastZxid int64, h History) SyncPlan {
	last := h.LastProcessed()
	minC, maxC, ok := h.CommittedLog()
	if !ok {
		minC, maxC = last, last
	}
	peerIsEpochStart := CounterOf(peerLastZxid) == 0

	switch {
	case peerLastZxid == last:
		return SyncPlan{Kind: SyncDiff, Zxid: peerLastZxid, TruncZxid: -1, SendFrom: peerLastZxid, SendTo: peerLastZxid}
	case peerLastZxid > maxC && !peerIsEpochStart:
		return SyncPlan{Kind: SyncTrunc, Zxid: maxC, TruncZxid: maxC, SendFrom: maxC, SendTo: maxC}
	case peerLastZxid >= minC && peerLastZxid <= maxC,
		peerLastZxid < minC && h.LogCovers(peerLastZxid):
		if p, ok := walkHistory(peerLastZxid, peerIsEpochStart, maxC, h); ok {
			return p
		}
	}
	return SyncPlan{Kind: SyncSnap, Zxid: last, TruncZxid: -1, SendFrom: last, SendTo: last}
}

// walkHistory is queueCommittedProposals reduced to its decision: the first
// txn at or after peer decides between DIFF and TRUNC.
func walkHistory(peer int64, peerIsEpochStart bool, maxC int64, h History) (SyncPlan, bool) {
	next, found := h.Ceil(peer)
	switch {
	case found && next == peer, peerIsEpochStart:
		// The learner's history is a prefix of ours; for an epoch start
		// this also covers a history that ends before peer (empty DIFF).
		return SyncPlan{Kind: SyncDiff, Zxid: maxC, TruncZxid: -1, SendFrom: peer, SendTo: maxC}, true
	case !found:
		// Nothing at or after peer although peer <= max: the history is
		// inconsistent with its bounds. Java falls back to a snapshot.
		return SyncPlan{}, false
	case EpochOf(next) != EpochOf(peer):
		return SyncPlan{}, false
	}
	prev, ok := h.Prev(peer)
	if !ok {
		return SyncPlan{}, false
	}
	return SyncPlan{Kind: SyncTrunc, Zxid: prev, TruncZxid: prev, SendFrom: prev, SendTo: maxC}, true
}

// MemHistory is a History over explicit zxid lists: the driver can build it
// from its committed log, and tests use it to state cases directly.
type MemHistory struct {
	// Processed is the leader's last processed zxid.
	Processed int64
	// Committed is the in-memory committed log, ascending.
	Committed []int64
	// Disk is the on-disk log usable for sync, ascending; nil when txn-log
	// sync is disabled or the log is too large to send.
	Disk []int64
}

// LastProcessed implements History.
func (m *MemHistory) LastProcessed() int64 { return m.Processed }

// CommittedLog implements History.
func (m *MemHistory) CommittedLog() (int64, int64, bool) {
	if len(m.Committed) == 0 {
		return 0, 0, false
	}
	return m.Committed[0], m.Committed[len(m.Committed)-1], true
}

// LogCovers implements History: the disk log must start at or before zxid,
// as ZKDatabase.getProposalsFromTxnLog refuses to guess what came before.
func (m *MemHistory) LogCovers(zxid int64) bool {
	return len(m.Disk) > 0 && m.Disk[0] <= zxid
}

// all is the sorted union of disk and memory.
func (m *MemHistory) all() []int64 {
	u := append(append([]int64(nil), m.Disk...), m.Committed...)
	sort.Slice(u, func(i, j int) bool { return u[i] < u[j] })
	return u
}

// Ceil implements History.
func (m *MemHistory) Ceil(zxid int64) (int64, bool) {
	u := m.all()
	i := sort.Search(len(u), func(i int) bool { return u[i] >= zxid })
	if i == len(u) {
		return 0, false
	}
	return u[i], true
}

// Prev implements History.
func (m *MemHistory) Prev(zxid int64) (int64, bool) {
	u := m.all()
	i := sort.Search(len(u), func(i int) bool { return u[i] >= zxid })
	if i == 0 {
		return 0, false
	}
	return u[i-1], true
}
