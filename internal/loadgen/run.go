package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/zkd/zkd/internal/histogram"
	"github.com/zkd/zkd/internal/wire"
)

// Workloads, as named on the command line.
var Workloads = []string{
	"create", "setdata", "getdata", "exists", "mixed", "churn", "multi",
	"watch", "connect", "fill", "ping", "fsync",
}

// Config is one benchmark run. Zero values take the defaults of
// `zkd bench` where noted.
type Config struct {
	Servers  []string // host:port; sessions are spread round-robin
	Workload string
	Sessions int // concurrent sessions (connect: concurrent dialers)
	Inflight int // window of logical ops per session
	// Duration of the measured part; ignored when Ops > 0. Fill runs
	// until Znodes are created, watch for Rounds rounds.
	Duration time.Duration
	Ops      int64
	Warmup   time.Duration // load before measuring (not for fill, watch)
	DataSize int
	Keys     int
	Watchers int
	Rounds   int
	Znodes   int64
	// Rate > 0 runs open loop at Rate ops/s overall, latency measured
	// from each op's scheduled time; 0 runs closed loop.
	Rate float64
	Root string // parent of everything the run creates
	// SessionTimeout requested for every session (the server clamps it).
	SessionTimeout time.Duration
	// Dir and Count are for fsync.
	Dir   string
	Count int
	// Log receives notes while the run goes on (a lost session, cleanup);
	// nil discards them.
	Log io.Writer
	// Progress, if set, is called about once a second with the ops
	// completed so far (warmup included) and the time since load began.
	Progress func(ops int64, elapsed time.Duration)
}

func (c *Config) setDefaults() {
	if c.Sessions <= 0 {
		c.Sessions = 1
	}
	if c.Inflight <= 0 {
		c.Inflight = 1
	}
	if c.Keys <= 0 {
		c.Keys = 1000
	}
	if c.Root == "" {
		c.Root = "/zkd-bench"
	}
	c.Root = strings.TrimRight(c.Root, "/")
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = 30 * time.Second
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.Duration <= 0 && c.Ops <= 0 {
		c.Duration = 10 * time.Second
	}
}

// Run executes one benchmark run. It fails only when the run cannot start
// (no session at all, setup refused); lost sessions and server errors are
// counted in the Result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.setDefaults()
	known := false
	for _, w := range Workloads {
		known = known || w == cfg.Workload
	}
	if !known {
		return nil, fmt.Errorf("unknown workload %q (one of %s)", cfg.Workload, strings.Join(Workloads, ", "))
	}
	if cfg.Workload == "fsync" {
		return RunFsync(cfg)
	}
	if len(cfg.Servers) == 0 {
		return nil, errors.New("no server given")
	}
	r := &Result{
		Tool: "zkd-bench", Workload: cfg.Workload, Server: strings.Join(cfg.Servers, ","),
		Sessions: cfg.Sessions, Inflight: cfg.Inflight, Rate: cfg.Rate, DataSize: cfg.DataSize,
		Time: time.Now().UTC().Format(time.RFC3339), WarmupS: cfg.Warmup.Seconds(),
	}
	var err error
	switch cfg.Workload {
	case "watch":
		err = runWatch(ctx, &cfg, r)
	case "connect":
		err = runConnect(ctx, &cfg, r)
	default:
		err = runPipelined(ctx, &cfg, r)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// note records a message in the result and logs it at once.
func (r *Result) note(log io.Writer, format string, args ...any) {
	m := fmt.Sprintf(format, args...)
	r.Messages = append(r.Messages, m)
	fmt.Fprintln(log, "zkd bench:", m)
}

// openSessions opens n sessions, server i%len for session i, at most 64
// handshakes at a time. Failed ones are nil and noted.
func openSessions(ctx context.Context, cfg *Config, r *Result, n int) ([]*conn, error) {
	conns := make([]*conn, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conns[i], _, errs[i] = dial(ctx, cfg.Servers[i%len(cfg.Servers)], cfg.SessionTimeout, loadBufSize)
		}()
	}
	wg.Wait()
	alive := 0
	for i, err := range errs {
		if err != nil {
			r.DroppedSessions++
			r.Errors++
			if r.DroppedSessions <= 3 {
				r.note(cfg.Log, "session %d not opened: %v", i, err)
			}
		} else {
			alive++
		}
	}
	if alive == 0 {
		return nil, fmt.Errorf("no session could be opened: %w", errors.Join(errs...))
	}
	return conns, nil
}

