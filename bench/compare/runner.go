package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zkd/zkd/bench/internal/nullzk"
	"github.com/zkd/zkd/bench/internal/servers"
)

// The two servers; ZooKeeper runs first in every pair (A B A B ...), so
// its saturation is known before the half-saturation runs of a round.
const (
	zookeeper = "zookeeper"
	zkd       = "zkd"
)

var serverOrder = []string{zookeeper, zkd}

// Sample is one measurement of one figure on one server.
type Sample struct {
	Round  int     `json:"round"`
	Value  float64 `json:"value"`
	Errors int64   `json:"errors,omitempty"`
	// Rate is the offered load of a half-saturation run (ops/s).
	Rate  float64         `json:"rate,omitempty"`
	Error string          `json:"error,omitempty"`
	Bench json.RawMessage `json:"bench,omitempty"`
}

// Side is one server's samples of a figure and their median.
type Side struct {
	Samples []Sample `json:"samples"`
	Median  float64  `json:"median"`
	// Warmup holds the unmeasured warm-up runs before the first round, in
	// order (round 0): how the server's figure settled.
	Warmup []Sample `json:"warmup,omitempty"`
}

// FigureResult is one row of the comparison.
type FigureResult struct {
	ID            string  `json:"id"`
	Title         string  `json:"title"`
	Topology      string  `json:"topology"`
	Workload      string  `json:"workload,omitempty"`
	Unit          string  `json:"unit"`
	LowerIsBetter bool    `json:"lower_is_better"`
	Target        float64 `json:"target_ratio,omitempty"`
	Zkd           Side    `json:"zkd"`
	ZooKeeper     Side    `json:"zookeeper"`
	// Ratio is median zkd / median ZooKeeper (0: a side has no sample).
	Ratio float64 `json:"ratio_zkd_over_zookeeper"`
	// Met is nil for a figure without a target or without a ratio.
	Met *bool `json:"met,omitempty"`
	// Floor is the figure measured once, before the rounds, against the
	// null server (bench/internal/nullzk), which answers every request
	// at once and does nothing else: what the load tool reaches on this
	// machine when the server costs nothing. Nil where not measured.
	Floor *Sample `json:"null_server,omitempty"`
}

// Results is the whole run, as the results file holds it.
type Results struct {
	Tool    string          `json:"tool"`
	Date    string          `json:"date"`
	Started time.Time       `json:"started"`
	Took    time.Duration   `json:"-"`
	TookS   float64         `json:"took_s"`
	Quick   bool            `json:"quick"`
	Options map[string]any  `json:"options"`
	Machine servers.Machine `json:"machine"`
	// Fsync is the load tool's fsync measurement of the work directory's
	// disk; FsyncError says why it is missing.
	Fsync      json.RawMessage   `json:"fsync,omitempty"`
	FsyncError string            `json:"fsync_error,omitempty"`
	Servers    map[string]string `json:"servers"`
	Figures    []*FigureResult   `json:"figures"`
	Commands   []string          `json:"commands"`
	Errors     []string          `json:"errors,omitempty"`
}

type runner struct {
	o     options
	work  string
	figs  []Figure
	tool  LoadTool
	specs map[string]servers.Spec
	res   *Results
	rows  map[string]*FigureResult
	// zkSaturation holds ZooKeeper's setData throughput on the ensemble,
	// one sample per round so far; half of its median is the rate of the
	// half-saturation latency runs.
	zkSaturation []float64
	began        time.Time
}

