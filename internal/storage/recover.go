package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/zkd/zkd/internal/datatree"
	"github.com/zkd/zkd/internal/gctune"
	"github.com/zkd/zkd/internal/snapshot"
	"github.com/zkd/zkd/internal/txnlog"
	"github.com/zkd/zkd/internal/watch"
	"github.com/zkd/zkd/internal/wire"
)

// Recovered is the state rebuilt from disk.
type Recovered struct {
	Tree *datatree.Tree
	// Sessions live at the last replayed txn, with their timeouts (ms).
	Sessions map[int64]int32
	// LastZxid is the zxid of the last txn in the tree.
	LastZxid int64
	// SnapshotZxid is the zxid of the snapshot used (-1: none, empty start).
	SnapshotZxid int64
	// Replayed counts the txns applied from the log.
	Replayed int
	// Skipped lists snapshots passed over (corrupt), newest first.
	Skipped []snapshot.Skipped
	// Torn is the torn tail cut off the newest log, if any.
	Torn *txnlog.Torn
	// DroppedEphemerals are ephemerals whose session did not survive.
	DroppedEphemerals []string
	// Took is how long recovery took.
	Took time.Duration
}

// ErrGap means the logs do not continue the snapshot: txns are missing.
var ErrGap = errors.New("storage: transaction log does not cover the snapshot")

// Recover rebuilds the tree from snapDir and logDir (both the version-2
// directories). The torn tail of the newest log (a crash mid-write) is cut
// off with a warning. A corrupt newest snapshot falls back to an older one
// when the logs reach back far enough; otherwise, and for a checksum
// failure inside the logs that must be replayed, Recover fails with an
// error naming the file and offset: it never starts with data missing.
func Recover(snapDir, logDir string, max int, w *watch.Manager, lg *zap.Logger) (*Recovered, error) {
	start := time.Now()
	if lg == nil {
		lg = zap.NewNop()
	}
	// What recovery allocates is almost all tree, kept: collecting while
	// it loads only slows the load (gctune.Suspend).
	defer gctune.Suspend()()
	rec := &Recovered{Sessions: map[int64]int32{}, SnapshotZxid: -1}
	torn, err := txnlog.RepairTornTail(logDir, lg)
	if err != nil {
		return nil, fmt.Errorf("storage: repair torn log tail: %w", err)
	}
	rec.Torn = torn
	removeStaleTemps(snapDir, lg)

	loaded, skipped, err := snapshot.FindNewestValid(snapDir, max)
	rec.Skipped = skipped
	for _, s := range skipped {
		lg.Warn("snapshot unusable, trying an older one", zap.String("file", s.File.Path), zap.Error(s.Err))
	}
	if err != nil {
		return nil, fmt.Errorf("storage: load snapshot: %w%s", err, skippedText(skipped))
	}
	logs, err := txnlog.ListLogs(logDir)
	if err != nil {
		return nil, fmt.Errorf("storage: list logs: %w", err)
	}
	var from int64
	if loaded == nil {
		if len(logs) > 0 {
			return nil, fmt.Errorf("storage: %s holds transaction logs but %s no snapshot: "+
				"refusing to start from an incomplete history", logDir, snapDir)
		}
		rec.Tree = datatree.New(w)
	} else {
		rec.Tree = loaded.Tree
		rec.SnapshotZxid = loaded.Zxid
		from = loaded.Zxid
		for _, s := range loaded.Sessions {
			rec.Sessions[s.ID] = s.Timeout
		}
		if w != nil {
			rec.Tree = rehome(loaded.Tree, w)
		}
	}
	rec.Tree.SetLastZxid(from)
	rec.LastZxid = from

	it, err := txnlog.NewIterator(logDir, from+1, max)
	if err != nil {
		return nil, fmt.Errorf("storage: open logs: %w", err)
	}
	defer it.Close()
	prev, n, err := replay(it, rec.Tree, from, loaded == nil, func(h *wire.TxnHeader, txn wire.Record) {
		switch h.Type {
		case wire.OpCreateSession:
			if t, ok := txn.(*wire.CreateSessionTxn); ok {
				rec.Sessions[h.ClientID] = t.TimeOut
			}
		case wire.OpCloseSession:
			delete(rec.Sessions, h.ClientID)
		}
	})
	rec.Replayed = n
	if errors.Is(err, ErrGap) {
		return nil, fmt.Errorf("%w (snapshot %s)%s", err, snapName(loaded), skippedText(rec.Skipped))
	}
	if err != nil {
		return nil, fmt.Errorf("storage: replay %w", err)
	}
	for _, t := range it.EarlierTornTails() {
		// The zxid continuity check above proved nothing is missing.
		lg.Warn("transaction log ends with an incomplete entry; the next log continues it",
			zap.String("file", t.File), zap.Int64("offset", t.Offset), zap.String("reason", t.Reason))
	}
	rec.LastZxid = prev
	rec.Tree.SetLastZxid(prev)
	live := make(map[int64]bool, len(rec.Sessions))
	for id := range rec.Sessions {
		live[id] = true
	}
	rec.DroppedEphemerals = rec.Tree.DropEphemeralsExcept(live, prev)
	rec.Took = time.Since(start)
	lg.Info("recovered data tree",
		zap.String("snapshot", snapName(loaded)),
		zap.Int("txnsReplayed", rec.Replayed),
		zap.Stringer("lastZxid", wire.Zxid(prev)),
		zap.Int("sessions", len(rec.Sessions)),
		zap.Int("nodes", rec.Tree.NodeCount()),
		zap.Duration("took", rec.Took))
	return rec, nil
}

