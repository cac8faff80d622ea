package election

import (
	"container/heap"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
)

// simTick is how often the simulated driver calls Tick, as the real driver
// does with a ticker.
const simTick = 10

// simNet is a deterministic in-memory ensemble: Election machines, a
// message queue ordered by delivery time, a fake clock and fault controls.
// Every random choice comes from one seed so that any failure can be
// replayed (STYLE lesson 10).
type simNet struct {
	seed  int64
	rng   *rand.Rand
	now   int64
	q     *QuorumMaj
	nodes map[int64]*simNode
	ids   []int64 // every node, ascending

	queue envelopes
	seq   uint64

	// Faults. Messages to oneself are never delayed, lost or duplicated:
	// Java hands them straight to its own receive queue.
	minDelay, maxDelay int64
	dropRate, dupRate  float64
	cut                map[[2]int64]bool // directed links that lose everything

	// trace receives decisions (and, with traceMsgs, deliveries) for the
	// scenario scripts.
	trace     *strings.Builder
	traceMsgs bool

	// zabTimeout, when positive, stands in for the Zab layer above FLE: a
	// decided server whose leader has not got a quorum of servers following
	// it (itself leading) within zabTimeout ms goes back to LOOKING, as a
	// real follower that cannot sync or a leader without a quorum does.
	// Zero leaves decided servers decided forever.
	zabTimeout int64
	// reachability, when set, tells every server before each step which
	// voters are up (SetReachable), as the real driver does with the
	// voters whose connection has not broken.
	reachability bool
	// history is every decision made, in order.
	history []decisionEvent
	// delivered counts messages handed to servers; a run that exceeds
	// maxDeliveries is a message storm and fails.
	delivered, maxDeliveries int
}

type decisionEvent struct {
	at int64
	id int64
	Decision
}

type simNode struct {
	id       int64
	observer bool
	lastZxid int64
	epoch    int64
	up       bool
	e        *Election
	// decision is the node's latest decision since its last Start.
	decision  *Decision
	decidedAt int64
}

type envelope struct {
	at       int64
	seq      uint64
	from, to int64
	payload  []byte
}

// envelopes is a min-heap by (delivery time, send order).
type envelopes []envelope

func (h envelopes) Len() int { return len(h) }
func (h envelopes) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h envelopes) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *envelopes) Push(x any)   { *h = append(*h, x.(envelope)) }
func (h *envelopes) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// newSimNet builds an ensemble of voters and observers, all down and with
// empty logs (zxid 0, epoch 0) until configured and started.
func newSimNet(seed int64, voters, observers []int64) *simNet {
	s := &simNet{
		seed:     seed,
		rng:      rand.New(rand.NewSource(seed)),
		q:        NewQuorumMaj(voters...),
		nodes:    map[int64]*simNode{},
		minDelay: 1,
		maxDelay: 1,
		cut:      map[[2]int64]bool{},
		trace:    &strings.Builder{},
		// Far above what any election here needs (a few thousand).
		maxDeliveries: 1_000_000,
	}
	for _, id := range voters {
		s.nodes[id] = &simNode{id: id}
	}
	for _, id := range observers {
		s.nodes[id] = &simNode{id: id, observer: true}
	}
	for id := range s.nodes {
		s.ids = append(s.ids, id)
	}
	sort.Slice(s.ids, func(i, j int) bool { return s.ids[i] < s.ids[j] })
	return s
}

// failf reports a failure with the seed, so the run can be replayed.
func (s *simNet) failf(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Fatalf("seed %d: %s\ntrace:\n%s", s.seed, fmt.Sprintf(format, args...), s.trace.String())
}

func (s *simNet) node(id int64) *simNode {
	n, ok := s.nodes[id]
	if !ok {
		panic(fmt.Sprintf("sim: no server %d", id))
	}
	return n
}

// setLog sets a server's last logged zxid and current epoch (used by its
// next start or restart).
func (s *simNet) setLog(id, zxid, epoch int64) {
	n := s.node(id)
	n.lastZxid, n.epoch = zxid, epoch
	if n.e != nil {
		n.e.SetLog(zxid, epoch)
	}
}

// start puts servers into LOOKING: a fresh machine for a server that is
// down (a process start), Start on the existing machine otherwise (a server
// that lost its leader).
func (s *simNet) start(ids ...int64) {
	for _, id := range ids {
		n := s.node(id)
		if !n.up || n.e == nil {
			n.e = New(id, s.q, n.lastZxid, n.epoch, n.observer)
			n.up = true
		}
		n.decision = nil
		s.send(n.e.Start(s.now))
	}
}

// crash stops a server; messages already in flight from it still arrive,
// messages to it are lost.
func (s *simNet) crash(ids ...int64) {
	for _, id := range ids {
		n := s.node(id)
		n.up, n.e, n.decision = false, nil, nil
	}
}

// partition cuts every link between the groups, in both directions.
func (s *simNet) partition(groups ...[]int64) {
	for i, g := range groups {
		for j, h := range groups {
			if i == j {
				continue
			}
			for _, a := range g {
				for _, b := range h {
					s.cut[[2]int64{a, b}] = true
				}
			}
		}
	}
}

func (s *simNet) heal() { s.cut = map[[2]int64]bool{} }

func (s *simNet) send(out []Outgoing) {
	for _, o := range out {
		from := o.Msg.From
		env := envelope{from: from, to: o.To, payload: o.Msg.Encode()}
		if from == o.To {
			env.at = s.now
			s.push(env)
			continue
		}
		if s.cut[[2]int64{from, o.To}] || s.rng.Float64() < s.dropRate {
			continue
		}
		copies := 1
		if s.rng.Float64() < s.dupRate {
			copies = 2
		}
		for range copies {
			env.at = s.now + s.minDelay + s.rng.Int63n(s.maxDelay-s.minDelay+1)
			s.push(env)
		}
	}
}

