package txnlog

import (
	"encoding/binary"
	"hash/adler32"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/zkd/zkd/internal/wire"
)

// Every txn type survives a write and a read, across rolls, with the
// files named after their first zxid (storage.md §3.1, §3.8).
func TestRoundTripEveryTxnTypeAcrossRolls(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{PreAllocSize: 4096, ForceSync: true})
	var want []*wire.TxnEntry
	var starts []int64
	zxid := int64(wire.MakeZxid(1, 1))
	for file := 0; file < 4; file++ {
		starts = append(starts, zxid)
		for batch := 0; batch < 5; batch++ {
			var b []*wire.TxnEntry
			for range 1 + batch*7 {
				b = append(b, txnOfKind(len(want)+len(b), zxid, true))
				zxid++
			}
			require.NoError(t, l.Append(b...))
			require.NoError(t, l.Sync())
			want = append(want, b...)
		}
		require.NoError(t, l.Roll())
		zxid = int64(wire.MakeZxid(uint32(file+2), 1)) // a new epoch per file
	}
	require.NoError(t, l.Close())
	require.Equal(t, want[len(want)-1].Header.Zxid, l.LastZxid())

	files, err := ListLogs(dir)
	require.NoError(t, err)
	require.Len(t, files, len(starts))
	for i, f := range files {
		require.Equal(t, starts[i], f.Zxid)
		require.Equal(t, FileName(starts[i]), filepath.Base(f.Path))
	}
	got, torn, err := readAll(t, dir, 0)
	require.NoError(t, err)
	require.Nil(t, torn)
	requireSameEntries(t, want, got)
}

// The bytes on disk are the 3.8 layout: ZKLG header, then checksum,
// length, entry, 'B' (storage.md §2, §3.1).
func TestFileLayoutIsZooKeepers(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{PreAllocSize: 4096})
	e := txnOfKind(1, 5, false)
	require.NoError(t, l.Append(e))
	require.NoError(t, l.Close())

	b, err := os.ReadFile(filepath.Join(dir, "log.5"))
	require.NoError(t, err)
	body := encoded(e)
	want := []byte{'Z', 'K', 'L', 'G', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0}
	want = binary.BigEndian.AppendUint64(want, uint64(adler32.Checksum(body)))
	want = binary.BigEndian.AppendUint32(want, uint32(len(body)))
	want = append(want, body...)
	want = append(want, 'B')
	require.Equal(t, want, b[:len(want)])
	require.Equal(t, make([]byte, len(b)-len(want)), b[len(want):], "the rest is zero padding")
}

// A fresh log is header + preAllocSize bytes after the first append
// (storage.md §3.3: 16 + 67108864 with the default).
func TestFreshLogSizeIsHeaderPlusPrealloc(t *testing.T) {
	for _, prealloc := range []int64{4096, 8192, 1 << 20, DefaultPreAllocSize} {
		t.Run(formatSize(prealloc), func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{PreAllocSize: prealloc}
			if prealloc == DefaultPreAllocSize {
				opts.PreAllocSize = 0 // the default
			}
			l := openLog(t, dir, opts)
			require.NoError(t, l.Append(txnOfKind(1, 1, false)))
			require.NoError(t, l.Sync())
			require.Equal(t, headerSize+prealloc, fileSize(t, filepath.Join(dir, "log.1")))
			require.NoError(t, l.Close())
		})
	}
}

func formatSize(n int64) string { return strconv.FormatInt(n, 10) + "B" }

// Preallocation follows FilePadding.calculateFileSizeWithPadding.
func TestPaddedSizeFollowsFilePadding(t *testing.T) {
	const p = 65536
	tests := []struct {
		name           string
		pos, size, out int64
	}{
		{"fresh file grows by one unit", 16, 16, 16 + p},
		{"far from the end: no change", 100, 16 + p, 16 + p},
		{"just outside the 4 KiB margin: no change", 16 + p - 4097, 16 + p, 16 + p},
		{"inside the margin: grows by one unit", 16 + p - 4096, 16 + p, 16 + 2*p},
		{"exactly at the end: grows by one unit", 16 + p, 16 + p, 16 + 2*p},
		{"past the end: next multiple above position", 3*p + 10, 16 + p, 4 * p},
		{"past the end on a multiple: one more unit", 3*p + 1, 3 * p, 4 * p},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.out, paddedSize(tc.pos, tc.size, p))
		})
	}
	require.Equal(t, int64(100), paddedSize(100, 100, 0), "preallocation disabled")
}

