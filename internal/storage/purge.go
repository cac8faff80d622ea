package storage

import (
	"fmt"
	"os"

	"github.com/zkd/zkd/internal/snapshot"
	"github.com/zkd/zkd/internal/txnlog"
)

// MinRetain is the smallest number of snapshots purge keeps (ZooKeeper
// raises autopurge.snapRetainCount to 3).
const MinRetain = 3

// PurgeResult lists what Purge removed.
type PurgeResult struct {
	Snapshots []string
	Logs      []string
}

// Purge keeps the newest retain valid snapshots and the logs needed to
// replay from the oldest of them, and deletes the rest (PurgeTxnLog):
// with X the zxid of the oldest kept snapshot, snapshots below X go, and
// logs starting below X go except the newest of those, which may hold
// the txns right after X.
func Purge(snapDir, logDir string, retain int) (PurgeResult, error) {
	var res PurgeResult
	if retain < MinRetain {
		retain = MinRetain
	}
	snaps, err := snapshot.List(snapDir)
	if err != nil {
		return res, err
	}
	var valid []snapshot.File
	for _, f := range snaps {
		if snapshot.IsValid(f.Path) {
			valid = append(valid, f)
		}
	}
	if len(valid) <= retain {
		return res, nil
	}
	x := valid[retain-1].Zxid // List is newest first
	for _, f := range snaps {
		if f.Zxid < x {
			if err := os.Remove(f.Path); err != nil {
				return res, fmt.Errorf("storage: purge %s: %w", f.Path, err)
			}
			res.Snapshots = append(res.Snapshots, f.Path)
		}
	}
	logs, err := txnlog.ListLogs(logDir)
	if err != nil {
		return res, err
	}
	keepBelow := -1 // newest log starting at or below x
	for i, f := range logs {
		if f.Zxid <= x {
			keepBelow = i
		}
	}
	for i, f := range logs {
		if f.Zxid < x && i != keepBelow {
			if err := os.Remove(f.Path); err != nil {
				return res, fmt.Errorf("storage: purge %s: %w", f.Path, err)
			}
			res.Logs = append(res.Logs, f.Path)
		}
	}
	return res, nil
}
