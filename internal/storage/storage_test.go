package storage

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/datatree"
	"github.com/zkd/zkd/internal/snapshot"
	"github.com/zkd/zkd/internal/wire"
)

func touch(t *testing.T, path string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, nil, 0o644))
}

// Purge keeps the newest N snapshots and every log needed to replay from
// the oldest kept one, including the newest log that starts below it
// (PurgeTxnLog, storage.md §8).
func TestPurgeKeepsWhatReplayNeeds(t *testing.T) {
	dir := t.TempDir()
	tree := datatree.New(nil)
	for _, z := range []int64{0x10, 0x20, 0x30, 0x40, 0x50} {
		_, err := snapshot.Write(dir, z, tree, nil, false)
		require.NoError(t, err)
	}
	for _, name := range []string{"log.1", "log.15", "log.25", "log.35", "log.45"} {
		touch(t, filepath.Join(dir, name))
	}
	res, err := Purge(dir, dir, 3)
	require.NoError(t, err)
	// Kept snapshots: 0x50, 0x40, 0x30. Logs below 0x30 go except log.25.
	require.ElementsMatch(t, []string{filepath.Join(dir, "snapshot.10"), filepath.Join(dir, "snapshot.20")}, res.Snapshots)
	require.ElementsMatch(t, []string{filepath.Join(dir, "log.1"), filepath.Join(dir, "log.15")}, res.Logs)
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	require.ElementsMatch(t, []string{"snapshot.30", "snapshot.40", "snapshot.50", "log.25", "log.35", "log.45"}, names)
}

// Fewer than three snapshots are never purged, whatever count is asked.
func TestPurgeNeverKeepsFewerThanThree(t *testing.T) {
	dir := t.TempDir()
	for _, z := range []int64{1, 2, 3} {
		_, err := snapshot.Write(dir, z, datatree.New(nil), nil, false)
		require.NoError(t, err)
	}
	res, err := Purge(dir, dir, 1)
	require.NoError(t, err)
	require.Empty(t, res.Snapshots)
}

// Recovery replays the log on top of the snapshot, restores sessions and
// drops the ephemerals of sessions that closed.
func TestRecoverReplaysLogAndSessions(t *testing.T) {
	dir := t.TempDir()
	tree := datatree.New(nil)
	st, err := Open(Options{SnapDir: dir, LogDir: dir, SnapCount: 1000}, tree, noSessions, nil)
	require.NoError(t, err)
	_, err = st.Snapshot()
	require.NoError(t, err)
	txns := []*wire.TxnEntry{
		{Header: wire.TxnHeader{ClientID: 7, Zxid: 1, Type: wire.OpCreateSession}, Txn: &wire.CreateSessionTxn{TimeOut: 5000}},
		{Header: wire.TxnHeader{ClientID: 8, Zxid: 2, Type: wire.OpCreateSession}, Txn: &wire.CreateSessionTxn{TimeOut: 6000}},
		{Header: wire.TxnHeader{ClientID: 7, Zxid: 3, Type: wire.OpCreate}, Txn: &wire.CreateTxn{Path: "/e7", ACL: wire.OpenACLUnsafe, Ephemeral: true, ParentCVersion: 2}},
		{Header: wire.TxnHeader{ClientID: 8, Zxid: 4, Type: wire.OpCreate}, Txn: &wire.CreateTxn{Path: "/e8", ACL: wire.OpenACLUnsafe, Ephemeral: true, ParentCVersion: 3}},
		{Header: wire.TxnHeader{ClientID: 8, Zxid: 5, Type: wire.OpCloseSession}, Txn: &wire.CloseSessionTxn{Paths2Delete: []string{"/e8"}}},
		{Header: wire.TxnHeader{ClientID: 7, Zxid: 6, Type: wire.OpSetData}, Txn: &wire.SetDataTxn{Path: "/e7", Data: []byte("x"), Version: 1}},
	}
	require.NoError(t, st.Append(txns...))
	require.NoError(t, st.Sync())
	require.NoError(t, st.Close())

	rec, err := Recover(dir, dir, 0, nil, nil)
	require.NoError(t, err)
	require.Equal(t, int64(6), rec.LastZxid)
	require.Equal(t, 6, rec.Replayed)
	require.Equal(t, map[int64]int32{7: 5000}, rec.Sessions)
	data, st7, err := rec.Tree.GetData("/e7", nil)
	require.NoError(t, err)
	require.Equal(t, []byte("x"), data)
	require.Equal(t, int64(7), st7.EphemeralOwner)
	_, err = rec.Tree.Exists("/e8", nil)
	require.Error(t, err)
}

