// Command compare measures zkd against Apache ZooKeeper 3.8 (Debian's
// zookeeper package, started as zkServer.sh would) on this machine in one
// run, on loopback only: each workload of the load tool (`zkd bench`)
// runs against both servers in alternation, ZooKeeper then zkd, for
// several rounds, on a standalone server and on a 3-node ensemble; then
// each server fills a large tree, restarts on it and loses its leader.
// The connection storm and the watch fan-out also run once against a null
// server (bench/internal/nullzk), the floor this machine sets for them.
// It prints medians, the ratio zkd/ZooKeeper and whether the issue's
// targets are met, and writes bench/results/compare-<date>.json and .md.
// Run from the repository root (see docs/bench-compare.md):
//
//	make bench-compare          # or: go run ./bench/compare [--quick]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/zkd/zkd/bench/internal/servers"
)

type options struct {
	zkdBin       string
	benchBin     string
	rounds       int
	lifeRounds   int
	quick        bool
	only         string
	keep         bool
	resultsDir   string
	workDir      string
	duration     time.Duration // runs of figures with a target
	infoDuration time.Duration // runs of figures for information
	warmup       time.Duration
	infoWarmup   time.Duration
	// serverWarmup and infoServerWarmup: unmeasured load of each
	// workload on fresh deployments, before the first round (warmUp).
	serverWarmup     time.Duration
	infoServerWarmup time.Duration
	znodes           int
	watchers         int
	watchRounds      int
	fsyncCount       int
	timing           servers.Timing
	zkLog            bool
	zkXmx            string
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.StringVar(&o.zkdBin, "zkd", "bin/zkd", "zkd binary: the server and the load tool (zkd bench)")
	fs.StringVar(&o.benchBin, "bench-bin", "", "binary whose `zkd bench` generates the load (default: --zkd)")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds; each runs every figure on ZooKeeper, then zkd")
	fs.IntVar(&o.lifeRounds, "lifecycle-rounds", 0, "rounds that also fill, restart and fail over (default: all); the fill is the longest part of a run")
	fs.BoolVar(&o.quick, "quick", false, "a short run to check the harness: 2 rounds, 2 s runs, 100k znodes, 200 watchers (flags given explicitly win)")
	fs.StringVar(&o.only, "only", "", "comma-separated figures to run: IDs, globs (e3.*), e3, sa or targets")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directories (data, zoo.cfg, logs)")
	fs.StringVar(&o.resultsDir, "results", "bench/results", "directory for compare-<date>.json and .md")
	fs.StringVar(&o.workDir, "dir", "", "parent of the temporary directory (default: the system's)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of a run, figures with a target")
	fs.DurationVar(&o.infoDuration, "info-duration", 3*time.Second, "measured time of a run, figures for information")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up before a run with a target")
	fs.DurationVar(&o.infoWarmup, "info-warmup", time.Second, "unmeasured warm-up before a run for information")
	fs.DurationVar(&o.serverWarmup, "server-warmup", 30*time.Second, "unmeasured load of each workload with a target on the fresh deployments, before the first round (ZooKeeper's JIT; 0: none)")
	fs.DurationVar(&o.infoServerWarmup, "info-server-warmup", 5*time.Second, "the same for each workload for information (and three watch runs when not 0)")
	fs.IntVar(&o.znodes, "znodes", 1000000, "znodes of 100 bytes filled for memory, snapshot and restart")
	fs.IntVar(&o.watchers, "watchers", 1000, "watchers of the fan-out figure")
	fs.IntVar(&o.watchRounds, "watch-rounds", 20, "notifications per watch run (the tool's --rounds)")
	fs.IntVar(&o.fsyncCount, "fsync-count", 1000, "fsyncs of the disk measurement")
	fs.IntVar(&o.timing.TickTime, "tick", servers.DebianTiming.TickTime, "tickTime (ms) of both servers")
	fs.IntVar(&o.timing.InitLimit, "init-limit", servers.DebianTiming.InitLimit, "initLimit (ticks) of both servers")
	fs.IntVar(&o.timing.SyncLimit, "sync-limit", servers.DebianTiming.SyncLimit, "syncLimit (ticks) of both servers")
	fs.BoolVar(&o.zkLog, "zk-log", false, "let ZooKeeper log (slf4j-simple); zkServer.sh's class path logs nothing, so this departs from it")
	fs.StringVar(&o.zkXmx, "zk-xmx", "", "ZooKeeper -Xmx (default: none, as zkServer.sh)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quick := map[string]func(){
			"rounds":             func() { o.rounds = 2 },
			"duration":           func() { o.duration = 2 * time.Second },
			"info-duration":      func() { o.infoDuration = time.Second },
			"warmup":             func() { o.warmup = 500 * time.Millisecond },
			"info-warmup":        func() { o.infoWarmup = 200 * time.Millisecond },
			"server-warmup":      func() { o.serverWarmup = 2 * time.Second },
			"info-server-warmup": func() { o.infoServerWarmup = time.Second },
			"znodes":             func() { o.znodes = 100000 },
			"watchers":           func() { o.watchers = 200 },
			"watch-rounds":       func() { o.watchRounds = 5 },
			"fsync-count":        func() { o.fsyncCount = 200 },
		}
		for name, apply := range quick {
			if !set[name] {
				apply()
			}
		}
	}
	if o.rounds < 1 {
		return o, errors.New("--rounds must be at least 1")
	}
	if o.lifeRounds <= 0 || o.lifeRounds > o.rounds {
		o.lifeRounds = o.rounds
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(2)
	}
	// The first SIGINT/SIGTERM cancels the run, which then stops every
	// server and load-tool process it started (by PID) and removes its
	// directories; further signals are ignored while that happens.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if why := servers.ZooKeeperAvailable(); why != "" {
		return fmt.Errorf("%s; run `bash scripts/install-test-deps.sh` or `make bench-compare`", why)
	}
	bin, err := filepath.Abs(o.zkdBin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("zkd binary: %w (run `make build` or pass --zkd)", err)
	}
	o.zkdBin = bin
	if o.benchBin == "" {
		o.benchBin = bin
	} else if o.benchBin, err = filepath.Abs(o.benchBin); err != nil {
		return err
	}
	figs, err := selectFigures(allFigures(o.watchers, o.watchRounds), o.only)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp(o.workDir, "zkd-compare-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Printf("keeping %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}

	r := newRunner(o, work, figs)
	r.res.Machine.LoadAvgStart = servers.LoadAvg()
	fmt.Printf("machine: %d CPUs (%s), %.1f GiB RAM, kernel %s, %s, %s on %s; load %s\n",
		r.res.Machine.NumCPU, r.res.Machine.CPUModel, float64(r.res.Machine.MemTotalBytes)/(1<<30), r.res.Machine.Kernel,
		r.res.Machine.Java, r.res.Machine.GoVersion, r.res.Machine.FileSystem, r.res.Machine.LoadAvgStart)
	fmt.Printf("%d figures x %d rounds (lifecycle in %d); runs of %v (+%v warm-up) with a target, %v (+%v) for information, after %v (%v) of server warm-up per workload; %d znodes; tickTime=%d initLimit=%d syncLimit=%d; ZooKeeper heap: %s\n",
		len(figs), o.rounds, o.lifeRounds, o.duration, o.warmup, o.infoDuration, o.infoWarmup, o.serverWarmup, o.infoServerWarmup, o.znodes,
		o.timing.TickTime, o.timing.InitLimit, o.timing.SyncLimit, r.specs[zookeeper].Heap)
	fmt.Printf("estimated time: %v\n", estimate(o, figs).Round(time.Minute))

	runErr := r.runAll(ctx)
	r.res.Machine.LoadAvgEnd = servers.LoadAvg()
	r.finish()
	table := formatTable(r.res)
	fmt.Println()
	fmt.Print(table)
	fmt.Printf("load average at start %s, at end %s; whole run %v\n", r.res.Machine.LoadAvgStart, r.res.Machine.LoadAvgEnd, r.res.Took)
	if r.res.Took > 30*time.Minute {
		fmt.Println("note: the run took over 30 minutes; --duration, --info-duration or --lifecycle-rounds shorten it")
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted; no results file written: %w", runErr)
	}
	paths, err := writeResults(o, r.res, table)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s\n", strings.Join(paths, ", "))
	return runErr
}

