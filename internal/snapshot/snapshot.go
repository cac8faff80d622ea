package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/zkd/zkd/internal/datatree"
)

// Constants of the file format (storage.md §2, §4.1).
const (
	// Magic is "ZKSN", the first int of every snapshot's FileHeader.
	Magic int32 = 0x5A4B534E
	// Version is the FileHeader version ZooKeeper writes (and never checks).
	Version int32 = 2
	// DBID is the FileHeader dbid ZooKeeper writes for snapshots.
	DBID int64 = -1
	// DigestVersion is the DigestCalculator version of the digest section.
	DigestVersion int32 = 2
	// Prefix starts every snapshot file name.
	Prefix = "snapshot"

	// openACLID stands for [world:anyone ALL] and is never in the ACL map
	// (ReferenceCountedACLCache.OPEN_UNSAFE_ACL_ID).
	openACLID int64 = -1
	// endPath is the node path that ends the tree and the content of both seals.
	endPath = "/"
	// tmpSuffix marks a snapshot still being written (AtomicFileOutputStream).
	tmpSuffix = ".tmp"
	// gzSuffix marks a gzip-compressed snapshot
	// (zookeeper.snapshot.compression.method=gz). zkd reads but never writes them.
	gzSuffix = ".gz"
	// snappySuffix marks a snappy-compressed snapshot, which zkd cannot read.
	snappySuffix = ".snappy"
	// maxTried is how many snapshots recovery attempts before giving up
	// (FileSnap.deserialize).
	maxTried = 100
)

// seal is the last five bytes of a complete uncompressed snapshot: the
// ustring "/" (int 1, '/') that follows the final checksum (§4.5).
var seal = []byte{0, 0, 0, 1, '/'}

// gzipMagic starts every gzip stream.
var gzipMagic = []byte{0x1f, 0x8b}

// Session is one live session as the snapshot records it: its id and its
// negotiated timeout in milliseconds.
type Session struct {
	ID      int64
	Timeout int32
}

// Digest is the optional digest section of a 3.6+ snapshot: the tree
// digest (DigestCalculator, storage.md §6) as of txn Zxid.
type Digest struct {
	// Zxid is the txn the digest belongs to; replay must reach it before
	// the tree can be compared. 0 means "no digest".
	Zxid    int64
	Version int32
	// Value is the tree digest (versions < 2 stored it as a hex string;
	// it is converted).
	Value int64
}

// Loaded is a snapshot read back into a fresh tree.
type Loaded struct {
	// Path is the file it came from.
	Path string
	// Zxid is taken from the file name, as ZooKeeper does; it is -1 when
	// the name is not snapshot.<hex>. The tree is fuzzy: replay the log
	// from Zxid+1 to make it consistent.
	Zxid int64
	// Tree holds the snapshot's nodes. Ephemerals of sessions missing from
	// Sessions are still in it: ZooKeeper drops them only after replaying
	// the log (ZooKeeperServer.loadData), so that is the caller's job
	// (datatree.Tree.DropEphemeralsExcept).
	Tree     *datatree.Tree
	Sessions []Session
	// Digest is nil for a pre-3.6 snapshot (no digest section) and for one
	// whose digest section says "no digest" (zxid 0).
	Digest *Digest
}

// File is a snapshot file found in a directory.
type File struct {
	Path string
	Zxid int64
}

// Skipped is a snapshot recovery passed over, and why.
type Skipped struct {
	File File
	Err  error
}

// CorruptError is returned for every snapshot that cannot be read: a bad
// magic, a wrong checksum, a truncated record, a dangling ACL id, and also
// plain I/O failures (then Err holds the cause and errors.Is sees it).
type CorruptError struct {
	// File is empty for a SNAP stream (ReadStream).
	File string
	// Offset is the byte offset, in the uncompressed stream, of the field
	// that could not be read or did not check. For a SNAP stream it counts
	// from the stream's first byte (the session count).
	Offset int64
	Reason string
	Err    error
}

func (e *CorruptError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("snapshot stream: corrupt at byte offset %d: %s", e.Offset, e.Reason)
	}
	return fmt.Sprintf("snapshot %s: corrupt at byte offset %d: %s", e.File, e.Offset, e.Reason)
}

// Unwrap returns the underlying I/O error, if any.
func (e *CorruptError) Unwrap() error { return e.Err }

// ErrNoValidSnapshot is returned by FindNewestValid when snapshots exist but
// none of them can be read.
var ErrNoValidSnapshot = errors.New("snapshot: no valid snapshot")

