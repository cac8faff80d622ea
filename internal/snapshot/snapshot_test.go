package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/datatree"
	"github.com/zkd/zkd/internal/wire"
)

// rec is one node as Walk reports it.
type rec struct {
	Path string
	Data []byte
	ACL  []wire.ACL
	Stat wire.StatPersisted
}

func collect(t testing.TB, tree *datatree.Tree) []rec {
	t.Helper()
	var out []rec
	require.NoError(t, tree.Walk(func(p string, data []byte, acl []wire.ACL, st wire.StatPersisted) error {
		out = append(out, rec{Path: p, Data: data, ACL: acl, Stat: st})
		return nil
	}))
	return out
}

// build makes a tree from records given parents first; the standard nodes
// come from datatree.New and may be overridden.
func build(t testing.TB, nodes []rec) *datatree.Tree {
	t.Helper()
	tree := datatree.New(nil)
	l := datatree.NewLoader(tree)
	for _, n := range nodes {
		require.NoError(t, l.Add(n.Path, n.Data, n.ACL, n.Stat))
	}
	return tree
}

func stat(z int64, owner int64) wire.StatPersisted {
	return wire.StatPersisted{
		Czxid: z, Mzxid: z + 1, Ctime: 1700000000000 + z, Mtime: 1700000000500 + z,
		Version: int32(z % 7), Cversion: int32(z % 5), Aversion: int32(z % 3),
		EphemeralOwner: owner, Pzxid: z + 2,
	}
}

var (
	digestACL = []wire.ACL{{Perms: wire.PermAll, ID: wire.Id{Scheme: "digest", ID: "user:smGaoVKd/cQkjm7b88GyorAUz20="}}}
	mixedACL  = []wire.ACL{
		{Perms: wire.PermRead, ID: wire.AnyoneID},
		{Perms: wire.PermAll, ID: wire.Id{Scheme: "ip", ID: "10.0.0.0/8"}},
		{Perms: wire.PermWrite | wire.PermCreate, ID: wire.Id{Scheme: "digest", ID: "bob:xyz="}},
	}
	// openCopy equals OpenACLUnsafe but is a different slice: it must
	// still be written as -1.
	openCopy = []wire.ACL{{Perms: wire.PermAll, ID: wire.Id{Scheme: "world", ID: "anyone"}}}
)

const (
	sessA int64 = 0x100001d16f70000
	sessB int64 = 0x100001d16f70001
	sessX int64 = 0x200000000000042 // owns an ephemeral but is not in the session list
)

