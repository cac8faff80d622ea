package interop

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkd/zkd/test/harness"
)

// TestZooKeeperToolsReadZkdFiles runs ZooKeeper's offline tools
// (SnapshotFormatter, TxnLogToolkit) on every snapshot and log zkd wrote,
// and zkd's (snapshot dump, txnlog dump) on every file ZooKeeper wrote.
// Each file is read by both tools: both must succeed, print the same
// snapshot (as a sorted set of lines: node order in the file is hash
// order) and the same txns, and the logs together must hold every zxid
// from 1 to the last exactly once.
func TestZooKeeperToolsReadZkdFiles(t *testing.T) {
	harness.RequireOrSkip(t, harness.ZooKeeperAvailable())
	for _, j := range []string{"zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-simple.jar"} {
		if _, err := os.Stat(filepath.Join(harness.JavaDir, j)); err != nil {
			harness.RequireOrSkip(t, j+" not found in "+harness.JavaDir)
		}
	}
	for _, writer := range []serverKind{zkd, zooKeeper} {
		t.Run(string(writer)+" wrote", func(t *testing.T) {
			d := newDataDir(t, "snapCount=100")
			p := d.start(writer)
			populate(t, p.Addr, "/a")
			live := openLive(t, p.Addr, "/a")
			populate(t, p.Addr, "/b")
			mutate(t, p.Addr, "/a")
			final := dumpTree(t, p.Addr)
			p.Stop()
			live.rc.Close()
			crossCheckFiles(t, d, len(final))
		})
	}
}

const toolTimeout = 60 * time.Second

type toolRun struct {
	stdout, stderr string
	err            error
}

func runTool(prog string, args ...string) toolRun {
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	// Both tools print times in the local zone; make it the same one.
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return toolRun{out.String(), errOut.String(), err}
}

func javaTool(class, file string) toolRun {
	cp := strings.Join([]string{
		filepath.Join(harness.JavaDir, "zookeeper.jar"),
		filepath.Join(harness.JavaDir, "zookeeper-jute.jar"),
		filepath.Join(harness.JavaDir, "slf4j-api.jar"),
		filepath.Join(harness.JavaDir, "slf4j-simple.jar"),
	}, ":")
	return runTool("java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto", "-cp", cp, class, file)
}

// badStderr finds text on stderr (log lines) that means a tool hit a
// problem even if it exited 0; badStdout does the same for the printout,
// which also holds node data and ACL digests, so it looks only for
// what the tools print on errors.
var (
	badStderr = regexp.MustCompile(`(?i)exception|crc|checksum|corrupt|\bpartial\b|unable to|failed|\berror\b`)
	badStdout = regexp.MustCompile(`Exception|CRC check failed|[Cc]orrupt|[Cc]hecksum mismatch`)
)

// checkRun fails unless the tool exited 0 without alarming output.
func checkRun(t *testing.T, what string, r toolRun) {
	t.Helper()
	if r.err != nil {
		t.Errorf("%s: %v\nstdout: %s\nstderr: %s", what, r.err, tail(r.stdout), tail(r.stderr))
		return
	}
	if m := badStderr.FindString(r.stderr); m != "" {
		t.Errorf("%s: stderr mentions %q:\n%s", what, m, tail(r.stderr))
	}
	if m := badStdout.FindString(r.stdout); m != "" {
		t.Errorf("%s: output mentions %q:\n%s", what, m, tail(r.stdout))
	}
}

func tail(s string) string {
	if len(s) > 3000 {
		return "..." + s[len(s)-3000:]
	}
	return s
}

var (
	znodeCount = regexp.MustCompile(`(?m)^ZNode Details \(count=(\d+)\):$`)
	txnLine    = regexp.MustCompile(`session (0x[0-9a-f]+) cxid (0x[0-9a-f]+) zxid 0x([0-9a-f]+) (\S+)`)
	eofLine    = regexp.MustCompile(`(?m)^EOF reached after (\d+) txns\.$`)
)

