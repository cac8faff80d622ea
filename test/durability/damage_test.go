package durability

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/wire"
	"github.com/zkd/zkd/test/harness"
)

// written is a node a test created, with the zxid of its create.
type written struct {
	path string
	data []byte
	zxid int64
}

// createMany creates count nodes under parent (which it creates if
// missing) and returns them with their zxids.
func createMany(t *testing.T, c *client, parent string, from, count int) []written {
	t.Helper()
	if _, ok := c.get(parent); !ok {
		c.mustCreate(parent, nil)
	}
	var out []written
	for i := from; i < from+count; i++ {
		p := fmt.Sprintf("%s/n%03d", parent, i)
		d := []byte(fmt.Sprintf("payload of %s: %s", p, strings.Repeat("z", i%50)))
		r, err := c.call(wire.OpCreate, createReq(p, d))
		if err != nil || r.Header.Err != wire.OK {
			t.Fatalf("create %s: %v %v", p, err, r.Header.Err)
		}
		out = append(out, written{p, d, r.Header.Zxid})
	}
	return out
}

// requireNodes checks every node is there with its data.
func requireNodes(t *testing.T, c *client, nodes []written) {
	t.Helper()
	for _, w := range nodes {
		got, ok := c.get(w.path)
		if !ok {
			t.Errorf("%s (zxid 0x%x) is missing", w.path, w.zxid)
		} else if !bytes.Equal(got, w.data) {
			t.Errorf("%s holds %q, want %q", w.path, got, w.data)
		}
	}
}

// mentions reports whether text names the file (by base name) and the
// offset (as a whole decimal number) on one line.
func mentions(text, file string, off int64) bool {
	re := regexp.MustCompile(`(^|[^0-9])` + fmt.Sprint(off) + `([^0-9]|$)`)
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, filepath.Base(file)) && re.MatchString(line) {
			return true
		}
	}
	return false
}