// everyKind is a tree with every node kind and data shape.
func everyKind(bigData int) []rec {
	big := bytes.Repeat([]byte("0123456789abcdef"), bigData/16)
	nodes := []rec{
		{Path: "/", Data: nil, ACL: wire.OpenACLUnsafe, Stat: wire.StatPersisted{Cversion: 9, Pzxid: 40}},
		{Path: "/app", Data: []byte("hello"), ACL: openCopy, Stat: stat(3, 0)},
		{Path: "/app/null", Data: nil, ACL: wire.OpenACLUnsafe, Stat: stat(4, 0)},
		{Path: "/app/empty", Data: []byte{}, ACL: wire.OpenACLUnsafe, Stat: stat(5, 0)},
		{Path: "/app/binary", Data: []byte{0, 1, 2, 0xff, 0xfe}, ACL: mixedACL, Stat: stat(6, 0)},
		{Path: "/app/eph", Data: []byte("e"), ACL: wire.OpenACLUnsafe, Stat: stat(7, sessA)},
		{Path: "/app/eph2", Data: []byte("e2"), ACL: digestACL, Stat: stat(8, sessB)},
		{Path: "/app/orphan", Data: []byte("o"), ACL: wire.OpenACLUnsafe, Stat: stat(9, sessX)},
		{Path: "/app/container", Data: []byte("c"), ACL: wire.CreatorAllACL, Stat: stat(10, datatree.ContainerOwner)},
		{Path: "/app/container/x", Data: nil, ACL: wire.OpenACLUnsafe, Stat: stat(11, 0)},
		{Path: "/app/ttl", Data: []byte("t"), ACL: digestACL, Stat: stat(12, datatree.TTLOwner(60000))},
		{Path: "/app/ttlmax", Data: nil, ACL: wire.OpenACLUnsafe, Stat: stat(13, datatree.TTLOwner(datatree.MaxTTL))},
		{Path: "/app/seq0000000001", Data: []byte("s"), ACL: wire.ReadACLUnsafe, Stat: stat(14, 0)},
		{Path: "/ünïcødé", Data: []byte("ü"), ACL: wire.OpenACLUnsafe, Stat: stat(15, 0)},
		{Path: "/ünïcødé/日本", Data: []byte("日本語"), ACL: wire.OpenACLUnsafe, Stat: stat(16, 0)},
		{Path: "/big", Data: big, ACL: wire.OpenACLUnsafe, Stat: stat(17, 0)},
		{Path: "/neg", Data: []byte("n"), ACL: wire.OpenACLUnsafe, Stat: wire.StatPersisted{Czxid: -1, Mzxid: -5, Ctime: -1, Version: -1, Cversion: -7, Aversion: -1, Pzxid: -1}},
		{Path: "/zookeeper/quota/app", Data: nil, ACL: wire.OpenACLUnsafe, Stat: stat(18, 0)},
		{Path: "/zookeeper/quota/app/zookeeper_limits", Data: []byte("count=10,bytes=-1"), ACL: wire.OpenACLUnsafe, Stat: stat(19, 0)},
	}
	deep := "/deep"
	for i := 0; i < 30; i++ {
		nodes = append(nodes, rec{Path: deep, Data: []byte(deep), ACL: wire.OpenACLUnsafe, Stat: stat(int64(100+i), 0)})
		deep += fmt.Sprintf("/d%d", i)
	}
	// Many distinct ACL lists: each must get its own map id.
	nodes = append(nodes, rec{Path: "/acls", ACL: wire.OpenACLUnsafe, Stat: stat(200, 0)})
	for i := 0; i < 150; i++ {
		acl := []wire.ACL{{Perms: int32(i%31 + 1), ID: wire.Id{Scheme: "digest", ID: fmt.Sprintf("u%d:hash%d=", i, i)}}}
		nodes = append(nodes, rec{Path: fmt.Sprintf("/acls/n%03d", i), ACL: acl, Stat: stat(int64(300+i), 0)})
	}
	return nodes
}

var everyKindSessions = []Session{{ID: sessA, Timeout: 30000}, {ID: sessB, Timeout: 4000}, {ID: 0x300000000000007, Timeout: 40000}}

func writeTree(t testing.TB, tree *datatree.Tree, zxid int64, sessions []Session) string {
	t.Helper()
	p, err := Write(t.TempDir(), zxid, tree, sessions, false)
	require.NoError(t, err)
	return p
}

func TestRoundTripPreservesEveryNodeAndSession(t *testing.T) {
	tests := []struct {
		name     string
		nodes    []rec
		sessions []Session
		zxid     int64
	}{
		{name: "the initial empty tree", zxid: 0},
		{name: "every node kind, null and empty data, many ACL lists", nodes: everyKind(300000), sessions: everyKindSessions, zxid: 0x20000025a},
		{name: "sessions without any ephemerals", nodes: everyKind(0)[:4], sessions: []Session{{ID: 1, Timeout: 1}, {ID: -1, Timeout: 0}}, zxid: 7},
		{name: "a negative zxid names the file unsigned", nodes: everyKind(16)[:2], zxid: -2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := build(t, tc.nodes)
			p := writeTree(t, orig, tc.zxid, tc.sessions)
			require.Equal(t, Name(tc.zxid), filepath.Base(p))
			require.True(t, IsValid(p))

			l, err := Read(p, 0)
			require.NoError(t, err)
			require.Equal(t, tc.zxid, l.Zxid)
			require.Equal(t, tc.zxid, l.Tree.LastZxid())
			require.Equal(t, tc.sessions, l.Sessions)
			require.Nil(t, l.Digest, "zkd writes digest zxid 0: no digest")

			want, got := collect(t, orig), collect(t, l.Tree)
			require.Equal(t, len(want), len(got))
			for i := range want {
				require.Equal(t, want[i], got[i], "node %s", want[i].Path)
				require.Equal(t, want[i].Data == nil, got[i].Data == nil, "null vs empty data of %s", want[i].Path)
			}
			require.Equal(t, orig.EphemeralSessions(), l.Tree.EphemeralSessions())
			require.Equal(t, orig.SpecialNodes(), l.Tree.SpecialNodes())
			require.Equal(t, orig.NodeCount(), l.Tree.NodeCount())
			require.Equal(t, orig.ApproximateDataSize(), l.Tree.ApproximateDataSize())
			require.Equal(t, TreeDigest(orig), TreeDigest(l.Tree))
		})
	}
}

