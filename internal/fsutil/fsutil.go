// Package fsutil holds the file-system primitives the persistence packages
// (txnlog, snapshot, zab epoch files) and the fsync benchmark share.
package fsutil

import (
	"fmt"
	"os"
)

// SyncDir fsyncs a directory so that file creations, renames and removals
// in it survive a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}
