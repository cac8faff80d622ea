package snapshot

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/datatree"
	"github.com/zkd/zkd/internal/wire"
)

func writeGzip(path string, b []byte) error {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// TestFuzzySnapshotWhileTheTreeChanges is storage.md §5: the snapshot is
// taken while the applier creates, deletes and re-ACLs nodes (with ACL
// lists that did not exist when the walk began). Every snapshot must load,
// and nodes nobody touched must come back exactly.
func TestFuzzySnapshotWhileTheTreeChanges(t *testing.T) {
	tree := datatree.New(nil)
	zxid := int64(0)
	apply := func(typ wire.OpCode, rec wire.Record) datatree.Result {
		zxid++
		return tree.Apply(&wire.TxnHeader{ClientID: sessA, Zxid: zxid, Time: zxid * 1000, Type: typ}, rec)
	}
	for _, p := range []string{"/static", "/churn"} {
		require.Equal(t, wire.OK, apply(wire.OpCreate, &wire.CreateTxn{Path: p, ACL: wire.OpenACLUnsafe, ParentCVersion: -1}).Err)
	}
	for i := 0; i < 2000; i++ {
		acl := []wire.ACL{{Perms: wire.PermAll, ID: wire.Id{Scheme: "digest", ID: fmt.Sprintf("static%d:x=", i%10)}}}
		r := apply(wire.OpCreate, &wire.CreateTxn{Path: fmt.Sprintf("/static/s%04d", i), Data: []byte(fmt.Sprint(i)), ACL: acl, ParentCVersion: -1})
		require.Equal(t, wire.OK, r.Err)
	}
	static := collect(t, tree)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p := fmt.Sprintf("/churn/c%d", i%500)
			fresh := []wire.ACL{{Perms: wire.PermRead, ID: wire.Id{Scheme: "digest", ID: fmt.Sprintf("new%d:y=", i)}}}
			switch i % 4 {
			case 0:
				apply(wire.OpCreate, &wire.CreateTxn{Path: p, Data: []byte("x"), ACL: fresh, Ephemeral: i%8 == 0, ParentCVersion: -1})
				apply(wire.OpCreate, &wire.CreateTxn{Path: p + "/kid", ACL: wire.OpenACLUnsafe, ParentCVersion: -1})
			case 1:
				apply(wire.OpSetACL, &wire.SetACLTxn{Path: p, ACL: fresh, Version: int32(i)})
			case 2:
				apply(wire.OpSetData, &wire.SetDataTxn{Path: p, Data: bytes.Repeat([]byte("y"), i%300), Version: int32(i)})
			case 3:
				apply(wire.OpDelete, &wire.DeleteTxn{Path: p + "/kid"})
				apply(wire.OpDelete, &wire.DeleteTxn{Path: p})
			}
		}
	}()

	dir := t.TempDir()
	for i := 0; i < 20; i++ {
		p, err := Write(dir, int64(i), tree, []Session{{ID: sessA, Timeout: 5000}}, false)
		require.NoError(t, err)
		l, err := Read(p, 0)
		require.NoError(t, err)
		got := map[string]rec{}
		for _, r := range collect(t, l.Tree) {
			got[r.Path] = r
		}
		for _, want := range static {
			if want.Path == "/" || strings.HasPrefix(want.Path, "/churn") {
				continue
			}
			require.Equal(t, want, got[want.Path])
		}
	}
	close(stop)
	wg.Wait()
}