// decodeRaw reads a file's content without building a tree.
func decodeRaw(t testing.TB, path string) *collector {
	t.Helper()
	c := &collector{acls: map[int64][]wire.ACL{}, ephemerals: map[int64]int{}}
	_, err := decodeFile(path, 0, c)
	require.NoError(t, err)
	return c
}

func TestEmptyTreeWritesTheFourStandardNodes(t *testing.T) {
	p := writeTree(t, datatree.New(nil), 0, nil)
	c := decodeRaw(t, p)

	var paths []string
	var ids []int64
	for _, n := range c.nodes {
		paths = append(paths, n.path)
		ids = append(ids, n.aclID)
	}
	// The root is written as "", then pre-order; /zookeeper/config has
	// [world:anyone READ], which is not the reserved -1 list.
	require.Equal(t, []string{"", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"}, paths)
	require.Equal(t, []int64{-1, -1, 1, -1}, ids)
	require.Equal(t, map[int64][]wire.ACL{1: wire.ReadACLUnsafe}, c.acls)
	require.Equal(t, int32(-1), c.nodes[2].stat.Aversion)
	require.Empty(t, c.sessions)

	// Byte layout of the start and end (storage.md §2, §4.1).
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	head := []byte{'Z', 'K', 'S', 'N', 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0, 0, 0, 0, // no sessions
		0, 0, 0, 1, // one ACL map entry
		0, 0, 0, 0, 0, 0, 0, 1, // id 1
		0, 0, 0, 1, 0, 0, 0, 1, // one ACL, perms READ
		0, 0, 0, 5, 'w', 'o', 'r', 'l', 'd', 0, 0, 0, 6, 'a', 'n', 'y', 'o', 'n', 'e',
		0, 0, 0, 0, // root path ""
		0xff, 0xff, 0xff, 0xff, // root data null
	}
	require.Equal(t, head, b[:len(head)])

	l := layoutOf(t, b)
	require.Equal(t, []byte{0, 0, 0, 1, '/'}, b[l.marker:l.checksum1])
	require.Equal(t, uint64(adler32.Checksum(b[:l.checksum1])), binary.BigEndian.Uint64(b[l.checksum1:]))
	require.Equal(t, []byte{0, 0, 0, 1, '/'}, b[l.seal1:l.seal1+5])
	require.Equal(t, uint64(0), binary.BigEndian.Uint64(b[l.digest:]), "digest zxid")
	require.Equal(t, uint32(2), binary.BigEndian.Uint32(b[l.digest+8:]), "digest version")
	require.Equal(t, uint64(adler32.Checksum(b[:l.checksum2])), binary.BigEndian.Uint64(b[l.checksum2:]))
	require.Equal(t, []byte{0, 0, 0, 1, '/'}, b[len(b)-5:])
}

// layout holds the offsets of the fixed tail of a file zkd wrote.
type layout struct {
	marker, checksum1, seal1, digest, checksum2, seal2 int
}

func layoutOf(t testing.TB, b []byte) layout {
	t.Helper()
	require.Greater(t, len(b), 60)
	var l layout
	l.seal2 = len(b) - 5
	l.checksum2 = l.seal2 - 8
	l.digest = l.checksum2 - 20
	l.seal1 = l.digest - 5
	l.checksum1 = l.seal1 - 8
	l.marker = l.checksum1 - 5
	return l
}

func TestWriteLeavesOnlyTheSnapshotBehind(t *testing.T) {
	for _, fsync := range []bool{false, true} {
		t.Run(fmt.Sprintf("fsync=%v", fsync), func(t *testing.T) {
			dir := t.TempDir()
			tree := build(t, everyKind(100))
			p, err := Write(dir, 0x1234abcd, tree, everyKindSessions, fsync)
			require.NoError(t, err)
			require.Equal(t, filepath.Join(dir, "snapshot.1234abcd"), p)
			ents, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, ents, 1)
			require.Equal(t, "snapshot.1234abcd", ents[0].Name())
		})
	}
}

func TestWriteIntoAMissingDirectoryFails(t *testing.T) {
	_, err := Write(filepath.Join(t.TempDir(), "nope"), 1, datatree.New(nil), nil, true)
	require.Error(t, err)
}

func TestACLIDsAreAssignedInFirstUseOrder(t *testing.T) {
	c := newACLCache()
	require.Equal(t, int64(-1), c.id(wire.OpenACLUnsafe))
	require.Equal(t, int64(-1), c.id(openCopy))
	require.Equal(t, int64(1), c.id(digestACL))
	require.Equal(t, int64(2), c.id(wire.ReadACLUnsafe))
	require.Equal(t, int64(1), c.id(append([]wire.ACL(nil), digestACL...)), "equal content, other slice")
	require.Equal(t, int64(3), c.id(mixedACL))
	require.Equal(t, int64(4), c.id(mixedACL[1:2]), "part of a list is another list")
	require.Equal(t, int64(5), c.id(nil))
	require.Equal(t, int64(5), c.id([]wire.ACL{}))
	require.Equal(t, int64(2), c.id(wire.ReadACLUnsafe))
}

// corrupt returns a copy of b with fn applied.
func corrupt(b []byte, fn func([]byte) []byte) []byte {
	return fn(append([]byte(nil), b...))
}

func writeBytes(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

func requireCorrupt(t testing.TB, err error, path string) *CorruptError {
	t.Helper()
	require.Error(t, err)
	var ce *CorruptError
	require.True(t, errors.As(err, &ce), "want *CorruptError, got %T: %v", err, err)
	require.Equal(t, path, ce.File)
	require.Contains(t, ce.Error(), path)
	require.Contains(t, ce.Error(), fmt.Sprintf("offset %d", ce.Offset))
	return ce
}

// sections returns, for a file zkd wrote of tree everyKind with sessions,
// the start offset of each region, so truncation tests can name them.
func sections(t testing.TB, b []byte, nSessions int) map[string]int {
	t.Helper()
	s := map[string]int{"header": 0, "sessions": 16}
	aclMap := 16 + 4 + 12*nSessions
	s["acl map"] = aclMap
	// Find the root record: the first "" path after the ACL map, located by
	// decoding the map.
	d := &decoder{buf: b, size: int64(len(b)), sum: adler32.New()}
	d.r = aclMap
	n := d.count("", 12)
	for i := 0; i < n; i++ {
		d.long("")
		d.aclList("")
	}
	require.Nil(t, d.err)
	s["nodes"] = d.r
	l := layoutOf(t, b)
	s["end marker"] = l.marker
	s["checksum"] = l.checksum1
	s["seal"] = l.seal1
	s["digest"] = l.digest
	s["second checksum"] = l.checksum2
	s["second seal"] = l.seal2
	return s
}

func TestTruncatedFileIsCorruptNeverPanics(t *testing.T) {
	src := writeTree(t, build(t, everyKind(64)[:20]), 0x99, everyKindSessions)
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	sec := sections(t, b, len(everyKindSessions))
	names := make([]string, 0, len(sec))
	for k := range sec {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return sec[names[i]] < sec[names[j]] })
	dir := t.TempDir()

	// Named cut points: at, inside and just before the end of each section.
	for _, name := range names {
		for _, delta := range []int{0, 1, 3} {
			cut := sec[name] + delta
			t.Run(fmt.Sprintf("cut %d bytes into the %s", delta, name), func(t *testing.T) {
				p := writeBytes(t, dir, Name(0x99), b[:cut])
				_, err := Read(p, 0)
				if cut == sec["digest"] {
					require.NoError(t, err, "EOF right after the first seal is an old snapshot")
					return
				}
				ce := requireCorrupt(t, err, p)
				require.Contains(t, ce.Reason, "truncated")
				require.LessOrEqual(t, ce.Offset, int64(cut))
			})
		}
	}

	// And every other cut point.
	for cut := 0; cut < len(b); cut++ {
		p := writeBytes(t, dir, Name(0x99), b[:cut])
		_, err := Read(p, 0)
		if cut == sec["digest"] {
			require.NoError(t, err)
			continue
		}
		ce := requireCorrupt(t, err, p)
		require.Contains(t, ce.Reason, "truncated", "cut at %d", cut)
		require.LessOrEqual(t, ce.Offset, int64(cut), "cut at %d", cut)
	}
}

func TestDamagedByteIsReportedWithItsOffset(t *testing.T) {
	src := writeTree(t, build(t, everyKind(64)[:20]), 0x99, everyKindSessions)
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	sec := sections(t, b, len(everyKindSessions))
	dataAt := bytes.Index(b, []byte("hello"))
	require.Positive(t, dataAt)
	pathAt := bytes.Index(b, []byte("/app/container/x"))
	require.Positive(t, pathAt)

	tests := []struct {
		name   string
		at     int
		offset int // expected CorruptError.Offset
		reason string
	}{
		{name: "a data byte breaks the checksum", at: dataAt + 1, offset: sec["checksum"], reason: "checksum mismatch"},
		{name: "a stat byte breaks the checksum", at: dataAt + 5 + 8 + 3, offset: sec["checksum"], reason: "checksum mismatch"},
		{name: "a session timeout breaks the checksum", at: sec["sessions"] + 4 + 11, offset: sec["checksum"], reason: "checksum mismatch"},
		{name: "an ACL perms byte breaks the checksum", at: sec["acl map"] + 4 + 8 + 4 + 3, offset: sec["checksum"], reason: "checksum mismatch"},
		{name: "the dbid is unchecked but checksummed", at: 9, offset: sec["checksum"], reason: "checksum mismatch"},
		{name: "a path byte orphans a child: the checksum explains it", at: pathAt + 5, offset: sec["checksum"], reason: "checksum mismatch"},
		{name: "the stored checksum itself", at: sec["checksum"] + 7, offset: sec["checksum"], reason: "checksum mismatch"},
		{name: "the magic", at: 0, offset: 0, reason: "bad magic"},
		{name: "the first seal", at: sec["seal"] + 4, offset: sec["seal"], reason: "seal"},
		{name: "the digest value breaks the second checksum", at: sec["digest"] + 19, offset: sec["second checksum"], reason: "second checksum"},
		{name: "the second seal", at: sec["second seal"] + 4, offset: sec["second seal"], reason: "second seal"},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeBytes(t, dir, Name(0x99), corrupt(b, func(c []byte) []byte { c[tc.at] ^= 0x01; return c }))
			_, err := Read(p, 0)
			ce := requireCorrupt(t, err, p)
			require.Equal(t, int64(tc.offset), ce.Offset, ce.Error())
			require.Contains(t, ce.Reason, tc.reason)
		})
	}

	// Adler-32 catches any single-byte change, and the seals are checked:
	// no damaged byte anywhere may load.
	for at := range b {
		p := writeBytes(t, dir, Name(0x99), corrupt(b, func(c []byte) []byte { c[at] ^= 0xa5; return c }))
		_, err := Read(p, 0)
		requireCorrupt(t, err, p)
	}
}

