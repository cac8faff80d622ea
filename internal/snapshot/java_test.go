package snapshot

// Compatibility with Apache ZooKeeper 3.8 itself (Debian's zookeeper
// package): its SnapshotFormatter and its server read zkd's files, and zkd
// reads the server's. Skipped without java or the jar, except in CI.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/datatree"
	"github.com/zkd/zkd/internal/wire"
	"github.com/zkd/zkd/test/harness"
)

func javaClasspath() string {
	var parts []string
	for _, j := range []string{"zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-simple.jar"} {
		parts = append(parts, filepath.Join(harness.JavaDir, j))
	}
	return strings.Join(parts, ":")
}

func requireJava(t *testing.T) {
	t.Helper()
	harness.RequireOrSkip(t, harness.ZooKeeperAvailable())
}

// runFormatter runs org.apache.zookeeper.server.SnapshotFormatter.
func runFormatter(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("java", append([]string{"-cp", javaClasspath(), "org.apache.zookeeper.server.SnapshotFormatter"}, args...)...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "SnapshotFormatter failed:\n%s\n%s", stdout.String(), stderr.String())
	return stdout.String()
}

// formatterView splits SnapshotFormatter output into what does not depend
// on hash-set iteration order: the header, each node's block by path, the
// session lines (sorted) and the trailer.
type formatterView struct {
	Header   string
	Nodes    map[string]string
	Sessions []string
	Trailer  string
}

func parseFormatter(t *testing.T, out string) formatterView {
	t.Helper()
	parts := strings.Split(out, "----\n")
	require.GreaterOrEqual(t, len(parts), 4, out)
	v := formatterView{Header: parts[0], Nodes: map[string]string{}, Trailer: parts[len(parts)-1]}
	for _, blk := range parts[1 : len(parts)-2] {
		path, _, _ := strings.Cut(blk, "\n")
		v.Nodes[path] = blk
	}
	v.Sessions = strings.Split(strings.TrimSpace(parts[len(parts)-2]), "\n")
	sort.Strings(v.Sessions)
	return v
}

func TestZooKeeperSnapshotFormatterReadsOurSnapshot(t *testing.T) {
	requireJava(t)
	p := writeTree(t, build(t, everyKind(5000)), 0x300000010, everyKindSessions)
	for _, withData := range []bool{false, true} {
		t.Run(fmt.Sprintf("data=%v", withData), func(t *testing.T) {
			args := []string{p}
			if withData {
				args = []string{"-d", p}
			}
			javaOut := runFormatter(t, args...)
			var ours bytes.Buffer
			require.NoError(t, Dump(&ours, p, DumpOptions{Data: withData, Location: time.UTC}))

			jv, ov := parseFormatter(t, javaOut), parseFormatter(t, ours.String())
			require.Equal(t, jv.Header, ov.Header)
			require.Equal(t, jv.Trailer, ov.Trailer)
			require.Equal(t, jv.Sessions, ov.Sessions)
			require.Equal(t, len(jv.Nodes), len(ov.Nodes))
			for path, blk := range ov.Nodes {
				require.Equal(t, blk, jv.Nodes[path], "node %s", path)
			}
			require.Contains(t, jv.Nodes, "/app/container/x")
			require.Contains(t, jv.Nodes, "/ünïcødé/日本")
		})
	}
}

func TestZooKeeperFormatterMatchesOursOnTheEmptyTree(t *testing.T) {
	requireJava(t)
	p := writeTree(t, datatree.New(nil), 0, nil)
	var ours bytes.Buffer
	require.NoError(t, Dump(&ours, p, DumpOptions{Location: time.UTC}))
	jv, ov := parseFormatter(t, runFormatter(t, p)), parseFormatter(t, ours.String())
	require.Equal(t, jv, ov)
}

