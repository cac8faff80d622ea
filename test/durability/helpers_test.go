// Package durability checks that zkd keeps what it acknowledged: crashes
// (SIGKILL at random moments), damaged files (torn tails, flipped bytes,
// truncated snapshots) and a full disk, each against a real zkd process
// on a data directory the test controls. The files are also read by
// Apache ZooKeeper's own tools (TxnLogToolkit, SnapshotFormatter) when
// java and the Debian zookeeper jars are installed.
package durability

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/wire"
	"github.com/zkd/zkd/test/harness"
)

// node is a zkd process on a data directory that outlives it.
type node struct {
	t     testing.TB
	bin   string
	dir   string // holds zoo.cfg, the server logs and data/
	extra string // extra zoo.cfg lines
	data  string // dataDir; "" means dir/data
	p     *harness.Process
	// logFile is the output file of the running (or last) process.
	logFile string
}

func newNode(t testing.TB, extra string) *node {
	t.Helper()
	n := &node{t: t, bin: harness.ZkdBinary(t), dir: t.TempDir(), extra: extra}
	t.Cleanup(func() {
		if n.p != nil {
			n.p.Stop()
		}
	})
	return n
}

func (n *node) dataDir() string {
	if n.data != "" {
		return n.data
	}
	return filepath.Join(n.dir, "data")
}
func (n *node) v2() string { return filepath.Join(n.dataDir(), "version-2") }

// start launches the server on a fresh port and returns how long it took
// to serve.
func (n *node) start() time.Duration {
	n.t.Helper()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := harness.FreePort()
		if err != nil {
			n.t.Fatal(err)
		}
		before := serverLogs(n.dir)
		t0 := time.Now()
		p, err := harness.Launch(n.bin, []string{"server"}, n.dir, harness.Config(n.dataDir(), port, n.extra))
		took := time.Since(t0)
		if err != nil {
			lastErr = err
			if strings.Contains(err.Error(), "address already in use") {
				continue
			}
			break
		}
		n.p = p
		n.logFile = newest(serverLogs(n.dir), before)
		return took
	}
	n.t.Fatalf("zkd did not start: %v", lastErr)
	return 0
}

// startFails runs the server expecting it to refuse to start: it must
// exit non-zero within 30 s. It returns the process output.
func (n *node) startFails() string {
	n.t.Helper()
	port, err := harness.FreePort()
	if err != nil {
		n.t.Fatal(err)
	}
	cfgPath := filepath.Join(n.dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(harness.Config(n.dataDir(), port, n.extra)), 0o644); err != nil {
		n.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.bin, "server", "--config", cfgPath)
	cmd.Dir = n.dir
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		n.t.Fatalf("zkd kept running on a damaged data dir (killed after 30 s); output:\n%s", out)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		n.t.Fatalf("zkd exited with %v, want a non-zero exit status; output:\n%s", err, out)
	}
	n.t.Logf("zkd refused to start (exit %d): %s", ee.ExitCode(), lastLines(string(out), 3))
	return string(out)
}

func (n *node) kill() {
	n.p.Kill()
	n.p = nil
}

func (n *node) stop() {
	n.p.Stop()
	n.p = nil
}

// log is the whole output of the current (or last) process.
func (n *node) log() string {
	b, _ := os.ReadFile(n.logFile)
	return string(b)
}

// requireCleanLog fails if the server logged an error or panicked.
func (n *node) requireCleanLog() {
	n.t.Helper()
	for _, line := range strings.Split(n.log(), "\n") {
		if strings.Contains(line, "\tERROR\t") || strings.Contains(line, `"level":"error"`) ||
			strings.HasPrefix(line, "panic:") || strings.HasPrefix(line, "fatal error:") {
			n.t.Errorf("server log has an error: %s", line)
		}
	}
}

func serverLogs(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "server-*.log"))
	sort.Strings(m)
	return m
}