// craft builds a snapshot by hand, with correct checksums, so the tests can
// feed Read structurally wrong content.
type craft struct {
	e wire.Encoder
}

func (c *craft) header(sessions int) *craft {
	c.e.Int(Magic)
	c.e.Int(Version)
	c.e.Long(DBID)
	c.e.Int(int32(sessions))
	for i := 0; i < sessions; i++ {
		c.e.Long(int64(i + 1))
		c.e.Int(1000)
	}
	return c
}

func (c *craft) aclMap(entries map[int64][]wire.ACL) *craft {
	ids := make([]int64, 0, len(entries))
	for id := range entries {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	c.e.Int(int32(len(ids)))
	for _, id := range ids {
		c.e.Long(id)
		encodeACLList(&c.e, entries[id])
	}
	return c
}

func (c *craft) node(path string, aclID int64) *craft {
	c.e.String(path)
	c.e.Buffer([]byte("d"))
	c.e.Long(aclID)
	st := stat(1, 0)
	st.Encode(&c.e)
	return c
}

func (c *craft) end(withDigest bool) []byte {
	c.e.String("/")
	c.e.Long(int64(adler32.Checksum(c.e.B)))
	c.e.String("/")
	if withDigest {
		c.e.Long(5)
		c.e.Int(2)
		c.e.Long(12345)
		c.e.Long(int64(adler32.Checksum(c.e.B)))
		c.e.String("/")
	}
	return c.e.B
}

func TestReadRejectsStructurallyBadSnapshots(t *testing.T) {
	open := map[int64][]wire.ACL{}
	tests := []struct {
		name   string
		file   []byte
		reason string // "" = must load
	}{
		{name: "a minimal old snapshot without digest loads", file: new(craft).header(0).aclMap(open).node("", -1).end(false)},
		{name: "a snapshot without the standard nodes loads", file: new(craft).header(2).aclMap(open).node("", -1).node("/a", -1).end(true)},
		{name: "an ACL id missing from the map", file: new(craft).header(0).aclMap(open).node("", -1).node("/a", 7).end(true), reason: "ACL id 7"},
		{name: "the reserved id -1 in the map", file: new(craft).header(0).aclMap(map[int64][]wire.ACL{-1: wire.OpenACLUnsafe}).node("", -1).end(true), reason: "reserved id -1"},
		{name: "a child before its parent", file: new(craft).header(0).aclMap(open).node("", -1).node("/a/b", -1).node("/a", -1).end(true), reason: "parent"},
		{name: "a relative path", file: new(craft).header(0).aclMap(open).node("", -1).node("a", -1).end(true), reason: "invalid node path"},
		{name: "a trailing slash", file: new(craft).header(0).aclMap(open).node("", -1).node("/a/", -1).end(true), reason: "invalid node path"},
		{name: "a node twice", file: new(craft).header(0).aclMap(open).node("", -1).node("/a", -1).node("/a", -1).end(true), reason: "twice"},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeBytes(t, dir, "snapshot.5", tc.file)
			l, err := Read(p, 0)
			if tc.reason == "" {
				require.NoError(t, err)
				require.Equal(t, int64(5), l.Zxid)
				return
			}
			ce := requireCorrupt(t, err, p)
			require.Contains(t, ce.Reason, tc.reason)
		})
	}
}

