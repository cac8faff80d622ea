package txnlog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"os"

	"github.com/zkd/zkd/internal/wire"
)

// CorruptError reports a log that cannot be read past a point: a checksum
// mismatch, a bad header, an unreasonable length, an entry that does not
// decode, or an incomplete entry in a file that is not the newest.
// Corruption is never an end-of-log marker: the caller must not serve
// from, or append after, a corrupt log without an operator's decision.
type CorruptError struct {
	File   string
	Offset int64 // start of the bad entry (its checksum field) or header
	Reason string
	Err    error // underlying decode error, if any
}

func (e *CorruptError) Error() string {
	s := fmt.Sprintf("txnlog: %s corrupt at offset %d: %s", e.File, e.Offset, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Torn describes an incomplete entry at the end of the newest log file,
// the normal trace of a crash during a write (storage.md §3.2): bytes
// from Offset on are not a complete entry and are not part of the log.
type Torn struct {
	File   string
	Offset int64
	Reason string
}

func (t *Torn) String() string {
	return fmt.Sprintf("%s: torn tail at offset %d: %s", t.File, t.Offset, t.Reason)
}

// tornError is fileReader's signal for an incomplete entry; the Iterator
// decides whether it is a torn tail (newest file) or corruption.
type tornError struct {
	off    int64
	reason string
}

func (e *tornError) Error() string { return fmt.Sprintf("incomplete entry at %d: %s", e.off, e.reason) }

// rawEntry is one framed entry as read from a file.
type rawEntry struct {
	body       []byte // the entry bytes (TxnHeader, record, digest)
	zxid       int64
	start, end int64 // file offsets of the checksum field and after the 'B'
}

// fileReader reads the entries of one log file in order.
type fileReader struct {
	path   string
	f      *os.File
	r      *bufio.Reader
	size   int64
	off    int64 // offset of the next unread byte
	max    int   // bound on an entry's length; <= 0: only the file size
	header bool  // header already read
}

func openReader(path string, max int) (*fileReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("txnlog: open %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("txnlog: stat %s: %w", path, err)
	}
	return &fileReader{path: path, f: f, r: bufio.NewReaderSize(f, 64<<10), size: st.Size(), max: max}, nil
}

func (fr *fileReader) close() { _ = fr.f.Close() }

func (fr *fileReader) corrupt(off int64, reason string, err error) error {
	return &CorruptError{File: fr.path, Offset: off, Reason: reason, Err: err}
}

// read fills p, returning how many bytes it got before EOF.
func (fr *fileReader) read(p []byte) (int, error) {
	n, err := io.ReadFull(fr.r, p)
	fr.off += int64(n)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return n, io.EOF
	}
	if err != nil {
		return n, fmt.Errorf("txnlog: read %s at offset %d: %w", fr.path, fr.off, err)
	}
	return n, nil
}

// next returns the next entry; io.EOF at a clean end (end of file on an
// entry boundary, or the zero padding); *tornError for an incomplete
// entry; *CorruptError; or an I/O error. The end states of
// FileTxnIterator.next and Util.readTxnBytes, told apart.
func (fr *fileReader) next() (rawEntry, error) {
	if !fr.header {
		var h [headerSize]byte
		if _, err := fr.read(h[:]); err == io.EOF {
			return rawEntry{}, &tornError{0, "incomplete file header"}
		} else if err != nil {
			return rawEntry{}, err
		}
		if m := int32(binary.BigEndian.Uint32(h[:])); m != Magic {
			return rawEntry{}, fr.corrupt(0, fmt.Sprintf("bad magic 0x%08x", uint32(m)), nil)
		}
		fr.header = true
	}
	start := fr.off
	var frame [12]byte
	n, err := fr.read(frame[:])
	switch {
	case err == io.EOF && n == 0:
		return rawEntry{}, io.EOF
	case err == io.EOF && n < 8:
		return rawEntry{}, &tornError{start, "incomplete checksum"}
	case err == io.EOF:
		return rawEntry{}, &tornError{start, "incomplete length"}
	case err != nil:
		return rawEntry{}, err
	}
	sum := binary.BigEndian.Uint64(frame[:8])
	length := int32(binary.BigEndian.Uint32(frame[8:]))
	switch {
	case length == 0 && sum == 0:
		return rawEntry{}, io.EOF // preallocated zeros
	case length == 0:
		return rawEntry{}, &tornError{start, "zero length after a non-zero checksum"}
	case length == -1:
		// Java's readBuffer reads -1 as null and stops there, as at EOF.
		return rawEntry{}, &tornError{start, "null entry"}
	case length < 0 || (fr.max > 0 && int(length) > fr.max):
		return rawEntry{}, fr.corrupt(start, fmt.Sprintf("unreasonable entry length %d", length), nil)
	}
	if fr.off+int64(length) > fr.size {
		// The file may have grown since it was opened (a live log).
		if st, err := fr.f.Stat(); err == nil {
			fr.size = st.Size()
		}
		if fr.off+int64(length) > fr.size {
			// Cannot be complete; do not allocate what the file cannot hold.
			return rawEntry{}, &tornError{start, "incomplete entry"}
		}
	}
	body := make([]byte, length)
	if _, err := fr.read(body); err == io.EOF {
		return rawEntry{}, &tornError{start, "incomplete entry"}
	} else if err != nil {
		return rawEntry{}, err
	}
	var b [1]byte
	if _, err := fr.read(b[:]); err == io.EOF {
		return rawEntry{}, &tornError{start, "missing end-of-record marker"}
	} else if err != nil {
		return rawEntry{}, err
	}
	if b[0] != eor {
		return rawEntry{}, &tornError{start, fmt.Sprintf("end-of-record marker is 0x%02x, not 'B'", b[0])}
	}
	if got := uint64(adler32.Checksum(body)); got != sum {
		return rawEntry{}, fr.corrupt(start, fmt.Sprintf("checksum mismatch: stored 0x%x, computed 0x%x", sum, got), nil)
	}
	if len(body) < txnHeaderSize {
		return rawEntry{}, fr.corrupt(start, fmt.Sprintf("entry of %d bytes is shorter than a txn header", len(body)), nil)
	}
	zxid := int64(binary.BigEndian.Uint64(body[zxidOffset:]))
	return rawEntry{body: body, zxid: zxid, start: start, end: fr.off}, nil
}

// Iterator reads txns in zxid order across log files. It is not safe for
// concurrent use.
type Iterator struct {
	files []File
	idx   int // index in files of cur
	cur   *fileReader
	from  int64
	max   int
	torn  *Torn
	// earlier are torn tails of files that are not the newest: what a
	// ZooKeeper server leaves after a crash, since on restart it starts a
	// new file without cutting the old one. The entries that follow must
	// continue the zxid sequence; the caller checks (storage.Recover).
	earlier []Torn
	err     error // sticky
}

// NewIterator returns an Iterator over every txn with zxid >= fromZxid in
// the logs of dir, in order across files. It reads the files that can
// hold such txns: the newest one starting at or before fromZxid and all
// later ones (storage.md §5 step 2). max bounds an entry's length and its
// nested lengths (jute.maxbuffer); <= 0 means no bound beyond the file.
func NewIterator(dir string, fromZxid int64, max int) (*Iterator, error) {
	files, err := ListLogs(dir)
	if err != nil {
		return nil, err
	}
	return &Iterator{files: selectLogs(files, fromZxid), from: fromZxid, max: max}, nil
}

// OpenFile returns an Iterator over all txns of one log file, whatever
// its name, treating it as the newest file (a torn tail is reported by
// TornTail, not as an error). For dump tools.
func OpenFile(path string, max int) (*Iterator, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("txnlog: %w", err)
	}
	return &Iterator{files: []File{{Path: path}}, from: 0, max: max}, nil
}

