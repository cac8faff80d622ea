package txnlog

import (
	"os"

	"github.com/zkd/zkd/internal/fsutil"
)

// logFile is the little of *os.File that Log uses. It exists so tests can
// put a failing file (a full disk, a dying fsync) under a real Log.
// Offsets are explicit: Log never relies on a file position, so a short
// write followed by a truncate cannot leave the two out of step.
type logFile interface {
	WriteAt(p []byte, off int64) (int, error)
	Truncate(size int64) error
	// Sync makes written data durable (fdatasync where available, like
	// Java's FileChannel.force(false)).
	Sync() error
	Close() error
}

// createFunc creates a new file that must not exist yet.
type createFunc func(path string) (logFile, error)

// osFile is the production logFile.
type osFile struct{ *os.File }

func (f osFile) Sync() error { return fsutil.Fdatasync(f.File) }

func createOS(path string) (logFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}