func TestDumpText(t *testing.T) {
	p := writeTree(t, build(t, everyKind(20)), 0x20000025a, everyKindSessions)
	var out bytes.Buffer
	require.NoError(t, Dump(&out, p, DumpOptions{Location: time.UTC}))
	s := out.String()
	n := len(everyKind(20))
	require.True(t, strings.HasPrefix(s, fmt.Sprintf("ZNode Details (count=%d):\n----\n/\n", n+4)), s[:80])
	require.Contains(t, s, "----\n/app/eph\n  cZxid = 0x00000000000007\n  ctime = Tue Nov 14 22:13:20 UTC 2023\n"+
		"  mZxid = 0x00000000000008\n  mtime = Tue Nov 14 22:13:20 UTC 2023\n  pZxid = 0x00000000000009\n"+
		"  cversion = 2\n  dataVersion = 0\n  aclVersion = 1\n  ephemeralOwner = 0x100001d16f70000\n  dataLength = 1\n")
	require.Contains(t, s, "ephemeralOwner = 0x8000000000000000\n")
	require.Contains(t, s, "ephemeralOwner = 0xff0000000000ea60\n")
	require.Contains(t, s, "----\nSession Details (sid, timeout, ephemeralCount):\n"+
		"0x100001d16f70000, 30000, 1\n0x100001d16f70001, 4000, 1\n0x300000000000007, 40000, 0\n----\nLast zxid: 0x20000025a\n")

	out.Reset()
	require.NoError(t, Dump(&out, p, DumpOptions{Data: true, Location: time.UTC}))
	require.Contains(t, out.String(), "----\n/app\n")
	require.Contains(t, out.String(), "  data = aGVsbG8=\n")
}

func TestDumpJSON(t *testing.T) {
	p := writeTree(t, build(t, everyKind(20)), 0x42, everyKindSessions)
	var out bytes.Buffer
	require.NoError(t, Dump(&out, p, DumpOptions{JSON: true}))
	var doc struct {
		Zxid     int64 `json:"zxid"`
		Sessions []jsonSession
		ACLs     []jsonACLEntry `json:"acls"`
		Nodes    []jsonNode
		Digest   *jsonDigest
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc), out.String())
	require.Equal(t, int64(0x42), doc.Zxid)
	require.Len(t, doc.Sessions, 3)
	require.Equal(t, 1, doc.Sessions[0].Ephemerals)
	require.Nil(t, doc.Digest)
	require.NotEmpty(t, doc.ACLs)
	byPath := map[string]jsonNode{}
	for _, n := range doc.Nodes {
		byPath[n.Path] = n
	}
	require.Len(t, byPath, len(everyKind(20))+3)
	hello := byPath["/app"]
	require.Equal(t, "aGVsbG8=", *hello.Data)
	require.Equal(t, "hello", *hello.DataString)
	require.Equal(t, int64(-1), hello.ACLID)
	require.Nil(t, byPath["/app/null"].Data)
	require.Equal(t, "", *byPath["/app/empty"].Data)
	require.Nil(t, byPath["/app/binary"].DataString)
	require.Equal(t, "ttl", byPath["/app/ttl"].Kind)
	require.Equal(t, int64(60000), byPath["/app/ttl"].TTL)
	require.Equal(t, "container", byPath["/app/container"].Kind)
	require.Equal(t, "ephemeral", byPath["/app/eph"].Kind)
	require.Equal(t, "日本語", *byPath["/ünïcødé/日本"].DataString)
}

func TestDumpOfACorruptFilePrintsNothing(t *testing.T) {
	p := writeTree(t, build(t, everyKind(20)), 0x42, nil)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	b[len(b)/2] ^= 1
	require.NoError(t, os.WriteFile(p, b, 0o644))
	var out bytes.Buffer
	err = Dump(&out, p, DumpOptions{})
	requireCorrupt(t, err, p)
	require.Empty(t, out.String())
}

func FuzzRead(f *testing.F) {
	dir := f.TempDir()
	p, err := Write(dir, 1, build(f, everyKind(40)[:12]), everyKindSessions, false)
	require.NoError(f, err)
	b, err := os.ReadFile(p)
	require.NoError(f, err)
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add(b[:len(b)-33])
	f.Add(new(craft).header(1).aclMap(map[int64][]wire.ACL{3: digestACL}).node("", 3).node("/a", -1).end(true))
	f.Add([]byte{})
	f.Add([]byte("ZKSN"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "snapshot.1")
		require.NoError(t, os.WriteFile(p, data, 0o644))
		l, err := Read(p, 1<<20)
		if err != nil {
			requireCorrupt(t, err, p)
			return
		}
		require.NotNil(t, l.Tree)
		// Whatever loaded must survive a round trip.
		p2, err := Write(t.TempDir(), 1, l.Tree, l.Sessions, false)
		require.NoError(t, err)
		l2, err := Read(p2, 0)
		require.NoError(t, err)
		require.Equal(t, collect(t, l.Tree), collect(t, l2.Tree))
	})
}
