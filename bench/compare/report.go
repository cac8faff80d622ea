package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// formatTable renders the comparison for humans: one row a figure with
// both medians, the ratio, the target and whether it is met.
func formatTable(res *Results) string {
	var b strings.Builder
	head := []string{"figure", "topology", "unit", "zkd", "ZooKeeper", "zkd/ZK", "target", "met?", "null server"}
	rows := [][]string{head}
	for _, f := range res.Figures {
		met := "-"
		if f.Met != nil {
			met = map[bool]string{true: "yes", false: "NO"}[*f.Met]
		} else if f.Target != 0 {
			met = "n/a"
		}
		target := "info"
		if f.Target != 0 {
			target = map[bool]string{true: "<= ", false: ">= "}[f.LowerIsBetter] + strconv.FormatFloat(f.Target, 'f', -1, 64)
		}
		floor := ""
		if f.Floor != nil {
			floor = num(Side{Samples: []Sample{*f.Floor}, Median: f.Floor.Value})
		}
		rows = append(rows, []string{f.Title, f.Topology, f.Unit, num(f.Zkd), num(f.ZooKeeper), ratioString(f.Ratio), target, met, floor})
	}
	widths := make([]int, len(head))
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, row := range rows {
		for i, c := range row {
			if i >= 3 && i <= 5 || i == 8 {
				fmt.Fprintf(&b, "%*s  ", widths[i], c) // numbers right-aligned
			} else {
				fmt.Fprintf(&b, "%-*s  ", widths[i], c)
			}
		}
		b.WriteString("\n")
	}
	for _, e := range res.Errors {
		fmt.Fprintf(&b, "error: %s\n", e)
	}
	return b.String()
}

// num is a median with a sensible number of digits, with the count of
// failed samples when there are any.
func num(s Side) string {
	failed := 0
	for _, x := range s.Samples {
		if x.Error != "" {
			failed++
		}
	}
	out := "-"
	if len(s.Samples) > failed {
		v := s.Median
		switch {
		case v >= 1000:
			out = strconv.FormatFloat(v, 'f', 0, 64)
		case v >= 10:
			out = strconv.FormatFloat(v, 'f', 1, 64)
		default:
			out = strconv.FormatFloat(v, 'f', 2, 64)
		}
	}
	if failed > 0 {
		out += fmt.Sprintf(" (%d failed)", failed)
	}
	return out
}

func ratioString(r float64) string {
	if r == 0 {
		return "-"
	}
	return strconv.FormatFloat(r, 'f', 2, 64)
}

// writeResults writes compare-<date>[-quick].json and .md into the
// results directory and returns their paths. A second run on the same day
// gets -2, -3, ...: results already there (perhaps committed) are never
// overwritten.
func writeResults(o options, res *Results, table string) ([]string, error) {
	if err := os.MkdirAll(o.resultsDir, 0o755); err != nil {
		return nil, err
	}
	name := "compare-" + res.Date
	if o.quick {
		name += "-quick"
	}
	base := filepath.Join(o.resultsDir, name)
	for n := 2; exists(base+".json") || exists(base+".md"); n++ {
		base = filepath.Join(o.resultsDir, fmt.Sprintf("%s-%d", name, n))
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(base+".json", append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(base+".md", []byte(markdown(res, table)), 0o644); err != nil {
		return nil, err
	}
	return []string{base + ".json", base + ".md"}, nil
}

// markdown is the human summary: the machine, the table and what ran.
func markdown(res *Results, table string) string {
	var b strings.Builder
	m := res.Machine
	fmt.Fprintf(&b, "# zkd vs Apache ZooKeeper, %s\n\n", res.Date)
	if res.Quick {
		b.WriteString("**Quick mode**: short runs to check the harness; the figures are not meaningful.\n\n")
	}
	fmt.Fprintf(&b, "- machine: %s, %d CPUs, %.1f GiB RAM, kernel %s, work dir on %s\n", m.CPUModel, m.NumCPU, float64(m.MemTotalBytes)/(1<<30), m.Kernel, m.FileSystem)
	fmt.Fprintf(&b, "- %s; %s; ZooKeeper package %s, heap: %s\n", m.Java, m.GoVersion, res.Servers["zookeeper_package"], res.Servers["zookeeper_heap"])
	fmt.Fprintf(&b, "- load average at start %s, at end %s; run took %v\n", m.LoadAvgStart, m.LoadAvgEnd, res.Took)
	if len(res.Fsync) > 0 {
		var f BenchResult
		if json.Unmarshal(res.Fsync, &f) == nil {
			fmt.Fprintf(&b, "- fsync of the work dir's disk: p50 %.2f ms, p99 %.2f ms\n", f.Latency.P50, f.Latency.P99)
		}
	}
	fmt.Fprintf(&b, "- options: %s\n\n", optionsLine(res.Options))
	b.WriteString("```\n" + table + "```\n\n")
	b.WriteString("Medians over the rounds; ratio = zkd / ZooKeeper. Raw samples and the commands run are in the JSON file of the same name.\n")
	b.WriteString("\"null server\": the same run once, before the rounds, against bench/internal/nullzk, which answers every request at once and keeps, logs and replicates nothing: the floor of the figure on this machine, with the load tool on the same cores.\n")
	if rounds := samplesTable(res); rounds != "" {
		b.WriteString("\nPer figure: the unmeasured warm-up runs before the first round (oldest first), then each round's sample.\n\n```\n" + rounds + "```\n")
	}
	return b.String()
}

// samplesTable lists, per figure with load runs, each server's warm-up
// figures and round samples, so a reader sees whether a server had
// settled before it was measured.
func samplesTable(res *Results) string {
	var b strings.Builder
	short := func(v float64) string {
		if v >= 1000 {
			return strconv.FormatFloat(v, 'f', 0, 64)
		}
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	list := func(xs []Sample) string {
		var out []string
		for _, x := range xs {
			if x.Error != "" {
				out = append(out, "failed")
				continue
			}
			out = append(out, short(x.Value))
		}
		return strings.Join(out, " ")
	}
	for _, f := range res.Figures {
		if len(f.Zkd.Warmup)+len(f.ZooKeeper.Warmup) == 0 && f.Workload == "" {
			continue // lifecycle figures: one sample a round
		}
		for _, side := range []struct {
			name string
			s    Side
		}{{"ZooKeeper", f.ZooKeeper}, {"zkd", f.Zkd}} {
			fmt.Fprintf(&b, "%-48s %-9s warm-up [%s]  rounds [%s] %s\n", f.Title+", "+f.Topology, side.name, list(side.s.Warmup), list(side.s.Samples), f.Unit)
		}
	}
	return b.String()
}

func optionsLine(o map[string]any) string {
	b, _ := json.Marshal(o)
	return "`" + string(b) + "`"
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
