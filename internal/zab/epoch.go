package zab

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/zkd/zkd/internal/fsutil"
)

// Epoch file names in the version-2 directory (storage.md §7).
const (
	// AcceptedEpochFile holds the last epoch this server agreed to follow
	// (learner: from LEADERINFO; leader: the epoch it proposed). It bounds
	// which leaders the server will accept.
	AcceptedEpochFile = "acceptedEpoch"
	// CurrentEpochFile holds the epoch whose history this server has
	// fully taken on (learner: at NEWLEADER; leader: after a quorum of
	// ACKEPOCH). Elections compare it before zxids.
	CurrentEpochFile = "currentEpoch"
)

// tmpSuffix is the name AtomicFileWritingIdiom gives the file being written;
// a leftover currentEpoch.tmp is what a crash between write and rename leaves.
const tmpSuffix = ".tmp"

// ErrEpochState means the epoch files contradict each other or the log:
// starting anyway could let this server vote with, or lead from, a
// history it does not have. Java refuses to start in the same cases.
var ErrEpochState = errors.New("zab: inconsistent epoch files")

// ReadEpochFile reads an epoch file: ASCII decimal, with or without a
// trailing newline (Java reads the first line). A missing file returns an
// error satisfying errors.Is(err, fs.ErrNotExist).
func ReadEpochFile(dir, name string) (int64, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	v, err := strconv.ParseInt(line, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("zab: epoch file %s: %w", name, err)
	}
	return v, nil
}

// WriteEpochFile replaces dir/name with v atomically: write name.tmp, fsync
// it, rename it over name, fsync dir. A crash leaves either the old value or
// the new one under name (and possibly a name.tmp); the value must be durable
// before the caller acts on it, e.g. before replying ACKEPOCH or ACK.
func WriteEpochFile(dir, name string, v int64) (err error) {
	tmp := filepath.Join(dir, name+tmpSuffix)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("zab: write %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// No newline: Java writes exactly the digits (verified on 3.8 dataDirs).
	if _, err = f.WriteString(strconv.FormatInt(v, 10)); err != nil {
		return fmt.Errorf("zab: write %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("zab: fsync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("zab: close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("zab: rename %s: %w", tmp, err)
	}
	// The rename is only durable once the directory entry is.
	if err = fsutil.SyncDir(dir); err != nil {
		return fmt.Errorf("zab: fsync dir %s: %w", dir, err)
	}
	return nil
}

// Epochs is a server's persisted epoch state.
//
// Invariant: Accepted >= Current >= epoch of the last logged zxid.
type Epochs struct {
	Accepted int64
	Current  int64
}

// LoadEpochs reads the epoch files in dir at start-up and applies
// storage.md §7 (QuorumPeer.loadDataBase):
//
//   - a missing file defaults to the epoch of lastLoggedZxid and is written,
//     so the invariant holds from then on;
//   - currentEpoch below the epoch of the last zxid means a NEWLEADER was
//     taken on but its currentEpoch write did not land: a currentEpoch.tmp
//     is then trusted and made current, otherwise start-up fails;
//   - acceptedEpoch below currentEpoch fails start-up.
//
// Unlike Java, a currentEpoch.tmp that is itself still below the epoch of the
// last zxid (e.g. torn by the crash) is rejected instead of adopted.
func LoadEpochs(dir string, lastLoggedZxid int64) (Epochs, error) {
	zxidEpoch := EpochOf(lastLoggedZxid)
	var e Epochs

	cur, err := readOrInit(dir, CurrentEpochFile, zxidEpoch)
	if err != nil {
		return e, err
	}
	if cur < zxidEpoch {
		tmp, err := ReadEpochFile(dir, CurrentEpochFile+tmpSuffix)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return e, fmt.Errorf("%w: currentEpoch %d is older than last zxid 0x%x", ErrEpochState, cur, lastLoggedZxid)
		case err != nil:
			return e, err
		case tmp < zxidEpoch:
			return e, fmt.Errorf("%w: currentEpoch %d and %s%s %d are older than last zxid 0x%x",
				ErrEpochState, cur, CurrentEpochFile, tmpSuffix, tmp, lastLoggedZxid)
		}
		if err := WriteEpochFile(dir, CurrentEpochFile, tmp); err != nil {
			return e, err
		}
		cur = tmp
	}
	e.Current = cur

	acc, err := readOrInit(dir, AcceptedEpochFile, zxidEpoch)
	if err != nil {
		return e, err
	}
	if acc < cur {
		return e, fmt.Errorf("%w: acceptedEpoch %d is less than currentEpoch %d", ErrEpochState, acc, cur)
	}
	e.Accepted = acc
	return e, nil
}

// readOrInit reads an epoch file, creating it with def when missing.
func readOrInit(dir, name string, def int64) (int64, error) {
	v, err := ReadEpochFile(dir, name)
	if errors.Is(err, fs.ErrNotExist) {
		if err := WriteEpochFile(dir, name, def); err != nil {
			return 0, err
		}
		return def, nil
	}
	return v, err
}

// EpochOf is the epoch in a zxid's high 32 bits (ZxidUtils.getEpochFromZxid).
func EpochOf(zxid int64) int64 { return int64(uint64(zxid) >> 32) }

// CounterOf is the counter in a zxid's low 32 bits.
func CounterOf(zxid int64) int64 { return zxid & 0xffffffff }

// MakeZxid is epoch<<32 | counter (ZxidUtils.makeZxid).
func MakeZxid(epoch, counter int64) int64 { return epoch<<32 | counter&0xffffffff }