// replay applies the txns of it to tree, starting after zxid prev: each
// must continue the zxid sequence (the first may jump when firstMayJump:
// logs without a snapshot before them), else the error wraps ErrGap.
// onTxn, if not nil, sees every applied txn. It returns the last zxid
// applied (prev if none) and how many were.
func replay(it *txnlog.Iterator, tree *datatree.Tree, prev int64, firstMayJump bool,
	onTxn func(*wire.TxnHeader, wire.Record)) (int64, int, error) {
	n := 0
	for {
		e, err := it.Next()
		if errors.Is(err, io.EOF) {
			return prev, n, nil
		}
		if err != nil {
			return prev, n, fmt.Errorf("after zxid %s: %w", wire.Zxid(prev), err)
		}
		z := e.Header.Zxid
		if !follows(prev, z) && !(n == 0 && firstMayJump) {
			return prev, n, fmt.Errorf("%w: after zxid %s the next logged txn is %s", ErrGap, wire.Zxid(prev), wire.Zxid(z))
		}
		tree.Replay(&e.Header, e.Txn)
		if onTxn != nil {
			onTxn(&e.Header, e.Txn)
		}
		prev = z
		n++
	}
}

// follows reports whether zxid b may come right after a: the next counter
// in the same epoch, or the start of a later epoch.
func follows(a, b int64) bool {
	za, zb := wire.Zxid(a), wire.Zxid(b)
	if b == a+1 {
		return true
	}
	return zb.Epoch() > za.Epoch() && zb.Counter() <= 1
}

// skippedText lists the snapshots recovery passed over, for an error that
// may be due to them (the operator needs the file and offset).
func skippedText(skipped []snapshot.Skipped) string {
	if len(skipped) == 0 {
		return ""
	}
	parts := make([]string, len(skipped))
	for i, s := range skipped {
		parts[i] = s.Err.Error()
	}
	return "; snapshots passed over: " + strings.Join(parts, "; ")
}

func snapName(l *snapshot.Loaded) string {
	if l == nil {
		return "none"
	}
	return l.Path
}

// rehome moves a loaded tree onto the server's watch manager. Trees are
// built with their watch manager; a snapshot is loaded into one with a
// private manager, which has no watchers yet, so swapping is safe.
func rehome(t *datatree.Tree, w *watch.Manager) *datatree.Tree {
	t.SetWatches(w)
	return t
}

// removeStaleTemps deletes snapshot.*.tmp files: a crash during a
// snapshot leaves one behind, and it is never renamed into place.
func removeStaleTemps(dir string, lg *zap.Logger) {
	matches, _ := filepath.Glob(filepath.Join(dir, "snapshot.*.tmp"))
	for _, m := range matches {
		if err := os.Remove(m); err == nil {
			lg.Info("removed the temp file of an interrupted snapshot", zap.String("file", m))
		}
	}
}

// FastForward applies to tree the logged txns after its last zxid, as
// ZooKeeper's ZKDatabase.fastForwardDataBase does when a server leaves a
// role: the tree already holds everything up to its last zxid (the
// committed txns), the log may hold more (proposals logged but never
// committed), and the next election must vote with all of them. It costs
// the tail of the log, not a rebuild of the tree from the snapshot. Each
// applied txn is also passed to onTxn (nil: none), for session
// bookkeeping. The txns must continue the tree's zxid without a gap;
// otherwise FastForward fails and the caller rebuilds from disk.
func FastForward(logDir string, tree *datatree.Tree, max int, onTxn func(*wire.TxnHeader, wire.Record)) (int, error) {
	from := tree.LastZxid()
	it, err := txnlog.NewIterator(logDir, from+1, max)
	if err != nil {
		return 0, fmt.Errorf("storage: open logs: %w", err)
	}
	defer it.Close()
	prev, n, err := replay(it, tree, from, false, onTxn)
	switch {
	case errors.Is(err, ErrGap):
		return n, err
	case err != nil:
		return n, fmt.Errorf("storage: fast-forward %w", err)
	}
	tree.SetLastZxid(prev)
	return n, nil
}
