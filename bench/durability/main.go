// Command durability compares zkd with Apache ZooKeeper 3.8 on the same
// machine in one run: filling a large tree (fill time, memory), restarting
// on it (time to serve reads, memory, snapshot size) and fsynced write
// throughput with latency. Run from the repository root:
//
//	go run ./bench/durability
//
// It prints a table and writes bench/results/durability-<date>.json.
// Servers listen on loopback only and are stopped by PID.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkd/zkd/bench/internal/rawclient"
	"github.com/zkd/zkd/bench/internal/servers"
	"github.com/zkd/zkd/internal/loopback"
	"github.com/zkd/zkd/internal/wire"
)

type options struct {
	parents, children int
	dataSize          int
	fillConns         int
	fillWindow        int
	writeSessions     int
	writeWindow       int
	writeDuration     time.Duration
	warmup            time.Duration
	servers           string
	zkdBin            string
	workDir           string
	resultsDir        string
	keep              bool
}

// result is what one server measured.
type result struct {
	Server          string  `json:"server"`
	Heap            string  `json:"heap,omitempty"`
	Error           string  `json:"error,omitempty"`
	Nodes           int     `json:"nodes_created"`
	FillSeconds     float64 `json:"fill_seconds"`
	FillOpsPerSec   float64 `json:"fill_creates_per_sec"`
	RSSAfterFillMB  float64 `json:"rss_after_fill_mib"`
	StopSeconds     float64 `json:"sigterm_to_exit_seconds"`
	RestartSeconds  float64 `json:"restart_to_first_read_seconds"`
	RSSRestartMB    float64 `json:"rss_after_restart_mib"`
	SnapshotFile    string  `json:"snapshot_file"`
	SnapshotMB      float64 `json:"snapshot_mib"`
	DataDirMB       float64 `json:"data_dir_mib"`
	WriteOpsPerSec  float64 `json:"write_ops_per_sec"`
	WriteP50Ms      float64 `json:"write_p50_ms"`
	WriteP99Ms      float64 `json:"write_p99_ms"`
	WriteP999Ms     float64 `json:"write_p999_ms"`
	WriteErrors     int64   `json:"write_errors"`
	RSSAfterWriteMB float64 `json:"rss_after_writes_mib"`
}

