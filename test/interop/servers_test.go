package interop

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/zkd/zkd/test/harness"
)

// superPassword is the password of ZooKeeper's "super" digest user, which
// both servers are configured with so a tree walk can read every node
// whatever its ACL.
const superPassword = "interop-super"

func superDigest() string {
	h := sha1.Sum([]byte("super:" + superPassword))
	return "super:" + base64.StdEncoding.EncodeToString(h[:])
}

// serverKind names which implementation serves a data directory.
type serverKind string

const (
	zooKeeper serverKind = "zookeeper"
	zkd       serverKind = "zkd"
)

// dataDir is one ZooKeeper data directory that servers of either kind are
// started on, one after another, with the same zoo.cfg keys.
type dataDir struct {
	t *testing.T
	// dir holds zoo.cfg and the servers' output; data is the dataDir key.
	dir, data string
	// extra are zoo.cfg lines added to the common ones.
	extra []string
	// props are JVM system properties for ZooKeeper; every zoo.cfg key in
	// extra is passed as a property too (ZooKeeper reads many of them
	// only as properties).
	props []string
}

func newDataDir(t *testing.T, extra ...string) *dataDir {
	t.Helper()
	dir := t.TempDir()
	keys := append([]string{
		"extendedTypesEnabled=true",
		"DigestAuthenticationProvider.superDigest=" + superDigest(),
	}, extra...)
	d := &dataDir{t: t, dir: dir, data: filepath.Join(dir, "data"), extra: keys}
	for _, kv := range keys {
		k, v, _ := strings.Cut(kv, "=")
		d.props = append(d.props, "-Dzookeeper."+k+"="+v)
	}
	return d
}

// versionDir is where both servers keep logs and snapshots.
func (d *dataDir) versionDir() string { return filepath.Join(d.data, "version-2") }

// start launches a server of the given kind on the data directory and
// waits until it serves. The test's cleanup stops it if the test does not.
func (d *dataDir) start(kind serverKind) *harness.Process {
	d.t.Helper()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := harness.FreePort()
		if err != nil {
			d.t.Fatal(err)
		}
		cfg := harness.Config(d.data, port, strings.Join(d.extra, "\n"))
		var p *harness.Process
		switch kind {
		case zooKeeper:
			p, err = harness.Launch("java", harness.ZooKeeperArgs(d.props...), d.dir, cfg)
		case zkd:
			p, err = harness.Launch(harness.ZkdBinary(d.t), []string{"server"}, d.dir, cfg)
		}
		if err == nil {
			d.t.Cleanup(p.Stop)
			return p
		}
		lastErr = err
	}
	d.t.Fatalf("%s did not start on %s: %v\nfiles: %s", kind, d.data, lastErr, d.listing())
	return nil
}

// listing names the files in version-2 with their sizes, for failure
// messages.
func (d *dataDir) listing() string {
	ents, err := os.ReadDir(d.versionDir())
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, e := range ents {
		if info, err := e.Info(); err == nil {
			out = append(out, fmt.Sprintf("%s(%d)", e.Name(), info.Size()))
		}
	}
	return strings.Join(out, " ")
}

// files returns the paths of version-2 files named prefix.<hex zxid>,
// oldest first.
func (d *dataDir) files(prefix string) []string {
	d.t.Helper()
	ents, err := os.ReadDir(d.versionDir())
	if err != nil {
		d.t.Fatal(err)
	}
	type f struct {
		path string
		zxid uint64
	}
	var fs []f
	for _, e := range ents {
		hex, ok := strings.CutPrefix(e.Name(), prefix+".")
		if !ok {
			continue
		}
		var z uint64
		if _, err := fmt.Sscanf(hex, "%x", &z); err != nil || fmt.Sprintf("%x", z) != hex {
			continue
		}
		fs = append(fs, f{filepath.Join(d.versionDir(), e.Name()), z})
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].zxid < fs[j].zxid })
	out := make([]string, len(fs))
	for i, x := range fs {
		out[i] = x.path
	}
	return out
}

// stopMode is how a server is stopped before the next one takes over.
type stopMode int

const (
	sigterm stopMode = iota
	sigkill
	// tornTail is SIGKILL, then the newest log gets the start of an entry
	// that was never completed (a write the crash cut short, which no
	// client saw acknowledged) in its preallocated tail.
	tornTail
)

func (m stopMode) String() string {
	return [...]string{"SIGTERM", "SIGKILL", "SIGKILL+torn-tail"}[m]
}

// stop ends a server as mode says.
func (d *dataDir) stop(p *harness.Process, mode stopMode) {
	d.t.Helper()
	switch mode {
	case sigterm:
		p.Stop()
	case sigkill:
		p.Kill()
	case tornTail:
		p.Kill()
		logs := d.files("log")
		if len(logs) == 0 {
			d.t.Fatal("no log to tear")
		}
		appendTornEntry(d.t, logs[len(logs)-1])
	}
}

// appendTornEntry writes, right after the last complete entry of a log,
// a checksum, a length and only part of the entry's bytes: the file still
// reads as zeros after them (preallocation), so the entry lacks its
// trailing 'B'. Both servers must ignore it.
func appendTornEntry(t testing.TB, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	off := 16 // FileHeader
	for off+12 <= len(b) {
		n := int(int32(binary.BigEndian.Uint32(b[off+8:])))
		if n <= 0 || off+12+n+1 > len(b) || b[off+12+n] != 'B' {
			break
		}
		off += 12 + n + 1
	}
	torn := make([]byte, 12+40)
	binary.BigEndian.PutUint64(torn, 0x0123456789)
	binary.BigEndian.PutUint32(torn[8:], 120) // promises 120 bytes, 40 were written
	for i := 12; i < len(torn); i++ {
		torn[i] = byte(i)
	}
	if off+len(torn)+200 > len(b) {
		t.Fatalf("%s: no preallocated room after offset %d", path, off)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(torn, int64(off)); err != nil {
		t.Fatal(err)
	}
}
