package zab

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Voters 1..3, observer 9; leader 1.
func newDiscovery3(leader StateSummary) *Discovery {
	return NewDiscovery(NewMajority(1, 2, 3), 1, leader)
}

func TestDiscoveryNewEpochIsMaxAcceptedPlusOne(t *testing.T) {
	d := newDiscovery3(StateSummary{CurrentEpoch: 4, LastZxid: MakeZxid(4, 10)})
	require.False(t, d.Connect(1, 4), "the leader alone is no quorum of 3")
	_, decided := d.NewEpoch()
	require.False(t, decided)

	require.True(t, d.Connect(2, 6), "leader + one follower is a quorum")
	e, decided := d.NewEpoch()
	require.True(t, decided)
	require.Equal(t, int64(7), e)

	// A late joiner gets the chosen epoch, however high its own is.
	require.False(t, d.Connect(3, 9))
	e, _ = d.NewEpoch()
	require.Equal(t, int64(7), e)
}

func TestDiscoveryWaitsForQuorumIncludingLeader(t *testing.T) {
	d := newDiscovery3(StateSummary{})
	require.False(t, d.Connect(2, 0))
	require.False(t, d.Connect(3, 0), "a quorum of followers without the leader does not decide")
	require.True(t, d.Connect(1, 0))
	e, _ := d.NewEpoch()
	require.Equal(t, int64(1), e)
}

func TestDiscoveryObserversRaiseEpochButDoNotCount(t *testing.T) {
	d := newDiscovery3(StateSummary{})
	require.False(t, d.Connect(1, 1))
	require.False(t, d.Connect(9, 5), "observer 9 is not a voter")
	require.False(t, d.Connect(9, 5), "repeats change nothing")
	require.True(t, d.Connect(3, 1))
	e, _ := d.NewEpoch()
	require.Equal(t, int64(6), e, "an observer's accepted epoch still raises the new epoch")
}

func TestDiscoveryAckEpochQuorum(t *testing.T) {
	leader := StateSummary{CurrentEpoch: 4, LastZxid: MakeZxid(4, 10)}
	d := newDiscovery3(leader)
	_, err := d.AckEpoch(2, 0, 4)
	require.ErrorIs(t, err, ErrEpochNotDecided)

	d.Connect(1, 4)
	d.Connect(2, 4)
	now, err := d.AckEpoch(1, leader.LastZxid, leader.CurrentEpoch)
	require.NoError(t, err)
	require.False(t, now)

	// -1: the learner had already accepted this epoch; reports but does not count.
	now, err = d.AckEpoch(2, MakeZxid(4, 10), NoEpoch)
	require.NoError(t, err)
	require.False(t, now)
	require.False(t, d.EpochAcked())

	now, err = d.AckEpoch(9, MakeZxid(4, 3), 4)
	require.NoError(t, err)
	require.False(t, now, "an observer's ack does not count")

	now, err = d.AckEpoch(3, MakeZxid(4, 3), 4)
	require.NoError(t, err)
	require.True(t, now)
	require.True(t, d.EpochAcked())

	now, err = d.AckEpoch(2, MakeZxid(4, 10), 4)
	require.NoError(t, err)
	require.False(t, now, "quorumNow fires once")
}

func TestDiscoveryLeaderAbandonsWhenLearnerIsMoreRecent(t *testing.T) {
	leader := StateSummary{CurrentEpoch: 4, LastZxid: MakeZxid(4, 10)}
	cases := []struct {
		name     string
		epoch    int64
		lastZxid int64
		ahead    bool
	}{
		{"higher currentEpoch", 5, MakeZxid(4, 1), true},
		{"same epoch, longer history", 4, MakeZxid(4, 11), true},
		{"same epoch, same history", 4, MakeZxid(4, 10), false},
		{"older epoch with a larger-looking zxid is still behind", 3, MakeZxid(5, 0), false},
		{"-1 ack is never compared", NoEpoch, MakeZxid(9, 9), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newDiscovery3(leader)
			d.Connect(1, 4)
			d.Connect(2, 4)
			_, err := d.AckEpoch(2, c.lastZxid, c.epoch)
			if c.ahead {
				require.ErrorIs(t, err, ErrLearnerAhead)
			} else {
				require.NoError(t, err)
			}
		})
	}
}

func TestLearnerRepliesToLeaderInfo(t *testing.T) {
	mine := Epochs{Accepted: 3, Current: 3}
	last := MakeZxid(3, 7)

	r, err := OnLeaderInfo(MakeZxid(4, 0), mine, last)
	require.NoError(t, err)
	require.True(t, r.PersistAccepted)
	require.Equal(t, int64(4), r.NewEpoch)
	require.Equal(t, QuorumPacket{Type: PktAckEpoch, Zxid: last, Data: EncodeAckEpoch(3)}, r.AckEpoch)

	r, err = OnLeaderInfo(MakeZxid(3, 0), mine, last)
	require.NoError(t, err)
	require.False(t, r.PersistAccepted)
	require.Equal(t, []byte{0xff, 0xff, 0xff, 0xff}, r.AckEpoch.Data, "same epoch: ACKEPOCH -1")
	require.Equal(t, last, r.AckEpoch.Zxid)

	_, err = OnLeaderInfo(MakeZxid(2, 0), mine, last)
	require.ErrorIs(t, err, ErrLeaderBehind)
}

func TestAckQuorumFiresOnceAndNeedsLeader(t *testing.T) {
	q := NewAckQuorum(NewMajority(1, 2, 3, 4, 5), 1)
	require.False(t, q.Add(2))
	require.False(t, q.Add(3))
	require.False(t, q.Add(4), "three followers without the leader")
	require.True(t, q.Add(1))
	require.False(t, q.Add(5))
	require.True(t, q.Reached())
	require.True(t, q.Has(4))
	require.False(t, q.Has(7))
}
