package cli

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

// waitOut waits until the shell's stdout holds want and takes it.
func (s *tshell) waitOut(want string) {
	s.t.Helper()
	require.Eventually(s.t, func() bool { return strings.Contains(s.out.String(), want) },
		5*time.Second, 10*time.Millisecond, "never printed %q; got %q", want, s.out.String())
	require.Equal(s.t, want, s.out.take())
}

// okThenOut runs line, requires success and that everything it and the
// events it causes print on stdout is want. An event may be printed before
// the command returns or after, so the two are read together.
func (s *tshell) okThenOut(line, want string) {
	s.t.Helper()
	require.NoError(s.t, s.Exec(line), "%s: stderr %q", line, s.err.String())
	require.Equal(s.t, "", s.err.take(), line)
	s.waitOut(want)
}

func event(typ, path string) string {
	return "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:" + typ + " path:" + path + "\n"
}

// Persistent watches stay after firing; recursive ones see the whole
// subtree; removewatches drops them and says so with a PersistentWatchRemoved
// event, as zkCli's default watcher prints it.
func TestAddWatchAndRemoveWatches(t *testing.T) {
	addr := startServer(t)
	sh, other := newShell(t, addr), newShell(t, addr)
	sh.ok("create /p")

	require.Equal(t, "", sh.ok("addWatch -m persistent /p"))
	other.ok("set /p 1")
	sh.waitOut(event("NodeDataChanged", "/p"))
	other.ok("set /p 2") // still there: not one-shot
	sh.waitOut(event("NodeDataChanged", "/p"))
	other.ok("create /p/c")
	sh.waitOut(event("NodeChildrenChanged", "/p"))

	sh.okThenOut("removewatches /p", event("PersistentWatchRemoved", "/p"))
	require.Equal(t, "KeeperErrorCode = No such watcher for /p\n", sh.fail("removewatches /p"))

	// The default mode is recursive: a grandchild's change is seen.
	require.Equal(t, "", sh.ok("addWatch /p"))
	other.ok("create /p/c/d")
	sh.waitOut(event("NodeCreated", "/p/c/d"))
	other.ok("set /p/c/d x")
	sh.waitOut(event("NodeDataChanged", "/p/c/d"))
	// -d removes only data watches: the recursive watch is not one, but
	// counts as present, so the client answers NoWatcher only from the server.
	sh.okThenOut("removewatches /p -a", event("PersistentWatchRemoved", "/p"))

	// One-shot watches can be removed by type.
	sh.ok("get -w /p")
	sh.ok("ls -w /p")
	sh.okThenOut("removewatches /p -d", event("DataWatchRemoved", "/p"))
	sh.okThenOut("removewatches /p -c", event("ChildWatchRemoved", "/p"))
	other.ok("set /p 3")
	require.Equal(t, "Sync is OK\n", sh.ok("sync /p")) // a round trip after the change
	require.Equal(t, "", sh.out.take())

	require.Equal(t, "addWatch [-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE\n",
		sh.fail("addWatch -m sometimes /p"))
	require.Equal(t, "org.apache.commons.cli.MissingArgumentException: Missing argument for option: m\n", sh.fail("addWatch -m"))
	require.Equal(t, "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -x\n", sh.fail("removewatches /p -x"))
	require.Equal(t, "removewatches path [-c|-d|-a] [-l]\n", sh.fail("removewatches"))
	require.Equal(t, "Path must start with / character\n", sh.fail("removewatches p"))
}

func TestGetEphemeralsAndAllChildrenNumber(t *testing.T) {
	addr := startServer(t)
	sh, other := newShell(t, addr), newShell(t, addr)
	sh.ok("create /g")
	sh.ok("create /g/a")
	sh.ok("create -e /g/a/e1")
	sh.ok("create -e /g/e2")
	other.ok("create -e /g/o")

	require.ElementsMatch(t, []string{"/g/a/e1", "/g/e2"}, parseList(t, sh.ok("getEphemerals")))
	require.ElementsMatch(t, []string{"/g/a/e1"}, parseList(t, sh.ok("getEphemerals /g/a")))
	require.Equal(t, "[/g/o]\n", other.ok("getEphemerals /g"))
	require.Equal(t, "[]\n", other.ok("getEphemerals /none"))
	require.Equal(t, "Path must start with / character\n", sh.fail("getEphemerals g"))

	require.Equal(t, "4\n", sh.ok("getAllChildrenNumber /g"))
	require.Equal(t, "1\n", sh.ok("getAllChildrenNumber /g/a"))
	require.Equal(t, "Node does not exist: /none\n", sh.fail("getAllChildrenNumber /none"))
	require.Equal(t, "getAllChildrenNumber path\n", sh.fail("getAllChildrenNumber"))
}

