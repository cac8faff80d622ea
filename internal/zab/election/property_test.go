package election

import (
	"fmt"
	"testing"

	"github.com/zkd/zkd/internal/wire"
)

// TestPropertyRandomElections runs many random ensembles, one seed each, and
// checks FLE's guarantees (quorum.md §3):
//
//   - validity: whenever a quorum of voters decides for a leader in a round,
//     that leader has the maximal (peerEpoch, zxid) among some quorum of
//     voters;
//   - on a timely network (every message arrives within the finalize wait,
//     possibly duplicated and reordered) with everybody starting together:
//     every running server decides exactly once, all agree, and the leader
//     is the best running voter by (peerEpoch, zxid, sid); observers
//     observe it;
//   - on a lossy network (up to 25% of messages lost; TCP loses whole
//     connections rather than single messages, so this is already harsh)
//     with staggered starts: the ensemble still ends with
//     every running server behind one established leader. FLE alone does
//     not promise agreement there: a server whose finalize wait meets only
//     silence because better votes were lost decides early, and only the
//     Zab layer's sync timeout sends it back to LOOKING. The simulator plays
//     that part (simNet.zabTimeout).
//
// A failure prints the seed and the trace; replay one seed with
// go test -run 'TestPropertyRandomElections/seed=N$'.
func TestPropertyRandomElections(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 60
	}
	for seed := int64(1); seed <= int64(n); seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			checkRandomElection(t, seed)
		})
	}
}

func checkRandomElection(t *testing.T, seed int64) {
	s, timely := randomEnsemble(seed)
	// Half the seeds run with the driver's reachability (no finalize wait
	// once every running voter is heard), half without, as Java.
	s.reachability = seed%2 == 0
	if !s.runUntil(s.now+30*MaxNotificationInterval, s.allEstablished) {
		s.failf(t, "no established leader for every running server\n%s", s.status())
	}

	for _, id := range s.ids {
		n := s.nodes[id]
		if !n.up {
			continue
		}
		d := n.decision
		switch {
		case n.observer && d.State != Observing:
			s.failf(t, "observer %d decided %s", id, d.State)
		case !n.observer && d.State == Observing:
			s.failf(t, "voter %d decided OBSERVING", id)
		case !n.observer && (d.State == Leading) != (d.Vote.Leader == id):
			s.failf(t, "voter %d decided %s for leader %d", id, d.State, d.Vote.Leader)
		}
	}

	// Validity, over every decision ever made, grouped by round and leader.
	type key struct{ round, leader int64 }
	deciders := map[key]map[int64]bool{}
	for _, ev := range s.history {
		if s.nodes[ev.id].observer {
			continue
		}
		k := key{ev.Vote.ElectionEpoch, ev.Vote.Leader}
		if deciders[k] == nil {
			deciders[k] = map[int64]bool{}
		}
		deciders[k][ev.id] = true
	}
	for k, ids := range deciders {
		if !s.q.ContainsQuorum(ids) {
			continue
		}
		l := s.nodes[k.leader]
		below := map[int64]bool{}
		for _, id := range s.q.Voters() {
			below[id] = !better(s.nodes[id], l)
		}
		if !s.q.ContainsQuorum(below) {
			s.failf(t, "a quorum %v chose %d in round %d, which is not maximal among any quorum", ids, k.leader, k.round)
		}
	}

	if !timely {
		return
	}
	var best *simNode
	for _, id := range s.q.Voters() {
		if n := s.nodes[id]; n.up && (best == nil || better(n, best)) {
			best = n
		}
	}
	seen := map[int64]bool{}
	for _, ev := range s.history {
		if seen[ev.id] {
			s.failf(t, "server %d decided twice on a timely network", ev.id)
		}
		seen[ev.id] = true
		want := Vote{Leader: best.id, Zxid: best.lastZxid, ElectionEpoch: 1, PeerEpoch: best.epoch}
		if ev.Vote != want {
			s.failf(t, "server %d decided %s, want the best running voter's %s\n%s", ev.id, ev.Vote, want, s.status())
		}
	}
}

// randomEnsemble draws an ensemble, its logs and its network from seed.
// timely reports whether the network delivers everything within the
// finalize wait with all servers starting together.
func randomEnsemble(seed int64) (s *simNet, timely bool) {
	s = newSimNet(seed, nil, nil)
	r := s.rng
	nv := 3 + r.Intn(5)
	no := r.Intn(3)
	var voters, observers []int64
	for i := 1; i <= nv; i++ {
		voters = append(voters, int64(i))
	}
	for i := 1; i <= no; i++ {
		observers = append(observers, int64(nv+i))
	}
	// Rebuild with the drawn membership but keep the same random stream.
	s = newSimNet(seed, voters, observers)
	s.rng = r
	s.zabTimeout = 20000 // initLimit 10 × tickTime 2000

	// Few distinct epochs and counters, so that ties on (epoch, zxid) and
	// the sid tie-break happen often.
	for _, id := range s.ids {
		epoch := int64(1 + r.Intn(3))
		zxidEpoch := max(epoch-int64(r.Intn(2)), 1)
		s.setLog(id, int64(wire.MakeZxid(uint32(zxidEpoch), uint32(r.Intn(4)))), epoch)
	}

	timely = r.Intn(2) == 0
	s.minDelay = int64(1 + r.Intn(20))
	s.dupRate = r.Float64() * 0.5
	if timely {
		s.maxDelay = s.minDelay + int64(r.Intn(FinalizeWait-1-int(s.minDelay)))
	} else {
		s.maxDelay = s.minDelay + int64(r.Intn(400))
		s.dropRate = r.Float64() * 0.25
	}

	// Leave up to a minority of voters down, and some observers.
	down := map[int64]bool{}
	for k := r.Intn((nv-1)/2 + 1); k > 0; k-- {
		down[voters[r.Intn(nv)]] = true
	}
	for _, id := range observers {
		if r.Intn(4) == 0 {
			down[id] = true
		}
	}
	var starts []int64
	for _, id := range s.ids {
		if !down[id] {
			starts = append(starts, id)
		}
	}
	if timely {
		s.start(starts...)
		return s, true
	}
	r.Shuffle(len(starts), func(i, j int) { starts[i], starts[j] = starts[j], starts[i] })
	for _, id := range starts {
		s.runFor(int64(r.Intn(300)))
		s.start(id)
	}
	return s, false
}
