package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMedianOfOddAndEvenCountsAndNone(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{5}, 5},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestMedianDoesNotReorderItsInput(t *testing.T) {
	in := []float64{3, 1, 2}
	median(in)
	if in[0] != 3 || in[1] != 1 || in[2] != 2 {
		t.Fatalf("input reordered: %v", in)
	}
}

func TestTargetsCompareTheRatioInTheRightDirection(t *testing.T) {
	throughput := Figure{Target: 2.0}
	latency := Figure{Target: 0.5, Lower: true}
	info := Figure{}
	for _, tc := range []struct {
		name     string
		f        Figure
		ratio    float64
		met, has bool
	}{
		{"throughput twice ZooKeeper's meets >= 2", throughput, 2.0, true, true},
		{"throughput 1.9x misses >= 2", throughput, 1.9, false, true},
		{"latency at 0.4 meets <= 0.5", latency, 0.4, true, true},
		{"latency at 0.6 misses <= 0.5", latency, 0.6, false, true},
		{"no ratio meets nothing", latency, 0, false, true},
		{"information has no target", info, 3, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			met, has := tc.f.Met(tc.ratio)
			if met != tc.met || has != tc.has {
				t.Fatalf("Met(%v) = %v, %v; want %v, %v", tc.ratio, met, has, tc.met, tc.has)
			}
		})
	}
	if got := ratio(0, 5); got != 0 {
		t.Errorf("ratio with a missing zkd median = %v, want 0", got)
	}
	if got := ratio(6, 3); got != 2 {
		t.Errorf("ratio(6, 3) = %v, want 2", got)
	}
}