func parseList(t *testing.T, out string) []string {
	t.Helper()
	require.True(t, strings.HasPrefix(out, "[") && strings.HasSuffix(out, "]\n"), out)
	body := strings.TrimSuffix(strings.TrimPrefix(out, "["), "]\n")
	if body == "" {
		return nil
	}
	return strings.Split(body, ", ")
}

// TestQuotaLimits checks what the client keeps by itself: the limits node,
// its format, the refusals for nested quotas, partial and full deletion.
// The stats node's numbers come from the server and are not checked here
// (see TestCliMatchesZkCli in cmd/zkd for them).
func TestQuotaLimits(t *testing.T) {
	sh := newShell(t, startServer(t))
	sh.ok("create /q data")
	sh.ok("create /q/a")
	sh.ok("create /q/a/b")

	require.Equal(t, "", sh.ok("setquota -n 10 /q/a"))
	require.Equal(t, "count=10,bytes=-1=;byteHardLimit=-1;countHardLimit=-1\n", sh.ok("get /zookeeper/quota/q/a/zookeeper_limits"))
	require.Equal(t, "[zookeeper_limits, zookeeper_stats]\n", sh.ok("ls /zookeeper/quota/q/a"))

	// Limits merge: each setquota changes one value.
	require.Equal(t, "", sh.ok("setquota -B 4096 /q/a"))
	require.Equal(t, "", sh.ok("setquota -b 100 /q/a"))
	require.Equal(t, "", sh.ok("setquota -N 20 /q/a"))
	out := sh.ok("listquota /q/a")
	require.True(t, strings.HasPrefix(out,
		"Output quota for /q/a count=10,bytes=100=;byteHardLimit=4096;countHardLimit=20\nOutput stat for /q/a count="), out)

	// Nested quotas are refused both ways.
	require.Equal(t, "/q/a/b has a parent /q/a which has a quota\n", sh.fail("setquota -n 1 /q/a/b"))
	require.Equal(t, "/q has a child /q/a which has a quota\n", sh.fail("setquota -n 1 /q"))
	require.Equal(t, "/none does not exist.\n", sh.fail("setquota -n 1 /none"))

	// Bad values: zkCli prints and returns normally.
	require.Equal(t, "the num quota must be greater than zero\n", sh.ok("setquota -N 0 /q/a"))
	require.Equal(t, "the bytes quota must be greater than or equal to zero\n", sh.ok("setquota -b -1 /q/a"))
	require.Equal(t, "NumberFormatException happens when parsing the option value\n", sh.ok("setquota -n 2147483648 /q/a"))
	require.Equal(t, "cannot set a quota under the path: /zookeeper/quota\n", sh.ok("setquota -n 1 /zookeeper/quota/q"))
	require.Equal(t, "org.apache.commons.cli.MissingOptionException: Missing required option: [-n num soft quota, -b bytes soft quota, -N num hard quota, -B bytes hard quota]\n",
		sh.fail("setquota /q"))
	require.Equal(t, "org.apache.commons.cli.AlreadySelectedException: The option 'b' was specified but an option from this group has already been selected: 'n'\n",
		sh.fail("setquota -n 1 -b 2 /q"))

	// delquota with a flag resets one limit.
	require.Equal(t, "", sh.ok("delquota -B /q/a"))
	require.Equal(t, "count=10,bytes=100=;byteHardLimit=-1;countHardLimit=20\n", sh.ok("get /zookeeper/quota/q/a/zookeeper_limits"))
	// Without a flag it removes the quota and the empty nodes above it.
	require.Equal(t, "", sh.ok("delquota /q/a"))
	require.Equal(t, "[]\n", sh.ok("ls /zookeeper/quota"))
	require.Equal(t, "absolute path is /zookeeper/quota/q/a/zookeeper_limits\nquota for /q/a does not exist.\n", sh.ok("listquota /q/a"))
	require.Equal(t, "Quota does not exist for /q/a\n", sh.ok("delquota /q/a"))
	// The server counts /q, /q/a and /q/a/b: a limit of 1 is already
	// exceeded, which setquota warns about (as zkCli does).
	require.Equal(t, "[Warning]: the count quota you create is less than the existing count:3\n", sh.ok("setquota -n 1 /q"))
	require.Equal(t, "delquota [-n|-b|-N|-B] path\n", sh.fail("delquota"))
	require.Equal(t, "listquota path\n", sh.fail("listquota"))
}