func newRunner(o options, work string, figs []Figure) *runner {
	r := &runner{o: o, work: work, figs: figs, began: time.Now(), rows: map[string]*FigureResult{}}
	r.specs = map[string]servers.Spec{
		zkd:       servers.Zkd(o.zkdBin),
		zookeeper: servers.ZooKeeper(servers.ZooKeeperOptions{Xmx: o.zkXmx, Log: o.zkLog}),
	}
	zkHeap := r.specs[zookeeper].Heap
	if o.zkXmx == "" {
		zkHeap += ", MaxHeapSize " + servers.JVMDefaultMaxHeap()
	}
	prog, args := r.specs[zookeeper].Command("<member dir>", "<member dir>/zoo.cfg")
	r.res = &Results{
		Tool: "zkd-compare", Date: r.began.Format("2006-01-02"), Started: r.began, Quick: o.quick,
		Machine: servers.MachineInfo(work),
		Servers: map[string]string{
			"zkd":               o.zkdBin + " server --config zoo.cfg",
			"load_tool":         o.benchBin + " bench",
			"zookeeper":         prog + " " + strings.Join(args, " "),
			"zookeeper_heap":    zkHeap,
			"zookeeper_package": debianVersion("zookeeper"),
		},
		Options: map[string]any{
			"rounds": o.rounds, "lifecycle_rounds": o.lifeRounds, "duration_s": o.duration.Seconds(), "info_duration_s": o.infoDuration.Seconds(),
			"warmup_s": o.warmup.Seconds(), "info_warmup_s": o.infoWarmup.Seconds(), "znodes": o.znodes, "data_size": 100,
			"watchers": o.watchers, "watch_rounds": o.watchRounds, "only": o.only,
			"tickTime": o.timing.TickTime, "initLimit": o.timing.InitLimit, "syncLimit": o.timing.SyncLimit,
			"forceSync": "yes (default)", "sessions_x_inflight": "64x8 for setdata/getdata, the tool's defaults otherwise",
			"order":         "per round and workload: ZooKeeper, then zkd; both deployments of a topology run during its runs and stay up for all its rounds",
			"server_warmup": fmt.Sprintf("before the first round of a topology, each workload runs unmeasured on both deployments: %v for figures with a target, %v for information (in runs of at most 5 s; watch: 3 runs)", o.serverWarmup, o.infoServerWarmup),
			"idle_wait": fmt.Sprintf("before each run, until the other deployment uses under %.0f%% of a CPU over %v (at most %v)",
				100*defaultIdleWait.idle, defaultIdleWait.window, defaultIdleWait.max),
		},
	}
	r.tool = LoadTool{Bin: o.benchBin, Log: func(s string) { r.res.Commands = append(r.res.Commands, s) }}
	for _, f := range figs {
		row := &FigureResult{ID: f.ID, Title: f.Title, Topology: f.Topology.String(), Workload: f.Workload, Unit: f.Unit, LowerIsBetter: f.Lower, Target: f.Target}
		r.rows[f.ID] = row
		r.res.Figures = append(r.res.Figures, row)
	}
	return r
}

// side is server's half of the row.
func (row *FigureResult) side(server string) *Side {
	if server == zookeeper {
		return &row.ZooKeeper
	}
	return &row.Zkd
}

func (r *runner) record(f Figure, server string, s Sample) {
	side := r.rows[f.ID].side(server)
	side.Samples = append(side.Samples, s)
	if s.Error != "" {
		r.res.Errors = append(r.res.Errors, fmt.Sprintf("round %d %s %s: %s", s.Round, f.ID, server, firstLine(s.Error)))
		fmt.Printf("  %-22s %-9s FAILED: %s\n", f.ID, server, firstLine(s.Error))
		return
	}
	extra := ""
	if s.Rate != 0 {
		extra += fmt.Sprintf(" at %.0f ops/s", s.Rate)
	}
	if s.Errors != 0 {
		extra += fmt.Sprintf(" (%d errors)", s.Errors)
	}
	fmt.Printf("  %-22s %-9s %12.2f %s%s\n", f.ID, server, s.Value, f.Unit, extra)
}

// recordWarmup keeps a warm-up run's figure with the figure's row (not in
// its median); a warm-up of the setData workload for the half-saturation
// figure goes with setData's row when that is selected.
func (r *runner) recordWarmup(f Figure, server string, s Sample) {
	row := r.rows[f.ID]
	if row == nil {
		return
	}
	s.Bench = nil // the commands are in the results; the figures are enough
	side := row.side(server)
	side.Warmup = append(side.Warmup, s)
}