// Writes past the preallocated end (an entry larger than the margin)
// are followed by padding rounded to a preAllocSize multiple.
func TestLargeEntriesRunPastPadding(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{PreAllocSize: 4096})
	require.NoError(t, l.Append(sized(1, 10000)))
	require.NoError(t, l.Sync())
	path := filepath.Join(dir, "log.1")
	end := int64(headerSize + 10000)
	require.Equal(t, end, fileSize(t, path), "the entry ran past the padded size")
	require.NoError(t, l.Append(sized(2, 100)))
	require.NoError(t, l.Sync())
	require.Equal(t, (end+4096)/4096*4096, fileSize(t, path))
	require.NoError(t, l.Close())
	got, torn, err := readAll(t, dir, 0)
	require.NoError(t, err)
	require.Nil(t, torn)
	require.Len(t, got, 2)
}

func TestAppendRefusesNonIncreasingZxid(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{PreAllocSize: 4096})
	require.NoError(t, l.Append(txnOfKind(0, 5, false)))
	err := l.Append(txnOfKind(1, 6, false), txnOfKind(2, 6, false))
	require.ErrorIs(t, err, ErrZxidOrder)
	require.Equal(t, int64(5), l.LastZxid(), "nothing of the refused batch is appended")
	require.NoError(t, l.Append(txnOfKind(1, 6, false)))
	require.NoError(t, l.Close())
	require.ErrorIs(t, l.Append(txnOfKind(2, 7, false)), ErrClosed)
	got, _, err := readAll(t, dir, 0)
	require.NoError(t, err)
	require.Len(t, got, 2)
}

// Sync reports every fsync to the metrics hook and warns when one is
// slower than the threshold, in ZooKeeper's words.
func TestSyncMeasuresFsync(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	var seen []time.Duration
	l, err := Open(t.TempDir(), Options{
		PreAllocSize: 4096, ForceSync: true,
		FsyncWarningThreshold: time.Nanosecond, // every fsync is "slow"
		OnFsync:               func(d time.Duration) { seen = append(seen, d) },
	}, zap.New(core))
	require.NoError(t, err)
	for z := int64(1); z <= 3; z++ {
		require.NoError(t, l.Append(txnOfKind(int(z), z, false)))
		require.NoError(t, l.Sync())
	}
	require.NoError(t, l.Close())
	require.Len(t, seen, 3)
	warns := logs.FilterMessageSnippet("fsync-ing the write ahead log in log.1 took").All()
	require.Len(t, warns, 3)
	require.Contains(t, warns[0].Message, "which will adversely effect operation latency")
}

func TestSyncWithoutForceSyncDoesNotFsync(t *testing.T) {
	disk := newFaultDisk()
	disk.syncErr = syscall.EIO // would be fatal if called
	called := false
	l := openLog(t, t.TempDir(), Options{PreAllocSize: 4096, OnFsync: func(time.Duration) { called = true }, create: disk.create})
	require.NoError(t, l.Append(txnOfKind(1, 1, false)))
	require.NoError(t, l.Sync())
	require.NoError(t, l.Close())
	require.False(t, called)
}

// A full disk fails the affected batch without leaving a half entry: the
// file is cut back to the last synced entry, later appends work once
// space returns, and the log reads back as exactly the successful
// entries (the failure contract on Log).
func TestFullDiskRollsBackToLastSync(t *testing.T) {
	const prealloc = 64 << 10
	tests := []struct {
		name string
		// setup happens after entries 1..5 are synced at synced offset.
		budget int64
		// batch is what is appended while the disk is full.
		batch []*wire.TxnEntry
		// failsIn says which call reports the ENOSPC, and inStep what it
		// was doing.
		failsIn, inStep string
	}{
		{
			name:   "a batch that no longer fits fails at Sync",
			budget: 150, batch: entries(6, 10, 100), failsIn: "Sync", inStep: "write",
		},
		{
			name:   "an entry that does not fit at all fails at Sync",
			budget: 0, batch: entries(6, 1, 100), failsIn: "Sync", inStep: "write",
		},
		{
			name:   "preallocation refused fails at Append",
			budget: 0, batch: entries(6, 700, 100), failsIn: "Append", inStep: "preallocate",
		},
		{
			name:   "a batch larger than the write buffer fails at Append",
			budget: 1 << 20, batch: entries(6, 40, 64<<10), failsIn: "Append", inStep: "write",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			disk := newFaultDisk()
			l := openLog(t, dir, Options{PreAllocSize: prealloc, ForceSync: true, create: disk.create})
			path := filepath.Join(dir, "log.1")
			good := entries(1, 5, 100)
			require.NoError(t, l.Append(good...))
			require.NoError(t, l.Sync())
			synced := int64(headerSize + 5*100)

			disk.budget = tc.budget
			err := l.Append(tc.batch...)
			if tc.failsIn == "Sync" {
				require.NoError(t, err)
				err = l.Sync()
			}
			require.ErrorIs(t, err, syscall.ENOSPC)
			require.NotErrorIs(t, err, ErrBroken, "a full disk is not fatal")
			require.Contains(t, err.Error(), "txnlog: "+tc.inStep+" "+path)
			require.Equal(t, synced, fileSize(t, path), "cut back to the end of the last synced entry")
			require.Equal(t, int64(5), l.LastZxid())

			// Space is back: retry the failed requests and go on.
			disk.budget = -1
			retry := entries(6, 3, 100)
			require.NoError(t, l.Append(retry...))
			require.Equal(t, synced+prealloc, fileSize(t, path), "preallocation is redone")
			require.NoError(t, l.Sync())
			require.NoError(t, l.Close())

			got, torn, err := readAll(t, dir, 0)
			require.NoError(t, err)
			require.Nil(t, torn)
			requireSameEntries(t, append(good, retry...), got)
		})
	}
}