func TestStatsTrack(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{"count=0,bytes=0", "count=0,bytes=0"},
		{"count=1,bytes=-1=;countHardLimit=5;byteHardLimit=-1", "count=1,bytes=-1=;byteHardLimit=-1;countHardLimit=5"},
		{"bytes=7", "count=-1,bytes=7"},
		{"", "count=-1,bytes=-1"},
	} {
		st, err := parseStatsTrack(c.in)
		require.NoError(t, err)
		require.Equal(t, c.out, st.String(), c.in)
	}
	_, err := parseStatsTrack("count=")
	require.Error(t, err)
}

func TestValidatePath(t *testing.T) {
	for p, want := range map[string]string{
		"/":      "",
		"/a/b":   "",
		"a":      "Path must start with / character",
		"/a/":    "Path must not end with / character",
		"/a//b":  `Invalid path string "/a//b" caused by empty node name specified @3`,
		"/a/../": "Path must not end with / character",
		"/a/..":  `Invalid path string "/a/.." caused by relative paths not allowed @4`,
		"/a/.":   `Invalid path string "/a/." caused by relative paths not allowed @3`,
		"/a\x01": `Invalid path string "/a` + "\x01" + `" caused by invalid character @2`,
	} {
		err := validatePath(p)
		if want == "" {
			require.NoError(t, err, p)
		} else {
			require.EqualError(t, err, want, p)
		}
	}
}

// TestQuotaStatsFromServer checks the numbers the server keeps in
// zookeeper_stats (count of nodes in the subtree including its root,
// bytes of their data), as Apache ZooKeeper does, and the warning setquota
// prints when a new limit is already exceeded.
func TestQuotaStatsFromServer(t *testing.T) {
	sh := newShell(t, startServer(t))
	sh.ok("create /s abc")
	sh.ok("create /s/x 12345")
	sh.ok("create /s/y")
	out := sh.ok("setquota -n 1 /s")
	require.Equal(t, "[Warning]: the count quota you create is less than the existing count:3\n", out)
	// stdout, then stderr ("absolute path is" goes there, as in zkCli).
	require.Equal(t, "Output quota for /s count=1,bytes=-1=;byteHardLimit=-1;countHardLimit=-1\n"+
		"Output stat for /s count=3,bytes=8\n"+
		"absolute path is /zookeeper/quota/s/zookeeper_limits\n", sh.ok("listquota /s"))
	require.Equal(t, "[Warning]: the count quota you create is less than the existing count:3\n"+
		"[Warning]: the bytes quota you create is less than the existing bytes:8\n", sh.ok("setquota -b 4 /s"))
}

func TestKeeperMessages(t *testing.T) {
	require.Equal(t, "Quota has exceeded : /s/z", keeperMessage(wire.ErrQuotaExceeded, "/s/z"))
	require.Equal(t, "KeeperErrorCode = No such watcher for /w", keeperMessage(wire.ErrNoWatcher, "/w"))
	require.Equal(t, "KeeperErrorCode = ConnectionLoss for /w", keeperMessage(fmt.Errorf("%w: eof", wire.ErrConnectionLoss), "/w"))
	require.Equal(t, "Directory not empty", codeMessage(wire.ErrNotEmpty))
}