// finish computes medians, ratios and targets.
func (r *runner) finish() {
	for _, f := range r.figs {
		row := r.rows[f.ID]
		for _, side := range []*Side{&row.Zkd, &row.ZooKeeper} {
			var xs []float64
			for _, s := range side.Samples {
				if s.Error == "" {
					xs = append(xs, s.Value)
				}
			}
			side.Median = median(xs)
		}
		row.Ratio = ratio(row.Zkd.Median, row.ZooKeeper.Median)
		if met, has := f.Met(row.Ratio); has && row.Ratio != 0 {
			row.Met = &met
		}
	}
	r.res.Took = time.Since(r.began).Round(time.Second)
	r.res.TookS = r.res.Took.Seconds()
}

// runAll measures the disk, then runs the rounds of each topology on
// deployments that stay up for all of them, then the lifecycle rounds. It
// stops at the first error that is not one server's failure (an
// interrupt, a broken setup).
func (r *runner) runAll(ctx context.Context) error {
	fsyncDir := filepath.Join(r.work, "fsync")
	if err := os.MkdirAll(fsyncDir, 0o755); err != nil {
		return err
	}
	if res, raw, err := r.tool.Run(ctx, 5*time.Minute, "fsync", "--dir", fsyncDir, "--count", fmt.Sprint(r.o.fsyncCount)); err != nil {
		r.res.FsyncError = err.Error()
		fmt.Printf("fsync measurement failed: %s\n", firstLine(err.Error()))
	} else {
		r.res.Fsync = raw
		fmt.Printf("fsync of %s: p50 %.2f ms, p99 %.2f ms\n", fsyncDir, res.Latency.P50, res.Latency.P99)
	}
	if err := r.measureFloors(ctx); err != nil {
		return err
	}
	for _, topo := range []Topology{Standalone, Ensemble} {
		var figs []Figure
		for _, f := range r.figs {
			if f.Topology == topo && f.Kind != Lifecycle {
				figs = append(figs, f)
			}
		}
		if len(figs) == 0 {
			continue
		}
		dir := filepath.Join(r.work, strings.ReplaceAll(topo.String(), " ", ""))
		if err := r.inScratch(dir, func() error { return r.loadRounds(ctx, dir, topo, figs) }); err != nil {
			return err
		}
	}
	var life []Figure
	for _, f := range r.figs {
		if f.Kind == Lifecycle {
			life = append(life, f)
		}
	}
	for round := 1; len(life) > 0 && round <= r.o.lifeRounds; round++ {
		fmt.Printf("== lifecycle round %d/%d (%v so far)\n", round, r.o.lifeRounds, time.Since(r.began).Round(time.Second))
		for _, server := range serverOrder {
			if err := ctx.Err(); err != nil {
				return err
			}
			dir := filepath.Join(r.work, fmt.Sprintf("lifecycle%d-%s", round, server))
			if err := r.inScratch(dir, func() error { return r.lifecycle(ctx, round, dir, server, life) }); err != nil {
				return err
			}
		}
	}
	return nil
}

// floorWorkloads are the workloads the null server serves.
var floorWorkloads = map[string]bool{"connect": true, "watch": true}

// measureFloors runs each selected connection-storm and fan-out figure
// once against a null server with as many members as the figure's
// topology (FigureResult.Floor).
func (r *runner) measureFloors(ctx context.Context) error {
	for _, f := range r.figs {
		if f.Kind != LoadRun || !floorWorkloads[f.Workload] {
			continue
		}
		null, err := nullzk.Start(f.Topology.Members())
		if err != nil {
			r.res.Errors = append(r.res.Errors, fmt.Sprintf("%s null server: %v", f.ID, err))
			continue
		}
		s := r.loadRun(ctx, 0, f, null.ConnectString(), 0)
		null.Stop()
		if err := ctx.Err(); err != nil {
			return err
		}
		r.rows[f.ID].Floor = &s
		if s.Error != "" {
			r.res.Errors = append(r.res.Errors, fmt.Sprintf("%s null server: %s", f.ID, firstLine(s.Error)))
			fmt.Printf("  %-22s %-9s FAILED: %s\n", f.ID, "null", firstLine(s.Error))
			continue
		}
		fmt.Printf("  %-22s %-9s %12.2f %s (floor of this machine)\n", f.ID, "null", s.Value, f.Unit)
	}
	return nil
}

// inScratch runs fn, whose deployments live in dir, and removes dir
// afterwards unless --keep.
func (r *runner) inScratch(dir string, fn func() error) error {
	if !r.o.keep {
		defer os.RemoveAll(dir)
	}
	return fn()
}