// A full disk before anything was synced into a new file removes the
// file, so the retry recreates it named after its first zxid.
func TestFullDiskOnANewFileRemovesIt(t *testing.T) {
	for _, budget := range []int64{0, headerSize, headerSize + 1} {
		t.Run(formatSize(budget), func(t *testing.T) {
			dir := t.TempDir()
			disk := newFaultDisk()
			disk.budget = budget
			l := openLog(t, dir, Options{PreAllocSize: 4096, ForceSync: true, create: disk.create})
			err := l.Append(entries(7, 3, 100)...)
			if err == nil {
				err = l.Sync()
			}
			require.ErrorIs(t, err, syscall.ENOSPC)
			files, lerr := ListLogs(dir)
			require.NoError(t, lerr)
			require.Empty(t, files)
			require.Equal(t, int64(0), l.LastZxid())

			disk.budget = -1
			want := entries(8, 2, 100)
			require.NoError(t, l.Append(want...))
			require.NoError(t, l.Close())
			files, lerr = ListLogs(dir)
			require.NoError(t, lerr)
			require.Equal(t, []File{{Path: filepath.Join(dir, "log.8"), Zxid: 8}}, files)
			got, _, err := readAll(t, dir, 0)
			require.NoError(t, err)
			requireSameEntries(t, want, got)
		})
	}
}

// A failed fsync is fatal: the Log refuses everything after it.
func TestFailedFsyncBreaksTheLog(t *testing.T) {
	disk := newFaultDisk()
	l := openLog(t, t.TempDir(), Options{PreAllocSize: 4096, ForceSync: true, create: disk.create})
	require.NoError(t, l.Append(entries(1, 2, 100)...))
	require.NoError(t, l.Sync())
	disk.syncErr = syscall.EIO
	require.NoError(t, l.Append(entries(3, 2, 100)...))
	err := l.Sync()
	require.ErrorIs(t, err, ErrBroken)
	require.ErrorIs(t, err, syscall.EIO)
	disk.syncErr = nil
	require.ErrorIs(t, l.Append(entries(5, 1, 100)...), ErrBroken)
	require.ErrorIs(t, l.Sync(), ErrBroken)
	require.ErrorIs(t, l.Roll(), ErrBroken)
	require.NoError(t, l.Close(), "Close on a broken log only releases the file")
}

// Appending into a file name left behind with no complete txn (a crash
// right after its creation) replaces it; one holding txns is refused.
func TestStartFileOverExistingFile(t *testing.T) {
	t.Run("a header-only file is replaced", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "log.3"), appendHeader(nil), 0o644))
		l := openLog(t, dir, Options{PreAllocSize: 4096})
		require.NoError(t, l.Append(entries(3, 2, 100)...))
		require.NoError(t, l.Close())
		got, _, err := readAll(t, dir, 0)
		require.NoError(t, err)
		require.Len(t, got, 2)
	})
	t.Run("a file with txns is never overwritten", func(t *testing.T) {
		dir := t.TempDir()
		l := openLog(t, dir, Options{PreAllocSize: 4096})
		require.NoError(t, l.Append(entries(3, 2, 100)...))
		require.NoError(t, l.Close())
		l = openLog(t, dir, Options{PreAllocSize: 4096})
		require.Error(t, l.Append(entries(3, 1, 100)...))
		require.NoError(t, l.Close())
		got, _, err := readAll(t, dir, 0)
		require.NoError(t, err)
		require.Len(t, got, 2)
	})
}

func entries(first int64, n int, frame int) []*wire.TxnEntry {
	out := make([]*wire.TxnEntry, n)
	for i := range out {
		out[i] = sized(first+int64(i), frame)
	}
	return out
}