// warnings keeps the WARN lines of a server log.
func warnings(log string) string {
	var b strings.Builder
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "\tWARN\t") || strings.Contains(line, `"level":"warn"`) {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func TestTornTailIsCutWithAWarning(t *testing.T) {
	for _, mode := range []string{"TruncatedLastEntry", "GarbageAfterLastEntry"} {
		t.Run(mode, func(t *testing.T) {
			n := newNode(t, "preAllocSize=64")
			n.start()
			c := n.dial()
			nodes := createMany(t, c, "/t", 0, 30)
			_ = c.rc.Close() // no closeSession: the last entry is a create
			n.stop()

			logs := filesWith(t, n.v2(), "log")
			if len(logs) != 1 {
				t.Fatalf("want one log file, have %v", logs)
			}
			log := logs[0]
			entries := parseLog(t, log)
			last := entries[len(entries)-1]
			if last.zxid != nodes[len(nodes)-1].zxid {
				t.Fatalf("the last log entry has zxid 0x%x, want the last create's 0x%x", last.zxid, nodes[len(nodes)-1].zxid)
			}
			orig, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			var cutAt int64 // where the torn tail starts
			var cutBytes []byte
			switch mode {
			case "TruncatedLastEntry":
				// A crash in the middle of writing the last entry: keep half.
				end := last.start + (last.end-last.start)/2
				if err := os.Truncate(log, end); err != nil {
					t.Fatal(err)
				}
				cutAt, cutBytes = last.start, orig[last.start:end]
				nodes = nodes[:len(nodes)-1]
			case "GarbageAfterLastEntry":
				// The start of an entry that never got its body and 'B':
				// a checksum, a length of 100, 40 bytes, then the zeros of
				// the preallocated space.
				g := make([]byte, 52)
				copy(g, []byte{0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 100})
				for i := 12; i < len(g); i++ {
					g[i] = byte(0xA0 + i%16)
				}
				f, err := os.OpenFile(log, os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.WriteAt(g, last.end); err != nil {
					t.Fatal(err)
				}
				f.Close()
				cutAt, cutBytes = last.end, g
			}

			n.start()
			if !mentions(warnings(n.log()), log, cutAt) {
				t.Errorf("no warning naming %s and offset %d in the server log:\n%s", filepath.Base(log), cutAt, n.log())
			}
			n.requireCleanLog()
			aside := filepath.Join(n.v2(), fmt.Sprintf("torn.%s.%d", filepath.Base(log), cutAt))
			if got, err := os.ReadFile(aside); err != nil {
				t.Errorf("the cut-off bytes were not saved aside: %v", err)
			} else if !bytes.Equal(got, cutBytes) {
				t.Errorf("%s holds %d bytes, want the %d cut off", filepath.Base(aside), len(got), len(cutBytes))
			}
			if st, err := os.Stat(log); err != nil || st.Size() != cutAt {
				t.Errorf("%s was not cut at %d: %v %v", filepath.Base(log), cutAt, st.Size(), err)
			}
			c = n.dial()
			requireNodes(t, c, nodes)
			if _, ok := c.get("/t/n029"); ok && mode == "TruncatedLastEntry" {
				t.Errorf("/t/n029, whose entry was cut in half, exists")
			}
			more := createMany(t, c, "/t", 100, 10)
			c.close()
			n.stop()
			n.requireCleanLog()

			n.start()
			if strings.Contains(n.log(), "torn") {
				t.Errorf("second restart found a torn tail again:\n%s", n.log())
			}
			c = n.dial()
			requireNodes(t, c, append(nodes, more...))
			c.close()
			n.stop()
			n.requireCleanLog()
			checkWithJava(t, n.v2(), true)
		})
	}
}

func TestFlippedByteInTheLogStopsStartup(t *testing.T) {
	n := newNode(t, "") // default snapCount: no snapshot after the first
	n.start()
	c := n.dial()
	nodes := createMany(t, c, "/f", 0, 40)
	c.close()
	n.stop()

	logs := filesWith(t, n.v2(), "log")
	snaps := filesWith(t, n.v2(), "snapshot")
	if len(logs) != 1 || len(snaps) != 1 {
		t.Fatalf("want one log and one snapshot, have %v %v", logs, snaps)
	}
	log := logs[0]
	entries := parseLog(t, log)
	mid := entries[len(entries)/2]
	var snapZxid int64
	fmt.Sscanf(filepath.Base(snaps[0]), "snapshot.%x", &snapZxid)
	if mid.zxid <= snapZxid || mid.zxid >= nodes[len(nodes)-1].zxid {
		t.Fatalf("entry 0x%x is not in the middle of what must be replayed (snapshot 0x%x)", mid.zxid, snapZxid)
	}
	f, err := os.OpenFile(log, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	flipAt := mid.start + 12 + (mid.end-mid.start-13)/2 // inside the entry's body
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, flipAt); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x10
	if _, err := f.WriteAt(b, flipAt); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Logf("flipped byte %d of %s, inside the entry at offset %d (zxid 0x%x)", flipAt, filepath.Base(log), mid.start, mid.zxid)

	before := hashTree(t, n.dataDir())
	out := n.startFails()
	if !mentions(lastLines(out, 1), log, mid.start) {
		t.Errorf("the error does not name %s and offset %d:\n%s", filepath.Base(log), mid.start, out)
	}
	after := hashTree(t, n.dataDir())
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("the data dir changed on a failed start:\nbefore %v\nafter  %v", before, after)
	}
	// A second attempt fails the same way: nothing was "repaired".
	if out2 := n.startFails(); !mentions(lastLines(out2, 1), log, mid.start) {
		t.Errorf("second start: the error does not name %s and offset %d:\n%s", filepath.Base(log), mid.start, out2)
	}

	// ZooKeeper agrees the entry is corrupt.
	if javaTools() == "" {
		out, _ := javaRun([]string{"-cp", strings.Join(javaJars, ":"), txnLogToolkit, log})
		if !strings.Contains(out, "CRC ERROR") {
			t.Errorf("TxnLogToolkit does not report a CRC error on the damaged log:\n%s", lastLines(out, 10))
		}
	}
}

func TestTruncatedSnapshotFallsBackOrStops(t *testing.T) {
	// Two starts with writes: snapshot.0 from the first start, snapshot.X
	// from the second (taken through the AdminServer right after replaying
	// the first run's log: zkd does not snapshot after an ordinary
	// replay), and log.1 (1..X) and log.X+1 (X+1..).
	setup := func(t *testing.T) (*node, []written, []string, []string) {
		adminPort, err := harness.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		n := newNode(t, fmt.Sprintf("admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=%d", adminPort))
		n.start()
		c := n.dial()
		nodes := createMany(t, c, "/s", 0, 20)
		c.close()
		n.stop()
		n.start()
		adminSnapshot(t, adminPort)
		c = n.dial()
		nodes = append(nodes, createMany(t, c, "/s", 20, 20)...)
		c.close()
		n.stop()
		n.requireCleanLog()
		snaps, logs := filesWith(t, n.v2(), "snapshot"), filesWith(t, n.v2(), "log")
		if len(snaps) != 2 || len(logs) != 2 {
			t.Fatalf("want two snapshots and two logs, have %v %v", snaps, logs)
		}
		return n, nodes, snaps, logs
	}
	truncate := func(t *testing.T, path string) int64 {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		size := st.Size() / 2
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
		t.Logf("truncated %s from %d to %d bytes", filepath.Base(path), st.Size(), size)
		return size
	}

	t.Run("LogsCoverTheGap", func(t *testing.T) {
		n, nodes, snaps, _ := setup(t)
		size := truncate(t, snaps[1])
		n.start()
		if !mentions(warnings(n.log()), snaps[1], size) {
			t.Errorf("no warning naming %s and offset %d:\n%s", filepath.Base(snaps[1]), size, n.log())
		}
		if !strings.Contains(recoveredLine(n.log()), filepath.Base(snaps[0])) {
			t.Errorf("did not recover from %s: %s", filepath.Base(snaps[0]), recoveredLine(n.log()))
		}
		n.requireCleanLog()
		c := n.dial()
		requireNodes(t, c, nodes)
		c.close()
		n.stop()
		t.Logf("%s", recoveredLine(n.log()))
	})

	t.Run("LogsDoNotCoverTheGap", func(t *testing.T) {
		n, _, snaps, logs := setup(t)
		if err := os.Remove(logs[0]); err != nil {
			t.Fatal(err)
		}
		size := truncate(t, snaps[1])
		before := hashTree(t, n.dataDir())
		out := n.startFails()
		if !mentions(lastLines(out, 1), snaps[1], size) {
			t.Errorf("the error does not name %s and offset %d:\n%s", filepath.Base(snaps[1]), size, out)
		}
		if after := hashTree(t, n.dataDir()); fmt.Sprint(before) != fmt.Sprint(after) {
			t.Errorf("the data dir changed on a failed start")
		}
	})

	t.Run("OnlySnapshotIsTruncated", func(t *testing.T) {
		n, _, snaps, logs := setup(t)
		// Nothing older to fall back on: only snapshot.X and the log after it.
		for _, p := range []string{snaps[0], logs[0]} {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
		size := truncate(t, snaps[1])
		out := n.startFails()
		if !mentions(lastLines(out, 1), snaps[1], size) {
			t.Errorf("the error does not name %s and offset %d:\n%s", filepath.Base(snaps[1]), size, out)
		}
	})
}

// adminSnapshot has the server take a snapshot now (/commands/snapshot).
func adminSnapshot(t *testing.T, port int) {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/commands/snapshot", port)
	var lastErr error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(url)
		if err != nil {
			lastErr = err
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"error": null`) {
			t.Fatalf("%s: %d %s", url, resp.StatusCode, body)
		}
		return
	}
	t.Fatalf("%s: %v", url, lastErr)
}
