package zab

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func proposeAll(t *testing.T, b *Broadcast, zs ...int64) {
	t.Helper()
	for _, z := range zs {
		require.NoError(t, b.Propose(z))
	}
}

func TestBroadcastCommitsOnQuorumOfThree(t *testing.T) {
	b := NewBroadcast(NewMajority(1, 2, 3), zx(1, 0))
	proposeAll(t, b, zx(1, 1))
	require.Equal(t, 1, b.Outstanding())
	require.Nil(t, b.Ack(1, zx(1, 1)), "the leader's own ack is one of three")
	require.Equal(t, []int64{zx(1, 1)}, b.Ack(3, zx(1, 1)))
	require.Equal(t, 0, b.Outstanding())
	require.Equal(t, zx(1, 1), b.LastCommitted())
	require.Nil(t, b.Ack(2, zx(1, 1)), "a late ack for a committed zxid is ignored")
}

func TestBroadcastCommitsInZxidOrderDespiteOutOfOrderAcks(t *testing.T) {
	b := NewBroadcast(NewMajority(1, 2, 3), zx(1, 0))
	proposeAll(t, b, zx(1, 1), zx(1, 2), zx(1, 3))
	b.Ack(1, zx(1, 1))
	b.Ack(1, zx(1, 2))
	b.Ack(1, zx(1, 3))
	require.Nil(t, b.Ack(2, zx(1, 3)), "1:3 has a quorum but 1:1 and 1:2 are not committed")
	require.Nil(t, b.Ack(2, zx(1, 2)))
	require.Equal(t, []int64{zx(1, 1), zx(1, 2), zx(1, 3)}, b.Ack(2, zx(1, 1)),
		"one ack releases every waiting proposal, in order")
	require.Equal(t, zx(1, 3), b.LastProposed())
}

func TestBroadcastDuplicateAndLostAcks(t *testing.T) {
	b := NewBroadcast(NewMajority(1, 2, 3), zx(1, 0))
	proposeAll(t, b, zx(1, 1), zx(1, 2))
	b.Ack(1, zx(1, 1))
	b.Ack(1, zx(1, 2))
	require.Nil(t, b.Ack(1, zx(1, 1)), "the same voter twice is one vote")
	// Follower 2's ack for 1:1 is lost; 3's arrives only for 1:2.
	require.Nil(t, b.Ack(3, zx(1, 2)))
	require.Equal(t, 2, b.Outstanding())
	// 3 acks 1:1 late: both commit.
	require.Equal(t, []int64{zx(1, 1), zx(1, 2)}, b.Ack(3, zx(1, 1)))
}

func TestBroadcastIgnoresObserversAndUnknownAndEpochAcks(t *testing.T) {
	b := NewBroadcast(NewMajority(1, 2, 3), zx(2, 0))
	proposeAll(t, b, zx(2, 1))
	b.Ack(1, zx(2, 1))
	require.Nil(t, b.Ack(9, zx(2, 1)), "observer 9 does not count")
	require.Nil(t, b.Ack(2, zx(2, 0)), "NEWLEADER/UPTODATE acks (counter 0) are ignored")
	require.Nil(t, b.Ack(2, zx(2, 7)), "ack for a zxid never proposed")
	require.Nil(t, b.Ack(2, zx(1, 9)), "ack from an older epoch")
	require.Equal(t, 1, b.Outstanding())
	require.Equal(t, []int64{zx(2, 1)}, b.Ack(2, zx(2, 1)))
}

func TestBroadcastNeedsThreeOfFive(t *testing.T) {
	b := NewBroadcast(NewMajority(1, 2, 3, 4, 5), zx(1, 0))
	proposeAll(t, b, zx(1, 1))
	require.Nil(t, b.Ack(1, zx(1, 1)))
	require.Nil(t, b.Ack(4, zx(1, 1)))
	require.Nil(t, b.Ack(6, zx(1, 1)), "an observer cannot be the third vote")
	require.Equal(t, []int64{zx(1, 1)}, b.Ack(5, zx(1, 1)))
}