// Name is the file name of the snapshot taken at zxid: snapshot.<zxid in
// lowercase hex without leading zeros> (Long.toHexString).
func Name(zxid int64) string {
	return Prefix + "." + strconv.FormatUint(uint64(zxid), 16)
}

// ParseName returns the zxid in a snapshot file name and whether the name
// is one: "snapshot.<hex>", optionally followed by ".gz" or ".snappy".
// Temp files (".tmp") and anything else are not snapshots.
func ParseName(name string) (int64, bool) {
	rest, ok := strings.CutPrefix(name, Prefix+".")
	if !ok {
		return 0, false
	}
	if r, ok := strings.CutSuffix(rest, gzSuffix); ok {
		rest = r
	} else if r, ok := strings.CutSuffix(rest, snappySuffix); ok {
		rest = r
	}
	if rest == "" || len(rest) > 16 {
		return 0, false
	}
	z, err := strconv.ParseUint(rest, 16, 64)
	if err != nil {
		return 0, false
	}
	return int64(z), true
}

// List returns the snapshots in dir, newest (highest zxid) first. A
// missing dir holds no snapshots.
func List(dir string) ([]File, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: list %s: %w", dir, err)
	}
	var out []File
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		if z, ok := ParseName(e.Name()); ok {
			out = append(out, File{Path: filepath.Join(dir, e.Name()), Zxid: z})
		}
	}
	// Zxids compare as signed longs (Util.sortDataDir). Ties (snapshot.5
	// and snapshot.5.gz) put the uncompressed one first, for determinism.
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Zxid != out[j].Zxid {
			return out[i].Zxid > out[j].Zxid
		}
		return out[i].Path < out[j].Path
	})
	return out, nil
}

// IsValid is ZooKeeper's cheap pre-check (SnapStream.isValidSnapshot): an
// uncompressed snapshot is at least 10 bytes long and ends with the seal
// "/"; a gzip one starts with the gzip magic. It does not read the body.
func IsValid(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if strings.HasSuffix(path, snappySuffix) {
		return false // zkd cannot read snappy at all
	}
	if strings.HasSuffix(path, gzSuffix) {
		var b [2]byte
		_, err := io.ReadFull(f, b[:])
		return err == nil && bytes.Equal(b[:], gzipMagic)
	}
	st, err := f.Stat()
	if err != nil || st.Size() < 10 {
		return false
	}
	var tail [5]byte
	if _, err := f.ReadAt(tail[:], st.Size()-int64(len(tail))); err != nil {
		return false
	}
	return bytes.Equal(tail[:], seal)
}

// invalidReason says why a file fails IsValid, naming the file and the
// offset where it stops making sense: for an uncompressed snapshot cut
// short, the end of the file, where the final seal should be.
func invalidReason(path string) error {
	ce := &CorruptError{File: path, Reason: "fails the quick validity check"}
	st, err := os.Stat(path)
	switch {
	case err != nil:
		ce.Reason, ce.Err = "cannot be read: "+err.Error(), err
	case strings.HasSuffix(path, snappySuffix):
		ce.Reason = "snappy compression is not supported"
	case strings.HasSuffix(path, gzSuffix):
		ce.Reason = "no gzip magic"
	default:
		ce.Offset = st.Size()
		ce.Reason = "file ends without the final \"/\" seal (truncated or incomplete)"
	}
	return ce
}

// FindNewestValid loads the newest snapshot in dir that reads completely
// with matching checksums, as FileSnap.deserialize does: files failing
// IsValid are passed over without counting, and at most 100 candidates are
// read. It returns the loaded snapshot and every file it passed over, with
// the reason. With no snapshot files at all it returns (nil, nil, nil): an
// empty database. When files exist but none can be used, the error wraps
// ErrNoValidSnapshot. max bounds each buffer and string (jute.maxbuffer);
// 0 means no bound beyond the file size.
func FindNewestValid(dir string, max int) (*Loaded, []Skipped, error) {
	files, err := List(dir)
	if err != nil {
		return nil, nil, err
	}
	var skipped []Skipped
	tried := 0
	for _, f := range files {
		if tried == maxTried {
			break
		}
		if !IsValid(f.Path) {
			skipped = append(skipped, Skipped{File: f, Err: invalidReason(f.Path)})
			continue
		}
		tried++
		l, err := Read(f.Path, max)
		if err != nil {
			skipped = append(skipped, Skipped{File: f, Err: err})
			continue
		}
		return l, skipped, nil
	}
	if len(files) == 0 {
		return nil, nil, nil
	}
	return nil, skipped, fmt.Errorf("%w in %s (%d files passed over)", ErrNoValidSnapshot, dir, len(skipped))
}