// serverWarmupOf is how long f's workload runs unmeasured on fresh
// deployments (runner.warmUp).
func (o options) serverWarmupOf(f Figure) time.Duration {
	if f.Long {
		return o.serverWarmup
	}
	return o.infoServerWarmup
}

// estimate is a rough duration of the run: each load run costs its
// warm-up and duration plus session set-up; each topology's deployments
// start once and get the server warm-up; the lifecycle costs what a fill
// at a few thousand creates/s and two restarts take.
func estimate(o options, figs []Figure) time.Duration {
	var per, warm, life, floor time.Duration
	topologies := map[Topology]bool{}
	workloads := map[string]bool{}
	for _, f := range figs {
		if f.Kind != Lifecycle {
			topologies[f.Topology] = true
		}
		switch {
		case f.Kind == Lifecycle:
			// A 3-node fill at ~14,000 creates/s (both servers on 2 cores, compare-2026-11-22-9),
			// restarts and failover, for both servers.
			life = 2 * (time.Duration(o.znodes)*time.Second/14000 + 30*time.Second)
		case f.Workload == "watch":
			per += 2 * 15 * time.Second
		case f.Long:
			per += 2 * (o.duration + o.warmup + 1500*time.Millisecond)
		default:
			per += 2 * (o.infoDuration + o.infoWarmup + 1500*time.Millisecond)
		}
		if f.Kind == LoadRun && floorWorkloads[f.Workload] { // one run against the null server
			if f.Workload == "watch" {
				floor += 15 * time.Second
			} else {
				floor += o.duration + o.warmup + 1500*time.Millisecond
			}
		}
		key := f.Topology.String() + " " + f.Workload
		if f.Kind == LoadRun && !workloads[key] {
			workloads[key] = true
			n, chunk := warmUpChunks(o.serverWarmupOf(f), f.Workload)
			if f.Workload == "watch" {
				chunk = 15 * time.Second
			}
			warm += 2 * time.Duration(n) * (chunk + 1500*time.Millisecond)
		}
	}
	warm += time.Duration(len(topologies)) * 2 * 5 * time.Second // deployments started
	return time.Duration(o.rounds)*per + warm + floor + time.Duration(o.lifeRounds)*life
}
