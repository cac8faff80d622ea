package txnlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/zkd/zkd/internal/fsutil"
	"github.com/zkd/zkd/internal/wire"
)

// Errors returned by Log.
var (
	// ErrBroken marks a fatal error: the Log refuses all further calls and
	// the caller must stop accepting writes and restart from what is on
	// disk. See Log for when it happens.
	ErrBroken = errors.New("txnlog: log is unusable after a fatal error")
	// ErrClosed is returned by calls after Close.
	ErrClosed = errors.New("txnlog: log is closed")
	// ErrZxidOrder is returned by Append for a zxid not greater than the
	// last appended one; nothing is written.
	ErrZxidOrder = errors.New("txnlog: zxid does not increase")
)

// Options configures a Log. The zero value is valid.
type Options struct {
	// PreAllocSize is how far the file is extended with zeros when writes
	// come within 4 KiB of its end, in bytes (zookeeper.preAllocSize is in
	// KiB). 0 means DefaultPreAllocSize; negative disables preallocation.
	PreAllocSize int64
	// ForceSync makes Sync fsync the file (zoo.cfg forceSync, default yes
	// in ZooKeeper). Without it Sync only hands the bytes to the kernel.
	ForceSync bool
	// FsyncWarningThreshold is the fsync duration above which a warning is
	// logged (fsync.warningthresholdms). 0 means 1s.
	FsyncWarningThreshold time.Duration
	// OnFsync, if set, receives the duration of every file fsync (for the
	// fsync-time metric). It runs on the caller's goroutine.
	OnFsync func(time.Duration)

	// create makes a new log file; tests replace it to inject failures.
	create createFunc
}

// flushThreshold is how many encoded bytes Append buffers before writing
// them to the file without waiting for Sync.
const flushThreshold = 256 << 10

// Log appends transactions to log files in one directory.
//
// A Log is used by one goroutine (the sync loop); only LastZxid may be
// called concurrently. The loop appends a batch with Append, calls Sync,
// and only then releases the batch's replies: entries are durable when
// Sync returns nil, not before.
//
// Failure contract:
//
//   - A write error (ENOSPC, EIO on write, EFBIG...) from Append, Sync or
//     Roll is not fatal. Every entry appended since the last successful
//     Sync is discarded: the file is truncated back to the end of the last
//     synced entry (a file with no synced entry is removed), LastZxid goes
//     back, and preallocation is redone on the next Append. The error names
//     the file and offset and wraps the cause (errors.Is(err,
//     syscall.ENOSPC) works). The caller fails the affected requests and
//     may append them, or later ones, again once space is back.
//   - A failed fsync, a failed directory fsync, or a failure to roll back
//     a failed write is fatal: the error wraps ErrBroken and every later
//     call returns it. After a failed fsync the kernel may already have
//     dropped the dirty pages and cleared the error, so retrying could
//     report success for data that is gone; only a restart that reads the
//     disk (RepairTornTail, then an Iterator) knows what survived.
//   - ErrZxidOrder and file-creation errors leave the Log unchanged.
type Log struct {
	dir  string
	opts Options
	lg   *zap.Logger

	// The current file; f is nil before the first Append and after Roll.
	f    logFile
	path string
	// size is the padded size of the file, FilePadding's currentSize: set
	// by preallocation and truncation only, so entries that run past it
	// make the next padding round up from their end.
	size int64
	// Invariant: headerSize <= synced <= written, and buf is to be written
	// at offset written, so written+len(buf) is where the next entry goes.
	//
	// synced is the end of the last entry covered by a successful Sync:
	// the offset a failed write rolls the file back to.
	synced  int64
	written int64
	buf     []byte
	// dirDirty: the current file was created after the last directory
	// fsync; its name is durable only after the next one.
	dirDirty bool

	// syncedZxid is the last zxid covered by a successful Sync; lastZxid
	// returns to it when unsynced entries are discarded.
	syncedZxid int64
	lastZxid   atomic.Int64

	broken error // sticky fatal error, wraps ErrBroken
	closed bool
}

// Open returns a Log writing into dir (the version-2 directory, created
// if missing). It reads no existing file: the first Append starts a new
// file named after its zxid, as ZooKeeper does after a restart. Repair a
// torn tail (RepairTornTail) before opening.
func Open(dir string, opts Options, lg *zap.Logger) (*Log, error) {
	if opts.PreAllocSize == 0 {
		opts.PreAllocSize = DefaultPreAllocSize
	}
	if opts.FsyncWarningThreshold <= 0 {
		opts.FsyncWarningThreshold = time.Second
	}
	if opts.create == nil {
		opts.create = createOS
	}
	if lg == nil {
		lg = zap.NewNop()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("txnlog: create dir: %w", err)
	}
	return &Log{dir: dir, opts: opts, lg: lg}, nil
}

