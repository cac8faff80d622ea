package election

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Unit tests of single rules of lookForLeader (quorum.md §3); whole
// elections are in testdata/*.txt and property_test.go.

func notif(from int64, s State, leader, zxid, ee, pe int64) Notification {
	return Notification{From: from, State: s, Vote: Vote{leader, zxid, ee, pe}, Version: CurrentVersion}
}

func recipients(out []Outgoing) []int64 {
	var ids []int64
	for _, o := range out {
		ids = append(ids, o.To)
	}
	return ids
}

func TestStartProposesItselfToEveryVoter(t *testing.T) {
	q := NewQuorumMaj(1, 2, 3)
	e := New(2, q, 0x100000005, 1, false)
	e.SetConfig([]byte("cfg"))
	out := e.Start(0)
	require.Equal(t, []int64{1, 2, 3}, recipients(out), "every voter, ourselves included")
	for _, o := range out {
		require.Equal(t, notif(2, Looking, 2, 0x100000005, 1, 1).Vote, o.Msg.Vote)
		require.Equal(t, int64(2), o.Msg.From)
		require.Equal(t, Looking, o.Msg.State)
		require.Equal(t, []byte("cfg"), o.Msg.Config)
	}
	require.Equal(t, int64(1), e.LogicalClock(), "a new machine's first round is 1")

	obs := New(4, q, 0x100000005, 1, true)
	out = obs.Start(0)
	require.Equal(t, []int64{1, 2, 3}, recipients(out), "an observer is no voter and does not send to itself")
	require.Equal(t, Vote{noVote.Leader, noVote.Zxid, 1, noVote.PeerEpoch}, out[0].Msg.Vote)
}

func TestResendIntervalDoublesUpTo60s(t *testing.T) {
	e := New(1, NewQuorumMaj(1, 2, 3), 0, 0, false)
	e.Start(0)
	var gaps []int64
	last, now := int64(0), int64(0)
	for len(gaps) < 12 {
		now++
		if out, _ := e.Tick(now); out != nil {
			require.Len(t, out, 3)
			gaps = append(gaps, now-last)
			last = now
		}
	}
	require.Equal(t, []int64{200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000, 60000}, gaps)

	// A notification restarts the wait (it ends the poll).
	e = New(1, NewQuorumMaj(1, 2, 3), 0, 0, false)
	e.Start(0)
	e.Step(notif(2, Looking, 2, -5, 1, 0), 150) // not better, nothing sent
	out, _ := e.Tick(200)
	require.Empty(t, out)
	out, _ = e.Tick(350)
	require.Len(t, out, 3)
}

func TestFinalizeWait(t *testing.T) {
	q := NewQuorumMaj(1, 2, 3)
	setup := func() (*Election, int64) {
		e := New(1, q, 5, 1, false)
		e.Start(0)
		out, d := e.Step(notif(2, Looking, 2, 6, 1, 1), 10)
		require.Nil(t, d)
		require.Len(t, out, 3, "a better vote is adopted and broadcast")
		_, d = e.Step(notif(1, Looking, 2, 6, 1, 1), 10) // our own, via loopback
		require.Nil(t, d, "a quorum agrees, but we wait")
		return e, 10
	}

	t.Run("decides when 200 ms pass without a better vote", func(t *testing.T) {
		e, at := setup()
		_, d := e.Tick(at + FinalizeWait - 1)
		require.Nil(t, d)
		_, d = e.Tick(at + FinalizeWait)
		require.Equal(t, &Decision{State: Following, Vote: Vote{2, 6, 1, 1}}, d)
		require.Equal(t, Following, e.State())
	})
	t.Run("any message that is not better restarts the wait and is discarded", func(t *testing.T) {
		e, at := setup()
		_, d := e.Step(notif(3, Looking, 3, 5, 1, 1), at+150)
		require.Nil(t, d)
		_, d = e.Tick(at + FinalizeWait)
		require.Nil(t, d)
		_, d = e.Tick(at + 150 + FinalizeWait)
		require.Equal(t, int64(2), d.Vote.Leader)
	})
	t.Run("a better vote resumes the election", func(t *testing.T) {
		e, at := setup()
		out, d := e.Step(notif(3, Looking, 3, 7, 1, 1), at+100)
		require.Nil(t, d)
		require.Len(t, out, 3, "adopted and broadcast")
		_, d = e.Tick(at + 1000)
		require.Nil(t, d, "no quorum for 3 yet")
		e.Step(notif(1, Looking, 3, 7, 1, 1), at+1000)
		_, d = e.Tick(at + 1000 + FinalizeWait)
		require.Equal(t, &Decision{State: Following, Vote: Vote{3, 7, 1, 1}}, d)
	})
}

