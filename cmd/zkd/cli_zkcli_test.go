package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/server/servertest"
	"github.com/zkd/zkd/test/harness"
)

// zkCliScript is the command sequence run by both shells; $B is replaced
// by a base path unique to each run. Only commands whose output is
// deterministic (after normalizing zxids and times) are included.
var zkCliScript = []string{
	"create $B hello",
	"create $B again",
	"create $B/c",
	"create $B/b two",
	"create -s $B/s x",
	"ls $B",
	"ls -s $B",
	"ls -R $B",
	"get $B",
	"get $B/c",
	"get -s $B",
	"get $B/none",
	"set $B world",
	"set -s $B world2",
	"set -v 9 $B x",
	"stat $B",
	"stat $B/none",
	"getAcl $B",
	"getAcl -s $B",
	"setAcl $B/b world:anyone:ra",
	"getAcl $B/b",
	"set $B/b denied",
	"delete $B",
	"delete -v 5 $B/c",
	"delete $B/c",
	"delete $B/none",
	"ls $B",
	// Requests go-zookeeper could not send.
	"whoami",
	"getEphemerals",
	"getEphemerals $B",
	"getEphemerals bad",
	"getAllChildrenNumber $B",
	"getAllChildrenNumber $B/none",
	"getAllChildrenNumber",
	"addWatch $B",
	"addWatch -m persistent $B",
	"addWatch -m PERSISTENT_RECURSIVE $B",
	"addWatch -m bogus $B",
	"addWatch",
	"addWatch -m",
	"removewatches $B",
	"removewatches $B -l",
	"removewatches $B -c",
	"removewatches",
	"removewatches bad",
	"removewatches $B -x",
	// Quotas: the client writes the limits, the server keeps the stats.
	"setquota $B",
	"setquota -n 2 -b 3 $B",
	"setquota -n 2 $B/none",
	"setquota -n 0 $B",
	"setquota -N 0 $B",
	"setquota -n x $B",
	"setquota -b -1 $B",
	"setquota -x 1 $B",
	"setquota -n 2",
	"setquota -n 1 /zookeeper/quota/x",
	"setquota -n 1 $B",
	"listquota $B",
	"setquota -b 1 $B",
	"setquota -B 100000 $B",
	"listquota $B",
	"setquota -N 5 $B/b",
	"listquota $B/none",
	"listquota",
	"delquota -n $B",
	"delquota -n -b $B",
	"delquota -x $B",
	"listquota $B",
	"delquota $B",
	"listquota $B",
	"delquota $B",
	"delquota",
	"setquota -N 9 $B/b",
	"setquota -n 9 $B",
	"delquota $B/b",
	"deleteall $B",
	"ls $B",
}

// quotaStatsLines are the lines of zkCliScript whose output shows the
// zookeeper_stats numbers (or warnings computed from them), which the
// server maintains. zkd does not maintain them yet (another branch does):
// for zkd they are compared only when zkdMaintainsQuotaStats says so.
var quotaStatsLines = map[string]bool{
	"setquota -n 1 $B":      true,
	"listquota $B":          true,
	"setquota -b 1 $B":      true,
	"setquota -B 100000 $B": true,
}

// zkdMaintainsQuotaStats reports whether the zkd server at addr updates a
// quota's zookeeper_stats node (count and bytes of the subtree).
func zkdMaintainsQuotaStats(t *testing.T, addr string) bool {
	t.Helper()
	for _, line := range []string{"create /stats_probe x", "setquota -n 5 /stats_probe"} {
		if r := runZkdCli(addr, line); r.failed {
			t.Fatalf("%s: %s", line, r)
		}
	}
	r := runZkdCli(addr, "get /zookeeper/quota/stats_probe/zookeeper_stats")
	for _, line := range []string{"delquota /stats_probe", "delete /stats_probe"} {
		runZkdCli(addr, line)
	}
	return !r.failed && r.stdout != "count=0,bytes=0\n"
}

var (
	reTime = regexp.MustCompile(`(?m)^([cm]time) = .*$`)
	reZxid = regexp.MustCompile(`(?m)^([cmp]Zxid) = 0x[0-9a-f]+$`)
)

// normalize makes outputs of two runs comparable.
func normalize(out, base string) string {
	out = strings.ReplaceAll(out, base, "$B")
	out = reTime.ReplaceAllString(out, "$1 = <time>")
	out = reZxid.ReplaceAllString(out, "$1 = <zxid>")
	return out
}

// shellResult is what one command printed, normalized.
type shellResult struct {
	stdout, stderr string
	failed         bool
}

func (r shellResult) String() string {
	return fmt.Sprintf("stdout:\n%sstderr:\n%sfailed: %v\n", r.stdout, r.stderr, r.failed)
}

