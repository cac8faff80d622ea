package loadgen

import (
	"fmt"
	"io"
	"time"

	"github.com/zkd/zkd/internal/histogram"
)

// Latency is the latency summary of a run, in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func summarize(h *histogram.Histogram) Latency {
	return Latency{
		P50:  ms(h.Quantile(0.50)),
		P99:  ms(h.Quantile(0.99)),
		P999: ms(h.Quantile(0.999)),
		Max:  ms(h.Max()),
		Mean: ms(h.Mean()),
	}
}

// Result is one run, as `zkd bench --json` prints it (one JSON line). The
// fields up to Time are the contract other tools parse; keep them.
type Result struct {
	Tool      string  `json:"tool"` // always "zkd-bench"
	Workload  string  `json:"workload"`
	Server    string  `json:"server"` // the connect string; empty for fsync
	Sessions  int     `json:"sessions"`
	Inflight  int     `json:"inflight"`
	Rate      float64 `json:"rate"` // target ops/s of an open-loop run; 0 = closed loop
	DurationS float64 `json:"duration_s"`
	// Ops counts measured ops that succeeded; Errors those that got a
	// server error or were lost with their connection.
	Ops       int64   `json:"ops"`
	Errors    int64   `json:"errors"`
	OpsPerSec float64 `json:"ops_per_sec"`
	LatencyMs Latency `json:"latency_ms"`
	DataSize  int     `json:"data_size"`
	Time      string  `json:"time"` // RFC 3339, when the run started

	WarmupS float64 `json:"warmup_s"`
	Keys    int     `json:"keys,omitempty"`   // key-based workloads
	Znodes  int64   `json:"znodes,omitempty"` // fill
	// Watchers and Rounds are the watch workload's; Notifications counts
	// the notifications received in measured rounds.
	Watchers      int    `json:"watchers,omitempty"`
	Rounds        int    `json:"rounds,omitempty"`
	Notifications int64  `json:"notifications,omitempty"`
	Dir           string `json:"dir,omitempty"` // fsync
	// DroppedSessions counts sessions that could not be opened or lost
	// their connection; Messages says why (and notes on cleanup).
	DroppedSessions int      `json:"dropped_sessions"`
	Messages        []string `json:"messages,omitempty"`
}

// WriteTable prints r as a short human table.
func (r *Result) WriteTable(w io.Writer) {
	shape := fmt.Sprintf("%dx%d", r.Sessions, r.Inflight)
	if r.Rate > 0 {
		shape += fmt.Sprintf(" @%.0f/s", r.Rate)
	}
	fmt.Fprintf(w, "%-9s %-16s %10s %7s %11s %9s %9s %9s %9s\n",
		"workload", "sessions x infl", "ops", "errors", "ops/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms")
	fmt.Fprintf(w, "%-9s %-16s %10d %7d %11.1f %9.3f %9.3f %9.3f %9.3f\n",
		r.Workload, shape, r.Ops, r.Errors, r.OpsPerSec,
		r.LatencyMs.P50, r.LatencyMs.P99, r.LatencyMs.P999, r.LatencyMs.Max)
	switch {
	case r.Watchers > 0:
		fmt.Fprintf(w, "watchers %d, rounds %d, notifications %d (latency: setData sent -> all watchers notified)\n",
			r.Watchers, r.Rounds, r.Notifications)
	case r.Znodes > 0:
		fmt.Fprintf(w, "znodes %d\n", r.Znodes)
	}
	if r.DroppedSessions > 0 {
		fmt.Fprintf(w, "dropped sessions: %d\n", r.DroppedSessions)
	}
	for _, m := range r.Messages {
		fmt.Fprintln(w, "note:", m)
	}
}