// With the driver's view of who is reachable, a server that has a quorum
// for its proposal and the votes of every reachable voter decides at once:
// after a leader crash nobody else can send a better vote.
func TestNoFinalizeWaitWhenEveryReachableVoterIsHeard(t *testing.T) {
	q := NewQuorumMaj(1, 2, 3)
	t.Run("the third voter unreachable: decide on the quorum's votes", func(t *testing.T) {
		e := New(1, q, 5, 1, false)
		e.SetReachable([]int64{2})
		e.Start(0)
		_, d := e.Step(notif(2, Looking, 2, 6, 1, 1), 10)
		require.Nil(t, d)
		_, d = e.Step(notif(1, Looking, 2, 6, 1, 1), 10) // our own, via loopback
		require.Equal(t, &Decision{State: Following, Vote: Vote{2, 6, 1, 1}}, d, "no 200 ms wait")
	})
	t.Run("a reachable voter not yet heard: wait as before", func(t *testing.T) {
		e := New(1, q, 5, 1, false)
		e.SetReachable([]int64{2, 3})
		e.Start(0)
		e.Step(notif(2, Looking, 2, 6, 1, 1), 10)
		_, d := e.Step(notif(1, Looking, 2, 6, 1, 1), 10)
		require.Nil(t, d, "3 may still send a better vote")
		// 3's vote is not better: it is heard, so the wait ends.
		_, d = e.Step(notif(3, Looking, 3, 5, 1, 1), 20)
		require.Equal(t, &Decision{State: Following, Vote: Vote{2, 6, 1, 1}}, d)
	})
	t.Run("reachability unknown: the finalize wait, as in Java", func(t *testing.T) {
		e := New(1, q, 5, 1, false)
		e.Start(0)
		e.Step(notif(2, Looking, 2, 6, 1, 1), 10)
		_, d := e.Step(notif(1, Looking, 2, 6, 1, 1), 10)
		require.Nil(t, d)
		_, d = e.Tick(10 + FinalizeWait)
		require.NotNil(t, d)
	})
	t.Run("a voter that becomes unreachable during the wait ends it at the next tick", func(t *testing.T) {
		e := New(1, q, 5, 1, false)
		e.SetReachable([]int64{2, 3})
		e.Start(0)
		e.Step(notif(2, Looking, 2, 6, 1, 1), 10)
		e.Step(notif(1, Looking, 2, 6, 1, 1), 10)
		e.SetReachable([]int64{2})
		_, d := e.Tick(60)
		require.Equal(t, int64(2), d.Vote.Leader)
	})
}

func TestRoundRules(t *testing.T) {
	q := NewQuorumMaj(1, 2, 3)
	t.Run("a higher round is joined, the table cleared, the better of its vote and ours proposed", func(t *testing.T) {
		e := New(2, q, 9, 1, false)
		e.Start(0)
		e.Step(notif(1, Looking, 1, 3, 1, 1), 1)
		out, _ := e.Step(notif(3, Looking, 3, 4, 5, 1), 2)
		require.Equal(t, int64(5), e.LogicalClock())
		require.Equal(t, Vote{2, 9, 5, 1}, e.Vote(), "our own vote beats 3's")
		require.Len(t, out, 3)
		require.Equal(t, map[int64]ballot{3: {Vote: Vote{3, 4, 5, 1}, state: Looking}}, e.recv)
	})
	t.Run("a lower round is ignored and answered with our proposal", func(t *testing.T) {
		e := New(2, q, 9, 1, false)
		e.Start(0)
		e.Step(notif(3, Looking, 3, 4, 5, 1), 1)
		out, _ := e.Step(notif(1, Looking, 1, 99, 2, 1), 2)
		require.Equal(t, []Outgoing{{To: 1, Msg: notif(2, Looking, 2, 9, 5, 1)}}, out)
		require.Equal(t, Vote{2, 9, 5, 1}, e.Vote())
		require.NotContains(t, e.recv, int64(1))
	})
	t.Run("zxid -1 is not counted", func(t *testing.T) {
		e := New(2, q, 9, 1, false)
		e.Start(0)
		out, _ := e.Step(notif(3, Looking, 3, -1, 1, 5), 1)
		require.Empty(t, out)
		require.Empty(t, e.recv)
	})
}