func TestBroadcastCommitDoesNotNeedTheLeaderAck(t *testing.T) {
	// Java's QuorumMaj counts any majority; the leader's ack is not required
	// for a proposal (unlike the NEWLEADER quorum).
	b := NewBroadcast(NewMajority(1, 2, 3), zx(1, 0))
	proposeAll(t, b, zx(1, 1))
	b.Ack(2, zx(1, 1))
	require.Equal(t, []int64{zx(1, 1)}, b.Ack(3, zx(1, 1)))
}

func TestBroadcastProposalOrderAndRollover(t *testing.T) {
	b := NewBroadcast(NewMajority(1), zx(1, 5))
	require.ErrorIs(t, b.Propose(zx(1, 5)), ErrProposalOrder)
	require.ErrorIs(t, b.Propose(zx(1, 4)), ErrProposalOrder)
	require.ErrorIs(t, b.Propose(zx(2, 0)), ErrProposalOrder, "an epoch start is never a txn")
	require.ErrorIs(t, b.Propose(zx(1, 0xffffffff)), ErrCounterRollover)
	require.NoError(t, b.Propose(zx(1, 6)))
	require.Equal(t, []int64{zx(1, 6)}, b.OutstandingZxids())
	require.Equal(t, []int64{zx(1, 6)}, b.Ack(1, zx(1, 6)), "a single voter commits alone")
}

func TestLearnerTrackerSyncLimitTicks(t *testing.T) {
	const initLimit, syncLimit = 10, 5
	lt := NewLearnerTracker(NewMajority(1, 2, 3), 1, initLimit, syncLimit)
	require.False(t, lt.HasSyncedQuorum(0), "the leader alone")

	lt.Add(2, 0)
	require.True(t, lt.IsSynced(2, initLimit+syncLimit), "sync gets initLimit+syncLimit ticks")
	require.False(t, lt.IsSynced(2, initLimit+syncLimit+1))

	lt.Heard(2, 3)
	require.True(t, lt.IsSynced(2, 3+syncLimit), "any packet resets the deadline to tick+syncLimit")
	require.False(t, lt.IsSynced(2, 3+syncLimit+1), "the first packet shortens the initial grace")
	require.True(t, lt.HasSyncedQuorum(8))
	require.False(t, lt.HasSyncedQuorum(9))

	lt.Add(9, 0) // an observer
	require.Equal(t, map[int64]bool{1: true, 9: true}, lt.Synced(9))
	require.False(t, lt.HasSyncedQuorum(9), "observers are not counted")

	lt.Heard(3, 9)
	require.False(t, lt.IsSynced(3, 9), "packets from an untracked server do not make it synced")
	lt.Add(3, 9)
	require.True(t, lt.HasSyncedQuorum(9))
	lt.Remove(3)
	require.False(t, lt.HasSyncedQuorum(9), "a dropped connection is not synced")
}

func TestSyncIsAnsweredAfterEarlierProposalsCommit(t *testing.T) {
	q := NewSyncQueue(zx(1, 0))
	require.True(t, q.RegisterSync(2, zx(1, 0)), "nothing outstanding: answer now")

	// Proposals 1:1..1:3 outstanding; learner 2 syncs after 1:2, 3 after 1:3, 2 again after 1:3.
	require.False(t, q.RegisterSync(2, zx(1, 2)))
	require.False(t, q.RegisterSync(3, zx(1, 3)))
	require.False(t, q.RegisterSync(2, zx(1, 3)))
	require.Equal(t, 3, q.Pending())

	require.Empty(t, q.Committed(zx(1, 1)))
	require.Equal(t, []int64{2}, q.Committed(zx(1, 2)))
	require.Equal(t, []int64{3, 2}, q.Committed(zx(1, 3)), "released in registration order")
	require.Equal(t, 0, q.Pending())
	require.True(t, q.RegisterSync(3, zx(1, 3)))
}
