package durability

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/wire"
	"github.com/zkd/zkd/test/harness"
)

// op is one write a writer sent: creates (one, or several in a multi) or
// a setData, with the data it writes to each path.
type op struct {
	kind  string // "create", "multi" or "set"
	paths []string
	data  [][]byte
}

// writer is one client writing under its own directory, so the order of
// its acknowledged writes is the order they apply in.
type writer struct {
	id    int
	dir   string
	nodes map[string][]byte // acknowledged to exist, with the newest acknowledged data
	names []string          // the keys of nodes, in creation order
	// inflight is the write that was sent when the server died and got no
	// reply: it may or may not have been applied.
	inflight *op
	acked    int
	errs     []string
	rng      *rand.Rand
}

// run writes until the connection breaks.
func (w *writer) run(rc *harness.RawClient, cycle int) {
	defer rc.Close()
	for seq := 0; ; seq++ {
		tag := fmt.Sprintf("%s/c%d-%d", w.dir, cycle, seq)
		pad := strings.Repeat("x", w.rng.IntN(300))
		var o op
		var code wire.OpCode
		var req wire.Record
		switch r := w.rng.IntN(10); {
		case r < 3 && len(w.names) > 0:
			p := w.names[w.rng.IntN(len(w.names))]
			d := []byte("set " + tag + " " + pad)
			o = op{kind: "set", paths: []string{p}, data: [][]byte{d}}
			code, req = wire.OpSetData, &wire.SetDataRequest{Path: p, Data: d, Version: -1}
		case r < 5:
			o = op{kind: "multi"}
			m := &wire.MultiRequest{}
			for i := range 2 + w.rng.IntN(3) {
				p := fmt.Sprintf("%s-m%d", tag, i)
				d := []byte("multi " + p + " " + pad)
				o.paths, o.data = append(o.paths, p), append(o.data, d)
				m.Ops = append(m.Ops, wire.MultiOp{Type: wire.OpCreate, Req: createReq(p, d)})
			}
			code, req = wire.OpMulti, m
		default:
			d := []byte("create " + tag + " " + pad)
			o = op{kind: "create", paths: []string{tag}, data: [][]byte{d}}
			code, req = wire.OpCreate, createReq(tag, d)
		}
		reply, err := rc.Call(code, req)
		if err != nil {
			w.inflight = &o
			return
		}
		if reply.Header.Err != wire.OK {
			w.errs = append(w.errs, fmt.Sprintf("%s %s: error %v", o.kind, o.paths[0], reply.Header.Err))
			return
		}
		if o.kind == "multi" {
			var resp wire.MultiResponse
			if err := wire.Unmarshal(reply.Body, 0, &resp); err != nil {
				w.errs = append(w.errs, fmt.Sprintf("multi %s: decode reply: %v", o.paths[0], err))
				return
			}
			for _, res := range resp.Results {
				if res.Type == wire.OpError || res.Err != wire.OK {
					w.errs = append(w.errs, fmt.Sprintf("multi %s failed: %v", o.paths[0], res.Err))
					return
				}
			}
		}
		w.learn(&o)
		w.acked++
	}
}

// learn records a write as applied.
func (w *writer) learn(o *op) {
	for i, p := range o.paths {
		if _, ok := w.nodes[p]; !ok {
			w.names = append(w.names, p)
		}
		w.nodes[p] = o.data[i]
	}
}

// verify checks the restarted server against what this writer knows and
// settles the fate of its in-flight write. It returns whether the
// in-flight write turned out applied.
func (w *writer) verify(t *testing.T, c *client) (applied bool) {
	t.Helper()
	in := w.inflight
	w.inflight = nil
	for _, p := range w.names {
		want := w.nodes[p]
		got, ok := c.get(p)
		switch {
		case !ok:
			t.Errorf("acknowledged node %s is gone", p)
		case bytes.Equal(got, want):
		case in != nil && in.kind == "set" && in.paths[0] == p && bytes.Equal(got, in.data[0]):
			applied = true // the unacknowledged setData made it
		default:
			t.Errorf("node %s holds %.60q, want the acknowledged %.60q", p, got, want)
		}
	}
	if in != nil && in.kind == "set" && applied {
		w.learn(in)
	}
	if in != nil && in.kind != "set" {
		present := 0
		for i, p := range in.paths {
			got, ok := c.get(p)
			if !ok {
				continue
			}
			present++
			if !bytes.Equal(got, in.data[i]) {
				t.Errorf("unacknowledged %s created %s with %.60q, want %.60q", in.kind, p, got, in.data[i])
			}
		}
		switch present {
		case 0:
		case len(in.paths):
			applied = true
			w.learn(in)
		default:
			t.Errorf("unacknowledged multi half applied: %d of %d nodes exist (%v)", present, len(in.paths), in.paths)
			w.learn(in) // keep checking what is there
		}
	}
	kids := c.children(w.dir)
	sort.Strings(kids)
	var want []string
	for _, p := range w.names {
		want = append(want, filepath.Base(p))
	}
	sort.Strings(want)
	if strings.Join(kids, ",") != strings.Join(want, ",") {
		t.Errorf("%s has %d children, want %d (extra or missing nodes)", w.dir, len(kids), len(want))
	}
	return applied
}

