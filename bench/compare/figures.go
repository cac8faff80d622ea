package main

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// Topology is the deployment a figure is measured on.
type Topology int

const (
	Standalone Topology = iota + 1
	Ensemble            // three voting members
)

func (t Topology) String() string {
	switch t {
	case Standalone:
		return "standalone"
	case Ensemble:
		return "3 nodes"
	}
	return fmt.Sprintf("Topology(%d)", int(t))
}

// Members is the number of servers of the deployment.
func (t Topology) Members() int {
	if t == Ensemble {
		return 3
	}
	return 1
}

// Kind says how a figure is measured.
type Kind int

const (
	// LoadRun is one run of the load tool; Metric picks the number.
	LoadRun Kind = iota + 1
	// HalfSaturation is a setData run at half of ZooKeeper's median
	// saturation throughput (measured earlier in the same round).
	HalfSaturation
	// Lifecycle figures come from filling a tree, restarting on it and
	// killing the leader (see lifecycle.go); Metric names the number.
	Lifecycle
)

// Metric names a number of a load-tool result or of a lifecycle run.
type Metric string

const (
	OpsPerSec   Metric = "ops_per_sec"
	P50         Metric = "p50_ms"
	P99         Metric = "p99_ms"
	RSSMiB      Metric = "rss_mib"
	SnapshotMiB Metric = "snapshot_mib"
	FillRate    Metric = "fill_per_sec"
	RestartSec  Metric = "restart_s"
	FailoverSec Metric = "failover_s"
	DataDirMiB  Metric = "data_dir_mib"
)

// Figure is one row of the comparison.
type Figure struct {
	ID       string // topology.name, what --only matches
	Title    string
	Topology Topology
	Kind     Kind
	Workload string   // load-tool workload (LoadRun, HalfSaturation)
	Args     []string // extra load-tool flags
	Metric   Metric
	Unit     string
	// Lower is true when a smaller number is better (latency, memory,
	// time); the target then is a ratio zkd/ZooKeeper not to exceed.
	Lower bool
	// Target is the ratio zkd/ZooKeeper the issue asks for; 0 means the
	// figure is for information.
	Target float64
	// Long runs use the long duration (figures with a target).
	Long bool
}

// Met says whether ratio meets the target, and whether there is one.
func (f Figure) Met(ratio float64) (met, hasTarget bool) {
	if f.Target == 0 || ratio == 0 {
		return false, f.Target != 0
	}
	if f.Lower {
		return ratio <= f.Target, true
	}
	return ratio >= f.Target, true
}

// TargetString is the target as the table shows it ("≥ 2.0").
func (f Figure) TargetString() string {
	if f.Target == 0 {
		return "info"
	}
	if f.Lower {
		return fmt.Sprintf("<= %.2g", f.Target)
	}
	return fmt.Sprintf(">= %.2g", f.Target)
}

// sessionArgs is the load shape of the throughput targets.
var sessionArgs = []string{"--sessions", "64", "--inflight", "8"}