// loadRounds starts both deployments of topo, warms them up (warmUp) and
// runs the rounds on them. The deployments stay up for all rounds: a
// restarted JVM would start cold again (see warmUp).
func (r *runner) loadRounds(ctx context.Context, dir string, topo Topology, figs []Figure) error {
	clusters := map[string]*servers.Cluster{}
	defer func() {
		for _, c := range clusters {
			c.Stop()
		}
	}()
	for _, server := range serverOrder {
		c, err := servers.NewCluster(r.specs[server], dir, topo.Members(), r.o.timing)
		if err != nil {
			return err
		}
		c.StopTimeout = 15 * time.Second
		clusters[server] = c
		if err := c.Start(); err != nil {
			return err
		}
	}
	for _, server := range serverOrder {
		if err := clusters[server].WaitServing(ctx, 2*time.Minute); err != nil {
			return fmt.Errorf("%s %s: %w", server, topo, err)
		}
	}
	fmt.Printf("== %s: zookeeper %s, zkd %s\n", topo, clusters[zookeeper].ConnectString(), clusters[zkd].ConnectString())
	if err := r.warmUp(ctx, clusters, figs); err != nil {
		return err
	}
	for round := 1; round <= r.o.rounds; round++ {
		fmt.Printf("== %s round %d/%d (%v so far)\n", topo, round, r.o.rounds, time.Since(r.began).Round(time.Second))
		if err := r.loadRuns(ctx, round, clusters, figs); err != nil {
			return err
		}
	}
	return nil
}

// loadRuns is one round on a topology's deployments: each figure against
// ZooKeeper, then zkd.
func (r *runner) loadRuns(ctx context.Context, round int, clusters map[string]*servers.Cluster, figs []Figure) error {
	saturationThisRound := false
	for _, f := range figs {
		if f.Kind == HalfSaturation && !saturationThisRound {
			// The round's setData throughput figure was not selected:
			// measure ZooKeeper's saturation anyway.
			sat := setDataSaturation
			r.waitIdle(ctx, clusters, zookeeper)
			s := r.loadRun(ctx, round, sat, clusters[zookeeper].ConnectString(), 0)
			if err := ctx.Err(); err != nil {
				return err
			}
			if s.Error != "" {
				fmt.Printf("  ZooKeeper saturation run FAILED: %s\n", firstLine(s.Error))
			} else {
				r.zkSaturation = append(r.zkSaturation, s.Value)
				fmt.Printf("  %-22s %-9s %12.2f ops/s (saturation)\n", sat.ID, zookeeper, s.Value)
			}
			saturationThisRound = true
		}
		var rate float64
		if f.Kind == HalfSaturation {
			rate = 0.5 * median(r.zkSaturation)
			if rate == 0 {
				for _, server := range serverOrder {
					r.record(f, server, Sample{Round: round, Error: "no ZooKeeper saturation throughput measured"})
				}
				continue
			}
		}
		for _, server := range serverOrder {
			r.waitIdle(ctx, clusters, server)
			s := r.loadRun(ctx, round, f, clusters[server].ConnectString(), rate)
			if err := ctx.Err(); err != nil {
				return err
			}
			r.record(f, server, s)
			if f.ID == "e3.setdata" && server == zookeeper {
				saturationThisRound = true
				if s.Error == "" {
					r.zkSaturation = append(r.zkSaturation, s.Value)
				}
			}
		}
	}
	return nil
}