func TestParseBenchOutputTakesTheContractLine(t *testing.T) {
	out := `connecting 64 sessions...
{"not":"ours"}
{"tool":"zkd-bench","workload":"setdata","server":"127.0.0.1:1","sessions":64,"inflight":8,"rate":0,"duration_s":10.0,"ops":123456,"errors":2,"ops_per_sec":12345.6,"latency_ms":{"p50":1.5,"p99":9.25,"p999":20,"max":31,"mean":2},"data_size":100,"time":"2026-11-22T10:00:00Z"}
`
	res, raw, err := parseBenchOutput([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if res.Workload != "setdata" || res.Sessions != 64 || res.Errors != 2 || res.OpsPerSec != 12345.6 || res.Latency.P99 != 9.25 {
		t.Fatalf("parsed %+v", res)
	}
	if !strings.HasPrefix(string(raw), `{"tool":"zkd-bench"`) {
		t.Fatalf("raw line %q", raw)
	}
	if v, _ := res.Value(P99); v != 9.25 {
		t.Fatalf("P99 value %v", v)
	}
	if _, _, err := parseBenchOutput([]byte("no json here\n")); err == nil {
		t.Fatal("output without a result line parsed")
	}
}

func TestParseBenchOutputReadsWatchAndFillFields(t *testing.T) {
	out := `{"tool":"zkd-bench","workload":"watch","watchers":1000,"rounds":20,"latency_ms":{"p50":12,"p99":30,"p999":30,"max":30,"mean":13}}
{"tool":"zkd-bench","workload":"fill","znodes":1000000,"ops_per_sec":25000}`
	res, _, err := parseBenchOutput([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if res.Workload != "fill" || res.Znodes != 1000000 {
		t.Fatalf("want the last line (fill), got %+v", res)
	}
	res, _, _ = parseBenchOutput([]byte(strings.Split(out, "\n")[0]))
	if res.Watchers != 1000 || res.Rounds != 20 || res.Latency.P50 != 12 {
		t.Fatalf("watch fields: %+v", res)
	}
}

func TestOnlySelectsByIDGlobTopologyAndTargets(t *testing.T) {
	all := allFigures(1000, 20)
	ids := func(only string) string {
		fs, err := selectFigures(all, only)
		if err != nil {
			t.Fatal(err)
		}
		return figureIDs(fs)
	}
	if got := ids("e3.setdata"); got != "e3.setdata" {
		t.Errorf("exact ID selected %q (a bare ID must not pick e3.setdata_p99_half)", got)
	}
	if got := ids("*.churn"); got != "e3.churn, sa.churn" {
		t.Errorf("glob selected %q", got)
	}
	for _, f := range must(selectFigures(all, "sa")) {
		if f.Topology != Standalone {
			t.Errorf("sa selected %s", f.ID)
		}
	}
	for _, f := range must(selectFigures(all, "targets")) {
		if f.Target == 0 {
			t.Errorf("targets selected %s without a target", f.ID)
		}
	}
	if len(must(selectFigures(all, ""))) != len(all) {
		t.Error("empty --only does not select everything")
	}
	if _, err := selectFigures(all, "e3.nosuch"); err == nil {
		t.Error("an unknown figure was accepted")
	}
}

func must(fs []Figure, err error) []Figure {
	if err != nil {
		panic(err)
	}
	return fs
}

func TestEveryIssueTargetIsAFigure(t *testing.T) {
	want := map[string]float64{
		"e3.setdata": 2.0, "e3.getdata": 1.5, "e3.setdata_p99_half": 0.5, "e3.connect": 2.0,
		"e3.watch": 0.5, "e3.rss": 0.33, "e3.restart": 0.33, "e3.failover": 0.5,
	}
	seen := map[string]bool{}
	for _, f := range allFigures(1000, 20) {
		if seen[f.ID] {
			t.Errorf("figure %s listed twice", f.ID)
		}
		seen[f.ID] = true
		if target, ok := want[f.ID]; ok && f.Target != target {
			t.Errorf("%s target %v, want %v", f.ID, f.Target, target)
		}
	}
	for id := range want {
		if !seen[id] {
			t.Errorf("no figure %s", id)
		}
	}
}

func TestQuickModeShortensOnlyWhatIsNotGiven(t *testing.T) {
	o, err := parseFlags([]string{"--quick", "--rounds", "3"})
	if err != nil {
		t.Fatal(err)
	}
	if o.rounds != 3 || o.duration != 2*time.Second || o.znodes != 100000 {
		t.Fatalf("quick with --rounds 3: rounds %d duration %v znodes %d", o.rounds, o.duration, o.znodes)
	}
	o, _ = parseFlags(nil)
	if o.rounds != 3 || o.duration != 10*time.Second || o.znodes != 1000000 || o.timing.TickTime != 2000 {
		t.Fatalf("defaults: %+v", o)
	}
}

func TestTableShowsMediansRatioAndTarget(t *testing.T) {
	met := true
	res := &Results{Figures: []*FigureResult{{
		Title: "setData throughput 64x8", Topology: "3 nodes", Unit: "ops/s", Target: 2,
		Zkd: Side{Samples: []Sample{{Value: 30000}}, Median: 30000}, ZooKeeper: Side{Samples: []Sample{{Value: 10000}}, Median: 10000},
		Ratio: 3, Met: &met,
	}}}
	table := formatTable(res)
	for _, want := range []string{"30000", "10000", "3.00", ">= 2", "yes"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

func TestTableShowsTheNullServerFloorWhereMeasured(t *testing.T) {
	res := &Results{Figures: []*FigureResult{
		{Title: "sessions established", Topology: "3 nodes", Unit: "sessions/s", Floor: &Sample{Value: 14123}},
		{Title: "getData throughput 64x8", Topology: "3 nodes", Unit: "ops/s"},
	}}
	lines := strings.Split(formatTable(res), "\n")
	if !strings.Contains(lines[0], "null server") {
		t.Fatalf("header lacks the null server column: %q", lines[0])
	}
	if !strings.HasSuffix(strings.TrimSpace(lines[1]), "14123") {
		t.Errorf("connect row lacks its floor: %q", lines[1])
	}
	if strings.Contains(lines[2], "14123") {
		t.Errorf("a figure without a floor shows one: %q", lines[2])
	}
}

// A second run on the same day must not overwrite the first one's files
// (they may be committed already).
func TestWriteResultsNeverOverwrites(t *testing.T) {
	o := options{resultsDir: t.TempDir()}
	res := &Results{Date: "2026-11-22"}
	var got []string
	for i := 0; i < 3; i++ {
		paths, err := writeResults(o, res, "table")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, filepath.Base(paths[0]), filepath.Base(paths[1]))
	}
	want := []string{"compare-2026-11-22.json", "compare-2026-11-22.md",
		"compare-2026-11-22-2.json", "compare-2026-11-22-2.md",
		"compare-2026-11-22-3.json", "compare-2026-11-22-3.md"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("files %v, want %v", got, want)
	}
}

func TestIdleWait(t *testing.T) {
	w := idleWait{window: time.Millisecond, idle: 0.05, max: 50 * time.Millisecond}
	busyFor := func(windows int) func() time.Duration {
		var used time.Duration
		calls := 0
		return func() time.Duration {
			calls++
			if calls <= windows+1 {
				used += time.Millisecond // a whole CPU over the window
			}
			return used
		}
	}
	tests := []struct {
		name     string
		cpu      func() time.Duration
		wantIdle bool
	}{
		{"idle at once", busyFor(0), true},
		{"busy for three windows, then idle", busyFor(3), true},
		{"never idle: gives up", busyFor(1 << 30), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			waited, idle := w.wait(context.Background(), tc.cpu)
			if idle != tc.wantIdle {
				t.Fatalf("idle = %v after %v, want %v", idle, waited, tc.wantIdle)
			}
			if !idle && waited < w.max {
				t.Fatalf("gave up after %v, before max %v", waited, w.max)
			}
		})
	}
}

func TestWarmUpChunks(t *testing.T) {
	tests := []struct {
		total     time.Duration
		workload  string
		wantN     int
		wantChunk time.Duration
	}{
		{0, "setdata", 0, 0},
		{25 * time.Second, "setdata", 5, 5 * time.Second},
		{12 * time.Second, "connect", 3, 4 * time.Second},
		{3 * time.Second, "create", 1, 3 * time.Second},
		{5 * time.Second, "watch", 3, 0},
		{0, "watch", 0, 0},
	}
	for _, tc := range tests {
		n, chunk := warmUpChunks(tc.total, tc.workload)
		if n != tc.wantN || chunk != tc.wantChunk {
			t.Errorf("warmUpChunks(%v, %s) = %d x %v, want %d x %v", tc.total, tc.workload, n, chunk, tc.wantN, tc.wantChunk)
		}
	}
}
