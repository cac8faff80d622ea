package txnlog

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

const frame = 100 // framed size of the entries these tests write

// writeFiles writes one log file per element of counts, the i-th starting
// at zxid starts[i], each entry framed in exactly 100 bytes, and returns
// the entries and file paths. Entry k of a file starts at 16 + k*100.
func writeFiles(t *testing.T, dir string, starts []int64, counts []int) ([]*wire.TxnEntry, []string) {
	t.Helper()
	l := openLog(t, dir, Options{PreAllocSize: 64 << 10})
	var all []*wire.TxnEntry
	var paths []string
	for i, s := range starts {
		es := entries(s, counts[i], frame)
		require.NoError(t, l.Append(es...))
		require.NoError(t, l.Roll())
		all = append(all, es...)
		paths = append(paths, filepath.Join(dir, FileName(s)))
	}
	require.NoError(t, l.Close())
	return all, paths
}

func entryOff(k int) int64 { return headerSize + int64(k)*frame }

func patch(t *testing.T, path string, off int64, b ...byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(b, off)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	patch(t, path, off, b[off]^0x20)
}

// An incomplete last entry in the newest file ends the log quietly and is
// reported as its torn tail (storage.md §3.2: EOF mid-entry, length 0,
// missing 'B').
func TestTornTailEndsTheNewestLog(t *testing.T) {
	last := entryOff(4) // the fifth and last entry
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
		reason string
	}{
		{"truncated checksum", func(t *testing.T, p string) { require.NoError(t, os.Truncate(p, last+5)) }, "incomplete checksum"},
		{"truncated length", func(t *testing.T, p string) { require.NoError(t, os.Truncate(p, last+10)) }, "incomplete length"},
		{"truncated payload", func(t *testing.T, p string) { require.NoError(t, os.Truncate(p, last+50)) }, "incomplete entry"},
		{"missing B at end of file", func(t *testing.T, p string) { require.NoError(t, os.Truncate(p, last+frame-1)) }, "missing end-of-record marker"},
		{"payload never reached the disk (padding zeros instead)", func(t *testing.T, p string) {
			patch(t, p, last+12, make([]byte, frame-12)...)
		}, "end-of-record marker is 0x00, not 'B'"},
		{"only the checksum reached the disk", func(t *testing.T, p string) {
			patch(t, p, last+8, make([]byte, frame-8)...)
		}, "zero length after a non-zero checksum"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			want, paths := writeFiles(t, dir, []int64{1, 10}, []int{3, 5})
			tc.damage(t, paths[1])
			got, torn, err := readAll(t, dir, 0)
			require.NoError(t, err)
			requireSameEntries(t, want[:len(want)-1], got)
			require.Equal(t, &Torn{File: paths[1], Offset: last, Reason: tc.reason}, torn)
		})
	}
}

// The end of the log is the zero padding, or the end of the file on an
// entry boundary; neither is a torn tail.
func TestCleanEnds(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"zero padding", func(*testing.T, string) {}},
		{"no padding at all", func(t *testing.T, p string) { require.NoError(t, os.Truncate(p, entryOff(5))) }},
		{"a few bytes of padding", func(t *testing.T, p string) { require.NoError(t, os.Truncate(p, entryOff(5)+20)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			want, paths := writeFiles(t, dir, []int64{1}, []int{5})
			tc.damage(t, paths[0])
			got, torn, err := readAll(t, dir, 0)
			require.NoError(t, err)
			require.Nil(t, torn)
			requireSameEntries(t, want, got)
		})
	}
}

// A checksum mismatch is an error wherever it is (storage.md §3.2).
func TestCorruptionIsAnError(t *testing.T) {
	tests := []struct {
		name      string
		damage    func(t *testing.T, paths []string)
		file      int   // which file the error names
		offset    int64 // and where
		readFirst int   // entries delivered before the error
		reason    string
	}{
		{"flipped byte in the middle of a non-last entry", func(t *testing.T, p []string) { flip(t, p[1], entryOff(2)+50) },
			1, entryOff(2), 3 + 2, "checksum mismatch"},
		{"flipped byte in the last entry", func(t *testing.T, p []string) { flip(t, p[1], entryOff(4)+40) },
			1, entryOff(4), 3 + 4, "checksum mismatch"},
		{"flipped checksum byte", func(t *testing.T, p []string) { flip(t, p[1], entryOff(1)+7) },
			1, entryOff(1), 3 + 1, "checksum mismatch"},
		{"flipped byte in a file that is not the newest", func(t *testing.T, p []string) { flip(t, p[0], entryOff(1)+30) },
			0, entryOff(1), 1, "checksum mismatch"},
		{"bad magic", func(t *testing.T, p []string) { flip(t, p[1], 0) },
			1, 0, 3, "bad magic"},
		{"unreasonable length", func(t *testing.T, p []string) { patch(t, p[1], entryOff(3)+8, 0x7f, 0xff, 0xff, 0xff) },
			1, entryOff(3), 3 + 3, "unreasonable entry length"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			want, paths := writeFiles(t, dir, []int64{1, 10}, []int{3, 5})
			tc.damage(t, paths)
			got, _, err := readAll(t, dir, 0)
			var ce *CorruptError
			require.True(t, errors.As(err, &ce), "want a *CorruptError, got %v", err)
			require.Equal(t, paths[tc.file], ce.File)
			require.Equal(t, tc.offset, ce.Offset)
			require.Contains(t, ce.Reason, tc.reason)
			require.Contains(t, err.Error(), paths[tc.file])
			requireSameEntries(t, want[:tc.readFirst], got)
		})
	}
}