// A log with no snapshot is an incomplete history: refuse to start.
func TestRecoverRefusesLogsWithoutSnapshot(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(Options{SnapDir: dir, LogDir: dir}, datatree.New(nil), noSessions, nil)
	require.NoError(t, err)
	require.NoError(t, st.Append(&wire.TxnEntry{Header: wire.TxnHeader{Zxid: 1, Type: wire.OpCreateSession}, Txn: &wire.CreateSessionTxn{TimeOut: 1}}))
	require.NoError(t, st.Sync())
	require.NoError(t, st.Close())
	_, err = Recover(dir, dir, 0, nil, nil)
	require.ErrorContains(t, err, "no snapshot")
}

// Missing txns between the snapshot and the log are a gap: refuse.
func TestRecoverDetectsAGap(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(Options{SnapDir: dir, LogDir: dir}, datatree.New(nil), noSessions, nil)
	require.NoError(t, err)
	_, err = st.Snapshot()
	require.NoError(t, err)
	require.NoError(t, st.Append(&wire.TxnEntry{Header: wire.TxnHeader{Zxid: 5, Type: wire.OpCreateSession}, Txn: &wire.CreateSessionTxn{TimeOut: 1}}))
	require.NoError(t, st.Sync())
	require.NoError(t, st.Close())
	_, err = Recover(dir, dir, 0, nil, nil)
	require.ErrorIs(t, err, ErrGap)
}

// FastForward applies only the logged tail beyond the tree's last zxid and
// reports the session txns it applied; the result equals a full recovery.
func TestFastForwardAppliesTheLoggedTail(t *testing.T) {
	dir := t.TempDir()
	tree := datatree.New(nil)
	st, err := Open(Options{SnapDir: dir, LogDir: dir, SnapCount: 1000}, tree, noSessions, nil)
	require.NoError(t, err)
	_, err = st.Snapshot()
	require.NoError(t, err)
	txns := []*wire.TxnEntry{
		{Header: wire.TxnHeader{ClientID: 7, Zxid: 1, Type: wire.OpCreateSession}, Txn: &wire.CreateSessionTxn{TimeOut: 5000}},
		{Header: wire.TxnHeader{ClientID: 7, Zxid: 2, Type: wire.OpCreate}, Txn: &wire.CreateTxn{Path: "/a", Data: []byte("1"), ACL: wire.OpenACLUnsafe, ParentCVersion: 2}},
		{Header: wire.TxnHeader{ClientID: 7, Zxid: 3, Type: wire.OpSetData}, Txn: &wire.SetDataTxn{Path: "/a", Data: []byte("2"), Version: 1}},
		{Header: wire.TxnHeader{ClientID: 8, Zxid: 4, Type: wire.OpCreateSession}, Txn: &wire.CreateSessionTxn{TimeOut: 6000}},
	}
	require.NoError(t, st.Append(txns...))
	require.NoError(t, st.Sync())
	require.NoError(t, st.Close())
	// The live tree applied the first two (committed); the rest was only logged.
	for _, e := range txns[:2] {
		tree.Apply(&e.Header, e.Txn)
	}

	var sessions []int64
	n, err := FastForward(dir, tree, 0, func(h *wire.TxnHeader, _ wire.Record) {
		if h.Type == wire.OpCreateSession {
			sessions = append(sessions, h.ClientID)
		}
	})
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, []int64{8}, sessions)
	require.Equal(t, int64(4), tree.LastZxid())
	data, _, err := tree.GetData("/a", nil)
	require.NoError(t, err)
	require.Equal(t, []byte("2"), data)

	rec, err := Recover(dir, dir, 0, nil, nil)
	require.NoError(t, err)
	require.Equal(t, snapshot.TreeDigest(rec.Tree), snapshot.TreeDigest(tree))

	// Nothing more logged: nothing to do.
	n, err = FastForward(dir, tree, 0, nil)
	require.NoError(t, err)
	require.Zero(t, n)
}