// LastZxid is the zxid of the last appended entry, synced or not; 0
// before the first Append. Safe for concurrent use.
func (l *Log) LastZxid() int64 { return l.lastZxid.Load() }

func (l *Log) usable() error {
	if l.broken != nil {
		return l.broken
	}
	if l.closed {
		return ErrClosed
	}
	return nil
}

// Append encodes entries and writes them after the previous ones, in the
// current file or, after Open or Roll, in a new file named by the first
// entry's zxid. Zxids must increase. Entries are buffered: they may reach
// the file now or at the next Sync, and are durable only after Sync.
// See Log for the failure contract.
func (l *Log) Append(entries ...*wire.TxnEntry) error {
	if err := l.usable(); err != nil {
		return err
	}
	last := l.lastZxid.Load()
	for _, e := range entries {
		if e.Header.Zxid <= last {
			return fmt.Errorf("%w: %v after %v", ErrZxidOrder, wire.Zxid(e.Header.Zxid), wire.Zxid(last))
		}
		last = e.Header.Zxid
	}
	if len(entries) == 0 {
		return nil
	}
	if l.f == nil {
		if err := l.startFile(entries[0].Header.Zxid); err != nil {
			return err
		}
	}
	for _, e := range entries {
		pos := l.written + int64(len(l.buf))
		if ns := paddedSize(pos, l.size, l.opts.PreAllocSize); ns != l.size {
			// failpoint: preallocation (writes one byte at the new end; a
			// full disk may refuse it).
			if _, err := l.f.WriteAt([]byte{0}, ns-1); err != nil {
				return l.rollback(fmt.Errorf("txnlog: preallocate %s to %d bytes: %w", l.path, ns, err))
			}
			l.size = ns
		}
		if err := l.encode(e); err != nil {
			return l.rollback(err)
		}
		l.lastZxid.Store(e.Header.Zxid)
		if len(l.buf) >= flushThreshold {
			if err := l.flush(); err != nil {
				return l.rollback(err)
			}
		}
	}
	return nil
}

// encode appends one framed entry to buf: checksum, length, entry, 'B'.
func (l *Log) encode(e *wire.TxnEntry) error {
	start := len(l.buf)
	l.buf = append(l.buf, make([]byte, 12)...)
	l.buf = wire.AppendTxnEntry(l.buf, e)
	body := l.buf[start+12:]
	if len(body) > math.MaxInt32 {
		l.buf = l.buf[:start]
		return fmt.Errorf("txnlog: entry %v is %d bytes, too large", wire.Zxid(e.Header.Zxid), len(body))
	}
	binary.BigEndian.PutUint64(l.buf[start:], uint64(adler32.Checksum(body)))
	binary.BigEndian.PutUint32(l.buf[start+8:], uint32(len(body)))
	l.buf = append(l.buf, eor)
	return nil
}

// startFile creates the log file for firstZxid and writes its header.
func (l *Log) startFile(firstZxid int64) error {
	path := filepath.Join(l.dir, FileName(firstZxid))
	f, err := l.opts.create(path)
	if errors.Is(err, fs.ErrExist) {
		if err := l.replaceEmpty(path); err != nil {
			return err
		}
		f, err = l.opts.create(path)
	}
	if err != nil {
		return fmt.Errorf("txnlog: create %s: %w", path, err)
	}
	// failpoint: header write.
	if _, err := f.WriteAt(appendHeader(nil), 0); err != nil {
		_ = f.Close()
		if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return l.fatal(fmt.Errorf("txnlog: remove %s after failed header write (%v): %w", path, err, rerr))
		}
		return fmt.Errorf("txnlog: write header of %s: %w", path, err)
	}
	l.f, l.path = f, path
	l.size, l.written, l.synced = headerSize, headerSize, headerSize
	l.buf = l.buf[:0]
	l.dirDirty = true
	return nil
}

// replaceEmpty removes an existing file at path if it holds no complete
// entry (left by a crash right after its creation, or by a rollback that
// could not remove it); a file with entries is never overwritten.
func (l *Log) replaceEmpty(path string) error {
	r, err := openReader(path, 0)
	if err != nil {
		return fmt.Errorf("txnlog: %s exists: %w", path, err)
	}
	_, rerr := r.next()
	r.close()
	var torn *tornError
	if rerr != io.EOF && !errors.As(rerr, &torn) {
		if rerr == nil {
			rerr = errors.New("it holds txns")
		}
		return fmt.Errorf("txnlog: cannot start %s: file exists: %w", path, rerr)
	}
	l.lg.Warn("replacing a log file that holds no complete txn", zap.String("file", path))
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("txnlog: replace %s: %w", path, err)
	}
	return nil
}