func closeSessions(conns []*conn) {
	var wg sync.WaitGroup
	for _, c := range conns {
		if c != nil {
			wg.Add(1)
			go func() { defer wg.Done(); c.close() }()
		}
	}
	wg.Wait()
}

// firstAlive is the session used for setup calls.
func firstAlive(conns []*conn) *conn {
	for _, c := range conns {
		if c != nil {
			return c
		}
	}
	return nil
}

// ensurePath creates path and its missing ancestors (persistent, empty).
func ensurePath(c *conn, path string) error {
	for i := 1; i <= len(path); i++ {
		if i < len(path) && path[i] != '/' {
			continue
		}
		code, _, err := c.call(wire.OpCreate, &wire.CreateRequest{Path: path[:i], ACL: wire.OpenACLUnsafe})
		if err != nil {
			return fmt.Errorf("create %s: %w", path[:i], err)
		}
		if code != wire.OK && code != wire.ErrNodeExists {
			return fmt.Errorf("create %s: %w", path[:i], code)
		}
	}
	return nil
}

// remove deletes path, ignoring NoNode and NotEmpty (something else lives
// there: leave it).
func remove(c *conn, path string) {
	_, _, _ = c.call(wire.OpDelete, &wire.DeleteRequest{Path: path, Version: -1})
}

// share is how many of total items, dealt round-robin, session i of n gets.
func share(total int64, n, i int) int64 {
	if int64(i) >= total {
		return 0
	}
	return (total-int64(i)-1)/int64(n) + 1
}

func newStats(n int) []*sessionStats {
	s := make([]*sessionStats, n)
	for i := range s {
		s[i] = &sessionStats{hist: histogram.New()}
	}
	return s
}

// dropDead closes and forgets sessions that failed in a phase, noting why.
func dropDead(cfg *Config, r *Result, conns []*conn, stats []*sessionStats) {
	for i, st := range stats {
		if st.err != nil && conns[i] != nil {
			_ = conns[i].nc.Close()
			conns[i] = nil
			r.DroppedSessions++
			r.note(cfg.Log, "session lost: %v", st.err)
		}
	}
}

// unmeasured runs a setup or cleanup pass of creates or deletes and
// returns how many failed.
func unmeasured(ctx context.Context, cfg *Config, r *Result, conns []*conn, mk func(i int) *pathGen, quota func(i int) int64) int64 {
	stats := newStats(len(conns))
	ph := &phase{window: cfg.Inflight, quota: quota, gen: func(i int) opGen { return mk(i) }}
	runPhase(ctx, conns, ph, stats)
	var errs int64
	for _, st := range stats {
		errs += st.errors
	}
	dropDead(cfg, r, conns, stats)
	return errs
}

