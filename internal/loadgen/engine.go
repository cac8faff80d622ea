package loadgen

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkd/zkd/internal/histogram"
	"github.com/zkd/zkd/internal/wire"
)

// opGen produces the requests of one session's logical ops. A logical op
// is one request (getData) or a chain (churn: create, then delete the path
// the create returned). A gen belongs to one session: its encode runs on
// the writer goroutine and its reply on the reader, never concurrently for
// the same op, but possibly concurrently for different ops, so shared state
// between the two must be read-only.
type opGen interface {
	// encode appends the frame (length prefix included) of step of a
	// logical op to b, with xid unless the op has a fixed one (ping), and
	// returns the grown slice and the xid written. step 0 starts a new op;
	// arg is what reply returned for the previous step.
	encode(b []byte, xid int32, step int, arg string) ([]byte, int32)
	// reply judges the reply to step: ok=false counts an error and ends the
	// op; more=true asks for step+1 with arg.
	reply(step int, code wire.Code, body []byte) (arg string, more, ok bool)
}

// phase describes one pass of load over a set of sessions.
type phase struct {
	// window is how many logical ops a session keeps in flight at most.
	window int
	// quota is how many measured ops each session starts; <0 = no limit.
	// Ops started during warmup do not count against it.
	quota func(session int) int64
	// measureFrom: ops scheduled before it are warmup, neither counted
	// nor recorded. Zero = everything is measured.
	measureFrom time.Time
	// stopAt: no op starts at or after it. Zero = no deadline.
	stopAt time.Time
	// interval is the gap between one session's scheduled sends in open
	// loop (--rate); 0 = closed loop.
	interval time.Duration
	// gen returns session i's generator.
	gen func(i int) opGen
	// fixedXid: the gen writes its own xid (ping); replies are matched by
	// order only, and no keepalive pings are mixed in.
	fixedXid bool
}

// sessionStats is what one session measured in a phase. Its reader owns it
// until the phase ends.
type sessionStats struct {
	hist     *histogram.Histogram
	ops      int64
	errors   int64
	lastDone time.Time
	// progress counts completed ops (warmup included) for the progress
	// line; the only field read while the phase runs.
	progress atomic.Int64
	// err is why the session was lost, nil if it was not.
	err error
}

// pending is one request on the wire, in send order.
type pending struct {
	start  time.Time // when the logical op started (scheduled, in open loop)
	xid    int32
	step   int32
	record bool
}

// followUp is the next step of a logical op, handed from reader to writer.
type followUp struct {
	start  time.Time
	step   int32
	record bool
	arg    string
}

// pipe is one session's state for one phase.
type pipe struct {
	c     *conn
	gen   opGen
	ph    *phase
	stats *sessionStats
	// slots holds one token per logical op in flight; the writer sends
	// to take a slot, the reader receives to free one.
	slots chan struct{}
	// pend carries every request the writer has sent, in order. The
	// writer pushes an entry BEFORE writing the request's bytes, so the
	// reader always finds it when the reply arrives.
	pend chan pending
	// follow carries next steps from reader to writer; it never fills,
	// since each logical op in flight has at most one entry.
	follow chan followUp
	// pingOut holds a token while a keepalive ping is unanswered.
	pingOut chan struct{}
	// dead is closed by the reader when the connection failed.
	dead     chan struct{}
	lastSend time.Time
	// firstSend is when the open-loop schedule of this session begins:
	// the sessions' schedules are staggered over one interval.
	firstSend time.Time
}

