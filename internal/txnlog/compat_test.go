package txnlog

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

// zookeeperJars is the classpath of the Debian "zookeeper" package.
var zookeeperJars = []string{
	"/usr/share/java/zookeeper.jar",
	"/usr/share/java/zookeeper-jute.jar",
	"/usr/share/java/slf4j-api.jar",
	"/usr/share/java/slf4j-simple.jar",
}

// Golden compatibility: ZooKeeper's own TxnLogToolkit reads every txn of
// logs written by this package, across padding extensions and rolls, with
// no CRC error, and prints the records it formats with toString exactly
// as our text dump does.
func TestZooKeeperTxnLogToolkitReadsOurLogs(t *testing.T) {
	java, err := exec.LookPath("java")
	missing := err != nil
	for _, j := range zookeeperJars {
		if _, err := os.Stat(j); err != nil {
			missing = true
		}
	}
	if missing {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but java or the zookeeper jars (Debian package zookeeper) are missing")
		}
		t.Skip("java or /usr/share/java/zookeeper.jar not installed")
	}

	dir := t.TempDir()
	// Small preallocation so that files are extended many times, and
	// entries larger than it so that writes run past the padded end.
	l := openLog(t, dir, Options{PreAllocSize: 8192, ForceSync: true})
	perFile := map[string][]*wire.TxnEntry{}
	kind := 0
	for epoch := uint32(1); epoch <= 3; epoch++ {
		var batch []*wire.TxnEntry
		for c := uint32(1); c <= 60; c++ {
			z := int64(wire.MakeZxid(epoch, c))
			var e *wire.TxnEntry
			if c%17 == 0 {
				e = sized(z, 20000)
			} else {
				e = txnOfKind(kind, z, false) // Java 3.8 cannot read a top-level check
				kind++
			}
			batch = append(batch, e)
			if len(batch) == 7 {
				require.NoError(t, l.Append(batch...))
				require.NoError(t, l.Sync())
				batch = nil
			}
		}
		require.NoError(t, l.Append(batch...))
		require.NoError(t, l.Roll())
	}
	require.NoError(t, l.Close())
	it, err := NewIterator(dir, 0, 0)
	require.NoError(t, err)
	for {
		e, err := it.Next()
		if err != nil {
			break
		}
		name := FileName(int64(wire.MakeZxid(wire.Zxid(e.Header.Zxid).Epoch(), 1)))
		perFile[name] = append(perFile[name], e)
	}
	it.Close()
	require.Len(t, perFile, 3)

	for name, want := range perFile {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(java, "-Duser.timezone=UTC", "-Duser.language=en", "-Duser.country=US",
				"-cp", strings.Join(zookeeperJars, ":"),
				"org.apache.zookeeper.server.persistence.TxnLogToolkit", "--dump", filepath.Join(dir, name))
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Run(), "stderr: %s", stderr.String())
			out := stdout.String()
			has := func(s string) bool { return strings.Contains(out, s) }
			require.True(t, has("ZooKeeper Transactional Log File with dbid 0 txnlog format version 2\n"), "header line")
			require.True(t, has(fmt.Sprintf("EOF reached after %d txns.", len(want))), "txn count; tail: %q", tail(out))
			require.False(t, has("CRC ERROR"), "no CRC error")
			require.False(t, has("partial"), "no partial txn")

			for _, e := range want {
				require.True(t, has(fmt.Sprintf(" zxid 0x%x %s ", e.Header.Zxid, javaOpName(e.Header.Type))), "txn %v", wire.Zxid(e.Header.Zxid))
				var data []byte
				switch r := e.Txn.(type) {
				case *wire.CreateTxn, *wire.CreateContainerTxn, *wire.CreateTTLTxn, *wire.MultiTxn:
					// Java prints ACL lists with embedded newlines and
					// multi sub-records as raw bytes; ours differ on purpose.
					continue
				case *wire.SetDataTxn:
					data = r.Data
				}
				if printable(data) {
					line := formatLine(e, time.UTC)
					require.True(t, has(line+"\n"), "Java printed %q differently", line)
				}
			}
		})
	}
}

func tail(s string) string {
	if len(s) > 300 {
		return s[len(s)-300:]
	}
	return s
}
