package election

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTotalOrderPredicate covers quorum.md §3 "Order": peerEpoch first, then
// zxid, then sid, and only for candidates with voting weight.
func TestTotalOrderPredicate(t *testing.T) {
	q := NewQuorumMaj(1, 2, 3)
	v := func(leader, zxid, pe int64) Vote { return Vote{Leader: leader, Zxid: zxid, PeerEpoch: pe} }
	tests := []struct {
		name      string
		cand, cur Vote
		want      bool
	}{
		{"a higher peerEpoch wins even with a lower zxid and sid", v(1, 0x100000001, 2), v(3, 0x100000009, 1), true},
		{"a lower peerEpoch loses even with a higher zxid and sid", v(3, 0x300000009, 1), v(1, 0x100000001, 2), false},
		{"with equal peerEpoch a higher zxid wins over a higher sid", v(1, 0x100000009, 1), v(3, 0x100000008, 1), true},
		{"with equal peerEpoch a lower zxid loses", v(3, 0x100000007, 1), v(1, 0x100000008, 1), false},
		{"with equal peerEpoch and zxid the higher sid wins", v(3, 0x100000008, 1), v(1, 0x100000008, 1), true},
		{"with equal peerEpoch and zxid the lower sid loses", v(1, 0x100000008, 1), v(3, 0x100000008, 1), false},
		{"an identical vote does not win", v(2, 5, 1), v(2, 5, 1), false},
		{"a non-voter never wins", v(9, 0x900000000, 9), v(1, 0, 0), false},
		{"any voter beats the observer's empty proposal", v(1, 0, 0), noVote, true},
		{"the round plays no part", Vote{Leader: 2, Zxid: 5, PeerEpoch: 1, ElectionEpoch: 1}, Vote{Leader: 1, Zxid: 5, PeerEpoch: 1, ElectionEpoch: 9}, true},
		{"zxid -1 is simply the lowest", v(1, 0, 0), v(3, -1, 0), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, beats(q, tt.cand, tt.cur))
		})
	}
}

// TestVoteEquality covers Vote.equals as used for counting (quorum.md §3).
func TestVoteEquality(t *testing.T) {
	base := Vote{Leader: 3, Zxid: 0x100000008, ElectionEpoch: 2, PeerEpoch: 1}
	with := func(f func(*Vote)) Vote { v := base; f(&v); return v }
	b := func(v Vote, s State, ver int32) ballot { return ballot{Vote: v, state: s, version: ver} }
	otherZxid := with(func(v *Vote) { v.Zxid++ })
	otherRound := with(func(v *Vote) { v.ElectionEpoch++ })
	otherPE := with(func(v *Vote) { v.PeerEpoch++ })
	otherLeader := with(func(v *Vote) { v.Leader = 2 })
	tests := []struct {
		name string
		a, b ballot
		want bool
	}{
		{"two LOOKING votes agree when all four fields match", b(base, Looking, 2), b(base, Looking, 2), true},
		{"two LOOKING votes differ by zxid", b(base, Looking, 2), b(otherZxid, Looking, 2), false},
		{"two LOOKING votes differ by round", b(base, Looking, 2), b(otherRound, Looking, 2), false},
		{"two LOOKING votes differ by peerEpoch", b(base, Looking, 2), b(otherPE, Looking, 2), false},
		{"a LOOKING vote against a report compares all fields", b(base, Looking, 2), b(otherZxid, Following, 2), false},
		{"a report against a LOOKING vote compares all fields", b(base, Leading, 2), b(base, Looking, 0), true},
		{"two reports ignore zxid and round", b(base, Following, 2), b(with(func(v *Vote) { v.Zxid = 7; v.ElectionEpoch = 9 }), Leading, 2), true},
		{"two reports compare peerEpoch", b(base, Following, 2), b(otherPE, Leading, 2), false},
		{"two reports compare the leader", b(base, Following, 2), b(otherLeader, Leading, 2), false},
		{"two version-0 reports compare peerEpoch", b(base, Following, 0), b(otherPE, Leading, 0), false},
		{"a version-0 and a version-2 report compare only the leader", b(base, Following, 0), b(otherPE, Leading, 2), true},
		{"a version-0 and a version-2 report still compare the leader", b(base, Following, 0), b(otherLeader, Leading, 2), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.a.agrees(tt.b))
			require.Equal(t, tt.want, tt.b.agrees(tt.a), "equality must be symmetric")
		})
	}
}

func TestQuorumMaj(t *testing.T) {
	set := func(sids ...int64) map[int64]bool {
		m := map[int64]bool{}
		for _, s := range sids {
			m[s] = true
		}
		return m
	}
	tests := []struct {
		name   string
		voters []int64
		acks   map[int64]bool
		want   bool
	}{
		{"2 of 3 is a quorum", []int64{1, 2, 3}, set(1, 3), true},
		{"1 of 3 is not", []int64{1, 2, 3}, set(2), false},
		{"2 of 4 is not", []int64{1, 2, 3, 4}, set(1, 2), false},
		{"3 of 4 is", []int64{1, 2, 3, 4}, set(1, 2, 4), true},
		{"3 of 5 is", []int64{1, 2, 3, 4, 5}, set(1, 4, 5), true},
		{"observers are not counted", []int64{1, 2, 3}, set(1, 4, 5), false},
		{"false entries are not counted", []int64{1, 2, 3}, map[int64]bool{1: true, 2: false}, false},
		{"1 of 1 is", []int64{7}, set(7), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, NewQuorumMaj(tt.voters...).ContainsQuorum(tt.acks))
		})
	}
	require.Equal(t, []int64{1, 2, 3}, NewQuorumMaj(3, 1, 2, 3).Voters())
	require.False(t, NewQuorumMaj(1).IsVoter(math.MinInt64))
}

func TestStateString(t *testing.T) {
	require.Equal(t, "LOOKING", Looking.String())
	require.Equal(t, "FOLLOWING", Following.String())
	require.Equal(t, "LEADING", Leading.String())
	require.Equal(t, "OBSERVING", Observing.String())
	require.Equal(t, "State(7)", State(7).String())
}