func newest(now, before []string) string {
	seen := map[string]bool{}
	for _, b := range before {
		seen[b] = true
	}
	for i := len(now) - 1; i >= 0; i-- {
		if !seen[now[i]] {
			return now[i]
		}
	}
	return ""
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// client is a raw protocol client with helpers that return the reply's
// error code.
type client struct {
	t  testing.TB
	rc *harness.RawClient
}

func (n *node) dial() *client {
	n.t.Helper()
	rc, err := harness.Dial(n.p.Addr, 10000)
	if err != nil {
		n.t.Fatalf("dial %s: %v", n.p.Addr, err)
	}
	if rc.Session.SessionID == 0 {
		n.t.Fatalf("dial %s: session refused", n.p.Addr)
	}
	c := &client{t: n.t, rc: rc}
	n.t.Cleanup(func() { _ = rc.Close() })
	return c
}

func (c *client) close() {
	_, _ = c.rc.Call(wire.OpCloseSession, nil)
	_ = c.rc.Close()
}

// call sends a request; err is a transport failure (no reply).
func (c *client) call(op wire.OpCode, req wire.Record) (harness.Reply, error) {
	return c.rc.Call(op, req)
}

func createReq(path string, data []byte) *wire.CreateRequest {
	return &wire.CreateRequest{Path: path, Data: data, ACL: wire.OpenACLUnsafe}
}

// mustCreate creates a node and fails the test unless it succeeds.
func (c *client) mustCreate(path string, data []byte) {
	c.t.Helper()
	r, err := c.call(wire.OpCreate, createReq(path, data))
	if err != nil {
		c.t.Fatalf("create %s: %v", path, err)
	}
	if r.Header.Err != wire.OK {
		c.t.Fatalf("create %s: %v", path, r.Header.Err)
	}
}

// get returns the data of path, or ok=false for NoNode.
func (c *client) get(path string) (data []byte, ok bool) {
	c.t.Helper()
	r, err := c.call(wire.OpGetData, &wire.GetDataRequest{Path: path})
	if err != nil {
		c.t.Fatalf("getData %s: %v", path, err)
	}
	switch r.Header.Err {
	case wire.OK:
	case wire.ErrNoNode:
		return nil, false
	default:
		c.t.Fatalf("getData %s: %v", path, r.Header.Err)
	}
	var resp wire.GetDataResponse
	if err := wire.Unmarshal(r.Body, 0, &resp); err != nil {
		c.t.Fatalf("getData %s: decode: %v", path, err)
	}
	return resp.Data, true
}

// children lists the children of path (NoNode: nil).
func (c *client) children(path string) []string {
	c.t.Helper()
	r, err := c.call(wire.OpGetChildren, &wire.GetChildrenRequest{Path: path})
	if err != nil {
		c.t.Fatalf("getChildren %s: %v", path, err)
	}
	if r.Header.Err == wire.ErrNoNode {
		return nil
	}
	if r.Header.Err != wire.OK {
		c.t.Fatalf("getChildren %s: %v", path, r.Header.Err)
	}
	var resp wire.GetChildrenResponse
	if err := wire.Unmarshal(r.Body, 0, &resp); err != nil {
		c.t.Fatalf("getChildren %s: decode: %v", path, err)
	}
	return resp.Children
}

// logEntry is one entry of a txn log file, found by parsing the framing
// independently of zkd's reader (storage.md §3.1).
type logEntry struct {
	start, end int64 // offset of the checksum field; offset after the 'B'
	zxid       int64
	typ        int32
}

// parseLog returns the complete entries of a log file, stopping at the
// zero padding or at the end of the file. It fails the test on anything
// else: the files handed to it are expected to be sound.
func parseLog(t testing.TB, path string) []logEntry {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 16 || binary.BigEndian.Uint32(b) != 0x5A4B4C47 {
		t.Fatalf("%s: not a txn log", path)
	}
	var out []logEntry
	off := int64(16)
	for off+12 <= int64(len(b)) {
		sum := binary.BigEndian.Uint64(b[off:])
		l := int64(int32(binary.BigEndian.Uint32(b[off+8:])))
		if l == 0 && sum == 0 {
			break
		}
		if l < 32 || off+12+l+1 > int64(len(b)) {
			t.Fatalf("%s: bad entry at %d (length %d)", path, off, l)
		}
		body := b[off+12 : off+12+l]
		if uint64(adler32.Checksum(body)) != sum || b[off+12+l] != 'B' {
			t.Fatalf("%s: bad entry at %d (checksum or end marker)", path, off)
		}
		out = append(out, logEntry{
			start: off, end: off + 12 + l + 1,
			zxid: int64(binary.BigEndian.Uint64(body[12:])),
			typ:  int32(binary.BigEndian.Uint32(body[28:])),
		})
		off += 12 + l + 1
	}
	return out
}

// filesWith lists dir's files whose names start with prefix + ".", sorted
// by the hex zxid in the name.
func filesWith(t testing.TB, dir, prefix string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	type f struct {
		path string
		zxid uint64
	}
	var fs []f
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix+".")
		if !ok {
			continue
		}
		var z uint64
		if _, err := fmt.Sscanf(rest, "%x", &z); err != nil || fmt.Sprintf("%x", z) != rest {
			continue
		}
		fs = append(fs, f{filepath.Join(dir, e.Name()), z})
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].zxid < fs[j].zxid })
	out := make([]string, len(fs))
	for i, x := range fs {
		out[i] = x.path
	}
	return out
}

