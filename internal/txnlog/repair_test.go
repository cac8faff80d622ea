package txnlog

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// Truncate keeps exactly the txns <= zxid (Zab TRUNC; FileTxnLog.truncate)
// and a Log can append after it.
func TestTruncate(t *testing.T) {
	// Files log.1 (1..3), log.a (10..14), log.14 (20..21).
	tests := []struct {
		name      string
		zxid      int64
		keepFiles []int64
		keep      int // entries kept, oldest first
	}{
		{"inside the newest file", 20, []int64{1, 10, 20}, 9},
		{"at the last txn: nothing to do", 21, []int64{1, 10, 20}, 10},
		{"beyond the last txn: nothing to do", 99, []int64{1, 10, 20}, 10},
		{"inside a middle file", 12, []int64{1, 10}, 6},
		{"in the gap between files", 15, []int64{1, 10}, 8},
		{"at a file's first txn", 10, []int64{1, 10}, 4},
		{"before every file", 0, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			want, _ := writeFiles(t, dir, []int64{1, 10, 20}, []int{3, 5, 2})
			require.NoError(t, Truncate(dir, tc.zxid))
			files, err := ListLogs(dir)
			require.NoError(t, err)
			var starts []int64
			for _, f := range files {
				starts = append(starts, f.Zxid)
			}
			require.Equal(t, tc.keepFiles, starts)
			got, torn, err := readAll(t, dir, 0)
			require.NoError(t, err)
			require.Nil(t, torn)
			requireSameEntries(t, want[:tc.keep], got)

			// The log goes on from there.
			l := openLog(t, dir, Options{PreAllocSize: 4096})
			more := entries(100, 2, frame)
			require.NoError(t, l.Append(more...))
			require.NoError(t, l.Close())
			got, _, err = readAll(t, dir, 0)
			require.NoError(t, err)
			requireSameEntries(t, append(want[:tc.keep:tc.keep], more...), got)
		})
	}
}

func TestTruncateDropsATornTailAndRefusesCorruption(t *testing.T) {
	t.Run("torn tail before the cut", func(t *testing.T) {
		dir := t.TempDir()
		want, paths := writeFiles(t, dir, []int64{1}, []int{5})
		require.NoError(t, os.Truncate(paths[0], entryOff(3)+40))
		require.NoError(t, Truncate(dir, 4))
		require.Equal(t, entryOff(3), fileSize(t, paths[0]))
		got, torn, err := readAll(t, dir, 0)
		require.NoError(t, err)
		require.Nil(t, torn)
		requireSameEntries(t, want[:3], got)
	})
	t.Run("corruption before the cut", func(t *testing.T) {
		dir := t.TempDir()
		_, paths := writeFiles(t, dir, []int64{1}, []int{5})
		flip(t, paths[0], entryOff(1)+30)
		size := fileSize(t, paths[0])
		var ce *CorruptError
		require.True(t, errors.As(Truncate(dir, 3), &ce))
		require.Equal(t, size, fileSize(t, paths[0]), "untouched")
	})
}

// RepairTornTail cuts the torn entry off the newest file and keeps the cut
// bytes aside (etcd's repair); a clean log is left alone.
func TestRepairTornTail(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	lg := zap.New(core)

	dir := t.TempDir()
	want, paths := writeFiles(t, dir, []int64{1, 10}, []int{3, 5})
	torn, err := RepairTornTail(dir, lg)
	require.NoError(t, err)
	require.Nil(t, torn, "a clean log needs no repair")

	// The last entry lost its 'B' and the rest of the file is padding.
	patch(t, paths[1], entryOff(4)+60, make([]byte, frame-60)...)
	b, err := os.ReadFile(paths[1])
	require.NoError(t, err)
	piece := bytes.TrimRight(b[entryOff(4):entryOff(4)+60], "\x00")

	torn, err = RepairTornTail(dir, lg)
	require.NoError(t, err)
	require.Equal(t, &Torn{File: paths[1], Offset: entryOff(4), Reason: "end-of-record marker is 0x00, not 'B'"}, torn)
	require.Equal(t, entryOff(4), fileSize(t, paths[1]))
	aside, err := os.ReadFile(filepath.Join(dir, "torn.log.a.416"))
	require.NoError(t, err)
	require.Equal(t, piece, aside, "the cut bytes up to the last non-zero one are kept")
	require.Len(t, logs.FilterMessageSnippet("torn tail").All(), 1)

	got, tornAfter, err := readAll(t, dir, 0)
	require.NoError(t, err)
	require.Nil(t, tornAfter)
	requireSameEntries(t, want[:len(want)-1], got)

	// The kept piece is not mistaken for a log, by us or by Java's
	// Util.getZxidFromName (prefix "torn", not "log").
	files, err := ListLogs(dir)
	require.NoError(t, err)
	require.Len(t, files, 2)

	torn, err = RepairTornTail(dir, lg)
	require.NoError(t, err)
	require.Nil(t, torn, "repair is idempotent")
}

func TestRepairTornTailCases(t *testing.T) {
	t.Run("a file without a complete header is moved aside whole", func(t *testing.T) {
		dir := t.TempDir()
		_, _ = writeFiles(t, dir, []int64{1}, []int{2})
		require.NoError(t, os.WriteFile(filepath.Join(dir, "log.5"), []byte{'Z', 'K'}, 0o644))
		torn, err := RepairTornTail(dir, nil)
		require.NoError(t, err)
		require.Equal(t, int64(0), torn.Offset)
		files, err := ListLogs(dir)
		require.NoError(t, err)
		require.Len(t, files, 1)
		_, err = os.Stat(filepath.Join(dir, "torn.log.5.0"))
		require.NoError(t, err)
	})
	t.Run("a checksum mismatch is not repaired", func(t *testing.T) {
		dir := t.TempDir()
		_, paths := writeFiles(t, dir, []int64{1}, []int{4})
		flip(t, paths[0], entryOff(3)+30)
		size := fileSize(t, paths[0])
		_, err := RepairTornTail(dir, nil)
		var ce *CorruptError
		require.True(t, errors.As(err, &ce))
		require.Equal(t, size, fileSize(t, paths[0]))
	})
	t.Run("no logs", func(t *testing.T) {
		torn, err := RepairTornTail(t.TempDir(), nil)
		require.NoError(t, err)
		require.Nil(t, torn)
	})
}
