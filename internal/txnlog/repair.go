package txnlog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"go.uber.org/zap"

	"github.com/zkd/zkd/internal/fsutil"
)

// Truncate removes every txn with zxid > zxid from the logs in dir: later
// files are deleted (newest first, so a crash midway leaves a log that is
// merely too long and a rerun finishes the job), and the file holding
// zxid is cut right after its entry. An incomplete entry met on the way
// ends the kept part too, so Truncate also drops a torn tail. It is the
// on-disk half of Zab's TRUNC. The Log for dir must not be open.
// A *CorruptError before the cut point leaves the files untouched.
func Truncate(dir string, zxid int64) error {
	files, err := ListLogs(dir)
	if err != nil {
		return err
	}
	removed := false
	for len(files) > 0 && files[len(files)-1].Zxid > zxid {
		path := files[len(files)-1].Path
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("txnlog: truncate: remove %s: %w", path, err)
		}
		removed = true
		files = files[:len(files)-1]
	}
	if removed {
		if err := fsutil.SyncDir(dir); err != nil {
			return err
		}
	}
	if len(files) == 0 {
		return nil
	}
	path := files[len(files)-1].Path
	cut, err := cutPoint(path, zxid)
	if err != nil {
		return err
	}
	if cut < 0 {
		return nil // nothing but padding after the kept entries
	}
	if cut < headerSize {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("txnlog: truncate: remove %s: %w", path, err)
		}
		return fsutil.SyncDir(dir)
	}
	return truncateFile(path, cut)
}

// cutPoint scans a log file for the offset to cut it at so that it keeps
// exactly the complete entries with zxid <= zxid; -1 if nothing follows
// them but padding.
func cutPoint(path string, zxid int64) (int64, error) {
	r, err := openReader(path, 0)
	if err != nil {
		return 0, err
	}
	defer r.close()
	keep := int64(headerSize)
	for {
		raw, err := r.next()
		var torn *tornError
		switch {
		case err == nil && raw.zxid <= zxid:
			keep = raw.end
			continue
		case err == nil:
			return keep, nil
		case err == io.EOF:
			return -1, nil
		case errors.As(err, &torn):
			return min(keep, torn.off), nil
		default:
			return 0, err
		}
	}
}

func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("txnlog: truncate: %w", err)
	}
	err = f.Truncate(size)
	if err == nil {
		err = fsutil.Fdatasync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("txnlog: truncate %s to %d: %w", path, size, err)
	}
	return nil
}

// RepairTornTail cuts an incomplete entry off the end of the newest log
// in dir, as recovery must before a new Log appends after it. The cut
// bytes (up to the last non-zero one) are kept in
// torn.<log name>.<offset> beside the log, and a warning is logged. It
// returns what it cut, or nil if the newest log ends cleanly. Only the
// newest file is read; a *CorruptError there is returned without
// repairing anything, since cutting at a checksum mismatch would drop
// entries that may have been acknowledged.
func RepairTornTail(dir string, lg *zap.Logger) (*Torn, error) {
	if lg == nil {
		lg = zap.NewNop()
	}
	files, err := ListLogs(dir)
	if err != nil || len(files) == 0 {
		return nil, err
	}
	path := files[len(files)-1].Path
	t, err := findTorn(path)
	if err != nil || t == nil {
		return nil, err
	}
	aside, err := saveTail(dir, path, t.Offset)
	if err != nil {
		return nil, err
	}
	if t.Offset < headerSize {
		// Not even a header: the file holds nothing.
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("txnlog: repair: remove %s: %w", path, err)
		}
		if err := fsutil.SyncDir(dir); err != nil {
			return nil, err
		}
	} else if err := truncateFile(path, t.Offset); err != nil {
		return nil, err
	}
	lg.Warn("truncated a torn tail off the transaction log; the cut bytes are kept aside",
		zap.String("file", path), zap.Int64("offset", t.Offset),
		zap.String("reason", t.Reason), zap.String("keptIn", aside))
	return t, nil
}

// findTorn reads a whole log file and reports its torn tail, if any.
func findTorn(path string) (*Torn, error) {
	r, err := openReader(path, 0)
	if err != nil {
		return nil, err
	}
	defer r.close()
	for {
		_, err := r.next()
		var torn *tornError
		switch {
		case err == nil:
		case err == io.EOF:
			return nil, nil
		case errors.As(err, &torn):
			return &Torn{File: path, Offset: torn.off, Reason: torn.reason}, nil
		default:
			return nil, err
		}
	}
}

// saveTail copies the bytes of path from off up to its last non-zero byte
// (what follows is preallocation) into a new file beside it, durably.
func saveTail(dir, path string, off int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("txnlog: repair: %w", err)
	}
	defer f.Close()
	end, err := lastNonZero(f, off)
	if err != nil {
		return "", fmt.Errorf("txnlog: repair: read %s: %w", path, err)
	}
	name := TornPrefix + "." + filepath.Base(path) + "." + strconv.FormatInt(off, 10)
	dst := filepath.Join(dir, name)
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return "", fmt.Errorf("txnlog: repair: %w", err)
	}
	_, err = io.Copy(out, io.NewSectionReader(f, off, end-off))
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("txnlog: repair: save torn tail of %s: %w", path, err)
	}
	return dst, fsutil.SyncDir(dir)
}

// lastNonZero returns the offset just past the last non-zero byte of f at
// or after off (off itself if there is none).
func lastNonZero(f *os.File, off int64) (int64, error) {
	end := off
	buf := make([]byte, 1<<20)
	for pos := off; ; {
		n, err := f.ReadAt(buf, pos)
		for i := n - 1; i >= 0; i-- {
			if buf[i] != 0 {
				end = pos + int64(i) + 1
				break
			}
		}
		pos += int64(n)
		if err == io.EOF {
			return end, nil
		}
		if err != nil {
			return 0, err
		}
	}
}