// hashTree maps every file under dir to the SHA-256 of its content.
func hashTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out[path] = fmt.Sprintf("%x", sha256.Sum256(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// javaTools says why ZooKeeper's tools cannot run, or "".
func javaTools() string {
	if _, err := exec.LookPath("java"); err != nil {
		return "java not found"
	}
	for _, j := range javaJars {
		if _, err := os.Stat(j); err != nil {
			return j + " not found (apt-get install zookeeper)"
		}
	}
	return ""
}

var javaJars = []string{
	"/usr/share/java/zookeeper.jar", "/usr/share/java/zookeeper-jute.jar",
	"/usr/share/java/slf4j-api.jar", "/usr/share/java/slf4j-simple.jar",
}

// javaCheck is one run of a ZooKeeper tool on a file.
type javaCheck struct {
	class, file string
}

const (
	txnLogToolkit     = "org.apache.zookeeper.server.persistence.TxnLogToolkit"
	snapshotFormatter = "org.apache.zookeeper.server.SnapshotFormatter"
)

// batchSource runs the main method of each (class, file) pair of its
// arguments in one JVM, marking where each run's output starts: a JVM per
// file would cost about half a second each, and the crash test leaves
// hundreds of log files. A tool that calls System.exit ends the JVM,
// which the caller sees as missing sections and a non-zero status.
const batchSource = `public class ZkdToolBatch {
    public static void main(String[] args) throws Exception {
        for (int i = 0; i + 1 < args.length; i += 2) {
            System.out.println("=== " + args[i] + " " + args[i + 1]);
            try {
                Class.forName(args[i]).getMethod("main", String[].class)
                    .invoke(null, (Object) new String[] {args[i + 1]});
            } catch (java.lang.reflect.InvocationTargetException e) {
                System.out.println("!!! tool threw: " + e.getCause());
                e.getCause().printStackTrace(System.out);
            }
            System.out.flush();
        }
        System.out.println("=== done");
    }
}
`

// runJava runs the checks, in one JVM when the JDK can launch a source
// file, else one JVM per file (java -cp ... CLASS FILE), and fails the
// test unless every run exits normally and reports no CRC failure or
// exception. It returns each run's output.
func runJava(t testing.TB, checks []javaCheck) []string {
	t.Helper()
	cp := strings.Join(javaJars, ":")
	src := filepath.Join(t.TempDir(), "ZkdToolBatch.java")
	if err := os.WriteFile(src, []byte(batchSource), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-Xmx512m", "-XX:+UseSerialGC", "-cp", cp, src}
	for _, c := range checks {
		args = append(args, c.class, c.file)
	}
	out, err := javaRun(args)
	if sections, ok := splitSections(out, checks); ok && err == nil {
		for i, c := range checks {
			judgeJava(t, c, sections[i])
		}
		return sections
	}
	if strings.Contains(out, "=== ") {
		// The batch ran but a tool ended the JVM.
		t.Errorf("java tools (one JVM): %v\n%s", err, lastLines(out, 30))
		return nil
	}
	t.Logf("no single-file source launcher (%v); running one JVM per file", err)
	var res []string
	for _, c := range checks {
		out, err := javaRun([]string{"-Xmx256m", "-XX:+UseSerialGC", "-cp", cp, c.class, c.file})
		if err != nil {
			t.Errorf("%s %s: %v\n%s", c.class, c.file, err, lastLines(out, 20))
		}
		judgeJava(t, c, out)
		res = append(res, out)
	}
	return res
}

func javaRun(args []string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "java", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// splitSections cuts the batch output at its markers; ok is false unless
// every check has its section and the batch reached its end.
func splitSections(out string, checks []javaCheck) ([]string, bool) {
	var sections []string
	cur := -1
	var b strings.Builder
	for _, line := range strings.SplitAfter(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "=== "); ok {
			if cur >= 0 {
				sections = append(sections, b.String())
				b.Reset()
			}
			cur++
			if strings.TrimSpace(rest) == "done" {
				return sections, len(sections) == len(checks)
			}
			if cur >= len(checks) || strings.TrimSpace(rest) != checks[cur].class+" "+checks[cur].file {
				return nil, false
			}
			continue
		}
		if cur >= 0 {
			b.WriteString(line)
		}
	}
	return nil, false
}

// judgeJava fails the test if a tool's output reports a problem.
func judgeJava(t testing.TB, c javaCheck, out string) {
	t.Helper()
	for _, bad := range []string{"CRC", "Exception", "exception", "ERROR", "!!! ", "partial"} {
		if strings.Contains(out, bad) {
			t.Errorf("%s %s reports %q:\n%s", c.class, filepath.Base(c.file), bad, lastLines(out, 20))
			return
		}
	}
}

// checkWithJava runs TxnLogToolkit on every log in v2 and, if snapshots
// is set, SnapshotFormatter on the newest snapshot.
func checkWithJava(t *testing.T, v2 string, snapshots bool) {
	t.Helper()
	if why := javaTools(); why != "" {
		harness.RequireOrSkip(t, why)
	}
	logs := filesWith(t, v2, "log")
	if len(logs) == 0 {
		t.Errorf("no txn log in %s", v2)
	}
	var checks []javaCheck
	for _, l := range logs {
		checks = append(checks, javaCheck{txnLogToolkit, l})
	}
	var snap string
	if snapshots {
		snaps := filesWith(t, v2, "snapshot")
		if len(snaps) == 0 {
			t.Errorf("no snapshot in %s", v2)
		} else {
			snap = snaps[len(snaps)-1]
			checks = append(checks, javaCheck{snapshotFormatter, snap})
		}
	}
	t0 := time.Now()
	outs := runJava(t, checks)
	if outs == nil {
		return
	}
	txns := 0
	for i, l := range logs {
		var n int
		if _, err := fmt.Sscanf(lastLines(outs[i], 1), "EOF reached after %d txns.", &n); err != nil {
			t.Errorf("TxnLogToolkit %s: no \"EOF reached\" line:\n%s", filepath.Base(l), lastLines(outs[i], 5))
		}
		txns += n
	}
	t.Logf("ZooKeeper's TxnLogToolkit read %d log files (%d txns) without errors in %v", len(logs), txns, time.Since(t0).Round(time.Millisecond))
	if snap != "" {
		t.Logf("ZooKeeper's SnapshotFormatter read %s (%d lines)", filepath.Base(snap), strings.Count(outs[len(outs)-1], "\n"))
	}
}