func TestReadReportsTheDigestSection(t *testing.T) {
	dir := t.TempDir()
	p := writeBytes(t, dir, "snapshot.5", new(craft).header(0).aclMap(nil).node("", -1).end(true))
	l, err := Read(p, 0)
	require.NoError(t, err)
	require.Equal(t, &Digest{Zxid: 5, Version: 2, Value: 12345}, l.Digest)
}

func TestReadEnforcesMaxBuffer(t *testing.T) {
	tree := build(t, []rec{{Path: "/big", Data: make([]byte, 5000), ACL: wire.OpenACLUnsafe}})
	p := writeTree(t, tree, 1, nil)
	_, err := Read(p, 4999)
	ce := requireCorrupt(t, err, p)
	require.Contains(t, ce.Reason, "exceeds the limit")
	_, err = Read(p, 5000)
	require.NoError(t, err)
}

func TestReadOfAMissingFileIsACorruptErrorWrappingTheCause(t *testing.T) {
	p := filepath.Join(t.TempDir(), "snapshot.1")
	_, err := Read(p, 0)
	requireCorrupt(t, err, p)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestListAndFindNewestValid(t *testing.T) {
	dir := t.TempDir()
	tree := build(t, everyKind(16))
	good, err := Write(dir, 0x10, tree, everyKindSessions, false)
	require.NoError(t, err)
	b, err := os.ReadFile(good)
	require.NoError(t, err)
	// Newer but damaged inside (passes the quick check, fails the checksum).
	damaged := writeBytes(t, dir, "snapshot.20", corrupt(b, func(c []byte) []byte { c[200] ^= 0x10; return c }))
	// Newer still but cut short (fails the quick check).
	cut := writeBytes(t, dir, "snapshot.30", b[:len(b)-1])
	// Not snapshots at all.
	writeBytes(t, dir, "snapshot.40.tmp", b)
	writeBytes(t, dir, "snapshot.xyz", b)
	writeBytes(t, dir, "log.50", b)

	files, err := List(dir)
	require.NoError(t, err)
	require.Equal(t, []File{{Path: cut, Zxid: 0x30}, {Path: damaged, Zxid: 0x20}, {Path: good, Zxid: 0x10}}, files)

	l, skipped, err := FindNewestValid(dir, 0)
	require.NoError(t, err)
	require.Equal(t, good, l.Path)
	require.Equal(t, int64(0x10), l.Zxid)
	require.Len(t, skipped, 2)
	require.Equal(t, cut, skipped[0].File.Path)
	require.Equal(t, damaged, skipped[1].File.Path)
	var ce *CorruptError
	require.ErrorAs(t, skipped[1].Err, &ce)
	require.Contains(t, ce.Reason, "checksum")

	require.NoError(t, os.Remove(good))
	_, skipped, err = FindNewestValid(dir, 0)
	require.ErrorIs(t, err, ErrNoValidSnapshot)
	require.Len(t, skipped, 2)

	l, skipped, err = FindNewestValid(t.TempDir(), 0)
	require.NoError(t, err)
	require.Nil(t, l)
	require.Empty(t, skipped)
	l, _, err = FindNewestValid(filepath.Join(dir, "missing"), 0)
	require.NoError(t, err)
	require.Nil(t, l)
}

func TestParseName(t *testing.T) {
	tests := []struct {
		name string
		zxid int64
		ok   bool
	}{
		{"snapshot.0", 0, true},
		{"snapshot.20000025a", 0x20000025a, true},
		{"snapshot.ABC", 0xabc, true},
		{"snapshot.ffffffffffffffff", -1, true},
		{"snapshot.5.gz", 5, true},
		{"snapshot.5.snappy", 5, true},
		{"snapshot.5.tmp", 0, false},
		{"snapshot.", 0, false},
		{"snapshot", 0, false},
		{"snapshot.1ffffffffffffffff", 0, false},
		{"log.5", 0, false},
		{"snapshot.-5", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			z, ok := ParseName(tc.name)
			require.Equal(t, tc.ok, ok)
			if ok {
				require.Equal(t, tc.zxid, z)
			}
		})
	}
	require.Equal(t, "snapshot.ffffffffffffffff", Name(-1))
	require.Equal(t, "snapshot.0", Name(0))
}

