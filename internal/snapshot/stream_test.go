package snapshot

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/datatree"
	"github.com/zkd/zkd/internal/wire"
	"github.com/zkd/zkd/internal/zab"
)

// afterSnap stands for what a leader sends after the snapshot (NEWLEADER).
var afterSnap = []byte{0, 0, 0, 10, 'N', 'E', 'W', 'L', 'E', 'A', 'D', 'E', 'R', '!'}

func writeStream(t testing.TB, tree *datatree.Tree, sessions []Session) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, WriteStream(&buf, t.TempDir(), tree, sessions))
	return buf.Bytes()
}

// resetTree is what a follower loads into: a used tree, Reset.
func resetTree(t testing.TB) *datatree.Tree {
	t.Helper()
	tree := build(t, everyKind(16)[:6])
	tree.SetLastZxid(77)
	tree.Reset()
	return tree
}

func requireStreamCorrupt(t testing.TB, err error) *CorruptError {
	t.Helper()
	require.Error(t, err)
	var ce *CorruptError
	require.True(t, errors.As(err, &ce), "want *CorruptError, got %T: %v", err, err)
	require.Empty(t, ce.File)
	require.Contains(t, err.Error(), "snapshot stream: corrupt at byte offset")
	return ce
}

func TestStreamRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		nodes    []rec
		sessions []Session
	}{
		{name: "the initial empty tree"},
		{name: "every node kind, null and empty data, many ACL lists", nodes: everyKind(300000), sessions: everyKindSessions},
		{name: "sessions without any ephemerals", nodes: everyKind(0)[:4], sessions: []Session{{ID: 1, Timeout: 1}, {ID: -1, Timeout: 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := build(t, tc.nodes)
			b := writeStream(t, orig, tc.sessions)

			// The stream is the file body (after the 16-byte header, through
			// the "/" marker) followed by the signature.
			file, err := os.ReadFile(writeTree(t, orig, 5, tc.sessions))
			require.NoError(t, err)
			var sig wire.Encoder
			sig.String(zab.SnapSignature)
			require.Equal(t, append(bytes.Clone(file[16:layoutOf(t, file).checksum1]), sig.B...), b)

			for _, r := range map[string]*bufio.Reader{
				"whole":    bufio.NewReader(bytes.NewReader(append(bytes.Clone(b), afterSnap...))),
				"one byte": bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(append(bytes.Clone(b), afterSnap...))), 16),
			} {
				tree := resetTree(t)
				sessions, err := ReadStream(r, tree, 1<<20)
				require.NoError(t, err)
				require.Equal(t, tc.sessions, sessions)

				want, got := collect(t, orig), collect(t, tree)
				require.Equal(t, len(want), len(got))
				for i := range want {
					require.Equal(t, want[i], got[i], "node %s", want[i].Path)
					require.Equal(t, want[i].Data == nil, got[i].Data == nil, "null vs empty data of %s", want[i].Path)
				}
				require.Equal(t, orig.EphemeralSessions(), tree.EphemeralSessions())
				require.Equal(t, orig.SpecialNodes(), tree.SpecialNodes())
				require.Equal(t, orig.NodeCount(), tree.NodeCount())
				require.Equal(t, orig.ApproximateDataSize(), tree.ApproximateDataSize())
				require.Equal(t, TreeDigest(orig), TreeDigest(tree))
				require.Zero(t, tree.LastZxid(), "the caller sets the SNAP zxid")

				// Nothing after the signature was consumed.
				rest, err := io.ReadAll(r)
				require.NoError(t, err)
				require.Equal(t, afterSnap, rest)
			}
		})
	}
}

