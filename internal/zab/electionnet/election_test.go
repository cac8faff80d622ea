package electionnet

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
	"github.com/zkd/zkd/internal/zab/election"
)

// driver is the small loop a server runs around its election machine: it
// feeds received notifications to Step, ticks every 50 ms, and sends what the
// machine returns (the canonical loop of package election's doc).
type driver struct {
	sid       int64
	m         *Manager
	e         *election.Election
	decisions chan election.Decision
	stop      chan struct{}
	done      chan struct{}
}

func startDriver(m *Manager, e *election.Election, sid int64) *driver {
	d := &driver{
		sid:       sid,
		m:         m,
		e:         e,
		decisions: make(chan election.Decision, 4),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	go d.run()
	return d
}

func (d *driver) run() {
	defer close(d.done)
	start := time.Now()
	now := func() int64 { return time.Since(start).Milliseconds() }
	send := func(out []election.Outgoing) {
		for _, o := range out {
			d.m.Send(o.To, o.Msg.Encode())
		}
	}
	decided := func(dec *election.Decision) {
		if dec != nil {
			d.decisions <- *dec
		}
	}
	send(d.e.Start(now()))
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-d.stop:
			return
		case msg, ok := <-d.m.Recv():
			if !ok {
				return
			}
			n := election.Notification{From: msg.From}
			if err := n.Decode(msg.Payload); err != nil {
				continue
			}
			out, dec := d.e.Step(n, now())
			send(out)
			decided(dec)
		case <-tick.C:
			out, dec := d.e.Tick(now())
			if len(out) > 0 {
				// A notification timeout: make sure every peer is
				// connected, as lookForLeader does.
				d.m.ConnectAll()
			}
			send(out)
			decided(dec)
		}
	}
}

func (d *driver) halt() {
	close(d.stop)
	<-d.done
}

func (d *driver) decision(t *testing.T) election.Decision {
	t.Helper()
	select {
	case dec := <-d.decisions:
		return dec
	case <-time.After(20 * time.Second):
		t.Fatalf("server %d did not decide within 20s", d.sid)
	}
	return election.Decision{}
}

// TestElectionOverLoopback runs three election machines over three
// managers: server 2 has the longest log and must lead; then follower 1
// restarts from scratch and joins through the others' FOLLOWING/LEADING
// answers.
func TestElectionOverLoopback(t *testing.T) {
	c := newCluster(t, 1, 2, 3)
	q := election.NewQuorumMaj(1, 2, 3)
	logs := map[int64]wire.Zxid{1: wire.MakeZxid(1, 7), 2: wire.MakeZxid(1, 9), 3: wire.MakeZxid(1, 8)}
	drivers := map[int64]*driver{}
	for sid := range c.ms {
		drivers[sid] = startDriver(c.ms[sid], election.New(sid, q, int64(logs[sid]), 1, false), sid)
	}
	defer func() {
		for _, d := range drivers {
			d.halt()
		}
	}()

	want := election.Vote{Leader: 2, Zxid: int64(logs[2]), ElectionEpoch: 1, PeerEpoch: 1}
	for sid, d := range drivers {
		dec := d.decision(t)
		require.Equal(t, want, dec.Vote, "server %d", sid)
		if sid == 2 {
			require.Equal(t, election.Leading, dec.State)
		} else {
			require.Equal(t, election.Following, dec.State)
		}
	}

	drivers[1].halt()
	c.stop(1)
	m := c.start(1)
	drivers[1] = startDriver(m, election.New(1, q, int64(logs[1]), 1, false), 1)
	dec := drivers[1].decision(t)
	require.Equal(t, election.Following, dec.State)
	require.Equal(t, int64(2), dec.Vote.Leader)
}