func TestAcknowledgedWritesSurviveSIGKILL(t *testing.T) {
	const cycles, writers = 6, 8
	seed := time.Now().UnixNano()
	if s := os.Getenv("DURABILITY_SEED"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("DURABILITY_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("seed %d (set DURABILITY_SEED to repeat the kill delays and the op mix)", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))

	n := newNode(t, "snapCount=50\npreAllocSize=64")
	n.start()
	c := n.dial()
	c.mustCreate("/d", nil)
	ws := make([]*writer, writers)
	for i := range ws {
		ws[i] = &writer{id: i, dir: fmt.Sprintf("/d/w%d", i), nodes: map[string][]byte{}}
		c.mustCreate(ws[i].dir, nil)
	}
	c.close()

	total := 0
	for cycle := range cycles {
		var wg sync.WaitGroup
		before := 0
		for _, w := range ws {
			before += w.acked
			w.rng = rand.New(rand.NewPCG(uint64(seed), uint64(cycle*writers+w.id+1)))
			rc, err := harness.Dial(n.p.Addr, 10000)
			if err != nil {
				t.Fatalf("cycle %d: dial: %v", cycle, err)
			}
			wg.Add(1)
			go func() { defer wg.Done(); w.run(rc, cycle) }()
		}
		delay := time.Duration(300+rng.IntN(900)) * time.Millisecond
		time.Sleep(delay)
		n.kill()
		wg.Wait()
		n.requireCleanLog()
		acked, inflight := 0, 0
		for _, w := range ws {
			acked += w.acked
			if w.inflight != nil {
				inflight++
			}
			for _, e := range w.errs {
				t.Errorf("cycle %d: writer %d: %s", cycle, w.id, e)
			}
			w.errs = nil
		}
		acked -= before
		total += acked
		if acked == 0 {
			t.Errorf("cycle %d: no write was acknowledged in %v", cycle, delay)
		}

		took := n.start()
		c := n.dial()
		applied := 0
		for _, w := range ws {
			if w.verify(t, c) {
				applied++
			}
		}
		c.close()
		n.requireCleanLog()
		t.Logf("cycle %d: SIGKILL after %v: %d writes acknowledged, %d in flight (%d of them applied); restart took %v; %s",
			cycle, delay, acked, inflight, applied, took.Round(time.Millisecond), recoveredLine(n.log()))
		if t.Failed() {
			t.FailNow()
		}
	}
	n.stop()
	n.requireCleanLog()
	logs, snaps := filesWith(t, n.v2(), "log"), filesWith(t, n.v2(), "snapshot")
	t.Logf("%d writes acknowledged in %d cycles; %d log files, %d snapshots on disk", total, cycles, len(logs), len(snaps))
	if len(logs) <= cycles || len(snaps) <= cycles {
		t.Errorf("expected log rolls and snapshots during the run (snapCount=50): %d logs, %d snapshots", len(logs), len(snaps))
	}
	// Every txn is in exactly one log, in order, with no gap: the logs
	// cut back or started after each crash continue one another.
	next := int64(1)
	for _, l := range logs {
		for _, e := range parseLog(t, l) {
			if e.zxid != next {
				t.Fatalf("%s: entry at offset %d has zxid 0x%x, want 0x%x", filepath.Base(l), e.start, e.zxid, next)
			}
			next++
		}
	}
	t.Logf("the logs hold txns 0x1..0x%x without gaps or repeats", next-1)
	ents, err := os.ReadDir(n.v2())
	if err != nil {
		t.Fatal(err)
	}
	var other []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "log.") && !strings.HasPrefix(e.Name(), "snapshot.") || strings.HasSuffix(e.Name(), ".tmp") {
			other = append(other, e.Name())
		}
	}
	if len(other) > 0 {
		t.Logf("other files in version-2 (left by the kills): %v", other)
	}
	checkWithJava(t, n.v2(), true)
}

// recoveredLine picks the replay figures from the server's startup log.
func recoveredLine(log string) string {
	for _, line := range strings.Split(log, "\n") {
		if i := strings.Index(line, "recovered data tree"); i >= 0 {
			return strings.TrimSpace(line[i:])
		}
	}
	return "(no recovery line)"
}
