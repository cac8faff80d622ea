package loadgen

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/zkd/zkd/internal/server"
	"github.com/zkd/zkd/internal/server/servertest"
	"github.com/zkd/zkd/internal/wire"
)

// startServer runs an in-process zkd on a loopback port picked at run
// time, without a per-IP connection limit (the watch workload opens one
// session per watcher).
func startServer(t *testing.T) (string, *server.Server) {
	t.Helper()
	return servertest.Start(t, "maxClientCnxns=0")
}

// verifyNoLeaks checks, after everything else the test registered has been
// cleaned up (the server included), that no goroutine was left behind.
func verifyNoLeaks(t *testing.T) {
	before := goleak.IgnoreCurrent() // taken now, not at cleanup time
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
}

// contractFields are the JSON fields `make bench-compare` parses.
var contractFields = []string{"tool", "workload", "server", "sessions", "inflight", "rate",
	"duration_s", "ops", "errors", "ops_per_sec", "latency_ms", "data_size", "time"}

func requireContractJSON(t *testing.T, r *Result) map[string]any {
	t.Helper()
	b, err := json.Marshal(r)
	require.NoError(t, err)
	require.NotContains(t, string(b), "\n", "one JSON line per run")
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	for _, f := range contractFields {
		require.Contains(t, m, f)
	}
	lat, ok := m["latency_ms"].(map[string]any)
	require.True(t, ok)
	for _, f := range []string{"p50", "p99", "p999", "max", "mean"} {
		require.Contains(t, lat, f)
	}
	require.Equal(t, "zkd-bench", m["tool"])
	_, err = time.Parse(time.RFC3339, m["time"].(string))
	require.NoError(t, err)
	return m
}

// TestEveryWorkloadRunsCleanlyAgainstZkd runs each workload briefly and
// checks that it did work without errors and reports the JSON contract.
// There are no timing assertions: the machine may be slow. Most runs are
// bounded by an op count, so "did work" does not depend on the scheduler;
// runs bounded by a duration (which a starved process may spend without
// sending anything) are checked for errors and shape only.
func TestEveryWorkloadRunsCleanlyAgainstZkd(t *testing.T) {
	verifyNoLeaks(t)
	addr, _ := startServer(t)
	base := Config{
		Servers: []string{addr}, Sessions: 3, Inflight: 4, Ops: 40,
		Warmup: 50 * time.Millisecond, DataSize: 32, Keys: 25, Watchers: 4, Rounds: 3, Znodes: 120,
		Root: "/bench-test",
	}
	cases := []struct {
		workload string
		tweak    func(*Config)
	}{
		{"create", nil},
		{"setdata", nil},
		{"getdata", nil},
		{"exists", nil},
		{"mixed", nil},
		{"churn", nil},
		{"multi", nil},
		{"watch", nil},
		{"connect", nil},
		{"fill", nil},
		{"ping", func(c *Config) { c.Sessions, c.Inflight = 1, 1 }},
		{"getdata for a duration", func(c *Config) { c.Workload, c.Ops, c.Duration = "getdata", 0, 200*time.Millisecond }},
		{"setdata open loop at a fixed rate", func(c *Config) { c.Workload, c.Rate = "setdata", 500 }},
		{"connect for a duration", func(c *Config) { c.Workload, c.Ops, c.Duration = "connect", 0, 200*time.Millisecond }},
		{"fsync", func(c *Config) { c.Dir, c.Count = t.TempDir(), 20 }},
	}
	for _, c := range cases {
		t.Run(c.workload, func(t *testing.T) {
			cfg := base
			cfg.Workload = c.workload
			if c.tweak != nil {
				c.tweak(&cfg)
			}
			r, err := Run(context.Background(), cfg)
			require.NoError(t, err)
			require.Zero(t, r.Errors, "messages: %v", r.Messages)
			require.Zero(t, r.DroppedSessions)
			if cfg.Duration == 0 || cfg.Workload == "fill" || cfg.Workload == "watch" || cfg.Workload == "fsync" {
				require.Positive(t, r.Ops)
				require.Positive(t, r.LatencyMs.Max)
			}
			m := requireContractJSON(t, r)
			require.Equal(t, cfg.Workload, m["workload"])
			switch cfg.Workload {
			case "fill":
				require.Equal(t, cfg.Znodes, r.Ops)
				require.Contains(t, m, "znodes")
			case "watch":
				require.Equal(t, int64(cfg.Rounds), r.Ops)
				require.Equal(t, int64(cfg.Rounds*cfg.Watchers), r.Notifications)
				require.Contains(t, m, "watchers")
				require.Contains(t, m, "rounds")
			}
			if cfg.Ops > 0 && cfg.Workload != "fill" && cfg.Workload != "watch" && cfg.Workload != "fsync" {
				require.Equal(t, cfg.Ops, r.Ops) // fill, watch and fsync count znodes, rounds, appends
			}
		})
	}

	// What the runs created is gone, except fill's tree, which is meant to
	// stay.
	c, _, err := dial(context.Background(), addr, 5*time.Second, loadBufSize)
	require.NoError(t, err)
	defer c.close()
	code, body, err := c.call(wire.OpGetChildren, &wire.GetChildrenRequest{Path: base.Root})
	require.NoError(t, err)
	require.Equal(t, wire.OK, code)
	var kids wire.GetChildrenResponse
	require.NoError(t, wire.Unmarshal(body, 0, &kids))
	require.Equal(t, []string{"fill"}, kids.Children)
}

// TestLostServerIsCountedNotFatal stops the server in the middle of a run:
// the run ends with errors and notes, not a failure.
func TestLostServerIsCountedNotFatal(t *testing.T) {
	verifyNoLeaks(t)
	addr, srv := startServer(t)
	stopped := make(chan struct{})
	flowing := make(chan struct{}, 1)
	var (
		r   *Result
		err error
	)
	go func() {
		defer close(stopped)
		r, err = Run(context.Background(), Config{Servers: []string{addr}, Workload: "getdata",
			Sessions: 2, Inflight: 4, Duration: time.Minute, Keys: 10, Root: "/lost",
			Progress: func(ops int64, _ time.Duration) {
				if ops > 0 {
					select {
					case flowing <- struct{}{}:
					default:
					}
				}
			}})
	}()
	<-flowing // load is going: now take the server away
	srv.Stop()
	<-stopped
	require.NoError(t, err)
	require.Equal(t, 2, r.DroppedSessions)
	require.NotEmpty(t, r.Messages)
}