func (s *simNet) push(env envelope) {
	s.seq++
	env.seq = s.seq
	heap.Push(&s.queue, env)
}

// deliver hands one envelope to its recipient, through Decode as the real
// driver does.
func (s *simNet) deliver(env envelope) {
	n := s.nodes[env.to]
	if n == nil || !n.up {
		return
	}
	s.delivered++
	if s.maxDeliveries > 0 && s.delivered > s.maxDeliveries {
		panic(fmt.Sprintf("sim: seed %d: more than %d messages delivered by t=%d: message storm", s.seed, s.maxDeliveries, s.now))
	}
	msg := Notification{From: env.from}
	if err := msg.Decode(env.payload); err != nil {
		panic(fmt.Sprintf("sim: undecodable notification: %v", err))
	}
	if s.traceMsgs {
		fmt.Fprintf(s.trace, "t=%d %d->%d %s %s\n", s.now, env.from, env.to, msg.State, msg.Vote)
	}
	s.tellReachable(n)
	out, d := n.e.Step(msg, s.now)
	s.send(out)
	s.record(n, d)
}

// tellReachable gives n the voters that are up, when the sim models it.
func (s *simNet) tellReachable(n *simNode) {
	if !s.reachability {
		return
	}
	var up []int64
	for _, id := range s.q.Voters() {
		if s.nodes[id].up {
			up = append(up, id)
		}
	}
	n.e.SetReachable(up)
}

func (s *simNet) record(n *simNode, d *Decision) {
	if d == nil {
		return
	}
	n.decision, n.decidedAt = d, s.now
	s.history = append(s.history, decisionEvent{at: s.now, id: n.id, Decision: *d})
	fmt.Fprintf(s.trace, "t=%d %d %s %s\n", s.now, n.id, d.State, d.Vote)
}

// runFor advances the clock by ms, delivering messages at their times and
// ticking every server every simTick ms.
func (s *simNet) runFor(ms int64) {
	s.runUntil(s.now+ms, func() bool { return false })
}

// runUntil advances until done() holds (checked after every event) or the
// clock reaches deadline. It reports whether done() held.
func (s *simNet) runUntil(deadline int64, done func() bool) bool {
	for {
		if done() {
			return true
		}
		nextTick := (s.now/simTick + 1) * simTick
		if len(s.queue) > 0 && s.queue[0].at <= nextTick && s.queue[0].at <= deadline {
			env := heap.Pop(&s.queue).(envelope)
			s.now = max(s.now, env.at)
			s.deliver(env)
			continue
		}
		if nextTick > deadline {
			s.now = deadline
			return done()
		}
		s.now = nextTick
		for _, id := range s.ids {
			if n := s.nodes[id]; n.up {
				s.tellReachable(n)
				out, d := n.e.Tick(s.now)
				s.send(out)
				s.record(n, d)
			}
		}
		s.zabGiveUp()
	}
}

// zabGiveUp sends decided servers back to LOOKING when their leader failed
// to establish itself in time (see zabTimeout).
func (s *simNet) zabGiveUp() {
	if s.zabTimeout <= 0 {
		return
	}
	for _, id := range s.ids {
		n := s.nodes[id]
		if !n.up || n.decision == nil || s.now-n.decidedAt < s.zabTimeout || s.established(n) {
			continue
		}
		fmt.Fprintf(s.trace, "t=%d %d gives up on leader %d\n", s.now, id, n.decision.Vote.Leader)
		n.decision = nil
		s.send(n.e.Start(s.now))
	}
}

// established reports whether n's leader is up and LEADING, and a quorum of
// voters (the leader included) have decided for it.
func (s *simNet) established(n *simNode) bool {
	leader := n.decision.Vote.Leader
	l := s.nodes[leader]
	if l == nil || !l.up || l.decision == nil || l.decision.State != Leading {
		return false
	}
	acks := map[int64]bool{}
	for _, m := range s.nodes {
		if m.up && m.decision != nil && m.decision.Vote.Leader == leader {
			acks[m.id] = true
		}
	}
	return s.q.ContainsQuorum(acks)
}

// allEstablished reports whether every running server has decided for a
// leader that is established.
func (s *simNet) allEstablished() bool {
	for _, n := range s.nodes {
		if n.up && (n.decision == nil || !s.established(n)) {
			return false
		}
	}
	return true
}

// allDecided reports whether every running server has decided.
func (s *simNet) allDecided() bool {
	for _, n := range s.nodes {
		if n.up && n.decision == nil {
			return false
		}
	}
	return true
}

// stabilize runs until every running server has decided, then a little
// longer so that late messages are seen to change nothing.
func (s *simNet) stabilize(limit int64) bool {
	ok := s.runUntil(s.now+limit, s.allDecided)
	s.runFor(2 * MinNotificationInterval)
	return ok && s.allDecided()
}

// status prints every server's state and vote.
func (s *simNet) status() string {
	var b strings.Builder
	for _, id := range s.ids {
		n := s.nodes[id]
		if !n.up {
			fmt.Fprintf(&b, "%d down\n", id)
			continue
		}
		fmt.Fprintf(&b, "%d %s %s round=%d\n", id, n.e.State(), n.e.Vote(), n.e.LogicalClock())
	}
	return b.String()
}

// better is the order of candidates (peerEpoch, zxid, sid).
func better(a, b *simNode) bool {
	if a.epoch != b.epoch {
		return a.epoch > b.epoch
	}
	if a.lastZxid != b.lastZxid {
		return a.lastZxid > b.lastZxid
	}
	return a.id > b.id
}
