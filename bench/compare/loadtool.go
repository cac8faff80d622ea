package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// BenchResult is the one JSON line `zkd bench ... --json` prints (the
// load tool's contract; fields it does not fill stay zero).
type BenchResult struct {
	Tool      string  `json:"tool"`
	Workload  string  `json:"workload"`
	Server    string  `json:"server"`
	Sessions  int     `json:"sessions"`
	Inflight  int     `json:"inflight"`
	Rate      float64 `json:"rate"`
	DurationS float64 `json:"duration_s"`
	Ops       int64   `json:"ops"`
	Errors    int64   `json:"errors"`
	OpsPerSec float64 `json:"ops_per_sec"`
	Latency   struct {
		P50  float64 `json:"p50"`
		P99  float64 `json:"p99"`
		P999 float64 `json:"p999"`
		Max  float64 `json:"max"`
		Mean float64 `json:"mean"`
	} `json:"latency_ms"`
	DataSize int    `json:"data_size"`
	Time     string `json:"time"`
	Znodes   int64  `json:"znodes,omitempty"`
	Watchers int    `json:"watchers,omitempty"`
	Rounds   int    `json:"rounds,omitempty"`
}

// Value is the number a metric picks from the result.
func (r *BenchResult) Value(m Metric) (float64, error) {
	switch m {
	case OpsPerSec, FillRate:
		return r.OpsPerSec, nil
	case P50:
		return r.Latency.P50, nil
	case P99:
		return r.Latency.P99, nil
	}
	return 0, fmt.Errorf("metric %s is not in a load-tool result", m)
}

// parseBenchOutput finds the result line in the tool's stdout: the last
// line that is a JSON object with "tool":"zkd-bench" (anything else the
// tool may print is skipped). raw is that line, kept for the results file.
func parseBenchOutput(stdout []byte) (res *BenchResult, raw json.RawMessage, err error) {
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var r BenchResult
		if json.Unmarshal(line, &r) != nil || r.Tool != "zkd-bench" {
			continue
		}
		res, raw = &r, append(json.RawMessage(nil), line...)
	}
	if res == nil {
		return nil, nil, errors.New("no zkd-bench JSON line in the output")
	}
	return res, raw, nil
}

// LoadTool runs `zkd bench` as a subprocess.
type LoadTool struct {
	Bin string
	// Log receives each command line, for the record.
	Log func(string)
}

// Run runs the tool with args (plus --json --no-progress) and returns
// its result. The run is bounded by timeout; on ctx's end the tool gets
// SIGTERM (then SIGKILL after 5 s).
func (t LoadTool) Run(ctx context.Context, timeout time.Duration, args ...string) (*BenchResult, json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	full := append(append([]string{"bench"}, args...), "--json", "--no-progress")
	if t.Log != nil {
		t.Log(t.Bin + " " + strings.Join(full, " "))
	}
	cmd := exec.CommandContext(ctx, t.Bin, full...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches us; we stop it
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	res, raw, perr := parseBenchOutput(stdout.Bytes())
	if runErr != nil {
		if ctx.Err() != nil {
			runErr = fmt.Errorf("%w (%v)", ctx.Err(), runErr)
		}
		return res, raw, fmt.Errorf("zkd bench %s: %w; stderr: %s", strings.Join(args, " "), runErr, tail(stderr.String(), 1500))
	}
	if perr != nil {
		return nil, nil, fmt.Errorf("zkd bench %s: %w; stdout: %s; stderr: %s", strings.Join(args, " "), perr, tail(stdout.String(), 500), tail(stderr.String(), 1000))
	}
	return res, raw, nil
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}