// crossCheckFiles reads every snapshot and log of d with both tools.
// finalNodes is the size of the tree when the server stopped.
func crossCheckFiles(t *testing.T, d *dataDir, finalNodes int) {
	t.Helper()
	snaps, logs := d.files("snapshot"), d.files("log")
	t.Logf("%d snapshots, %d logs: %s", len(snaps), len(logs), d.listing())
	if len(snaps) < 3 || len(logs) < 3 {
		t.Fatalf("want several snapshots and logs with snapCount=100, got %s", d.listing())
	}
	type job struct {
		file     string
		snapshot bool
		java     toolRun
		zkd      toolRun
	}
	var jobs []*job
	for _, f := range snaps {
		jobs = append(jobs, &job{file: f, snapshot: true})
	}
	for _, f := range logs {
		jobs = append(jobs, &job{file: f})
	}
	zkdBin := harness.ZkdBinary(t)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 3)
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if j.snapshot {
				j.java = javaTool("org.apache.zookeeper.server.SnapshotFormatter", j.file)
				j.zkd = runTool(zkdBin, "snapshot", "dump", j.file)
			} else {
				j.java = javaTool("org.apache.zookeeper.server.persistence.TxnLogToolkit", j.file)
				j.zkd = runTool(zkdBin, "txnlog", "dump", j.file)
			}
		}()
	}
	wg.Wait()

	maxNodes := 0
	zxids := map[int64]string{}
	for _, j := range jobs {
		name := filepath.Base(j.file)
		if j.snapshot {
			checkRun(t, "SnapshotFormatter "+name, j.java)
			checkRun(t, "zkd snapshot dump "+name, j.zkd)
			if t.Failed() {
				continue
			}
			m := znodeCount.FindStringSubmatch(j.java.stdout)
			if m == nil {
				t.Errorf("SnapshotFormatter %s: no node count in\n%s", name, tail(j.java.stdout))
				continue
			}
			n, _ := strconv.Atoi(m[1])
			if n < 4 || n > finalNodes+50 {
				t.Errorf("%s: %d nodes (the tree ended with %d)", name, n, finalNodes)
			}
			maxNodes = max(maxNodes, n)
			if diff := sortedLineDiff(j.java.stdout, j.zkd.stdout); diff != "" {
				t.Errorf("%s: SnapshotFormatter and zkd snapshot dump disagree:\n%s", name, diff)
			}
			continue
		}
		checkRun(t, "TxnLogToolkit "+name, j.java)
		checkRun(t, "zkd txnlog dump "+name, j.zkd)
		if t.Failed() {
			continue
		}
		m := eofLine.FindStringSubmatch(j.java.stdout)
		if m == nil {
			t.Errorf("TxnLogToolkit %s: no txn count in\n%s", name, tail(j.java.stdout))
			continue
		}
		n, _ := strconv.Atoi(m[1])
		jt, zt := txnLine.FindAllStringSubmatch(j.java.stdout, -1), txnLine.FindAllStringSubmatch(j.zkd.stdout, -1)
		if len(jt) != n || len(zt) != n {
			t.Errorf("%s: TxnLogToolkit counts %d txns and prints %d; zkd prints %d", name, n, len(jt), len(zt))
			continue
		}
		for i := range jt {
			if jt[i][0] != zt[i][0] {
				t.Errorf("%s: txn %d: TxnLogToolkit %q, zkd %q", name, i, jt[i][0], zt[i][0])
				break
			}
			z, _ := strconv.ParseInt(jt[i][3], 16, 64)
			if prev, dup := zxids[z]; dup {
				t.Errorf("zxid %#x in both %s and %s", z, prev, name)
			}
			zxids[z] = name
		}
	}
	if t.Failed() {
		return
	}
	if maxNodes < finalNodes/2 {
		t.Errorf("largest snapshot has %d nodes; the tree had %d", maxNodes, finalNodes)
	}
	var all []int64
	for z := range zxids {
		all = append(all, z)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	if len(all) < finalNodes {
		t.Errorf("logs hold %d txns for a tree of %d nodes", len(all), finalNodes)
	}
	for i, z := range all {
		if z != int64(i+1) {
			t.Errorf("logs skip from zxid %#x to %#x", all[i-1], z)
			break
		}
	}
	t.Logf("largest snapshot %d nodes (final tree %d); logs hold zxids 0x1..%#x", maxNodes, finalNodes, all[len(all)-1])
}

// sortedLineDiff compares two outputs as multisets of lines.
func sortedLineDiff(a, b string) string {
	al, bl := strings.Split(strings.TrimSpace(a), "\n"), strings.Split(strings.TrimSpace(b), "\n")
	count := map[string]int{}
	for _, l := range al {
		count[l]++
	}
	for _, l := range bl {
		count[l]--
	}
	var out []string
	for l, c := range count {
		switch {
		case c > 0:
			out = append(out, fmt.Sprintf("  only SnapshotFormatter (x%d): %q", c, l))
		case c < 0:
			out = append(out, fmt.Sprintf("  only zkd (x%d): %q", -c, l))
		}
	}
	sort.Strings(out)
	if len(out) > 30 {
		out = append(out[:30], "  ...")
	}
	return strings.Join(out, "\n")
}