// javaServer is a ZooKeeper standalone server on a data dir the test owns,
// so it can be restarted on the same data.
type javaServer struct {
	addr string
	cfg  string
	cmd  *exec.Cmd
	logf string // the server's output; a file, as the process writes it concurrently
	done chan struct{}
}

func (s *javaServer) log() string {
	b, _ := os.ReadFile(s.logf)
	return string(b)
}

func newJavaServer(t *testing.T, dataDir string) *javaServer {
	t.Helper()
	port, err := harness.FreePort()
	require.NoError(t, err)
	cfg := filepath.Join(t.TempDir(), "zoo.cfg")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(
		"tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
			"admin.enableServer=false\n4lw.commands.whitelist=*\nextendedTypesEnabled=true\n",
		dataDir, port)), 0o644))
	return &javaServer{addr: fmt.Sprintf("127.0.0.1:%d", port), cfg: cfg, logf: filepath.Join(filepath.Dir(cfg), "server.log")}
}

func (s *javaServer) start(t *testing.T) {
	t.Helper()
	logFile, err := os.OpenFile(s.logf, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	s.done = make(chan struct{})
	s.cmd = exec.Command("java", "-Xmx256m", "-XX:+UseSerialGC", "-Djava.net.preferIPv4Stack=true",
		"-cp", javaClasspath(), "org.apache.zookeeper.server.ZooKeeperServerMain", s.cfg)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	require.NoError(t, s.cmd.Start())
	done, cmd := s.done, s.cmd
	go func() { _ = cmd.Wait(); logFile.Close(); close(done) }()
	t.Cleanup(s.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if out, err := harness.FourLetterWord(s.addr, "srvr", time.Second); err == nil && strings.Contains(out, "Mode:") {
			return
		}
		select {
		case <-done:
			t.Fatalf("ZooKeeper exited early:\n%s", s.log())
		default:
		}
		if time.Now().After(deadline) {
			s.stop()
			t.Fatalf("ZooKeeper not ready:\n%s", s.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends SIGTERM to the process this test started and waits for it.
func (s *javaServer) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// quietLogger keeps the client's reconnect chatter out of test output.
type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

func connect(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, events, err := zk.Connect([]string{addr}, 30*time.Second, zk.WithLogger(quietLogger{}))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return c
			}
		case <-deadline:
			t.Fatal("no ZooKeeper session")
		}
	}
}

func worldReadable(acl []wire.ACL) bool {
	for _, a := range acl {
		if a.ID == wire.AnyoneID && a.Perms&wire.PermRead != 0 {
			return true
		}
	}
	return false
}

// TestZooKeeperServerLoadsOurSnapshot puts a zkd snapshot in a fresh
// dataDir and starts ZooKeeper on it: the server checks both checksums and
// seals (FileSnap.deserialize), and clients then see our nodes.
func TestZooKeeperServerLoadsOurSnapshot(t *testing.T) {
	requireJava(t)
	data := t.TempDir()
	snapDir := filepath.Join(data, "version-2")
	require.NoError(t, os.MkdirAll(snapDir, 0o755))
	tree := build(t, everyKind(200000))
	sessions := []Session{{ID: sessA, Timeout: 30000}, {ID: sessB, Timeout: 30000}}
	_, err := Write(snapDir, 0x1000, tree, sessions, true)
	require.NoError(t, err)

	srv := newJavaServer(t, data)
	srv.start(t)
	require.NotContains(t, srv.log(), "problem reading snap file")
	require.Contains(t, srv.log(), "Reading snapshot "+filepath.Join(snapDir, "snapshot.1000"))
	m := regexp.MustCompile(`Snapshot loaded in .* digest is (-?\d+)`).FindStringSubmatch(srv.log())
	require.NotNil(t, m, "ZooKeeper logs the digest of the tree it loaded")
	require.Equal(t, m[1], strconv.FormatInt(TreeDigest(tree), 10), "ZooKeeper's digest of our tree")
	c := connect(t, srv.addr)

	for _, n := range collect(t, tree) {
		if strings.HasPrefix(n.Path, "/zookeeper") {
			continue // /zookeeper/config is rebuilt, quota stats are recomputed
		}
		ok, st, err := c.Exists(n.Path)
		require.NoError(t, err, n.Path)
		if n.Stat.EphemeralOwner == sessX {
			require.False(t, ok, "%s: ephemeral of a session not in the snapshot must be dropped", n.Path)
			continue
		}
		require.True(t, ok, n.Path)
		require.Equal(t, n.Stat.Czxid, st.Czxid, n.Path)
		require.Equal(t, n.Stat.Mzxid, st.Mzxid, n.Path)
		if n.Path != "/app" { // dropping /app/orphan at load moved its pzxid
			require.Equal(t, n.Stat.Pzxid, st.Pzxid, n.Path)
		}
		require.Equal(t, n.Stat.Ctime, st.Ctime, n.Path)
		require.Equal(t, n.Stat.Mtime, st.Mtime, n.Path)
		require.Equal(t, n.Stat.Version, st.Version, n.Path)
		require.Equal(t, n.Stat.Aversion, st.Aversion, n.Path)
		require.Equal(t, 2*n.Stat.Cversion-st.NumChildren, st.Cversion, n.Path)
		require.Equal(t, int32(len(n.Data)), st.DataLength, n.Path)
		if datatree.KindOf(n.Stat.EphemeralOwner) == datatree.Ephemeral {
			require.Equal(t, n.Stat.EphemeralOwner, st.EphemeralOwner, n.Path)
		}
		if worldReadable(n.ACL) {
			got, _, err := c.Get(n.Path)
			require.NoError(t, err, n.Path)
			require.Equal(t, n.Data, got, n.Path)
			require.Equal(t, n.Data == nil, got == nil, "null data of %s", n.Path)
			acl, _, err := c.GetACL(n.Path)
			require.NoError(t, err, n.Path)
			require.Len(t, acl, len(n.ACL))
			for i := range acl {
				w := n.ACL[i]
				if w.ID.Scheme == "digest" {
					// Without ADMIN, getACL masks digests as user:x.
					user, _, _ := strings.Cut(w.ID.ID, ":")
					w.ID.ID = user + ":x"
				}
				require.Equal(t, w, wire.ACL{Perms: acl[i].Perms, ID: wire.Id{Scheme: acl[i].Scheme, ID: acl[i].ID}}, n.Path)
			}
		}
	}
}

// TestWeReadZooKeeperSnapshots has ZooKeeper write a snapshot holding
// nodes of every kind (it snapshots when it starts on existing data), then
// reads it and checks nodes, sessions and the tree digest.
func TestWeReadZooKeeperSnapshots(t *testing.T) {
	requireJava(t)
	data := t.TempDir()
	srv := newJavaServer(t, data)
	srv.start(t)
	c := connect(t, srv.addr)

	open := zk.WorldACL(zk.PermAll)
	type want struct {
		data  []byte
		owner int64
	}
	created := map[string]want{}
	mk := func(p string, d []byte, flags int32, acl []zk.ACL) string {
		got, err := c.Create(p, d, flags, acl)
		require.NoError(t, err, p)
		return got
	}
	mk("/compat", []byte("hello"), 0, open)
	created["/compat"] = want{data: []byte("hello")}
	mk("/compat/null", nil, 0, open)
	created["/compat/null"] = want{}
	mk("/compat/empty", []byte{}, 0, open)
	created["/compat/empty"] = want{data: []byte{}}
	mk("/compat/acl", []byte("secret"), 0, zk.DigestACL(zk.PermAll, "user", "pw"))
	created["/compat/acl"] = want{data: []byte("secret")}
	mk("/compat/eph", []byte("e"), zk.FlagEphemeral, open)
	created["/compat/eph"] = want{data: []byte("e"), owner: c.SessionID()}
	seq := mk("/compat/seq-", []byte("s"), zk.FlagSequence, zk.WorldACL(zk.PermRead))
	created[seq] = want{data: []byte("s")}
	_, err := c.CreateContainer("/compat/container", []byte("c"), zk.FlagContainer, open)
	require.NoError(t, err)
	created["/compat/container"] = want{data: []byte("c"), owner: datatree.ContainerOwner}
	mk("/compat/container/kid", []byte("k"), 0, open)
	created["/compat/container/kid"] = want{data: []byte("k")}
	_, err = c.CreateTTL("/compat/ttl", []byte("t"), zk.FlagTTL, open, time.Hour)
	require.NoError(t, err)
	created["/compat/ttl"] = want{data: []byte("t"), owner: datatree.TTLOwner(3600000)}
	_, err = c.Set("/compat", []byte("hello again"), 0)
	require.NoError(t, err)
	created["/compat"] = want{data: []byte("hello again")}
	_, err = c.SetACL("/compat/empty", zk.WorldACL(zk.PermRead|zk.PermWrite), 0)
	require.NoError(t, err)
	stats := map[string]*zk.Stat{}
	for p := range created {
		_, st, err := c.Exists(p)
		require.NoError(t, err)
		stats[p] = st
	}

	// Restart on the same data: ZooKeeper replays its log and writes a
	// snapshot of everything, quiescent, so it carries an exact digest.
	srv.stop()
	srv.start(t)
	srv.stop()

	l, skipped, err := FindNewestValid(filepath.Join(data, "version-2"), 0)
	require.NoError(t, err)
	require.Empty(t, skipped)
	require.NotNil(t, l)
	t.Logf("read %s (zxid %#x)", l.Path, l.Zxid)

	got := map[string]rec{}
	for _, r := range collect(t, l.Tree) {
		got[r.Path] = r
	}
	for p, w := range created {
		r, ok := got[p]
		require.True(t, ok, "%s missing from ZooKeeper's snapshot", p)
		require.Equal(t, w.data, r.Data, p)
		require.Equal(t, w.data == nil, r.Data == nil, "null data of %s", p)
		require.Equal(t, w.owner, r.Stat.EphemeralOwner, p)
		st := stats[p]
		require.Equal(t, st.Czxid, r.Stat.Czxid, p)
		require.Equal(t, st.Mzxid, r.Stat.Mzxid, p)
		require.Equal(t, st.Version, r.Stat.Version, p)
		require.Equal(t, st.Aversion, r.Stat.Aversion, p)
		require.Equal(t, st.Pzxid, r.Stat.Pzxid, p)
	}
	require.Equal(t, []wire.ACL{{Perms: wire.PermRead | wire.PermWrite, ID: wire.AnyoneID}}, got["/compat/empty"].ACL)
	require.Equal(t, "digest", got["/compat/acl"].ACL[0].ID.Scheme)
	require.Equal(t, wire.ReadACLUnsafe, got["/zookeeper/config"].ACL)
	require.Contains(t, l.Sessions, Session{ID: c.SessionID(), Timeout: 30000})
	require.Equal(t, []string{"/compat/eph"}, l.Tree.Ephemerals(c.SessionID()))

	require.NotNil(t, l.Digest, "ZooKeeper 3.8 writes a digest by default")
	require.Equal(t, l.Zxid, l.Digest.Zxid, "a snapshot taken at startup is quiescent")
	require.Equal(t, DigestVersion, l.Digest.Version)
	require.Equal(t, l.Digest.Value, TreeDigest(l.Tree), "our DigestCalculator v2 must agree with ZooKeeper's")

	// And zkd's dump agrees with ZooKeeper's formatter on ZooKeeper's file.
	var ours bytes.Buffer
	require.NoError(t, Dump(&ours, l.Path, DumpOptions{Location: time.UTC}))
	jv, ov := parseFormatter(t, runFormatter(t, l.Path)), parseFormatter(t, ours.String())
	require.Equal(t, jv, ov)
}