func main() {
	var o options
	flag.IntVar(&o.parents, "parents", 1000, "parent znodes")
	flag.IntVar(&o.children, "children", 1000, "children per parent")
	flag.IntVar(&o.dataSize, "data", 100, "bytes of data per znode (fill and writes)")
	flag.IntVar(&o.fillConns, "fill-conns", 16, "connections filling the tree")
	flag.IntVar(&o.fillWindow, "fill-window", 64, "creates in flight per fill connection")
	flag.IntVar(&o.writeSessions, "write-sessions", 64, "sessions in the write test")
	flag.IntVar(&o.writeWindow, "write-window", 8, "setData requests in flight per session")
	flag.DurationVar(&o.writeDuration, "write-duration", 15*time.Second, "measured write test duration")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "unmeasured writes before the write test")
	flag.StringVar(&o.servers, "servers", "zkd,zookeeper", "servers to run, in order")
	flag.StringVar(&o.zkdBin, "zkd", "", "zkd binary (default: build ./cmd/zkd into the work dir)")
	flag.StringVar(&o.workDir, "dir", "", "work directory (default: a new temp dir, removed afterwards)")
	flag.StringVar(&o.resultsDir, "results", "bench/results", "where the JSON result goes")
	flag.BoolVar(&o.keep, "keep", false, "keep data directories")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "durability:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	began := time.Now()
	if o.workDir == "" {
		d, err := os.MkdirTemp("", "zkd-durability-")
		if err != nil {
			return err
		}
		o.workDir = d
		if !o.keep {
			defer os.RemoveAll(d)
		}
	}
	if o.zkdBin == "" {
		o.zkdBin = filepath.Join(o.workDir, "zkd")
		fmt.Printf("building zkd into %s\n", o.zkdBin)
		cmd := exec.Command("go", "build", "-o", o.zkdBin, "./cmd/zkd")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build zkd (run from the repository root): %w", err)
		}
	}
	m := servers.MachineInfo(o.workDir)
	m.LoadAvgStart = servers.LoadAvg()
	fmt.Printf("machine: %d CPUs (%s), %.1f GiB RAM, kernel %s, %s on %s; load %s\n",
		m.NumCPU, m.CPUModel, float64(m.MemTotalBytes)/(1<<30), m.Kernel, m.GoVersion, m.FileSystem, m.LoadAvgStart)
	fmt.Printf("tree: %d parents x %d children, %d-byte data; fill: %d conns x %d in flight; writes: %d sessions x %d in flight, %v (after %v warm-up), forceSync=yes\n\n",
		o.parents, o.children, o.dataSize, o.fillConns, o.fillWindow, o.writeSessions, o.writeWindow, o.writeDuration, o.warmup)

	var results []result
	for _, kind := range strings.Split(o.servers, ",") {
		switch strings.TrimSpace(kind) {
		case "zkd":
			results = append(results, measure(o, servers.Zkd(o.zkdBin)))
		case "zookeeper":
			r := measure(o, zooKeeperSpec(""))
			results = append(results, r)
			if r.Error != "" && strings.Contains(r.Error, "OutOfMemoryError") {
				fmt.Println("ZooKeeper ran out of heap with the default JVM settings; retrying with -Xmx2g")
				results = append(results, measure(o, zooKeeperSpec("2g")))
			}
		default:
			return fmt.Errorf("unknown server %q", kind)
		}
	}
	m.LoadAvgEnd = servers.LoadAvg()
	table := formatTable(results)
	fmt.Println()
	fmt.Print(table)
	fmt.Printf("load average at start %s, at end %s; whole run %v\n", m.LoadAvgStart, m.LoadAvgEnd, time.Since(began).Round(time.Second))

	out := struct {
		Date    string          `json:"date"`
		Machine servers.Machine `json:"machine"`
		Options any             `json:"options"`
		Results []result        `json:"results"`
		Ratios  []ratio         `json:"ratios_zkd_over_zookeeper"`
		Table   []string        `json:"table"`
		Took    string          `json:"took"`
		Started time.Time       `json:"started"`
	}{
		Date: began.Format("2006-01-02"), Machine: m, Results: results, Ratios: ratios(results),
		Table: strings.Split(strings.TrimRight(table, "\n"), "\n"), Took: time.Since(began).Round(time.Second).String(), Started: began,
		Options: map[string]any{
			"parents": o.parents, "children": o.children, "data_bytes": o.dataSize,
			"fill_conns": o.fillConns, "fill_window": o.fillWindow,
			"write_sessions": o.writeSessions, "write_window": o.writeWindow,
			"write_seconds": o.writeDuration.Seconds(), "warmup_seconds": o.warmup.Seconds(),
			"forceSync": "yes (default)", "snapCount": "100000 (default)",
		},
	}
	if err := os.MkdirAll(o.resultsDir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(o.resultsDir, "durability-"+began.Format("2006-01-02")+".json")
	b, _ := json.MarshalIndent(out, "", "  ")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s\n", path)
	return nil
}

// measure runs the whole sequence on one server kind. Errors end up in
// the result, so the other server is still measured.
func measure(o options, spec servers.Spec) result {
	r := result{Server: spec.Kind, Heap: spec.Heap}
	if strings.Contains(spec.Heap, "default") {
		r.Heap += fmt.Sprintf(", MaxHeapSize %s", servers.JVMDefaultMaxHeap())
	}
	if err := measureInto(o, spec, &r); err != nil {
		r.Error = err.Error()
		fmt.Printf("%s: FAILED: %v\n", r.Server, err)
	}
	return r
}