// flush writes buf to the file.
func (l *Log) flush() error {
	if len(l.buf) == 0 {
		return nil
	}
	// failpoint: entry write (ENOSPC, EIO, short write).
	n, err := l.f.WriteAt(l.buf, l.written)
	if err == nil && n < len(l.buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("txnlog: write %s at offset %d: %w", l.path, l.written+int64(n), err)
	}
	l.written += int64(n)
	l.buf = l.buf[:0]
	return nil
}

// Sync writes buffered entries and, with ForceSync, fsyncs the file (and
// its directory once after the file's creation). When it returns nil every
// appended entry is durable. See Log for the failure contract.
func (l *Log) Sync() error {
	if err := l.usable(); err != nil {
		return err
	}
	return l.sync()
}

func (l *Log) sync() error {
	if l.f == nil {
		return nil
	}
	if err := l.flush(); err != nil {
		return l.rollback(err)
	}
	if l.written == l.synced && !l.dirDirty {
		return nil // nothing new since the last Sync
	}
	if l.opts.ForceSync {
		start := time.Now()
		// failpoint: fsync.
		err := l.f.Sync()
		took := time.Since(start)
		if err != nil {
			return l.fatal(fmt.Errorf("txnlog: fsync %s: %w", l.path, err))
		}
		if l.dirDirty {
			if err := fsutil.SyncDir(l.dir); err != nil {
				return l.fatal(err)
			}
			l.dirDirty = false
		}
		l.observeFsync(took)
	}
	l.synced = l.written
	l.syncedZxid = l.lastZxid.Load()
	return nil
}

func (l *Log) observeFsync(took time.Duration) {
	if l.opts.OnFsync != nil {
		l.opts.OnFsync(took)
	}
	if took > l.opts.FsyncWarningThreshold {
		// Worded as ZooKeeper's FileTxnLog warning (typo included) so
		// existing log alerts keep matching.
		l.lg.Warn(fmt.Sprintf("fsync-ing the write ahead log in %s took %dms which will adversely effect operation latency. File size is %d bytes. See the ZooKeeper troubleshooting guide",
			filepath.Base(l.path), took.Milliseconds(), l.size),
			zap.String("file", l.path), zap.Duration("took", took))
	}
}

// rollback discards everything after the last successful Sync after a
// failed write, so that no later entry follows a half-written one, and
// returns cause (or a fatal error if the file cannot be cut back).
func (l *Log) rollback(cause error) error {
	l.buf = l.buf[:0]
	l.lastZxid.Store(l.syncedZxid)
	if l.synced == headerSize {
		// Nothing in this file was ever synced: remove it, so that the
		// next Append creates it again named after its first zxid.
		_ = l.f.Close()
		l.f = nil
		if err := os.Remove(l.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return l.fatal(fmt.Errorf("txnlog: remove %s after %v: %w", l.path, cause, err))
		}
		l.lg.Warn("txn log write failed; unsynced entries discarded, file removed",
			zap.String("file", l.path), zap.Error(cause))
		return cause
	}
	// failpoint: rollback truncate.
	if err := l.f.Truncate(l.synced); err != nil {
		return l.fatal(fmt.Errorf("txnlog: truncate %s to %d after %v: %w", l.path, l.synced, cause, err))
	}
	l.written, l.size = l.synced, l.synced
	l.lg.Warn("txn log write failed; unsynced entries discarded",
		zap.String("file", l.path), zap.Int64("truncatedTo", l.synced), zap.Error(cause))
	return cause
}

// fatal makes the Log unusable and returns err wrapped in ErrBroken.
func (l *Log) fatal(err error) error {
	l.broken = fmt.Errorf("%w: %w", ErrBroken, err)
	l.lg.Error("txn log failed; refusing further writes", zap.Error(err))
	return l.broken
}

// Roll syncs and closes the current file; the next Append starts a new
// one. ZooKeeper rolls when a snapshot starts.
func (l *Log) Roll() error {
	if err := l.usable(); err != nil {
		return err
	}
	if l.f == nil {
		return nil
	}
	if err := l.sync(); err != nil {
		return err
	}
	return l.closeFile()
}

func (l *Log) closeFile() error {
	f, path := l.f, l.path
	l.f = nil
	if err := f.Close(); err != nil {
		return fmt.Errorf("txnlog: close %s: %w", path, err)
	}
	return nil
}

// Close syncs and closes the current file. After Close every call
// returns ErrClosed. On a broken Log it only releases the file.
func (l *Log) Close() error {
	if l.closed {
		return nil
	}
	var err error
	if l.broken == nil {
		err = l.sync()
	}
	if l.f != nil {
		if cerr := l.closeFile(); err == nil {
			err = cerr
		}
	}
	l.closed = true
	return err
}