// allFigures lists every figure in the order they run within a round.
// The half-saturation latency comes after the setData throughput, whose
// ZooKeeper runs give the saturation rate.
func allFigures(watchers, watchRounds int) []Figure {
	watchArgs := []string{"--watchers", fmt.Sprint(watchers), "--rounds", fmt.Sprint(watchRounds)}
	fs := []Figure{
		{ID: "e3.setdata", Title: "setData throughput 64x8", Topology: Ensemble, Kind: LoadRun, Workload: "setdata", Args: sessionArgs, Metric: OpsPerSec, Unit: "ops/s", Target: 2.0, Long: true},
		{ID: "e3.setdata_p99_half", Title: "setData p99 at 1/2 ZK saturation", Topology: Ensemble, Kind: HalfSaturation, Workload: "setdata", Args: sessionArgs, Metric: P99, Unit: "ms", Lower: true, Target: 0.5, Long: true},
		{ID: "e3.getdata", Title: "getData throughput 64x8", Topology: Ensemble, Kind: LoadRun, Workload: "getdata", Args: sessionArgs, Metric: OpsPerSec, Unit: "ops/s", Target: 1.5, Long: true},
		{ID: "e3.connect", Title: "sessions established", Topology: Ensemble, Kind: LoadRun, Workload: "connect", Metric: OpsPerSec, Unit: "sessions/s", Target: 2.0, Long: true},
		{ID: "e3.watch", Title: fmt.Sprintf("watch fan-out, %d watchers (to last)", watchers), Topology: Ensemble, Kind: LoadRun, Workload: "watch", Args: watchArgs, Metric: P50, Unit: "ms", Lower: true, Target: 0.5},
	}
	for _, topo := range []Topology{Ensemble, Standalone} {
		prefix := "e3."
		if topo == Standalone {
			prefix = "sa."
		}
		for _, w := range []string{"create", "exists", "mixed", "churn", "multi"} {
			fs = append(fs, Figure{ID: prefix + w, Title: w + " throughput", Topology: topo, Kind: LoadRun, Workload: w, Metric: OpsPerSec, Unit: "ops/s"})
		}
	}
	fs = append(fs,
		Figure{ID: "sa.watch", Title: fmt.Sprintf("watch fan-out, %d watchers (to last)", watchers), Topology: Standalone, Kind: LoadRun, Workload: "watch", Args: watchArgs, Metric: P50, Unit: "ms", Lower: true},
		Figure{ID: "sa.ping", Title: "ping round trip (loopback + server)", Topology: Standalone, Kind: LoadRun, Workload: "ping", Args: []string{"--sessions", "1", "--inflight", "1"}, Metric: P50, Unit: "ms", Lower: true},
		Figure{ID: "e3.fill", Title: "fill rate", Topology: Ensemble, Kind: Lifecycle, Metric: FillRate, Unit: "creates/s"},
		Figure{ID: "e3.rss", Title: "RSS after fill (sum of members)", Topology: Ensemble, Kind: Lifecycle, Metric: RSSMiB, Unit: "MiB", Lower: true, Target: 0.33},
		Figure{ID: "e3.snapshot", Title: "snapshot size (newest, largest member)", Topology: Ensemble, Kind: Lifecycle, Metric: SnapshotMiB, Unit: "MiB", Lower: true},
		Figure{ID: "e3.datadir", Title: "data dir on disk (sum of members)", Topology: Ensemble, Kind: Lifecycle, Metric: DataDirMiB, Unit: "MiB", Lower: true},
		Figure{ID: "e3.restart", Title: "restart to first read of the tree", Topology: Ensemble, Kind: Lifecycle, Metric: RestartSec, Unit: "s", Lower: true, Target: 0.33},
		Figure{ID: "e3.failover", Title: "leader SIGKILL to first write", Topology: Ensemble, Kind: Lifecycle, Metric: FailoverSec, Unit: "s", Lower: true, Target: 0.5},
	)
	return fs
}

// selectFigures keeps the figures whose ID matches one of the
// comma-separated patterns of only: an ID, a path.Match glob ("e3.*",
// "*.setdata"), a topology ("e3", "sa") or "targets" (the figures with a
// target); all when only is "".
func selectFigures(all []Figure, only string) ([]Figure, error) {
	if strings.TrimSpace(only) == "" {
		return all, nil
	}
	var out []Figure
	used := map[string]bool{}
	for _, f := range all {
		for _, pat := range strings.Split(only, ",") {
			pat = strings.TrimSpace(pat)
			if pat == "" {
				continue
			}
			ok, err := path.Match(pat, f.ID)
			if err != nil {
				return nil, fmt.Errorf("--only %q: %w", pat, err)
			}
			if ok || strings.HasPrefix(f.ID, pat+".") || (pat == "targets" && f.Target != 0) {
				out = append(out, f)
				used[pat] = true
				break
			}
		}
	}
	for _, pat := range strings.Split(only, ",") {
		if pat = strings.TrimSpace(pat); pat != "" && !used[pat] {
			return nil, fmt.Errorf("--only %q matches no figure (figures: %s)", pat, figureIDs(all))
		}
	}
	return out, nil
}

func figureIDs(fs []Figure) string {
	ids := make([]string, len(fs))
	for i, f := range fs {
		ids[i] = f.ID
	}
	return strings.Join(ids, ", ")
}

// median of the samples (mean of the middle two for an even count); 0
// for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ratio is zkd/ZooKeeper, or 0 when either is missing.
func ratio(zkd, zk float64) float64 {
	if zkd == 0 || zk == 0 {
		return 0
	}
	return zkd / zk
}