// runPhase runs ph over conns and returns each session's stats. It returns
// when every session has finished its ops and received all replies, or
// lost its connection.
func runPhase(ctx context.Context, conns []*conn, ph *phase, stats []*sessionStats) {
	var wg sync.WaitGroup
	origin := time.Now()
	live := liveRanks(conns)
	for i, c := range conns {
		if c == nil {
			continue
		}
		p := &pipe{
			firstSend: origin.Add(staggered(ph.interval, live.rank[i], live.n)),
			c:         c,
			gen:       ph.gen(i),
			ph:        ph,
			stats:     stats[i],
			slots:     make(chan struct{}, ph.window),
			pend:      make(chan pending, ph.window+1),
			follow:    make(chan followUp, ph.window),
			pingOut:   make(chan struct{}, 1),
			dead:      make(chan struct{}),
		}
		wg.Add(2)
		go func() { defer wg.Done(); p.write(ctx, ph.quota(i)) }()
		go func() { defer wg.Done(); p.read() }()
	}
	wg.Wait()
	for _, c := range conns {
		if c != nil {
			_ = c.nc.SetReadDeadline(time.Time{})
		}
	}
}

// staggered is the offset of the rank-th of n sessions' open-loop
// schedule: spread evenly over one interval. Without it every session
// sent at the same instants, n requests in one burst each interval, and
// the latency of an open-loop run measured the burst's queueing (setData
// at 500 ops/s over 64 sessions: p50 4.1 ms, against 1.3 ms for one
// session at the same rate).
func staggered(interval time.Duration, rank, n int) time.Duration {
	if interval <= 0 || n <= 0 || rank <= 0 {
		return 0
	}
	return time.Duration(int64(interval) * int64(rank) / int64(n))
}

// send encodes one request straight into the bufio.Writer's free space
// and queues its pending entry first.
func (p *pipe) send(start time.Time, step int32, record bool, arg string) error {
	p.c.xid++
	if p.c.xid < 0 { // wrapped: negative xids are reserved
		p.c.xid = 1
	}
	b, xid := p.gen.encode(p.c.bw.AvailableBuffer(), p.c.xid, int(step), arg)
	p.pend <- pending{start: start, xid: xid, step: step, record: record}
	_, err := p.c.bw.Write(b)
	p.lastSend = time.Now()
	return err
}

// keepalive sends a ping when the session has been idle for a third of its
// timeout and no ping is already out. The reply is recognised by its xid
// (-2) and never enters the FIFO, since a server may answer pings ahead of
// queued requests.
func (p *pipe) keepalive() error {
	if p.ph.fixedXid || time.Since(p.lastSend) < p.c.timeout/3 {
		return nil
	}
	select {
	case p.pingOut <- struct{}{}:
	default:
		return nil
	}
	h := wire.RequestHeader{Xid: wire.XidPing, Type: wire.OpPing}
	if _, err := p.c.bw.Write(wire.MarshalFrame(&h)); err != nil {
		return err
	}
	p.lastSend = time.Now()
	return p.c.bw.Flush()
}

