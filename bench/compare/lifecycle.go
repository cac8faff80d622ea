package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/zkd/zkd/bench/internal/rawclient"
	"github.com/zkd/zkd/bench/internal/servers"
	"github.com/zkd/zkd/internal/wire"
)

// markerPath is the known node: created after the fill, so a server that
// can read it has loaded the whole tree; written through a surviving
// member after the leader is killed.
const markerPath = "/zkd-compare-marker"

// lifecycle runs on a fresh 3-node deployment of server: fill the tree
// (when a fill, memory, snapshot or restart figure is selected), read the
// memory, restart every member and time the first read of the marker,
// read the snapshot size, then SIGKILL the leader and time the first
// write through another member.
func (r *runner) lifecycle(ctx context.Context, round int, dir, server string, figs []Figure) (err error) {
	want := map[Metric]Figure{}
	for _, f := range figs {
		want[f.Metric] = f
	}
	fill := false
	for _, m := range []Metric{FillRate, RSSMiB, SnapshotMiB, DataDirMiB, RestartSec} {
		if _, ok := want[m]; ok {
			fill = true
		}
	}
	fmt.Printf(" lifecycle %s (3 nodes)\n", server)
	c, err := servers.NewCluster(r.specs[server], dir, 3, r.o.timing)
	if err != nil {
		return err
	}
	c.StopTimeout = 30 * time.Second
	defer c.Stop()
	// fail records err as every remaining figure's sample: one server's
	// failure does not end the run, an interrupt does.
	done := map[Metric]bool{}
	put := func(m Metric, v float64, raw []byte) {
		if f, ok := want[m]; ok {
			r.record(f, server, Sample{Round: round, Value: v, Bench: raw})
			done[m] = true
		}
	}
	defer func() {
		if err == nil || ctx.Err() != nil {
			return
		}
		msg := fmt.Sprintf("%v\n%s", err, c.Logs(2000))
		for _, f := range figs {
			if !done[f.Metric] {
				r.record(f, server, Sample{Round: round, Error: msg})
			}
		}
		err = nil
	}()

	if err := c.Start(); err != nil {
		return err
	}
	if err := c.WaitServing(ctx, 2*time.Minute); err != nil {
		return err
	}
	if fill {
		res, raw, err := r.tool.Run(ctx, 60*time.Minute, "--server", c.ConnectString(), "--workload", "fill",
			"--znodes", fmt.Sprint(r.o.znodes), "--data-size", "100", "--root", "/zkd-bench-fill")
		if err != nil {
			return fmt.Errorf("fill: %w", err)
		}
		if res.Errors > 0 {
			return fmt.Errorf("fill: %d errors", res.Errors)
		}
		put(FillRate, res.OpsPerSec, raw)
	}
	if err := writeMarker(ctx, c.ConnectString(), wire.OpCreate); err != nil {
		return fmt.Errorf("create %s: %w", markerPath, err)
	}
	if fill {
		rss, err := c.RSS()
		if err != nil {
			return err
		}
		put(RSSMiB, mib(rss), nil)

		c.Stop()
		if err := c.Start(); err != nil {
			return err
		}
		started := c.Members[0].Proc().Started
		if err := readMarker(ctx, c, 10*time.Minute); err != nil {
			return fmt.Errorf("restart: %w", err)
		}
		put(RestartSec, time.Since(started).Seconds(), nil)
		// The snapshot written at or after the restart holds the whole
		// tree (both servers snapshot when a member loads or syncs).
		var largest, usage int64
		for _, m := range c.Members {
			if _, size, err := servers.NewestSnapshot(m.DataDir); err == nil && size > largest {
				largest = size
			}
			usage += servers.DirUsage(m.DataDir)
		}
		if largest > 0 {
			put(SnapshotMiB, mib(largest), nil)
		}
		put(DataDirMiB, mib(usage), nil)
		// The failover starts from a settled ensemble.
		if err := c.WaitServing(ctx, 5*time.Minute); err != nil {
			return err
		}
	}
	if _, ok := want[FailoverSec]; ok {
		took, err := failover(ctx, c)
		if err != nil {
			return fmt.Errorf("failover: %w", err)
		}
		put(FailoverSec, took.Seconds(), nil)
	}
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// writeMarker creates (or sets) the marker through the first member of
// the connect string that takes it, retrying for a minute.
func writeMarker(ctx context.Context, connect string, op wire.OpCode) error {
	deadline := time.Now().Add(time.Minute)
	var last error
	for time.Now().Before(deadline) {
		for _, addr := range strings.Split(connect, ",") {
			if err := tryWrite(addr, op); err == nil {
				return nil
			} else {
				last = err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return last
}

// tryWrite opens a fresh session on addr and writes the marker once.
func tryWrite(addr string, op wire.OpCode) error {
	c, err := rawclient.Dial(addr, time.Second, 30000)
	if err != nil {
		return err
	}
	var code wire.Code
	switch op {
	case wire.OpCreate:
		code, err = c.Call(op, &wire.CreateRequest{Path: markerPath, Data: []byte("marker"), ACL: wire.OpenACLUnsafe}, &wire.CreateResponse{}, 5*time.Second)
		if code == wire.ErrNodeExists {
			code = wire.OK
		}
	default:
		code, err = c.Call(wire.OpSetData, &wire.SetDataRequest{Path: markerPath, Data: []byte("failover"), Version: -1}, &wire.SetDataResponse{}, 5*time.Second)
	}
	if err != nil {
		c.Abort()
		return err
	}
	c.Close()
	if code != wire.OK {
		return fmt.Errorf("%s: %v", addr, code)
	}
	return nil
}

// readMarker polls every member with fresh sessions until one reads the
// marker.
func readMarker(ctx context.Context, c *servers.Cluster, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ok := make(chan struct{}, len(c.Members))
	for _, m := range c.Members {
		go func() {
			for ctx.Err() == nil {
				if cl, err := rawclient.Dial(m.Addr, time.Second, 30000); err == nil {
					code, err := cl.Call(wire.OpGetData, &wire.GetDataRequest{Path: markerPath}, &wire.GetDataResponse{}, 5*time.Second)
					if err == nil && code == wire.OK {
						cl.Close()
						ok <- struct{}{}
						return
					}
					cl.Abort()
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	select {
	case <-ok:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("no member served %s within %v: %w", markerPath, timeout, ctx.Err())
	}
}

// failover SIGKILLs the leader (srvr's Mode) and returns the time until
// a setData on a fresh session through another member succeeds.
func failover(ctx context.Context, c *servers.Cluster) (time.Duration, error) {
	var leader *servers.Member
	for deadline := time.Now().Add(time.Minute); leader == nil; {
		if leader = c.Leader(); leader == nil {
			if time.Now().After(deadline) {
				return 0, errors.New("no member reports Mode: leader")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	var others []string
	for _, m := range c.Members {
		if m != leader {
			others = append(others, m.Addr)
		}
	}
	killed := time.Now()
	leader.Proc().Kill()
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if time.Since(killed) > 5*time.Minute {
			return 0, errors.New("no write succeeded within 5 minutes of the leader's SIGKILL")
		}
		if tryWrite(others[i%len(others)], wire.OpSetData) == nil {
			return time.Since(killed), nil
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// debianVersion is the installed version of a Debian package, or "".
func debianVersion(pkg string) string {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", pkg).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
