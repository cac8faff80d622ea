package main

import (
	"fmt"
	"strconv"
	"strings"
)

// metric is one row of the table.
type metric struct {
	name string
	get  func(r result) float64
	unit string
	prec int
}

var metrics = []metric{
	{"fill time", func(r result) float64 { return r.FillSeconds }, "s", 1},
	{"fill rate", func(r result) float64 { return r.FillOpsPerSec }, "creates/s", 0},
	{"RSS after fill", func(r result) float64 { return r.RSSAfterFillMB }, "MiB", 0},
	{"SIGTERM to exit", func(r result) float64 { return r.StopSeconds }, "s", 2},
	{"restart to first read", func(r result) float64 { return r.RestartSeconds }, "s", 2},
	{"RSS after restart", func(r result) float64 { return r.RSSRestartMB }, "MiB", 0},
	{"snapshot size", func(r result) float64 { return r.SnapshotMB }, "MiB", 1},
	{"data dir on disk", func(r result) float64 { return r.DataDirMB }, "MiB", 0},
	{"setData throughput", func(r result) float64 { return r.WriteOpsPerSec }, "ops/s", 0},
	{"setData p50", func(r result) float64 { return r.WriteP50Ms }, "ms", 2},
	{"setData p99", func(r result) float64 { return r.WriteP99Ms }, "ms", 2},
	{"setData p99.9", func(r result) float64 { return r.WriteP999Ms }, "ms", 2},
	{"RSS after writes", func(r result) float64 { return r.RSSAfterWriteMB }, "MiB", 0},
}

// reference picks the ZooKeeper result zkd is compared with: the last
// ZooKeeper run that completed.
func reference(results []result) (zkd, zk *result) {
	for i := range results {
		r := &results[i]
		switch {
		case r.Server == "zkd" && zkd == nil:
			zkd = r
		case r.Server == "zookeeper" && r.Error == "":
			zk = r
		}
	}
	return zkd, zk
}

type ratio struct {
	Metric string  `json:"metric"`
	Unit   string  `json:"unit"`
	Ratio  float64 `json:"zkd_over_zookeeper"`
}

func ratios(results []result) []ratio {
	z, j := reference(results)
	if z == nil || j == nil || z.Error != "" {
		return nil
	}
	var out []ratio
	for _, m := range metrics {
		if d := m.get(*j); d != 0 {
			out = append(out, ratio{m.name, m.unit, m.get(*z) / d})
		}
	}
	return out
}

func formatTable(results []result) string {
	var b strings.Builder
	cols := make([]string, len(results))
	for i, r := range results {
		cols[i] = r.Server
		if r.Heap != "" {
			cols[i] += " " + shortHeap(r.Heap)
		}
		if r.Error != "" {
			cols[i] += " (failed)"
		}
	}
	z, j := reference(results)
	fmt.Fprintf(&b, "%-24s %-10s", "metric", "unit")
	for _, c := range cols {
		fmt.Fprintf(&b, " %22s", c)
	}
	fmt.Fprintf(&b, " %14s\n", "zkd/ZooKeeper")
	for _, m := range metrics {
		fmt.Fprintf(&b, "%-24s %-10s", m.name, m.unit)
		for _, r := range results {
			fmt.Fprintf(&b, " %22s", strconv.FormatFloat(m.get(r), 'f', m.prec, 64))
		}
		ratio := "-"
		if z != nil && j != nil && z.Error == "" && m.get(*j) != 0 {
			ratio = strconv.FormatFloat(m.get(*z)/m.get(*j), 'f', 2, 64)
		}
		fmt.Fprintf(&b, " %14s\n", ratio)
	}
	for _, r := range results {
		if r.Error != "" {
			fmt.Fprintf(&b, "%s failed: %s\n", r.Server, firstLine(r.Error))
		}
	}
	return b.String()
}

func shortHeap(h string) string {
	if strings.HasPrefix(h, "-Xmx") {
		return "(" + h + ")"
	}
	return "(default heap)"
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
