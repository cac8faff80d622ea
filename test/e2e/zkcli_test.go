package e2e

import (
	"crypto/sha1"
	"encoding/base64"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// zkCliEnv keeps the zkCli JVM small and quick to start.
var zkCliEnv = []string{"CLIENT_JVMFLAGS=-Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"}

func zkCliPath(t *testing.T) string {
	return needTool(t, "zookeeper", "/usr/share/zookeeper/bin/zkCli.sh", "zkCli.sh", "zookeeper-client")
}

// statBlockRe matches the Stat printout of zkCli (get -s, stat, set -s, ls -s).
const statBlockRe = `(?s)cZxid = .*?numChildren = \d+`

// parseStat turns "key = value" lines into a map.
func parseStat(block string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(block, "\n") {
		k, v, ok := strings.Cut(line, " = ")
		if ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// statInt reads a numeric stat field, hex ("0x..") or decimal.
func statInt(t *testing.T, st map[string]string, key string) int64 {
	t.Helper()
	v, ok := st[key]
	if !ok {
		t.Fatalf("stat has no %s line: %v", key, st)
	}
	n, err := strconv.ParseInt(v, 0, 64)
	if err != nil {
		t.Fatalf("stat %s = %q: %v", key, v, err)
	}
	return n
}

// digestID is the id of a digest ACL for user:password, as the server's
// DigestAuthenticationProvider computes it: user:base64(sha1(user:password)).
func digestID(user, password string) string {
	sum := sha1.Sum([]byte(user + ":" + password))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// TestZkCliOneShot runs zkCli.sh once per command, the way scripts use it,
// and checks output and exit status.
func TestZkCliOneShot(t *testing.T) {
	t.Parallel()
	cli := zkCliPath(t)
	base := uniquePath(t)
	zk := func(args ...string) runResult {
		t.Helper()
		return run(t, 60*time.Second, "", zkCliEnv, cli, append([]string{"-server", serverAddr}, args...)...)
	}

	r := zk("create", base, "hello")
	if r.code != 0 || !strings.Contains(r.out, "Created "+base+"\n") {
		t.Fatalf("create %s: exit %d, output:\n%s", base, r.code, r.out)
	}

	r = zk("create", base, "again")
	if r.code == 0 || !strings.Contains(r.out, "Node already exists: "+base) {
		t.Fatalf("second create %s: want NodeExists and non-zero exit, got exit %d, output:\n%s", base, r.code, r.out)
	}

	r = zk("get", "-s", base)
	if r.code != 0 || !regexp.MustCompile(`(?m)^hello$`).MatchString(r.out) {
		t.Fatalf("get -s %s: exit %d, output:\n%s", base, r.code, r.out)
	}
	st := parseStat(regexp.MustCompile(statBlockRe).FindString(r.out))
	for _, k := range []string{"cZxid", "ctime", "mZxid", "mtime", "pZxid", "cversion", "dataVersion", "aclVersion", "ephemeralOwner", "dataLength", "numChildren"} {
		if _, ok := st[k]; !ok {
			t.Errorf("get -s: missing stat line %q in output:\n%s", k, r.out)
		}
	}
	if got := statInt(t, st, "dataLength"); got != 5 {
		t.Errorf("dataLength = %d, want 5", got)
	}
	if statInt(t, st, "cZxid") == 0 || statInt(t, st, "cZxid") != statInt(t, st, "mZxid") {
		t.Errorf("fresh node: want cZxid == mZxid != 0, got %v", st)
	}
	if got := statInt(t, st, "ephemeralOwner"); got != 0 {
		t.Errorf("ephemeralOwner = %#x, want 0", got)
	}

	r = zk("stat", base+"/missing")
	if r.code == 0 || !strings.Contains(r.out, "Node does not exist: "+base+"/missing") {
		t.Fatalf("stat of a missing node: exit %d, output:\n%s", r.code, r.out)
	}

	r = zk("ls", "/")
	if r.code != 0 || !strings.Contains(r.out, strings.TrimPrefix(base, "/")) || !strings.Contains(r.out, "zookeeper") {
		t.Fatalf("ls /: want %s and zookeeper, exit %d, output:\n%s", base, r.code, r.out)
	}
}

// TestZkCliSession feeds one interactive zkCli session through stdin, so
// that state such as addauth carries from one command to the next.
func TestZkCliSession(t *testing.T) {
	t.Parallel()
	cli := zkCliPath(t)
	base := uniquePath(t)
	p := base + "/p"

	sh := startInteractive(t, 120*time.Second, zkCliEnv, cli, "-server", serverAddr)
	sh.expect(`state:SyncConnected`, 30*time.Second)

	stat := func(cmd string) map[string]string {
		t.Helper()
		return parseStat(sh.do(cmd, statBlockRe)[0])
	}

	sh.do("create "+base, "Created "+regexp.QuoteMeta(base)+"\n")
	sh.do("create "+p+" data1", "Created "+regexp.QuoteMeta(p)+"\n")

	// get -s prints the data and a stat block.
	sh.send("get -s " + p)
	sh.expect(`(?m)^data1$`, 20*time.Second)
	st := parseStat(sh.expect(statBlockRe, 20*time.Second)[0])
	if v := statInt(t, st, "dataVersion"); v != 0 {
		t.Errorf("new node dataVersion = %d, want 0", v)
	}
	czxid := statInt(t, st, "cZxid")

	// set without -s prints nothing; the next get shows the new data.
	sh.send("set " + p + " data2")
	sh.send("get -s " + p)
	sh.expect(`(?m)^data2$`, 20*time.Second)
	st = parseStat(sh.expect(statBlockRe, 20*time.Second)[0])
	if v := statInt(t, st, "dataVersion"); v != 1 {
		t.Errorf("after one set dataVersion = %d, want 1", v)
	}
	if statInt(t, st, "mZxid") <= czxid || statInt(t, st, "cZxid") != czxid {
		t.Errorf("after set want cZxid unchanged (%#x) and mZxid > cZxid, got %v", czxid, st)
	}

	st = stat("set -s " + p + " data3")
	if v := statInt(t, st, "dataVersion"); v != 2 {
		t.Errorf("after two sets dataVersion = %d, want 2", v)
	}
	if v := statInt(t, st, "dataLength"); v != 5 {
		t.Errorf("dataLength = %d, want 5", v)
	}

	// A set with a stale version is refused.
	sh.do("set -v 0 "+p+" stale", `version No is not valid : `+regexp.QuoteMeta(p))

	// Children: numChildren and cversion follow creates.
	sh.do("create "+p+"/c1", "Created "+regexp.QuoteMeta(p+"/c1")+"\n")
	sh.do("create "+p+"/c2 x", "Created "+regexp.QuoteMeta(p+"/c2")+"\n")
	st = stat("stat " + p)
	if n := statInt(t, st, "numChildren"); n != 2 {
		t.Errorf("numChildren = %d, want 2", n)
	}
	if n := statInt(t, st, "cversion"); n != 2 {
		t.Errorf("cversion = %d, want 2", n)
	}

	// Sequential names come from the parent's cversion, printed as %010d.
	got := sh.do("create -e -s "+p+"/eph- e", `Created (`+regexp.QuoteMeta(p)+`/eph-\d+)\n`)[1]
	if want := p + "/eph-0000000002"; got != want {
		t.Errorf("create -e -s: created %s, want %s", got, want)
	}
	st = stat("stat " + got)
	if owner := statInt(t, st, "ephemeralOwner"); owner == 0 {
		t.Errorf("ephemeral node has ephemeralOwner 0")
	}
	sh.do("create -s "+p+"/seq- s", `Created `+regexp.QuoteMeta(p)+`/seq-0000000003\n`)

	list := sh.do("ls "+p, `\[([^\]]*)\]\n`)[1]
	children := strings.Split(list, ", ")
	sort.Strings(children)
	if want := "c1 c2 eph-0000000002 seq-0000000003"; strings.Join(children, " ") != want {
		t.Errorf("ls %s = [%s], want %s", p, list, want)
	}

	sh.do("delete "+p, `Node not empty: `+regexp.QuoteMeta(p))
	sh.do("delete "+p+"/c1", ``)
	st = stat("stat " + p)
	if n := statInt(t, st, "numChildren"); n != 3 {
		t.Errorf("after delete numChildren = %d, want 3", n)
	}
	sh.send("deleteall " + p)
	sh.do("stat "+p, `Node does not exist: `+regexp.QuoteMeta(p))

	// ACLs: default is world:anyone:cdrwa; setAcl restricts it.
	ro := base + "/ro"
	sh.do("create "+ro+" v", "Created "+regexp.QuoteMeta(ro))
	sh.do("getAcl "+ro, `'world,'anyone\n: cdrwa\n`)
	sh.send("setAcl " + ro + " world:anyone:r")
	sh.do("getAcl "+ro, `'world,'anyone\n: r\n`)
	st = stat("stat " + ro)
	if v := statInt(t, st, "aclVersion"); v != 1 {
		t.Errorf("after setAcl aclVersion = %d, want 1", v)
	}
	sh.do("set "+ro+" w", `Insufficient permission : `+regexp.QuoteMeta(ro))

	// addauth then an auth: ACL; the digest id is user:base64(sha1(user:pw)).
	sec := base + "/secret"
	sh.send("addauth digest alice:pw1")
	sh.do("create "+sec+" s1 auth:alice:pw1:cdrwa", "Created "+regexp.QuoteMeta(sec))
	sh.do("getAcl "+sec, regexp.QuoteMeta("'digest,'"+digestID("alice", "pw1")+"\n: cdrwa\n"))
	sh.send("get " + sec)
	sh.expect(`(?m)^s1$`, 20*time.Second)
	sh.send("quit")
	sh.close(30 * time.Second)

	// Another session without the credentials is refused.
	r := run(t, 60*time.Second, "", zkCliEnv, cli, "-server", serverAddr, "get", sec)
	if r.code == 0 || !strings.Contains(r.out, "Insufficient permission : "+sec) {
		t.Fatalf("get %s without auth: want Insufficient permission, exit %d, output:\n%s", sec, r.code, r.out)
	}
	// deleteall of a subtree with no ACL restrictions.
	r = run(t, 60*time.Second, "deleteall "+base+"/ro\nls "+base+"\nquit\n", zkCliEnv, cli, "-server", serverAddr)
	if !strings.Contains(r.out, "[secret]") {
		t.Fatalf("after deleteall %s/ro want ls %s = [secret], output:\n%s", base, base, r.out)
	}
}
