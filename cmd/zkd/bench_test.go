package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// runBenchCmd runs `zkd bench args...` in-process.
func runBenchCmd(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := benchCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	require.NoError(t, cmd.Execute(), "stderr: %s", errOut.String())
	return out.String(), errOut.String()
}

// TestBenchJSONIsOneLineOnStdout checks the contract `make bench-compare`
// relies on: with --json, stdout is exactly one JSON object with the agreed
// fields, and the human table goes to stderr.
func TestBenchJSONIsOneLineOnStdout(t *testing.T) {
	addr := startInProcess(t)
	for _, args := range [][]string{
		{"--server", addr, "--workload", "getdata", "--sessions", "2", "--duration", "150ms", "--warmup", "0s", "--keys", "10", "--json", "--no-progress"},
		{"fsync", "--dir", t.TempDir(), "--count", "10", "--json", "--no-progress"},
	} {
		stdout, stderr := runBenchCmd(t, args...)
		require.Equal(t, 1, strings.Count(stdout, "\n"), "stdout: %q", stdout)
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(stdout), &m))
		for _, f := range []string{"tool", "workload", "server", "sessions", "inflight", "rate", "duration_s",
			"ops", "errors", "ops_per_sec", "latency_ms", "data_size", "time"} {
			require.Contains(t, m, f)
		}
		require.Positive(t, m["ops"])
		require.Contains(t, stderr, "p99.9 ms")
	}
}

func TestBenchWithoutJSONPrintsTheTableOnStdout(t *testing.T) {
	addr := startInProcess(t)
	stdout, _ := runBenchCmd(t, "--server", addr, "--workload", "ping", "--duration", "100ms", "--warmup", "0s", "--no-progress")
	require.Contains(t, stdout, "ping")
	require.Contains(t, stdout, "1x1")
}