func TestJoiningAnEstablishedEnsemble(t *testing.T) {
	q := NewQuorumMaj(1, 2, 3)
	t.Run("same round: counted in recv, needs the leader's own LEADING", func(t *testing.T) {
		e := New(1, q, 5, 1, false)
		e.Start(0)
		_, d := e.Step(notif(2, Following, 3, 8, 1, 2), 1)
		require.Nil(t, d, "one follower is not a quorum")
		_, d = e.Step(notif(3, Leading, 3, 8, 1, 2), 2)
		require.Equal(t, &Decision{State: Following, Vote: Vote{3, 8, 1, 2}}, d)
	})
	t.Run("any round: outOfElection, and the round is adopted", func(t *testing.T) {
		e := New(1, q, 5, 1, false)
		e.Start(0)
		_, d := e.Step(notif(3, Leading, 3, 8, 7, 2), 1)
		require.Nil(t, d)
		_, d = e.Step(notif(2, Following, 3, 8, 7, 2), 2)
		require.Equal(t, &Decision{State: Following, Vote: Vote{3, 8, 7, 2}}, d)
		require.Equal(t, int64(7), e.LogicalClock())
	})
	t.Run("a quorum of followers without the leader is not enough", func(t *testing.T) {
		e := New(1, NewQuorumMaj(1, 2, 3, 4, 5), 5, 1, false)
		e.Start(0)
		for _, sid := range []int64{2, 3, 4} {
			_, d := e.Step(notif(sid, Following, 5, 8, 7, 2), 1)
			require.Nil(t, d)
		}
	})
	t.Run("reports for us count only in our own round", func(t *testing.T) {
		e := New(3, q, 5, 1, false)
		e.Start(0)
		e.Step(notif(1, Following, 3, 5, 4, 1), 1)
		_, d := e.Step(notif(2, Following, 3, 5, 4, 1), 2)
		require.Nil(t, d, "round 4 is not our round 1")
	})
	t.Run("OBSERVING senders are ignored", func(t *testing.T) {
		e := New(1, q, 5, 1, false)
		e.Start(0)
		e.Step(notif(2, Observing, 3, 8, 1, 2), 1)
		require.NotContains(t, e.recv, int64(2))
		require.Empty(t, e.outOfElection)
	})
}

func TestNonVotersAreAnsweredNeverCounted(t *testing.T) {
	q := NewQuorumMaj(1, 2, 3)
	e := New(1, q, 5, 1, false)
	e.Start(0)
	for _, s := range []State{Looking, Leading, Following} {
		out, d := e.Step(notif(9, s, 9, 99, 1, 99), 1)
		require.Nil(t, d)
		require.Equal(t, []Outgoing{{To: 9, Msg: notif(1, Looking, 1, 5, 1, 1)}}, out, "answered with our current vote")
	}
	require.Empty(t, e.recv)
	require.Empty(t, e.outOfElection)

	t.Run("votes for a non-voter are not counted", func(t *testing.T) {
		e.Step(notif(2, Looking, 9, 99, 1, 99), 1)
		e.Step(notif(3, Looking, 9, 99, 1, 99), 1)
		require.Empty(t, e.recv)
		require.Equal(t, int64(1), e.Vote().Leader)
	})
	t.Run("an observer does not answer", func(t *testing.T) {
		o := New(4, q, 5, 1, true)
		o.Start(0)
		out, _ := o.Step(notif(5, Looking, 5, 5, 1, 1), 1)
		require.Empty(t, out)
		require.NoError(t, o.SetDecided(Observing, Vote{2, 5, 1, 1}))
		require.Empty(t, o.Respond(notif(1, Looking, 1, 5, 3, 1)))
	})
}

func TestRespondWhenDecided(t *testing.T) {
	q := NewQuorumMaj(1, 2, 3)
	e := New(2, q, 5, 1, false)
	require.Error(t, e.SetDecided(Looking, Vote{}))
	require.NoError(t, e.SetDecided(Leading, Vote{2, 5, 4, 1}))

	want := []Outgoing{{To: 3, Msg: notif(2, Leading, 2, 5, 4, 1)}}
	require.Equal(t, want, e.Respond(notif(3, Looking, 3, 9, 9, 9)), "our vote, our state, the round we decided in")
	out, d := e.Step(notif(3, Looking, 3, 9, 9, 9), 1)
	require.Nil(t, d)
	require.Equal(t, want, out)
	require.Empty(t, e.Respond(notif(3, Following, 2, 5, 4, 1)), "decided peers are not answered")
	out, d = e.Tick(1_000_000)
	require.Empty(t, out)
	require.Nil(t, d)

	// After losing its followers the server looks again, in the next round.
	e.SetLog(0x200000003, 2)
	out = e.Start(2000)
	require.Equal(t, Vote{2, 0x200000003, 5, 2}, out[0].Msg.Vote)
	require.Empty(t, e.Respond(notif(3, Looking, 3, 9, 9, 9)), "Respond is for decided servers")
}
