package zab

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestZabScenarioElectSyncBroadcastStepDown walks one leader term through
// every leader-side type: discovery, sync decisions, the NEWLEADER quorum,
// in-order commit, a learner's sync(), and the step-down when followers go
// quiet. Servers 1 (leader), 2 and 3 vote; 9 observes.
func TestZabScenarioElectSyncBroadcastStepDown(t *testing.T) {
	qv := NewMajority(1, 2, 3)
	leaderState := StateSummary{CurrentEpoch: 1, LastZxid: zx(1, 5)}

	// Discovery: the leader and follower 2 decide epoch 2; 3 and 9 join late.
	d := NewDiscovery(qv, 1, leaderState)
	require.False(t, d.Connect(1, 1))
	require.True(t, d.Connect(2, 1), "persist acceptedEpoch=2, send LEADERINFO")
	require.False(t, d.Connect(3, 1))
	require.False(t, d.Connect(9, 1))
	epoch, _ := d.NewEpoch()
	require.Equal(t, int64(2), epoch)

	// Each learner answers LEADERINFO; the leader counts the acks.
	lastZxid := map[int64]int64{2: zx(1, 5), 3: zx(1, 3), 9: 0}
	_, err := d.AckEpoch(1, leaderState.LastZxid, leaderState.CurrentEpoch)
	require.NoError(t, err)
	for _, sid := range []int64{2, 3, 9} {
		r, err := OnLeaderInfo(MakeZxid(epoch, 0), Epochs{Accepted: 1, Current: 1}, lastZxid[sid])
		require.NoError(t, err)
		cur, err := ParseAckEpoch(r.AckEpoch.Data)
		require.NoError(t, err)
		now, err := d.AckEpoch(sid, r.AckEpoch.Zxid, cur)
		require.NoError(t, err)
		require.Equal(t, sid == 2, now, "sid %d", sid)
	}

	// Sync: 2 is in sync, 3 lags, 9 is empty.
	h := &MemHistory{Processed: zx(1, 5), Committed: zxids(1, 1, 2, 3, 4, 5)}
	require.Equal(t, diff(zx(1, 5), zx(1, 5), zx(1, 5)), DecideSync(lastZxid[2], h))
	require.Equal(t, diff(zx(1, 5), zx(1, 3), zx(1, 5)), DecideSync(lastZxid[3], h))
	require.Equal(t, snap(zx(1, 5)), DecideSync(lastZxid[9], h))

	// NEWLEADER acks: leader + 3 suffice; 2 is slow.
	nlq := NewAckQuorum(qv, 1)
	require.False(t, nlq.Add(1))
	require.False(t, nlq.Add(9))
	require.True(t, nlq.Add(3), "start serving, send UPTODATE")

	// Broadcast: two writes, follower 3 acks them out of order, 3 syncs.
	b := NewBroadcast(qv, MakeZxid(epoch, 0))
	syncs := NewSyncQueue(b.LastCommitted())
	require.NoError(t, b.Propose(zx(2, 1)))
	require.NoError(t, b.Propose(zx(2, 2)))
	require.False(t, syncs.RegisterSync(3, b.LastProposed()))
	b.Ack(1, zx(2, 1))
	b.Ack(1, zx(2, 2))
	require.Nil(t, b.Ack(3, zx(2, 2)))
	committed := b.Ack(3, zx(2, 1))
	require.Equal(t, []int64{zx(2, 1), zx(2, 2)}, committed)
	var released []int64
	for _, z := range committed {
		released = append(released, syncs.Committed(z)...)
	}
	require.Equal(t, []int64{3}, released, "SYNC goes to 3 after both COMMITs")

	// Liveness: 2 went quiet after connecting; 3 keeps pinging until tick 6.
	lt := NewLearnerTracker(qv, 1, 10, 5)
	lt.Add(2, 0)
	lt.Add(3, 0)
	lt.Add(9, 0)
	for tick := int64(1); tick <= 6; tick++ {
		lt.Heard(3, tick)
		lt.Heard(9, tick+100)
	}
	require.True(t, lt.IsSynced(3, 11))
	require.False(t, lt.IsSynced(3, 12), "3's last packet was at tick 6, syncLimit 5")
	require.True(t, lt.HasSyncedQuorum(15), "2 never spoke but is still in its initLimit+syncLimit grace")
	require.False(t, lt.HasSyncedQuorum(16), "2 and 3 are past their deadlines; observer 9 does not help: step down")
}