func measureInto(o options, spec servers.Spec, r *result) error {
	dir, err := os.MkdirTemp(o.workDir, spec.Kind+"-")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	port, err := loopback.FreePort()
	if err != nil {
		return err
	}
	if err := writeConfig(dir, port); err != nil {
		return err
	}
	label := spec.Kind
	if spec.Heap != "" {
		label += " (" + spec.Heap + ")"
	}
	fmt.Printf("== %s in %s\n", label, dir)

	s, err := start(spec, dir, port)
	if err != nil {
		return err
	}
	defer s.stop()
	if _, err := s.waitServing("/", 2*time.Minute); err != nil {
		return err
	}

	// (i) Fill.
	t0 := time.Now()
	n, err := fill(o, s.Addr)
	r.Nodes = n
	if err != nil {
		if !s.Alive() || s.oom() {
			return fmt.Errorf("fill: %w (server died; OutOfMemoryError in log: %v)", err, s.oom())
		}
		return fmt.Errorf("fill: %w", err)
	}
	fillTook := time.Since(t0)
	r.FillSeconds = fillTook.Seconds()
	r.FillOpsPerSec = float64(n) / fillTook.Seconds()
	if rss, err := s.RSS(); err == nil {
		r.RSSAfterFillMB = mib(rss)
	}
	if s.oom() {
		return errors.New("OutOfMemoryError during fill")
	}
	fmt.Printf("   filled %d znodes in %.1f s (%.0f creates/s), RSS %.0f MiB\n", n, r.FillSeconds, r.FillOpsPerSec, r.RSSAfterFillMB)

	// Restart on the filled data directory.
	t1 := time.Now()
	s.stop()
	r.StopSeconds = time.Since(t1).Seconds()
	s, err = start(spec, dir, port)
	if err != nil {
		return err
	}
	defer s.stop()
	lastChild := fmt.Sprintf("/p%04d/c%04d", o.parents-1, o.children-1)
	took, err := s.waitServing(lastChild, 5*time.Minute)
	if err != nil {
		if s.oom() {
			return fmt.Errorf("restart: OutOfMemoryError: %w", err)
		}
		return fmt.Errorf("restart: %w", err)
	}
	r.RestartSeconds = took.Seconds()
	if rss, err := s.RSS(); err == nil {
		r.RSSRestartMB = mib(rss)
	}
	if name, size, err := servers.NewestSnapshot(filepath.Join(dir, "data")); err == nil {
		r.SnapshotFile, r.SnapshotMB = name, mib(size)
	}
	r.DataDirMB = mib(servers.DirUsage(filepath.Join(dir, "data")))
	if err := verifyTree(o, s.Addr); err != nil {
		return fmt.Errorf("after restart: %w", err)
	}
	fmt.Printf("   restart: serving reads %.2f s after process start (stop took %.2f s), RSS %.0f MiB, %s %.1f MiB, data dir %.0f MiB\n",
		r.RestartSeconds, r.StopSeconds, r.RSSRestartMB, r.SnapshotFile, r.SnapshotMB, r.DataDirMB)

	// (ii) Fsynced writes on the restarted server.
	ops, lats, errs, elapsed, err := writeLoad(o, s.Addr)
	if err != nil {
		return fmt.Errorf("writes: %w", err)
	}
	r.WriteErrors = errs
	r.WriteOpsPerSec = float64(ops) / elapsed.Seconds()
	r.WriteP50Ms, r.WriteP99Ms, r.WriteP999Ms = pct(lats, 0.50), pct(lats, 0.99), pct(lats, 0.999)
	if rss, err := s.RSS(); err == nil {
		r.RSSAfterWriteMB = mib(rss)
	}
	fmt.Printf("   writes: %.0f setData/s, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, errors %d, RSS %.0f MiB\n",
		r.WriteOpsPerSec, r.WriteP50Ms, r.WriteP99Ms, r.WriteP999Ms, errs, r.RSSAfterWriteMB)
	if errs > 0 {
		return fmt.Errorf("%d setData requests failed", errs)
	}
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func payload(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rng.IntN(26))
	}
	return b
}

