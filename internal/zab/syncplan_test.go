package zab

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func zx(epoch, counter int64) int64 { return MakeZxid(epoch, counter) }

func zxids(epoch int64, counters ...int64) []int64 {
	out := make([]int64, len(counters))
	for i, c := range counters {
		out[i] = zx(epoch, c)
	}
	return out
}

func diff(zxid, from, to int64) SyncPlan {
	return SyncPlan{Kind: SyncDiff, Zxid: zxid, TruncZxid: -1, SendFrom: from, SendTo: to}
}

func trunc(zxid, to int64) SyncPlan {
	return SyncPlan{Kind: SyncTrunc, Zxid: zxid, TruncZxid: zxid, SendFrom: zxid, SendTo: to}
}

func snap(zxid int64) SyncPlan {
	return SyncPlan{Kind: SyncSnap, Zxid: zxid, TruncZxid: -1, SendFrom: zxid, SendTo: zxid}
}

// TestDecideSyncFollowsLearnerHandlerSyncFollower covers every row of
// quorum.md §5.3's leader table and the branches of queueCommittedProposals.
func TestDecideSyncFollowsLearnerHandlerSyncFollower(t *testing.T) {
	// The usual leader: epoch 1 txns 1..5, epoch 2 txns 1..3, all in memory.
	mem := &MemHistory{Processed: zx(2, 3), Committed: append(zxids(1, 1, 2, 3, 4, 5), zxids(2, 1, 2, 3)...)}
	// A leader whose committed log starts late, with an on-disk log behind it.
	disk := &MemHistory{Processed: zx(2, 3), Committed: zxids(2, 1, 2, 3), Disk: zxids(1, 1, 2, 3, 4, 5)}
	// Disk log with a gap at 1:4 so the peer's zxid is missing in its epoch.
	diskGap := &MemHistory{Processed: zx(2, 3), Committed: zxids(2, 1, 2, 3), Disk: zxids(1, 1, 2, 3, 5)}
	// Epoch 2 had no txns; a learner that synced in it sits at 2:0.
	epochGap := &MemHistory{Processed: zx(3, 3), Committed: zxids(3, 1, 2, 3), Disk: zxids(1, 1, 2, 3, 4, 5)}
	// No log sync possible: only memory.
	noDisk := &MemHistory{Processed: zx(2, 3), Committed: zxids(2, 1, 2, 3)}
	// The on-disk log starts after the peer.
	lateDisk := &MemHistory{Processed: zx(2, 3), Committed: zxids(2, 2, 3), Disk: zxids(1, 4, 5)}
	// Memory log with a hole: 1:3 was never committed.
	gap := &MemHistory{Processed: zx(1, 5), Committed: zxids(1, 1, 2, 4, 5)}
	// A restarted leader with an empty committed log.
	emptyLog := &MemHistory{Processed: zx(1, 5)}
	empty := &MemHistory{}

	cases := []struct {
		name string
		peer int64
		h    History
		want SyncPlan
	}{
		{"in-sync learner gets an empty DIFF with its own zxid", zx(2, 3), mem, diff(zx(2, 3), zx(2, 3), zx(2, 3))},
		{"learner ahead in the same epoch is truncated to maxCommitted", zx(2, 5), mem, trunc(zx(2, 3), zx(2, 3))},
		{"learner ahead in a later epoch is truncated to maxCommitted", zx(3, 2), mem, trunc(zx(2, 3), zx(2, 3))},
		{"learner at a later epoch start cannot be truncated: SNAP", zx(3, 0), mem, snap(zx(2, 3))},
		{"lagging learner in history gets DIFF{max} and the txns after it", zx(1, 3), mem, diff(zx(2, 3), zx(1, 3), zx(2, 3))},
		{"learner at minCommitted gets DIFF", zx(1, 1), mem, diff(zx(2, 3), zx(1, 1), zx(2, 3))},
		{"learner at an epoch start inside the log gets DIFF", zx(2, 0), mem, diff(zx(2, 3), zx(2, 0), zx(2, 3))},
		{"learner with txns nobody else has, next txn in its epoch: TRUNC to previous", zx(1, 3), gap, trunc(zx(1, 2), zx(1, 5))},
		{"learner with a txn the next epoch dropped: TRUNC cannot cross epochs, SNAP", zx(1, 7), mem, snap(zx(2, 3))},
		{"empty learner gets SNAP", 0, mem, snap(zx(2, 3))},
		{"learner behind memory, found in the disk log: DIFF", zx(1, 2), disk, diff(zx(2, 3), zx(1, 2), zx(2, 3))},
		{"learner behind memory at an epoch start covered by disk: DIFF", zx(2, 0), epochGap, diff(zx(3, 3), zx(2, 0), zx(3, 3))},
		{"learner behind memory, missing in the disk log's epoch: TRUNC", zx(1, 4), diskGap, trunc(zx(1, 3), zx(2, 3))},
		{"learner behind memory without log sync: SNAP", zx(1, 2), noDisk, snap(zx(2, 3))},
		{"learner older than the disk log: SNAP", zx(1, 2), lateDisk, snap(zx(2, 3))},
		{"empty committed log, learner in sync: DIFF", zx(1, 5), emptyLog, diff(zx(1, 5), zx(1, 5), zx(1, 5))},
		{"empty committed log, learner ahead: TRUNC", zx(1, 7), emptyLog, trunc(zx(1, 5), zx(1, 5))},
		{"empty committed log, learner behind: SNAP", zx(1, 3), emptyLog, snap(zx(1, 5))},
		{"empty leader and empty learner: empty DIFF", 0, empty, diff(0, 0, 0)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, DecideSync(c.peer, c.h), "got %v", DecideSync(c.peer, c.h))
		})
	}
}

func TestMemHistoryQueries(t *testing.T) {
	h := &MemHistory{Committed: zxids(2, 1, 2), Disk: zxids(1, 4, 5)}
	z, ok := h.Ceil(zx(1, 6))
	require.True(t, ok)
	require.Equal(t, zx(2, 1), z)
	z, ok = h.Prev(zx(2, 1))
	require.True(t, ok)
	require.Equal(t, zx(1, 5), z)
	_, ok = h.Prev(zx(1, 4))
	require.False(t, ok)
	_, ok = h.Ceil(zx(2, 3))
	require.False(t, ok)
	require.True(t, h.LogCovers(zx(1, 4)))
	require.False(t, h.LogCovers(zx(1, 3)))
}