// runPipelined runs the workloads that go through the pipelined engine.
func runPipelined(ctx context.Context, cfg *Config, r *Result) error {
	data := make([]byte, cfg.DataSize)
	for i := range data {
		data[i] = 'a' + byte(i%26)
	}
	conns, err := openSessions(ctx, cfg, r, cfg.Sessions)
	if err != nil {
		return err
	}
	defer closeSessions(conns)
	ctl := firstAlive(conns)
	if cfg.Workload != "ping" {
		if err := ensurePath(ctl, cfg.Root); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
	}
	runID := fmt.Sprintf("%x", time.Now().UnixNano()&0xffffffffff)
	S := len(conns)
	var gen func(i int) opGen
	var cleanup func()
	var quota func(i int) int64
	warmup := cfg.Warmup
	switch cfg.Workload {
	case "getdata", "setdata", "exists", "mixed", "multi":
		dir := cfg.Root + "/keys"
		keyPath := func(k int) string { return fmt.Sprintf("%s/k%07d", dir, k) }
		if err := ensurePath(ctl, dir); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		keys := int64(cfg.Keys)
		keyPathK := func(k int64) string { return keyPath(int(k)) }
		pass := func(op wire.OpCode, alsoOK wire.Code) int64 {
			l := liveRanks(conns)
			return unmeasured(ctx, cfg, r, conns, func(i int) *pathGen {
				return &pathGen{op: op, data: data, alsoOK: alsoOK, path: l.path(i, keyPathK)}
			}, l.share(keys))
		}
		if n := pass(wire.OpCreate, wire.ErrNodeExists); n > 0 {
			return fmt.Errorf("setup: %d of %d key creates failed", n, keys)
		}
		r.Keys = cfg.Keys
		getData := newFrameSet(cfg.Keys, func(k int) []byte {
			return frame(wire.OpGetData, &wire.GetDataRequest{Path: keyPath(k)})
		})
		var exists, setData, multi *frameSet
		switch cfg.Workload {
		case "exists":
			exists = newFrameSet(cfg.Keys, func(k int) []byte {
				return frame(wire.OpExists, &wire.ExistsRequest{Path: keyPath(k)})
			})
		case "setdata", "mixed":
			setData = newFrameSet(cfg.Keys, func(k int) []byte {
				return frame(wire.OpSetData, &wire.SetDataRequest{Path: keyPath(k), Data: data, Version: -1})
			})
		case "multi":
			multi = newFrameSet(cfg.Keys, multiFrame(keyPath, cfg.Keys, data))
		}
		gen = func(i int) opGen {
			start := i * cfg.Keys / S
			switch cfg.Workload {
			case "getdata":
				return &keyGen{reads: getData, keys: cfg.Keys, next: start}
			case "exists":
				return &keyGen{reads: exists, keys: cfg.Keys, next: start}
			case "setdata":
				return &keyGen{writes: setData, keys: cfg.Keys, next: start}
			case "multi":
				return &multiGen{frames: multi, keys: cfg.Keys, next: start}
			}
			return &keyGen{reads: getData, writes: setData, keys: cfg.Keys, mixed: true,
				rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i)))}
		}
		cleanup = func() {
			pass(wire.OpDelete, wire.ErrNoNode)
			remove(firstAlive(conns), dir)
		}
	case "create":
		dir := cfg.Root + "/create-" + runID
		if err := ensurePath(ctl, dir); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		path := func(i int) func(int64) string {
			return func(n int64) string { return fmt.Sprintf("%s/s%d-%d", dir, i, n) }
		}
		gens := make([]*pathGen, S)
		gen = func(i int) opGen {
			gens[i] = &pathGen{op: wire.OpCreate, data: data, path: path(i)}
			return gens[i]
		}
		cleanup = func() {
			// Each session deletes what it created. Nodes of sessions
			// lost on the way stay behind.
			unmeasured(ctx, cfg, r, conns, func(i int) *pathGen {
				return &pathGen{op: wire.OpDelete, alsoOK: wire.ErrNoNode, path: path(i)}
			}, func(i int) int64 {
				if conns[i] == nil || gens[i] == nil {
					return 0
				}
				return gens[i].n
			})
			remove(firstAlive(conns), dir)
		}
	case "churn":
		dir := cfg.Root + "/churn-" + runID
		if err := ensurePath(ctl, dir); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		gen = func(int) opGen { return newChurnGen(dir, data) }
		cleanup = func() { remove(firstAlive(conns), dir) }
	case "fill":
		dir := cfg.Root + "/fill"
		if cfg.Znodes <= 0 {
			cfg.Znodes = 1000000
		}
		if err := ensurePath(ctl, dir); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		parents := (cfg.Znodes + fillPerParent - 1) / fillPerParent
		l := liveRanks(conns)
		mkParents := func(i int) *pathGen {
			return &pathGen{op: wire.OpCreate, alsoOK: wire.ErrNodeExists,
				path: l.path(i, func(p int64) string { return fillParent(dir, p) })}
		}
		if n := unmeasured(ctx, cfg, r, conns, mkParents, l.share(parents)); n > 0 {
			return fmt.Errorf("setup: %d of %d fill parents failed", n, parents)
		}
		r.Znodes = cfg.Znodes
		l = liveRanks(conns)
		gen = func(i int) opGen {
			return &pathGen{op: wire.OpCreate, data: data, path: l.path(i, func(k int64) string { return fillPath(dir, k) })}
		}
		quota = l.share(cfg.Znodes)
		warmup = 0
		cleanup = func() {} // fill leaves its tree: that is its purpose
	case "ping":
		gen = func(int) opGen { return newPingGen() }
		cleanup = func() {}
	}

	ph := &phase{window: cfg.Inflight, gen: gen, fixedXid: cfg.Workload == "ping"}
	if quota == nil {
		if cfg.Ops > 0 {
			quota = liveRanks(conns).share(cfg.Ops)
		} else {
			quota = func(int) int64 { return -1 }
		}
	}
	ph.quota = quota
	if cfg.Rate > 0 {
		ph.interval = time.Duration(float64(liveRanks(conns).n) / cfg.Rate * float64(time.Second))
	}
	stats := newStats(S)
	begin := time.Now()
	ph.measureFrom = begin.Add(warmup)
	if cfg.Ops <= 0 && cfg.Workload != "fill" {
		ph.stopAt = ph.measureFrom.Add(cfg.Duration)
	}
	stopProgress := progress(cfg, stats, begin)
	runPhase(ctx, conns, ph, stats)
	stopProgress()
	dropDead(cfg, r, conns, stats)
	collect(r, stats, ph.measureFrom)
	if firstAlive(conns) != nil {
		cleanup()
		if cfg.Workload != "ping" {
			remove(firstAlive(conns), cfg.Root) // only if empty
		}
	}
	return nil
}

