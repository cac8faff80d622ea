package cli

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/server/servertest"
)

// startServer runs an in-process zkd on a loopback port and returns its
// address.
func startServer(t *testing.T) string {
	t.Helper()
	addr, _ := servertest.Start(t, "extendedTypesEnabled=true")
	return addr
}

// syncBuf is a goroutine-safe buffer (watch events are printed
// asynchronously).
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuf) take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.b.String()
	s.b.Reset()
	return out
}

type tshell struct {
	*Shell
	t        *testing.T
	out, err *syncBuf
}

func newShell(t *testing.T, addr string) *tshell {
	t.Helper()
	out, errb := &syncBuf{}, &syncBuf{}
	sh := New(Options{Server: addr, Timeout: 5 * time.Second, Out: out, Err: errb})
	require.NoError(t, sh.Connect(""))
	t.Cleanup(sh.Close)
	return &tshell{Shell: sh, t: t, out: out, err: errb}
}

// ok runs line, requires success and returns its stdout.
func (s *tshell) ok(line string) string {
	s.t.Helper()
	err := s.Exec(line)
	require.NoError(s.t, err, "%s: stderr %q", line, s.err.String())
	// "Created" goes to stderr, as in zkCli; successful commands print
	// nothing else there.
	return s.out.take() + s.err.take()
}

// fail runs line, requires failure and returns its stderr.
func (s *tshell) fail(line string) string {
	s.t.Helper()
	err := s.Exec(line)
	require.Error(s.t, err, "%s: stdout %q", line, s.out.take())
	s.out.take()
	return s.err.take()
}

var statRe = regexp.MustCompile(`^cZxid = 0x[0-9a-f]+
ctime = \w{3} \w{3} \d\d \d\d:\d\d:\d\d \S+ \d{4}
mZxid = 0x[0-9a-f]+
mtime = \w{3} \w{3} \d\d \d\d:\d\d:\d\d \S+ \d{4}
pZxid = 0x[0-9a-f]+
cversion = -?\d+
dataVersion = \d+
aclVersion = \d+
ephemeralOwner = 0x[0-9a-f]+
dataLength = \d+
numChildren = \d+
$`)

func statOf(t *testing.T, block string) map[string]string {
	t.Helper()
	require.Regexp(t, statRe, block)
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(block), "\n") {
		k, v, _ := strings.Cut(l, " = ")
		m[k] = v
	}
	return m
}

