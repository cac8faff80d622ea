package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/zkd/zkd/internal/loadgen"
)

// benchCmd is `zkd bench`: load generation against any ZooKeeper-compatible
// server (docs/benchmarking.md). `make bench-compare` parses its --json
// line; keep the flags and fields.
func benchCmd() *cobra.Command {
	var (
		cfg        loadgen.Config
		servers    string
		jsonOut    bool
		noProgress bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Generate load against a ZooKeeper-compatible server and measure it",
		Long: "Generate load with its own pipelined ZooKeeper client and report throughput and\n" +
			"latency percentiles. Workloads: " + strings.Join(loadgen.Workloads, ", ") + ".\n" +
			"See docs/benchmarking.md.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Workload == "" {
				return fmt.Errorf("bench: --workload is required (one of %s)", strings.Join(loadgen.Workloads, ", "))
			}
			f := cmd.Flags()
			if cfg.Workload == "ping" {
				// One round trip at a time measures the loop, not a queue.
				if !f.Changed("sessions") {
					cfg.Sessions = 1
				}
				if !f.Changed("inflight") {
					cfg.Inflight = 1
				}
			}
			if cfg.Rate > 0 && !f.Changed("inflight") {
				// Open loop: a late reply must not hold back the schedule.
				cfg.Inflight = 256
			}
			if f.Changed("ops") && !f.Changed("duration") {
				cfg.Duration = 0
			}
			if servers != "" {
				cfg.Servers = strings.Split(servers, ",")
			}
			return runBench(cmd, cfg, jsonOut, noProgress)
		},
	}
	f := cmd.Flags()
	f.StringVar(&servers, "server", "127.0.0.1:2181", "HOST:PORT[,HOST:PORT...]; sessions are spread over the hosts round-robin")
	f.StringVar(&cfg.Workload, "workload", "", "workload: "+strings.Join(loadgen.Workloads, ", "))
	f.IntVar(&cfg.Sessions, "sessions", 64, "concurrent sessions (connect: concurrent dialers)")
	f.IntVar(&cfg.Inflight, "inflight", 8, "requests in flight per session (closed loop); with --rate the window, default 256")
	f.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured time (after warmup)")
	f.Int64Var(&cfg.Ops, "ops", 0, "measured ops in total instead of a duration")
	f.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "load before measuring")
	f.IntVar(&cfg.DataSize, "data-size", 100, "bytes of data per create/setData")
	f.IntVar(&cfg.Keys, "keys", 1000, "pre-created nodes for setdata, getdata, exists, mixed, multi")
	f.IntVar(&cfg.Watchers, "watchers", 1000, "watch: watching sessions")
	f.IntVar(&cfg.Rounds, "rounds", 20, "watch: rounds of setData -> all notified")
	f.Int64Var(&cfg.Znodes, "znodes", 1000000, "fill: nodes to create")
	f.Float64Var(&cfg.Rate, "rate", 0, "open loop at this many ops/s overall (latency from the scheduled send); 0 = closed loop")
	f.StringVar(&cfg.Root, "root", "/zkd-bench", "parent node of everything the run creates")
	f.DurationVar(&cfg.SessionTimeout, "session-timeout", 30*time.Second, "session timeout to request")
	f.StringVar(&cfg.Dir, "dir", "", "fsync: directory on the disk to measure")
	f.IntVar(&cfg.Count, "count", 1000, "fsync: appends to measure")
	f.BoolVar(&jsonOut, "json", false, "print one JSON line on stdout (the table goes to stderr)")
	f.BoolVar(&noProgress, "no-progress", false, "no progress line on stderr")
	cmd.AddCommand(benchFsyncCmd())
	return cmd
}

// benchFsyncCmd is `zkd bench fsync`, the same as --workload fsync.
func benchFsyncCmd() *cobra.Command {
	var (
		cfg        loadgen.Config
		jsonOut    bool
		noProgress bool
	)
	cmd := &cobra.Command{
		Use:   "fsync --dir D",
		Short: "Measure the disk's fsync latency the way a txn log appends (write 100-500 bytes + fdatasync)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Workload = "fsync"
			return runBench(cmd, cfg, jsonOut, noProgress)
		},
	}
	cmd.Flags().StringVar(&cfg.Dir, "dir", "", "directory on the disk to measure (required)")
	cmd.Flags().IntVar(&cfg.Count, "count", 1000, "appends to measure")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print one JSON line on stdout (the table goes to stderr)")
	cmd.Flags().BoolVar(&noProgress, "no-progress", false, "no progress line on stderr")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

func runBench(cmd *cobra.Command, cfg loadgen.Config, jsonOut, noProgress bool) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	human := stdout
	if jsonOut {
		human = stderr
	}
	cfg.Log = stderr
	if !noProgress && isTerminalWriter(stderr) {
		cfg.Progress = func(ops int64, elapsed time.Duration) {
			fmt.Fprintf(stderr, "\r%s: %d ops in %.0fs, %.0f ops/s   ", cfg.Workload, ops, elapsed.Seconds(),
				float64(ops)/elapsed.Seconds())
		}
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := loadgen.Run(ctx, cfg)
	if cfg.Progress != nil {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	res.WriteTable(human)
	if jsonOut {
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(stdout, "%s\n", b); err != nil {
			return err
		}
	}
	return nil
}

// isTerminalWriter is isTerminal (cli.go) for an output stream.
func isTerminalWriter(w io.Writer) bool {
	r, ok := w.(io.Reader)
	return ok && isTerminal(r)
}