func TestStreamOfTheEmptyTreeByteForByte(t *testing.T) {
	b := writeStream(t, datatree.New(nil), nil)
	var e wire.Encoder
	e.Int(0) // no sessions
	e.Int(1) // ACL map: one entry
	e.Long(1)
	e.Int(1)
	e.Int(wire.PermRead)
	e.String("world")
	e.String("anyone")
	node := func(path string, aclID int64, st wire.StatPersisted) {
		e.String(path)
		e.Buffer(nil)
		e.Long(aclID)
		st.Encode(&e)
	}
	node("", -1, wire.StatPersisted{})
	node("/zookeeper", -1, wire.StatPersisted{})
	node("/zookeeper/config", 1, wire.StatPersisted{Aversion: -1})
	node("/zookeeper/quota", -1, wire.StatPersisted{})
	e.String("/")
	e.String("BenWasHere")
	require.Equal(t, e.B, b)

	// Spelled out, the start and the end.
	require.Equal(t, []byte{
		0, 0, 0, 0, // sessions
		0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, // one entry, id 1
		0, 0, 0, 1, 0, 0, 0, 1, // one ACL, perms READ
		0, 0, 0, 5, 'w', 'o', 'r', 'l', 'd', 0, 0, 0, 6, 'a', 'n', 'y', 'o', 'n', 'e',
		0, 0, 0, 0, // root path ""
		0xff, 0xff, 0xff, 0xff, // root data null
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // root ACL -1
	}, b[:59])
	require.Equal(t, []byte{0, 0, 0, 1, '/', 0, 0, 0, 10, 'B', 'e', 'n', 'W', 'a', 's', 'H', 'e', 'r', 'e'}, b[len(b)-19:])

	tree := resetTree(t)
	sessions, err := ReadStream(bufio.NewReader(bytes.NewReader(b)), tree, 0)
	require.NoError(t, err)
	require.Empty(t, sessions)
	require.Equal(t, collect(t, datatree.New(nil)), collect(t, tree))
}

func TestTruncatedStreamIsAnErrorNeverAPanic(t *testing.T) {
	b := writeStream(t, build(t, everyKind(40)[:14]), everyKindSessions)
	for n := 0; n < len(b); n++ {
		_, err := ReadStream(bufio.NewReader(bytes.NewReader(b[:n])), datatree.New(nil), 1<<20)
		ce := requireStreamCorrupt(t, err)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF, "cut at %d", n)
		require.LessOrEqual(t, ce.Offset, int64(n), "cut at %d", n)
		if n >= len(b)-14 {
			require.Contains(t, err.Error(), "missing signature", "cut at %d", n)
		}
	}
}

func TestStreamWithoutTheSignature(t *testing.T) {
	b := writeStream(t, datatree.New(nil), nil)
	body := b[:len(b)-14]
	bad := func(tail ...byte) []byte { return append(bytes.Clone(body), tail...) }
	for name, in := range map[string][]byte{
		"end of stream":   body,
		"wrong text":      bad(0, 0, 0, 10, 'B', 'e', 'n', 'W', 'a', 's', 'N', 'o', 'p', 'e'),
		"wrong length":    bad(0, 0, 0, 9, 'B', 'e', 'n', 'W', 'a', 's', 'H', 'e', 'r', 'e'),
		"null":            bad(0xff, 0xff, 0xff, 0xff),
		"huge length":     bad(0x7f, 0xff, 0xff, 0xff),
		"next packet":     bad(afterSnap...),
		"half the string": bad(0, 0, 0, 10, 'B', 'e', 'n'),
	} {
		_, err := ReadStream(bufio.NewReader(bytes.NewReader(in)), datatree.New(nil), 0)
		ce := requireStreamCorrupt(t, err)
		require.Contains(t, err.Error(), "missing signature", name)
		require.Equal(t, int64(len(body)), ce.Offset, name)
	}
}

// scraft builds a stream by hand for structurally wrong content.
func scraft(sessions int, acls map[int64][]wire.ACL) *craft {
	c := new(craft)
	c.e.Int(int32(sessions))
	for i := 0; i < sessions; i++ {
		c.e.Long(int64(i + 1))
		c.e.Int(1000)
	}
	return c.aclMap(acls)
}

func (c *craft) signed() []byte {
	c.e.String("/")
	c.e.String(zab.SnapSignature)
	return c.e.B
}