func TestCommands(t *testing.T) {
	sh := newShell(t, startServer(t))

	require.Equal(t, "Created /a\n", sh.ok("create /a hello"))
	require.Equal(t, "Node already exists: /a\n", sh.fail("create /a again"))
	require.Equal(t, "Created /a/c\n", sh.ok("create /a/c"))
	require.Equal(t, "Created /a/b\n", sh.ok(`create /a/b "two words"`))
	require.Equal(t, "[b, c]\n", sh.ok("ls /a"))
	require.Equal(t, "hello\n", sh.ok("get /a"))
	require.Equal(t, "null\n", sh.ok("get /a/c"))
	require.Equal(t, "two words\n", sh.ok("get /a/b"))
	require.Equal(t, "Node does not exist: /nope\n", sh.fail("get /nope"))
	require.Equal(t, "Node does not exist: /nope\n", sh.fail("ls /nope"))
	require.Equal(t, "Node does not exist: /nope\n", sh.fail("stat /nope"))

	out := sh.ok("get -s /a")
	data, block, _ := strings.Cut(out, "\n")
	require.Equal(t, "hello", data)
	st := statOf(t, block)
	require.Equal(t, "5", st["dataLength"])
	require.Equal(t, "2", st["numChildren"])
	require.Equal(t, "0", st["dataVersion"])
	require.Equal(t, "0x0", st["ephemeralOwner"])

	out = sh.ok("ls -s /a")
	list, block, _ := strings.Cut(out, "\n")
	require.Equal(t, "[b, c]", list)
	statOf(t, block)

	require.Equal(t, "/a\n/a/b\n/a/c\n", sh.ok("ls -R /a"))

	require.Equal(t, "", sh.ok("set /a world"))
	st = statOf(t, sh.ok("set -s /a world2"))
	require.Equal(t, "2", st["dataVersion"])
	require.Equal(t, "version No is not valid : /a\n", sh.fail("set -v 1 /a x"))
	require.Equal(t, "", sh.ok("set -v 2 /a x"))
	st = statOf(t, sh.ok("stat /a"))
	require.Equal(t, "3", st["dataVersion"])
	require.Equal(t, "1", st["dataLength"])

	require.Equal(t, "'world,'anyone\n: cdrwa\n", sh.ok("getAcl /a"))
	out = sh.ok("getAcl -s /a")
	require.True(t, strings.HasPrefix(out, "'world,'anyone\n: cdrwa\n"), out)
	statOf(t, strings.TrimPrefix(out, "'world,'anyone\n: cdrwa\n"))

	require.Equal(t, "", sh.ok("setAcl /a/b world:anyone:ra"))
	require.Equal(t, "'world,'anyone\n: ra\n", sh.ok("getAcl /a/b"))
	require.Equal(t, "Insufficient permission : /a/b\n", sh.fail("set /a/b x"))
	st = statOf(t, sh.ok("setAcl -s /a/c world:anyone:cdra"))
	require.Equal(t, "1", st["aclVersion"])
	require.Equal(t, "", sh.ok("setAcl -R /a world:anyone:cdrwa"))
	require.Equal(t, "'world,'anyone\n: cdrwa\n", sh.ok("getAcl /a/b"))

	// digest auth
	require.Equal(t, "", sh.ok("addauth digest u:p"))
	require.Equal(t, "Created /sec\n", sh.ok("create /sec x auth::cdrwa"))
	out = sh.ok("getAcl /sec")
	require.Regexp(t, `^'digest,'u:\S+\n: cdrwa\n$`, out)
	other := newShell(t, sh.opts.Server)
	require.Equal(t, "Insufficient permission : /sec\n", other.fail("get /sec"))

	// sequential, ephemeral, container, ttl
	require.Equal(t, "Created /a/s0000000002\n", sh.ok("create -s /a/s"))
	require.Equal(t, "Created /e\n", sh.ok("create -e /e"))
	require.Equal(t, "Ephemerals cannot have children: /e/x\n", sh.fail("create /e/x"))
	require.Equal(t, "Created /cont\n", sh.ok("create -c /cont"))
	require.Equal(t, "Created /ttl\n", sh.ok("create -t 100000 /ttl"))
	st = statOf(t, sh.ok("stat /e"))
	require.Equal(t, fmt.Sprintf("0x%x", sh.Conn().SessionID()), st["ephemeralOwner"])
	require.Equal(t, "[/e]\n", sh.ok("getEphemerals"))
	require.Equal(t, "[/e]\n", sh.ok("getEphemerals /"))
	require.Equal(t, "[]\n", other.ok("getEphemerals /"))
	require.Equal(t, "3\n", sh.ok("getAllChildrenNumber /a"))

	require.Equal(t, "Sync is OK\n", sh.ok("sync /a"))

	// delete and deleteall
	require.Equal(t, "Node not empty: /a\n", sh.fail("delete /a"))
	require.Equal(t, "version No is not valid : /a/c\n", sh.fail("delete -v 7 /a/c"))
	require.Equal(t, "", sh.ok("delete -v 0 /a/c"))
	require.Equal(t, "", sh.ok("deleteall /a"))
	require.Equal(t, "Node does not exist: /a\n", sh.fail("stat /a"))
	require.Equal(t, "Node does not exist: /a\n", sh.fail("deleteall /a"))

	// whoami reports the digest identity added above
	require.Equal(t, "Auth scheme: User\nip: 127.0.0.1\ndigest: u\n", sh.ok("whoami"))
	require.Equal(t, "Auth scheme: User\nip: 127.0.0.1\n", other.ok("whoami"))

	// bad usage
	require.Equal(t, "KeeperErrorCode = No such watcher for /x\n", sh.fail("removewatches /x"))
	require.Contains(t, sh.fail("get"), "get [-s] [-w] path")
	require.Contains(t, sh.fail("get a"), "Path must start with / character")
	usage := sh.fail("bogus")
	require.Contains(t, usage, "ZooKeeper -server host:port")
	for _, line := range []string{"\taddWatch [-m mode] path", "\twhoami \n", "\tsetquota -n|-b|-N|-B val path\n",
		"\tlistquota path\n", "\tdelquota [-n|-b|-N|-B] path\n", "\tremovewatches path [-c|-d|-a] [-l]\n",
		"\tgetEphemerals path\n", "\tgetAllChildrenNumber path\n", "\tquit \n"} {
		require.Contains(t, usage, line)
	}
	require.Equal(t, usage, sh.ok("help"))
}