// A log that does not continue the tree's zxid is a gap: the caller must
// rebuild from disk.
func TestFastForwardRefusesAGap(t *testing.T) {
	dir := t.TempDir()
	tree := datatree.New(nil)
	st, err := Open(Options{SnapDir: dir, LogDir: dir}, tree, noSessions, nil)
	require.NoError(t, err)
	require.NoError(t, st.Append(&wire.TxnEntry{Header: wire.TxnHeader{Zxid: 5, Type: wire.OpCreateSession}, Txn: &wire.CreateSessionTxn{TimeOut: 1}}))
	require.NoError(t, st.Sync())
	require.NoError(t, st.Close())
	_, err = FastForward(dir, tree, 0, nil)
	require.ErrorIs(t, err, ErrGap)
}

func TestFollows(t *testing.T) {
	for _, tc := range []struct {
		a, b int64
		want bool
	}{
		{0, 1, true}, {5, 6, true}, {5, 7, false},
		{int64(wire.MakeZxid(1, 9)), int64(wire.MakeZxid(2, 1)), true},
		{int64(wire.MakeZxid(1, 9)), int64(wire.MakeZxid(2, 5)), false},
	} {
		require.Equal(t, tc.want, follows(tc.a, tc.b), "%x -> %x", tc.a, tc.b)
	}
}

// A snapshot due while the previous one is still being written is skipped,
// as ZooKeeper's SyncRequestProcessor ("Too busy to snap, skipping"): the
// log is rolled, the count starts over, and no snapshot follows as soon as
// the running one ends.
func TestSnapshotDueWhileOneRunsIsSkipped(t *testing.T) {
	dir := t.TempDir()
	tree := datatree.New(nil)
	var snaps atomic.Int32 // the txns are not applied, so every snapshot is snapshot.0
	st, err := Open(Options{SnapDir: dir, LogDir: dir, SnapCount: 10, OnSnapshot: func(time.Duration) { snaps.Add(1) }},
		tree, noSessions, nil)
	require.NoError(t, err)
	defer st.Close()
	files := func(prefix string) []string {
		t.Helper()
		m, err := filepath.Glob(filepath.Join(dir, prefix+".*"))
		require.NoError(t, err)
		return m
	}
	zxid := int64(0)
	appendN := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			zxid++
			e := &wire.TxnEntry{Header: wire.TxnHeader{ClientID: 1, Zxid: zxid, Type: wire.OpCreateSession}, Txn: &wire.CreateSessionTxn{TimeOut: 5000}}
			require.NoError(t, st.Append(e))
		}
		require.NoError(t, st.Sync())
	}

	st.gate.mu.Lock() // a snapshot "is being written"
	appendN(11)       // past any trigger in (5, 10]
	st.AfterSync()
	require.Equal(t, 0, st.sinceSnap, "the count starts over")
	appendN(1)
	require.Len(t, files("log"), 2, "the log was rolled")
	st.gate.mu.Unlock()

	st.AfterSync()
	st.gate.Wait()
	require.Zero(t, snaps.Load(), "the skipped snapshot is not taken late")

	appendN(11)
	st.AfterSync()
	st.gate.Wait()
	require.Equal(t, int32(1), snaps.Load(), "the next one due is taken")
	require.Len(t, files("snapshot"), 1)
}

// CloseLog leaves a running snapshot alone; the next store on the same
// gate does not start another while it runs, and Close waits for it.
func TestCloseLogLeavesTheSnapshotToTheGate(t *testing.T) {
	dir := t.TempDir()
	var gate SnapshotGate
	open := func() *Store {
		st, err := Open(Options{SnapDir: dir, LogDir: dir, SnapCount: 10, Gate: &gate},
			datatree.New(nil), noSessions, nil)
		require.NoError(t, err)
		return st
	}
	old := open()
	gate.mu.Lock() // the old store's snapshot "is being written"
	gate.wg.Add(1)
	require.NoError(t, old.CloseLog(), "does not wait for the snapshot")

	next := open()
	next.SnapshotInBackground() // no-op: the gate is held
	done := make(chan struct{})
	go func() { _ = next.Close(); close(done) }()
	select {
	case <-done:
		t.Fatal("Close returned while a snapshot was running")
	case <-time.After(50 * time.Millisecond):
	}
	gate.mu.Unlock()
	gate.wg.Done() // the snapshot ends
	<-done
}

// noSessions is the session list of a store whose tests have none.
func noSessions() []snapshot.Session { return nil }