// fill creates the parents (pipelined on one connection), then every
// child through many pipelined connections. It returns the number of
// znodes created.
func fill(o options, addr string) (int, error) {
	data := payload(o.dataSize, 1)
	var created atomic.Int64
	var failed atomic.Int64
	var firstErr atomic.Value
	done := func(code wire.Code, _ time.Duration) {
		if code == wire.OK {
			created.Add(1)
			return
		}
		if failed.Add(1) == 1 {
			firstErr.Store(code)
		}
	}
	c, err := rawclient.Dial(addr, 10*time.Second, 30000)
	if err != nil {
		return 0, err
	}
	i := 0
	err = c.Pipeline(o.fillWindow, func() (wire.OpCode, wire.Record, bool) {
		if i >= o.parents {
			return 0, nil, false
		}
		p := fmt.Sprintf("/p%04d", i)
		i++
		return wire.OpCreate, &wire.CreateRequest{Path: p, Data: data, ACL: wire.OpenACLUnsafe}, true
	}, done)
	c.Close()
	if err != nil {
		return int(created.Load()), err
	}

	total := int64(o.parents) * int64(o.children)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, o.fillConns)
	for k := 0; k < o.fillConns; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := rawclient.Dial(addr, 10*time.Second, 30000)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			err = c.Pipeline(o.fillWindow, func() (wire.OpCode, wire.Record, bool) {
				i := next.Add(1) - 1
				if i >= total || failed.Load() > 0 {
					return 0, nil, false
				}
				p := fmt.Sprintf("/p%04d/c%04d", i/int64(o.children), i%int64(o.children))
				return wire.OpCreate, &wire.CreateRequest{Path: p, Data: data, ACL: wire.OpenACLUnsafe}, true
			}, done)
			if err != nil {
				errs <- err
			}
		}()
	}
	// Progress, so a slow fill is visibly alive.
	stopProgress := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				n := created.Load()
				fmt.Printf("   ... %d created (%.0f/s)\n", n, float64(n)/time.Since(start).Seconds())
			}
		}
	}()
	wg.Wait()
	close(stopProgress)
	close(errs)
	if err := <-errs; err != nil {
		return int(created.Load()), err
	}
	if failed.Load() > 0 {
		return int(created.Load()), fmt.Errorf("%d creates failed, first with %v", failed.Load(), firstErr.Load())
	}
	return int(created.Load()), nil
}

// verifyTree spot-checks the restarted server: a sample of parents has
// every child.
func verifyTree(o options, addr string) error {
	c, err := rawclient.Dial(addr, 10*time.Second, 30000)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, p := range []int{0, o.parents / 2, o.parents - 1} {
		var resp wire.ExistsResponse
		path := fmt.Sprintf("/p%04d", p)
		code, err := c.Call(wire.OpExists, &wire.ExistsRequest{Path: path}, &resp, 10*time.Second)
		if err != nil {
			return err
		}
		if code != wire.OK || int(resp.Stat.NumChildren) != o.children {
			return fmt.Errorf("%s: %v, %d children, want %d", path, code, resp.Stat.NumChildren, o.children)
		}
	}
	return nil
}

// writeLoad runs setData of random existing znodes from many sessions,
// each keeping a window of requests in flight: first a warm-up, then the
// measured period.
func writeLoad(o options, addr string) (ops int64, lats []time.Duration, errs int64, elapsed time.Duration, err error) {
	clients := make([]*rawclient.Client, o.writeSessions)
	for i := range clients {
		if clients[i], err = rawclient.Dial(addr, 10*time.Second, 30000); err != nil {
			return 0, nil, 0, 0, err
		}
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	var measuring atomic.Bool
	var nOps, nErr atomic.Int64
	perConn := make([][]time.Duration, len(clients))
	start := time.Now()
	warmEnd := start.Add(o.warmup)
	end := warmEnd.Add(o.writeDuration)
	go func() {
		time.Sleep(time.Until(warmEnd))
		measuring.Store(true)
	}()
	var wg sync.WaitGroup
	errc := make(chan error, len(clients))
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i)+100, 9))
			data := payload(o.dataSize, uint64(i)+2)
			err := c.Pipeline(o.writeWindow, func() (wire.OpCode, wire.Record, bool) {
				if !time.Now().Before(end) {
					return 0, nil, false
				}
				p := fmt.Sprintf("/p%04d/c%04d", rng.IntN(o.parents), rng.IntN(o.children))
				return wire.OpSetData, &wire.SetDataRequest{Path: p, Data: data, Version: -1}, true
			}, func(code wire.Code, lat time.Duration) {
				if !measuring.Load() {
					return
				}
				if code != wire.OK {
					nErr.Add(1)
					return
				}
				nOps.Add(1)
				perConn[i] = append(perConn[i], lat)
			})
			if err != nil {
				errc <- err
			}
		}()
	}
	wg.Wait()
	elapsed = time.Since(warmEnd)
	close(errc)
	if err := <-errc; err != nil {
		return 0, nil, 0, 0, err
	}
	for _, l := range perConn {
		lats = append(lats, l...)
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	return nOps.Load(), lats, nErr.Load(), elapsed, nil
}

// pct is the q-quantile of sorted latencies in milliseconds.
func pct(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return float64(sorted[i]) / float64(time.Millisecond)
}