func TestWatches(t *testing.T) {
	addr := startServer(t)
	sh := newShell(t, addr)
	other := newShell(t, addr)
	sh.ok("create /w x")

	sh.ok("get -w /w")
	other.ok("set /w y")
	require.Eventually(t, func() bool {
		return strings.Contains(sh.out.String(), "WatchedEvent state:SyncConnected type:NodeDataChanged path:/w")
	}, 5*time.Second, 10*time.Millisecond)
	out := sh.out.take()
	require.Equal(t, "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeDataChanged path:/w\n", out)

	sh.ok("ls -w /w")
	other.ok("create /w/c")
	require.Eventually(t, func() bool {
		return strings.Contains(sh.out.String(), "type:NodeChildrenChanged path:/w")
	}, 5*time.Second, 10*time.Millisecond)
	sh.out.take()

	sh.ok("printwatches off")
	require.Equal(t, "printwatches is off\n", sh.ok("printwatches"))
	sh.ok("stat -w /w")
	other.ok("set /w z")
	time.Sleep(200 * time.Millisecond)
	require.Equal(t, "", sh.out.take())
}

func TestHistoryRedoQuit(t *testing.T) {
	sh := newShell(t, startServer(t))
	sh.ok("create /h one")
	sh.ok("get /h")
	require.Equal(t, "0 - create /h one\n1 - get /h\n2 - history\n", sh.ok("history"))
	require.Equal(t, "one\n", sh.ok("redo 1"))
	require.Equal(t, "Node already exists: /h\n", sh.fail("redo 0"))
	require.Contains(t, sh.fail("redo 99"), "Command index out of range")
	require.Contains(t, sh.Prompt(), "(CONNECTED) 6]")

	sh.ok("close")
	require.Equal(t, "CLOSED", sh.State())
	require.Equal(t, "Not connected\n", sh.fail("ls /"))
	sh.ok("connect " + sh.opts.Server)
	require.Equal(t, "[h, zookeeper]\n", sh.ok("ls /"))
	sh.ok("quit")
	require.True(t, sh.Quit())
}

func TestRunScript(t *testing.T) {
	sh := newShell(t, startServer(t))
	err := sh.RunScript(strings.NewReader("create /r 1\n\n# comment\nget /r\nquit\nget /r\n"))
	require.NoError(t, err)
	require.Equal(t, "1\n", sh.out.take())
	require.Equal(t, "Created /r\n", sh.err.take())

	sh2 := newShell(t, sh.opts.Server)
	err = sh2.RunScript(strings.NewReader("get /nope\nget /r\n"))
	require.ErrorIs(t, err, ErrCommand)
	require.Equal(t, "1\n", sh2.out.take())
	require.Equal(t, "Node does not exist: /nope\n", sh2.err.take())
}

func TestCompleter(t *testing.T) {
	sh := newShell(t, startServer(t))
	sh.ok("create /alpha")
	sh.ok("create /alpha/one")
	sh.ok("create /alpha/other")
	c := &completer{s: sh.Shell}
	do := func(line string) []string {
		cands, n := c.Do([]rune(line), len([]rune(line)))
		var out []string
		for _, x := range cands {
			out = append(out, string(x))
		}
		_ = n
		return out
	}
	require.Equal(t, []string{"eate "}, do("cr"))
	require.Equal(t, []string{"lose ", "onfig ", "onnect ", "reate "}, do("c"))
	require.Equal(t, []string{"uota "}, do("setq"))
	require.Equal(t, []string{"ddWatch ", "ddauth "}, do("a"))
	require.Equal(t, []string{"pha"}, do("ls /al"))
	require.Equal(t, []string{"ne", "ther"}, do("get /alpha/o"))
	require.Empty(t, do("get /zz"))
}

func TestParseACL(t *testing.T) {
	acls, err := parseACL("world:anyone:cdrwa,digest:u:abc=:r,ip:127.0.0.1:rw")
	require.NoError(t, err)
	require.Len(t, acls, 3)
	require.Equal(t, "u:abc=", acls[1].ID.ID)
	require.Equal(t, "rw", permString(acls[2].Perms))
	_, err = parseACL("world:anyone")
	require.Error(t, err)
	_, err = parseACL("world:anyone:xyz")
	require.Error(t, err)
}