// An incomplete entry at the end of a file that is not the newest is what
// ZooKeeper leaves after a crash and a restart (it starts a new file and
// never cuts the old one): the iterator reports it and reads on; whether
// the next file continues the zxid sequence is the caller's check.
func TestTornTailOfAnOlderFileIsReportedAndSkipped(t *testing.T) {
	dir := t.TempDir()
	want, paths := writeFiles(t, dir, []int64{1, 10}, []int{3, 5})
	require.NoError(t, os.Truncate(paths[0], entryOff(2)+30))
	it, err := NewIterator(dir, 0, 0)
	require.NoError(t, err)
	defer it.Close()
	var got []*wire.TxnEntry
	for {
		e, err := it.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		got = append(got, e)
	}
	requireSameEntries(t, append(append([]*wire.TxnEntry{}, want[:2]...), want[3:]...), got)
	require.Len(t, it.EarlierTornTails(), 1)
	require.Equal(t, paths[0], it.EarlierTornTails()[0].File)
	require.Equal(t, entryOff(2), it.EarlierTornTails()[0].Offset)
	require.Nil(t, it.TornTail())
}

// Reading from a zxid opens the newest file starting at or before it and
// every later one, skipping older txns (storage.md §5 step 2).
func TestIteratorFromZxid(t *testing.T) {
	dir := t.TempDir()
	// Files log.1 (1..3), log.a (10..14), log.14 (20..21).
	want, paths := writeFiles(t, dir, []int64{1, 10, 20}, []int{3, 5, 2})
	files, err := ListLogs(dir)
	require.NoError(t, err)
	tests := []struct {
		from      int64
		files     []string
		firstZxid int64
		n         int
	}{
		{0, paths, 1, 10},
		{1, paths, 1, 10},
		{2, paths, 2, 9},
		{4, paths, 10, 7},
		{10, paths[1:], 10, 7},
		{12, paths[1:], 12, 5},
		{15, paths[1:], 20, 2},
		{20, paths[2:], 20, 2},
		{21, paths[2:], 21, 1},
		{22, paths[2:], 0, 0},
	}
	for _, tc := range tests {
		t.Run(wire.Zxid(tc.from).String(), func(t *testing.T) {
			var sel []string
			for _, f := range selectLogs(files, tc.from) {
				sel = append(sel, f.Path)
			}
			require.Equal(t, tc.files, sel)
			got, torn, err := readAll(t, dir, tc.from)
			require.NoError(t, err)
			require.Nil(t, torn)
			require.Len(t, got, tc.n)
			if tc.n > 0 {
				require.Equal(t, tc.firstZxid, got[0].Header.Zxid)
				requireSameEntries(t, want[len(want)-tc.n:], got)
			}
		})
	}
}

func TestIteratorOnEmptyOrMissingDir(t *testing.T) {
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "missing")} {
		got, torn, err := readAll(t, dir, 0)
		require.NoError(t, err)
		require.Nil(t, torn)
		require.Empty(t, got)
	}
}

func TestParseNameAndListLogs(t *testing.T) {
	tests := []struct {
		name string
		zxid int64
		ok   bool
	}{
		{"log.1", 1, true},
		{"log.100000001", 0x100000001, true},
		{"log.20000025a", 0x20000025a, true},
		{"log.ABC", 0xabc, true},
		{"log.", 0, false},
		{"log.xyz", 0, false},
		{"log.-5", 0, false},
		{"log.+5", 0, false},
		{"log.5.torn.16", 0, false},
		{"torn.log.5.16", 0, false},
		{"snapshot.5", 0, false},
		{"log.10000000000000000", 0, false},
	}
	for _, tc := range tests {
		z, ok := ParseName(tc.name)
		require.Equal(t, tc.ok, ok, tc.name)
		require.Equal(t, tc.zxid, z, tc.name)
	}
	require.Equal(t, "log.20000025a", FileName(0x20000025a))

	dir := t.TempDir()
	for _, n := range []string{"log.a", "log.2", "snapshot.3", "log.100000001", "torn.log.a.16", "acceptedEpoch"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), nil, 0o644))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "log.5"), 0o755))
	files, err := ListLogs(dir)
	require.NoError(t, err)
	require.Equal(t, []File{
		{filepath.Join(dir, "log.2"), 2},
		{filepath.Join(dir, "log.a"), 10},
		{filepath.Join(dir, "log.100000001"), 0x100000001},
	}, files)
}