func TestReadStreamRejectsBadContent(t *testing.T) {
	open := map[int64][]wire.ACL{}
	tests := []struct {
		name string
		in   []byte
		max  int
		want string
	}{
		{"dangling ACL id", scraft(0, open).node("", 3).signed(), 0, "ACL id 3"},
		{"reserved id in the map", scraft(0, map[int64][]wire.ACL{-1: digestACL}).signed(), 0, "reserved id -1"},
		{"child before parent", scraft(0, open).node("", -1).node("/a/b", -1).signed(), 0, "parent"},
		{"duplicate node", scraft(0, open).node("", -1).node("/a", -1).node("/a", -1).signed(), 0, "twice"},
		{"relative path", scraft(0, open).node("", -1).node("a", -1).signed(), 0, "invalid node path"},
		{"null path", append(scraft(0, open).e.B, 0xff, 0xff, 0xff, 0xff), 0, "null node path"},
		{"negative session count", []byte{0xff, 0xff, 0xff, 0xfe}, 0, "negative count"},
		{"huge session count, no sessions", []byte{0x7f, 0xff, 0xff, 0xff, 0, 0}, 0, "truncated"},
		{"huge ACL list", append(scraft(0, nil).e.B[:0], 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff), 0, "truncated"},
		{"negative data length", append(scraft(0, open).e.B, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xf0), 0, "negative length"},
		{"path over max", scraft(0, open).node("", -1).node("/0123456789", -1).signed(), 8, "exceeds the limit 8"},
		{"huge data without max", append(scraft(0, open).e.B, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3), 0, "truncated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadStream(bufio.NewReader(bytes.NewReader(tc.in)), datatree.New(nil), tc.max)
			requireStreamCorrupt(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}

	// A semantic error is reported at its node, and reading stops there.
	in := scraft(1, open).node("", -1).node("/a", 9).node("/b", -1).signed()
	r := bufio.NewReader(bytes.NewReader(in))
	_, err := ReadStream(r, datatree.New(nil), 0)
	ce := requireStreamCorrupt(t, err)
	require.Equal(t, int64(len(scraft(1, open).node("", -1).e.B)), ce.Offset)
	require.Contains(t, err.Error(), "ACL id 9")
	rest, err := io.ReadAll(r)
	require.NoError(t, err)
	require.NotEmpty(t, rest, "a stream with a bad node is abandoned at that node")
}

func TestReadStreamWrapsReadErrors(t *testing.T) {
	b := writeStream(t, datatree.New(nil), nil)
	boom := errors.New("connection reset")
	r := bufio.NewReader(io.MultiReader(bytes.NewReader(b[:30]), iotest.ErrReader(boom)))
	_, err := ReadStream(r, datatree.New(nil), 0)
	requireStreamCorrupt(t, err)
	require.ErrorIs(t, err, boom)
}

type failWriter struct{ after int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.after {
		n := w.after
		w.after = 0
		return n, errors.New("broken pipe")
	}
	w.after -= len(p)
	return len(p), nil
}

func TestWriteStreamErrors(t *testing.T) {
	err := WriteStream(&failWriter{after: 10}, t.TempDir(), build(t, everyKind(16)), nil)
	require.ErrorContains(t, err, "broken pipe")

	err = WriteStream(io.Discard, "/nonexistent/dir", datatree.New(nil), nil)
	require.ErrorContains(t, err, "spool")

	// The spool leaves nothing behind, whether the write worked or not.
	dir := t.TempDir()
	require.NoError(t, WriteStream(io.Discard, dir, build(t, everyKind(16)), nil))
	require.Error(t, WriteStream(&failWriter{after: 3}, dir, build(t, everyKind(16)), nil))
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, ents)
}

func FuzzReadStream(f *testing.F) {
	b := writeStream(f, build(f, everyKind(40)[:12]), everyKindSessions)
	f.Add(b)
	f.Add(append(bytes.Clone(b), afterSnap...))
	f.Add(b[:len(b)/2])
	f.Add(b[:len(b)-5])
	f.Add(scraft(1, map[int64][]wire.ACL{3: digestACL}).node("", 3).node("/a", -1).signed())
	f.Add([]byte{})
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReaderSize(bytes.NewReader(data), 16)
		tree := datatree.New(nil)
		sessions, err := ReadStream(r, tree, 1<<20)
		if err != nil {
			requireStreamCorrupt(t, err)
			return
		}
		// It stopped right after the signature.
		rest, err := io.ReadAll(r)
		require.NoError(t, err)
		require.True(t, bytes.HasSuffix(data, rest))
		require.True(t, strings.HasSuffix(string(data[:len(data)-len(rest)]), zab.SnapSignature))
		// Whatever loaded survives a round trip.
		b2 := writeStream(t, tree, sessions)
		tree2 := datatree.New(nil)
		sessions2, err := ReadStream(bufio.NewReader(bytes.NewReader(b2)), tree2, 0)
		require.NoError(t, err)
		require.Equal(t, sessions, sessions2)
		require.Equal(t, collect(t, tree), collect(t, tree2))
	})
}

func BenchmarkReadStream(b *testing.B) {
	const n = 100_000
	data := writeStream(b, benchTree(b, n, 100), nil)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadStream(bufio.NewReader(bytes.NewReader(data)), datatree.New(nil), 1<<20); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/node")
}