// warmUp runs every workload of figs against each server, unmeasured,
// before the first round. ZooKeeper's JVM compiles its hot paths while it
// serves: started cold, its setData throughput on 2 cores climbed from
// ~8,000 to ~25,000 ops/s over its first 25 s of load, and its session
// rate from ~2,400 to ~4,500/s over 20 s of connection storm. Measured
// after a 2 s warm-up on a fresh JVM, as this harness did before, every
// ratio flattered zkd (setData 4.4x instead of ~2.3x). zkd gets exactly
// the same warm-up. The runs go in chunks of at most 5 s whose figures
// are kept in the results (Side.Warmup) to show where each server
// settled.
func (r *runner) warmUp(ctx context.Context, clusters map[string]*servers.Cluster, figs []Figure) error {
	seen := map[string]bool{}
	for _, f := range figs {
		if f.Kind == HalfSaturation {
			f = setDataSaturation // the same workload as setData's throughput
		}
		if seen[f.Workload] {
			continue
		}
		seen[f.Workload] = true
		chunks, chunk := warmUpChunks(r.o.serverWarmupOf(f), f.Workload)
		for _, server := range serverOrder {
			var vals []string
			for i := 0; i < chunks; i++ {
				r.waitIdle(ctx, clusters, server)
				s := r.run(ctx, 0, f, clusters[server].ConnectString(), 0, chunk, 0)
				if err := ctx.Err(); err != nil {
					return err
				}
				r.recordWarmup(f, server, s)
				if s.Error != "" {
					vals = append(vals, "FAILED: "+firstLine(s.Error))
					break
				}
				vals = append(vals, fmt.Sprintf("%.5g", s.Value))
			}
			if len(vals) > 0 {
				fmt.Printf("  warm-up %-15s %-9s %s %s\n", f.ID, server, strings.Join(vals, " "), f.Unit)
			}
		}
	}
	return nil
}

// warmUpChunks splits a warm-up of total into runs of at most 5 s; a
// watch run is a number of rounds, not a duration: three runs.
func warmUpChunks(total time.Duration, workload string) (n int, chunk time.Duration) {
	if total <= 0 {
		return 0, 0
	}
	if workload == "watch" {
		return 3, 0
	}
	const most = 5 * time.Second
	n = int((total + most - 1) / most)
	return n, total / time.Duration(n)
}

// waitIdle holds the next run against server until the other deployment
// has gone idle (idleWait), and says so when that took a while.
func (r *runner) waitIdle(ctx context.Context, clusters map[string]*servers.Cluster, server string) {
	for other, c := range clusters {
		if other == server {
			continue
		}
		waited, idle := defaultIdleWait.wait(ctx, c.CPUTime)
		switch {
		case !idle && ctx.Err() == nil:
			fmt.Printf("  note: %s still busy after %.0fs; measuring %s anyway\n", other, waited.Seconds(), server)
		case waited > time.Second:
			fmt.Printf("  (waited %.1fs for %s to go idle)\n", waited.Seconds(), other)
		}
	}
}

// setDataSaturation is the run that gives ZooKeeper's saturation when the
// setData throughput figure itself is not selected.
var setDataSaturation = Figure{ID: "e3.setdata", Workload: "setdata", Args: sessionArgs, Metric: OpsPerSec, Unit: "ops/s", Long: true, Topology: Ensemble}

// loadRun runs the load tool once for figure f against the servers at
// addrs (a connect string), for the figure's duration and warm-up.
func (r *runner) loadRun(ctx context.Context, round int, f Figure, addrs string, rate float64) Sample {
	d, w := r.o.infoDuration, r.o.infoWarmup
	if f.Long {
		d, w = r.o.duration, r.o.warmup
	}
	return r.run(ctx, round, f, addrs, rate, d, w)
}

// run runs the load tool once for figure f against addrs: measured for d
// after w unmeasured (ignored by the watch workload, which runs its
// rounds).
func (r *runner) run(ctx context.Context, round int, f Figure, addrs string, rate float64, d, w time.Duration) Sample {
	args := []string{"--server", addrs, "--workload", f.Workload, "--root", "/zkd-bench-" + strings.ReplaceAll(f.ID, ".", "-")}
	args = append(args, f.Args...)
	timeout := 5 * time.Minute
	if f.Workload != "watch" {
		args = append(args, "--duration", d.String(), "--warmup", w.String())
		timeout = d + w + 2*time.Minute
	}
	if rate > 0 {
		args = append(args, "--rate", fmt.Sprintf("%.0f", rate))
	}
	s := Sample{Round: round, Rate: rate}
	res, raw, err := r.tool.Run(ctx, timeout, args...)
	s.Bench = raw
	if err != nil {
		s.Error = err.Error()
		return s
	}
	s.Errors = res.Errors
	if s.Value, err = res.Value(f.Metric); err != nil {
		s.Error = err.Error()
	}
	return s
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