// live ranks the sessions still open, so work is dealt over them only.
type live struct {
	rank []int // rank[i] among live sessions, -1 for a dead slot
	n    int
}

func liveRanks(conns []*conn) live {
	l := live{rank: make([]int, len(conns))}
	for i, c := range conns {
		l.rank[i] = -1
		if c != nil {
			l.rank[i] = l.n
			l.n++
		}
	}
	return l
}

// share is session slot i's part of total items dealt round-robin.
func (l live) share(total int64) func(i int) int64 {
	return func(i int) int64 {
		if l.rank[i] < 0 {
			return 0
		}
		return share(total, l.n, l.rank[i])
	}
}

// path gives session slot i's m-th item of a shared index space.
func (l live) path(i int, path func(k int64) string) func(int64) string {
	r, n := int64(l.rank[i]), int64(l.n)
	return func(m int64) string { return path(r + m*n) }
}

// collect merges per-session stats into r.
func collect(r *Result, stats []*sessionStats, from time.Time) {
	h := histogram.New()
	var last time.Time
	for _, st := range stats {
		h.Merge(st.hist)
		r.Ops += st.ops
		r.Errors += st.errors
		if st.lastDone.After(last) {
			last = st.lastDone
		}
	}
	elapsed := time.Since(from)
	if !last.IsZero() {
		elapsed = last.Sub(from)
	}
	r.finish(h, elapsed)
}

// finish fills the measured time, the rate and the latency summary.
func (r *Result) finish(h *histogram.Histogram, elapsed time.Duration) {
	if elapsed > 0 {
		r.DurationS = elapsed.Seconds()
		r.OpsPerSec = float64(r.Ops) / elapsed.Seconds()
	}
	r.LatencyMs = summarize(h)
}

// progress reports completed ops once a second until the returned stop is
// called.
func progress(cfg *Config, stats []*sessionStats, begin time.Time) (stop func()) {
	if cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				var n int64
				for _, st := range stats {
					n += st.progress.Load()
				}
				cfg.Progress(n, now.Sub(begin))
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