// zkCliStdout drops a one-shot zkCli.sh's connection banner.
func zkCliStdout(raw string) string {
	var out []string
	for _, l := range strings.SplitAfter(raw, "\n") {
		switch {
		case strings.HasPrefix(l, "Connecting to "), l == "WATCHER::\n", l == "\n",
			strings.HasPrefix(l, "WatchedEvent state:SyncConnected type:None path:null"):
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "")
}

// zkCliStderr drops the JVM's logging noise.
func zkCliStderr(raw string) string {
	var out []string
	for _, l := range strings.SplitAfter(raw, "\n") {
		if strings.HasPrefix(l, "SLF4J:") || strings.Contains(l, " INFO ") || strings.Contains(l, " WARN ") || l == "" {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "")
}

func runZkCli(t *testing.T, zkCli, addr, line string) shellResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, zkCli, append([]string{"-server", addr}, strings.Fields(line)...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "CLIENT_JVMFLAGS=-Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("zkCli.sh %s: timed out", line)
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("zkCli.sh %s: %v", line, err)
	}
	return shellResult{zkCliStdout(stdout.String()), zkCliStderr(stderr.String()), err != nil}
}

// runZkdCli runs "zkd cli -server addr line" in-process.
func runZkdCli(addr, line string) shellResult {
	var stdout, stderr bytes.Buffer
	args := append([]string{"-server", addr, "-timeout", "10000"}, strings.Fields(line)...)
	code := runCli(args, io.NopCloser(strings.NewReader("")), &stdout, &stderr)
	return shellResult{stdout.String(), stderr.String(), code != 0}
}

// startInProcess runs an in-process zkd server on loopback.
func startInProcess(t *testing.T) string {
	t.Helper()
	addr, _ := servertest.Start(t, "tickTime=200")
	return addr
}

// TestCliMatchesZkCli runs the same command sequence through zkCli.sh and
// "zkd cli" (one process per command, as scripts do) and compares stdout,
// stderr and success after normalizing zxids and times. zkd cli runs
// against the same Apache ZooKeeper 3.8 (client formats only) and against
// zkd (the whole stack).
func TestCliMatchesZkCli(t *testing.T) {
	zkCli := "/usr/share/zookeeper/bin/zkCli.sh"
	if p, err := exec.LookPath("zkCli.sh"); err == nil {
		zkCli = p
	}
	if _, err := os.Stat(zkCli); err != nil {
		harness.RequireOrSkip(t, "zkCli.sh not found (apt-get install zookeeper)")
	}
	zk := harness.StartZooKeeper(t, "")
	zkdAddr := startInProcess(t)
	// Enable after the server-side quota merge: then the stats lines are
	// compared for zkd too (this check turns true by itself).
	zkdStats := zkdMaintainsQuotaStats(t, zkdAddr)
	if !zkdStats {
		t.Log("zkd does not maintain quota stats yet: their lines are compared against ZooKeeper only")
	}
	for _, line := range zkCliScript {
		ref := strings.ReplaceAll(line, "$B", "/zkcli_ref")
		want := runZkCli(t, zkCli, zk.Addr, ref)
		want.stdout, want.stderr = normalize(want.stdout, "/zkcli_ref"), normalize(want.stderr, "/zkcli_ref")
		for _, target := range []struct{ name, addr, base string }{
			{"zookeeper", zk.Addr, "/zkd_ref"},
			{"zkd", zkdAddr, "/zkd_ref"},
		} {
			got := runZkdCli(target.addr, strings.ReplaceAll(line, "$B", target.base))
			got.stdout, got.stderr = normalize(got.stdout, target.base), normalize(got.stderr, target.base)
			if target.name == "zkd" && quotaStatsLines[line] && !zkdStats {
				continue // run for its effect, output depends on the stats
			}
			if got != want {
				t.Errorf("%s (zkd cli against %s):\nzkCli.sh:\n%s\nzkd cli:\n%s", line, target.name, want, got)
			}
		}
	}
}

// TestCliStdinScript feeds commands on stdin (non-interactive, not a
// terminal) and checks the exit code reflects failures.
func TestCliStdinScript(t *testing.T) {
	addr := startInProcess(t)
	var stdout, stderr bytes.Buffer
	script := "create /s one\nget /s\nls /\n"
	code := runCli([]string{"--server", addr}, io.NopCloser(strings.NewReader(script)), &stdout, &stderr)
	if code != 0 || stdout.String() != "one\n[s, zookeeper]\n" || stderr.String() != "Created /s\n" {
		t.Fatalf("exit %d stdout %q stderr %q", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	code = runCli([]string{"-server=" + addr}, io.NopCloser(strings.NewReader("get /nope\nget /s\n")), &stdout, &stderr)
	if code == 0 || stdout.String() != "one\n" || stderr.String() != "Node does not exist: /nope\n" {
		t.Fatalf("exit %d stdout %q stderr %q", code, stdout.String(), stderr.String())
	}
	// Bad options and an unreachable server fail.
	if code := runCli([]string{"-bogus"}, io.NopCloser(strings.NewReader("")), &stdout, &stderr); code != 2 {
		t.Fatalf("bad option: exit %d", code)
	}
}

func TestParseCliArgs(t *testing.T) {
	a, err := parseCliArgs([]string{"-server", "h:1", "-timeout", "5000", "ls", "-s", "/"})
	if err != nil || a.server != "h:1" || a.timeout != 5*time.Second || strings.Join(a.command, " ") != "ls -s /" {
		t.Fatalf("%+v %v", a, err)
	}
	a, err = parseCliArgs([]string{"--server=h:2", "--timeout=100"})
	if err != nil || a.server != "h:2" || a.timeout != 100*time.Millisecond || a.command != nil {
		t.Fatalf("%+v %v", a, err)
	}
	if _, err := parseCliArgs([]string{"-server"}); err == nil {
		t.Fatal("missing value accepted")
	}
}