// Next returns the next txn, or io.EOF after the last one. An incomplete
// entry ends its file quietly (see TornTail and EarlierTornTails); a
// checksum mismatch in any file is a *CorruptError. Errors are
// sticky.
func (it *Iterator) Next() (*wire.TxnEntry, error) {
	if it.err != nil {
		return nil, it.err
	}
	ent, err := it.next()
	if err != nil {
		it.err = err
		it.Close()
	}
	return ent, err
}

func (it *Iterator) next() (*wire.TxnEntry, error) {
	raw, err := it.nextRaw()
	if err != nil {
		return nil, err
	}
	ent, derr := wire.DecodeTxnEntry(raw.body, it.max)
	if derr != nil {
		return nil, it.cur.corrupt(raw.start, fmt.Sprintf("undecodable txn %v", wire.Zxid(raw.zxid)), derr)
	}
	return ent, nil
}

// NextRaw is Next without decoding: the zxid and the entry's bytes
// (TxnHeader, record and, in logs ZooKeeper wrote, a digest), checksum
// verified. The bytes are the caller's. For a reader that keeps only a
// few of many entries (the leader's DIFF history) decoding the rest is
// wasted.
func (it *Iterator) NextRaw() (int64, []byte, error) {
	if it.err != nil {
		return 0, nil, it.err
	}
	raw, err := it.nextRaw()
	if err != nil {
		it.err = err
		it.Close()
		return 0, nil, err
	}
	return raw.zxid, raw.body, nil
}

func (it *Iterator) nextRaw() (rawEntry, error) {
	for {
		if it.cur == nil {
			if it.idx >= len(it.files) {
				return rawEntry{}, io.EOF
			}
			r, err := openReader(it.files[it.idx].Path, it.max)
			if err != nil {
				return rawEntry{}, err
			}
			it.cur = r
		}
		raw, err := it.cur.next()
		if err == nil {
			if raw.zxid < it.from {
				continue
			}
			return raw, nil
		}
		var torn *tornError
		switch {
		case err == io.EOF:
		case errors.As(err, &torn) && it.idx == len(it.files)-1:
			it.torn = &Torn{File: it.cur.path, Offset: torn.off, Reason: torn.reason}
		case errors.As(err, &torn):
			it.earlier = append(it.earlier, Torn{File: it.cur.path, Offset: torn.off, Reason: torn.reason})
		default:
			return rawEntry{}, err
		}
		it.cur.close()
		it.cur = nil
		it.idx++
	}
}

// EarlierTornTails lists incomplete entries that ended files other than
// the newest, in the order met. Each is only safe if the next file
// continues the zxid sequence, which the caller must check.
func (it *Iterator) EarlierTornTails() []Torn { return it.earlier }

// TornTail reports the incomplete entry that ended the newest file, or
// nil. It is known once Next has returned io.EOF.
func (it *Iterator) TornTail() *Torn { return it.torn }

// Close releases the open file. Next after Close returns io.EOF or the
// earlier error.
func (it *Iterator) Close() {
	if it.cur != nil {
		it.cur.close()
		it.cur = nil
	}
	if it.err == nil {
		it.err = io.EOF
		it.idx = len(it.files)
	}
}