func TestIsValid(t *testing.T) {
	dir := t.TempDir()
	p := writeTree(t, datatree.New(nil), 3, nil)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	tests := []struct {
		name string
		file []byte
		want bool
	}{
		{"a complete snapshot", b, true},
		{"one byte short", b[:len(b)-1], false},
		{"nine bytes ending in a seal", []byte{0, 0, 0, 0, 0, 0, 0, 1, '/'}, false},
		{"ten bytes ending in a seal", []byte{0, 0, 0, 0, 0, 0, 0, 0, 1, '/'}, true},
		{"empty", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, IsValid(writeBytes(t, dir, "snapshot.3", tc.file)))
		})
	}
	require.False(t, IsValid(filepath.Join(dir, "missing")))
}

func TestGzipSnapshotsAreRead(t *testing.T) {
	p := writeTree(t, build(t, everyKind(1000)), 9, everyKindSessions)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	gz := filepath.Join(t.TempDir(), "snapshot.9.gz")
	require.NoError(t, writeGzip(gz, b))
	require.True(t, IsValid(gz))
	l, err := Read(gz, 0)
	require.NoError(t, err)
	require.Equal(t, int64(9), l.Zxid)
	require.Equal(t, collect(t, build(t, everyKind(1000))), collect(t, l.Tree))

	// A truncated gzip stream is corrupt too.
	require.NoError(t, writeGzip(gz, b[:len(b)/2]))
	_, err = Read(gz, 0)
	requireCorrupt(t, err, gz)

	sn := writeBytes(t, t.TempDir(), "snapshot.9.snappy", b)
	_, err = Read(sn, 0)
	ce := requireCorrupt(t, err, sn)
	require.Contains(t, ce.Reason, "snappy")
	require.False(t, IsValid(sn))
}

func TestTreeDigestSkipsTheZookeeperSubtree(t *testing.T) {
	a := build(t, nil)
	b := build(t, []rec{{Path: "/zookeeper/quota", Data: []byte("changed"), ACL: wire.OpenACLUnsafe}})
	require.Equal(t, TreeDigest(a), TreeDigest(b))
	c := build(t, []rec{{Path: "/zookeeper", Data: []byte("changed"), ACL: wire.OpenACLUnsafe}})
	require.NotEqual(t, TreeDigest(a), TreeDigest(c))
	require.Equal(t, NodeDigest("/", nil, wire.StatPersisted{}), NodeDigest("", nil, wire.StatPersisted{}))
}

func TestCorruptErrorNamesFileAndOffset(t *testing.T) {
	e := &CorruptError{File: "/d/snapshot.5", Offset: 1234, Reason: "checksum mismatch"}
	require.True(t, strings.Contains(e.Error(), "/d/snapshot.5") && strings.Contains(e.Error(), "1234"), e.Error())
}