// write is the writer goroutine. quota < 0 means no limit.
func (p *pipe) write(ctx context.Context, quota int64) {
	defer close(p.pend)
	ph := p.ph
	p.lastSend = time.Now()
	tick := time.NewTicker(p.c.timeout / 3)
	defer tick.Stop()
	var timer *time.Timer
	if ph.interval > 0 {
		timer = time.NewTimer(time.Hour)
		defer timer.Stop()
	}
	// The open-loop schedule starts at a per-session offset so sessions
	// do not send in lockstep.
	next := p.firstSend
	var err error
	fail := func(e error) bool {
		if e != nil && err == nil {
			err = e
			_ = p.c.nc.Close() // the reader sees it and reports
		}
		return err != nil
	}
	// serve sends a follow-up step.
	serve := func(f followUp) bool { return fail(p.send(f.start, f.step, f.record, f.arg)) }
	// wait blocks until a follow-up, a free slot (when slot is true), the
	// open-loop timer (when timed) or the end (an interrupt counts only
	// when not draining). It flushes first, since
	// nothing else will be sent until it returns. It reports whether a
	// slot was taken and whether the writer must stop.
	wait := func(slot, timed, draining bool) (took, stop bool) {
		if fail(p.c.bw.Flush()) {
			return false, true
		}
		var slots chan struct{}
		if slot {
			slots = p.slots
		}
		var tc <-chan time.Time
		if timed {
			tc = timer.C
		}
		done := ctx.Done()
		if draining {
			done = nil
		}
		select {
		case f := <-p.follow:
			return false, serve(f)
		case slots <- struct{}{}:
			return true, false
		case <-tc:
			return false, false
		case <-tick.C:
			return false, fail(p.keepalive())
		case <-p.dead:
			return false, true
		case <-done:
			return false, true
		}
	}

	var started int64
loop:
	for {
		// Follow-ups first: they finish ops already counted in flight.
		for {
			select {
			case f := <-p.follow:
				if serve(f) {
					break loop
				}
				continue
			default:
			}
			break
		}
		if quota >= 0 && started >= quota {
			break
		}
		now := time.Now()
		if !ph.stopAt.IsZero() && !now.Before(ph.stopAt) {
			break
		}
		start := now
		if ph.interval > 0 {
			if now.Before(next) {
				timer.Reset(next.Sub(now))
				if _, stop := wait(false, true, false); stop {
					break
				}
				continue
			}
			start = next
			next = next.Add(ph.interval)
		}
		// Take a slot, flushing and serving follow-ups while none is free.
		took := false
		select {
		case p.slots <- struct{}{}:
			took = true
		default:
		}
		for !took {
			var stop bool
			if took, stop = wait(true, false, false); stop {
				break loop
			}
		}
		if ph.interval == 0 {
			start = time.Now()
		}
		if !ph.stopAt.IsZero() && !start.Before(ph.stopAt) {
			<-p.slots
			break
		}
		record := !start.Before(ph.measureFrom)
		if record {
			started++
		}
		if fail(p.send(start, 0, record, "")) {
			break
		}
	}
	// Drain: hold every slot, i.e. wait until no logical op is in flight,
	// still serving follow-ups (also after an interrupt: what is in flight
	// is let finish). A server that stops answering is cut off after
	// ioTimeout by the reader's deadline.
	_ = p.c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	for held := 0; held < ph.window && err == nil; {
		took, stop := wait(true, false, true)
		if stop {
			return
		}
		if took {
			held++
		}
	}
}

// read is the reader goroutine. It takes the oldest request first and then
// reads until that request's reply, so it returns as soon as the writer has
// finished and every reply is in, leaving the connection ready for the
// next phase.
func (p *pipe) read() {
	st := p.stats
	var buf []byte
	fail := func(q pending, err error) {
		st.err = fmt.Errorf("session %v on %s: %w", p.c.sessionID, p.c.addr, err)
		close(p.dead)
		_ = p.c.nc.Close()
		// Requests on the wire are lost; free their slots so a writer
		// waiting for one sees dead and stops.
		for ok := true; ok; q, ok = <-p.pend {
			if q.record {
				st.errors++
			}
			select {
			case <-p.slots:
			default:
			}
		}
	}
	for {
		q, ok := <-p.pend
		if !ok {
			return
		}
		var rh wire.ReplyHeader
		var body []byte
		for {
			frame, err := wire.ReadFrame(p.c.br, maxFrame, buf)
			if err != nil {
				fail(q, err)
				return
			}
			buf = frame[:0]
			d := wire.Decoder{B: frame}
			rh.Decode(&d)
			if d.Err != nil {
				fail(q, d.Err)
				return
			}
			if rh.Xid == wire.XidNotification {
				continue
			}
			if rh.Xid == wire.XidPing && !p.ph.fixedXid {
				select {
				case <-p.pingOut:
				default:
				}
				continue
			}
			body = frame[d.Off:]
			break
		}
		if q.xid != rh.Xid {
			fail(q, fmt.Errorf("reply xid %d, want %d", rh.Xid, q.xid))
			return
		}
		arg, more, good := p.gen.reply(int(q.step), rh.Err, body)
		if good && more {
			p.follow <- followUp{start: q.start, step: q.step + 1, record: q.record, arg: arg}
			continue
		}
		now := time.Now()
		if q.record {
			if good {
				st.hist.Record(now.Sub(q.start))
				st.ops++
			} else {
				st.errors++
			}
			st.lastDone = now
		}
		st.progress.Add(1)
		<-p.slots
	}
}
