package snapshot

import (
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/adler32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/zkd/zkd/internal/datatree"
	"github.com/zkd/zkd/internal/wire"
)

// Read loads the snapshot at path into a fresh tree. It checks the magic,
// both checksums and every structural rule (ACL ids resolve, parents come
// before children); a snapshot without the 3.6+ digest section (EOF right
// after the first seal) is accepted. max bounds every buffer and string
// length (jute.maxbuffer); 0 means no bound beyond the file size. Every
// failure, including an I/O one, is a *CorruptError.
func Read(path string, max int) (*Loaded, error) {
	z, ok := ParseName(filepath.Base(path))
	if !ok {
		z = -1 // Util.getZxidFromName
	}
	l := &Loaded{Path: path, Zxid: z, Tree: datatree.New(nil)}
	h := newTreeBuilder(l.Tree)
	if st, err := os.Stat(path); err == nil && !strings.HasSuffix(path, gzSuffix) {
		// A node takes about 150-200 bytes of a snapshot with small data;
		// overestimating the count costs a little map space, not time.
		h.loader.Reserve(int(st.Size() / 160))
	}
	d, err := decodeFile(path, max, newPipelined(h))
	if err != nil {
		return nil, err
	}
	h.loader.Finish()
	l.Sessions, l.Digest = h.sessions, d
	if ok {
		l.Tree.SetLastZxid(z)
	}
	return l, nil
}

// treeBuilder is the handler Read and ReadStream decode into.
type treeBuilder struct {
	tree     *datatree.Tree
	loader   *datatree.Loader
	acls     map[int64][]wire.ACL
	sessions []Session
}

// newTreeBuilder loads into tree, which must hold only what New gives.
func newTreeBuilder(tree *datatree.Tree) *treeBuilder {
	return &treeBuilder{tree: tree, loader: datatree.NewLoader(tree), acls: map[int64][]wire.ACL{}}
}

func (b *treeBuilder) session(s Session) { b.sessions = append(b.sessions, s) }

func (b *treeBuilder) acl(id int64, list []wire.ACL) { b.acls[id] = list }

func (b *treeBuilder) node(_ int64, path string, data []byte, aclID int64, stat wire.StatPersisted) error {
	acl := wire.OpenACLUnsafe
	if aclID != openACLID {
		var ok bool
		// Every node of one list shares the map's slice, as in ZooKeeper's
		// cache; the tree never mutates an ACL slice in place.
		if acl, ok = b.acls[aclID]; !ok {
			return fmt.Errorf("node %q refers to ACL id %d, which is not in the ACL map", path, aclID)
		}
	}
	// The loader refuses a node seen twice (other than the ones New
	// creates), which would otherwise count twice in sizes and ephemerals.
	return b.loader.Add(path, data, acl, stat)
}

// handler receives a snapshot's content in file order. node returns
// semantic errors (the record was read fine but makes no sense); decoding
// goes on to the checksum, which usually explains them better.
type handler interface {
	session(s Session)
	acl(id int64, list []wire.ACL)
	// at is the offset of the node's record, for errors.
	node(at int64, path string, data []byte, aclID int64, stat wire.StatPersisted) error
}

// finisher is a handler that works behind the decoder (pipelined): the
// decoder calls finish after the last node and takes its first error.
type finisher interface {
	finish() *CorruptError
}

// decodeFile opens path (gunzipping a .gz) and decodes it into h.
func decodeFile(path string, maxLen int, h handler) (*Digest, error) {
	fail := func(reason string, err error) error {
		return &CorruptError{File: path, Offset: 0, Reason: reason, Err: err}
	}
	if strings.HasSuffix(path, snappySuffix) {
		return nil, fail("snappy-compressed snapshots are not supported", nil)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fail(err.Error(), err)
	}
	defer f.Close()
	var src io.Reader = f
	size := int64(-1)
	if strings.HasSuffix(path, gzSuffix) {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fail("gzip: "+err.Error(), err)
		}
		defer zr.Close()
		src = zr
	} else if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	bs := bufSize
	if size >= 0 && size < int64(bs) {
		bs = max(int(size), 64) // small files: no 1 MiB buffer per read
	}
	dec := &decoder{
		file: path, src: src, size: size, max: maxLen,
		buf: make([]byte, 0, bs), sum: adler32.New(),
	}
	return dec.decode(h)
}

// decoder streams a snapshot, checksumming as it goes. Its first error
// sticks: after it every read returns zero values and decode stops at the
// next check.
//
// In stream mode (the SNAP body, ReadStream) it reads from src exactly the
// bytes each field needs, never ahead, so whatever follows the snapshot
// stays in src; and it keeps no checksum (sum is nil).
type decoder struct {
	file   string // "" for a stream
	src    io.Reader
	size   int64 // total bytes, or -1 when unknown (gzip, stream)
	max    int
	stream bool

	buf    []byte // buf[r:] is unread input
	r      int
	hashed int   // buf[:hashed] has been fed to sum
	base   int64 // stream offset of buf[0]
	eof    bool  // src is exhausted
	ioErr  error // a read error other than EOF
	sum    hash.Hash32

	err *CorruptError
	// deferred is the first semantic error; it is reported only if the
	// checksum matches (a corrupt byte is the likelier explanation).
	deferred *CorruptError
}

func (d *decoder) off() int64 { return d.base + int64(d.r) }

func (d *decoder) fail(at int64, format string, args ...any) {
	if d.err == nil {
		d.err = &CorruptError{File: d.file, Offset: at, Reason: fmt.Sprintf(format, args...), Err: d.ioErr}
	}
}

// fill tries to make n unread bytes available; n must not exceed
// cap(buf). It reports whether it could.
func (d *decoder) fill(n int) bool {
	for len(d.buf)-d.r < n {
		if d.eof {
			return false
		}
		if d.r > 0 {
			// Hash what was consumed, then slide the unread tail down.
			if d.sum != nil {
				d.sum.Write(d.buf[d.hashed:d.r])
			}
			m := copy(d.buf[:cap(d.buf)], d.buf[d.r:])
			d.base += int64(d.r)
			d.buf, d.r, d.hashed = d.buf[:m], 0, 0
		}
		end := cap(d.buf)
		if d.stream {
			end = d.r + n // exactly what is asked for, no read-ahead
		}
		k, err := d.src.Read(d.buf[len(d.buf):end])
		d.buf = d.buf[:len(d.buf)+k]
		if err == io.EOF {
			d.eof = true
		} else if err != nil {
			d.ioErr, d.eof = err, true
		}
	}
	return true
}

// checksum is the Adler-32 of every byte consumed so far.
func (d *decoder) checksum() int64 {
	d.sum.Write(d.buf[d.hashed:d.r])
	d.hashed = d.r
	return int64(d.sum.Sum32())
}

// atEOF reports whether the input ends here.
func (d *decoder) atEOF() bool { return !d.fill(1) && d.ioErr == nil }

func (d *decoder) truncated(at int64, what string) {
	if d.ioErr != nil {
		d.fail(at, "read error in %s: %v", what, d.ioErr)
		return
	}
	if !d.stream {
		d.fail(at, "file ends inside %s (truncated)", what)
		return
	}
	if d.err == nil {
		d.fail(at, "stream ends inside %s (truncated)", what)
		d.err.Err = io.ErrUnexpectedEOF
	}
}

func (d *decoder) int(what string) int32 {
	if d.err != nil {
		return 0
	}
	if !d.fill(4) {
		d.truncated(d.off(), what)
		return 0
	}
	v := int32(binary.BigEndian.Uint32(d.buf[d.r:]))
	d.r += 4
	return v
}

func (d *decoder) long(what string) int64 {
	if d.err != nil {
		return 0
	}
	if !d.fill(8) {
		d.truncated(d.off(), what)
		return 0
	}
	v := int64(binary.BigEndian.Uint64(d.buf[d.r:]))
	d.r += 8
	return v
}

// length reads a jute length prefix; -1 (null) is returned as is.
func (d *decoder) length(what string) int {
	at := d.off()
	n := d.int(what)
	if d.err != nil || n == -1 {
		return int(n)
	}
	if n < 0 {
		d.fail(at, "negative length %d in %s", n, what)
		return 0
	}
	if d.max > 0 && int(n) > d.max {
		d.fail(at, "length %d in %s exceeds the limit %d (jute.maxbuffer)", n, what, d.max)
		return 0
	}
	if d.size >= 0 && int64(n) > d.size-d.off() {
		d.fail(at, "length %d in %s runs past the end of the file (truncated)", n, what)
		return 0
	}
	return int(n)
}

// bytes reads n bytes into a new slice. The slice grows as data arrives,
// so a huge bogus length in a stream of unknown size cannot allocate more
// than the stream holds.
func (d *decoder) bytes(n int, what string, at int64) []byte {
	out := make([]byte, 0, min(n, bufSize))
	for len(out) < n {
		if !d.fill(min(n-len(out), cap(d.buf))) {
			d.truncated(at, what)
			return nil
		}
		k := min(n-len(out), len(d.buf)-d.r)
		out = append(out, d.buf[d.r:d.r+k]...)
		d.r += k
	}
	return out
}

// buffer reads a jute buffer: nil for null, non-nil (maybe empty) otherwise.
func (d *decoder) buffer(what string) []byte {
	at := d.off()
	n := d.length(what)
	if d.err != nil || n == -1 {
		return nil
	}
	b := d.bytes(n, what, at)
	if b == nil && d.err == nil {
		b = []byte{}
	}
	return b
}

// string reads a jute ustring; ok is false for null.
func (d *decoder) string(what string) (s string, ok bool) {
	at := d.off()
	n := d.length(what)
	if d.err != nil || n == -1 {
		return "", false
	}
	if n <= cap(d.buf) && d.fill(n) {
		s = string(d.buf[d.r : d.r+n])
		d.r += n
		return s, true
	}
	return string(d.bytes(n, what, at)), d.err == nil
}

// count reads a vector or map size; each element takes at least minSize
// bytes, so counts the file cannot hold are refused before any allocation.
func (d *decoder) count(what string, minSize int) int {
	at := d.off()
	n := d.int(what)
	if d.err != nil {
		return 0
	}
	if n < 0 {
		d.fail(at, "negative count %d in %s", n, what)
		return 0
	}
	if d.size >= 0 && int64(n)*int64(minSize) > d.size-d.off() {
		d.fail(at, "count %d in %s runs past the end of the file (truncated)", n, what)
		return 0
	}
	return int(n)
}

func (d *decoder) aclList(what string) []wire.ACL {
	at := d.off()
	n := d.int(what)
	if d.err != nil {
		return nil
	}
	if n < 0 {
		// ReferenceCountedACLCache.deserialize refuses a null list too.
		d.fail(at, "ACL list of %s has count %d", what, n)
		return nil
	}
	const minACL = 12 // perms + two empty strings
	if d.size >= 0 && int64(n)*minACL > d.size-d.off() {
		d.fail(at, "ACL list of %s: count %d runs past the end of the file (truncated)", what, n)
		return nil
	}
	out := make([]wire.ACL, 0, min(int(n), 64))
	for i := int32(0); i < n && d.err == nil; i++ {
		var a wire.ACL
		a.Perms = d.int(what)
		a.ID.Scheme, _ = d.string(what)
		a.ID.ID, _ = d.string(what)
		out = append(out, a)
	}
	return out
}

// seal reads the ustring "/" that follows each checksum.
func (d *decoder) seal(what string) {
	at := d.off()
	s, ok := d.string(what)
	if d.err == nil && (!ok || s != endPath) {
		d.fail(at, "%s is %q, want %q", what, s, endPath)
	}
}

// checkSum reads a stored checksum and compares it with the running one.
func (d *decoder) checkSum(what string) {
	want := d.checksum()
	at := d.off()
	got := d.long(what)
	if d.err == nil && got != want {
		d.fail(at, "%s mismatch: file says %#x, content sums to %#x", what, got, want)
	}
}

// decode reads the whole snapshot (storage.md §4.1) into h.
func (d *decoder) decode(h handler) (*Digest, error) {
	if m := d.int("file header"); d.err == nil && m != Magic {
		d.fail(0, "bad magic %#x, want %#x (ZKSN)", uint32(m), uint32(Magic))
	}
	d.int("file header")  // version: not checked, as in ZooKeeper
	d.long("file header") // dbid: not checked

	d.body(h)
	if f, ok := h.(finisher); ok {
		if err := f.finish(); err != nil && (d.deferred == nil || err.Offset < d.deferred.Offset) {
			err.File = d.file
			d.deferred = err
		}
	}

	d.checkSum("checksum")
	d.seal("seal")
	if d.err == nil && d.deferred != nil {
		return nil, d.deferred
	}
	if d.err != nil {
		return nil, d.err
	}

	// The digest section (3.6+) is optional: an older snapshot ends here.
	if d.atEOF() {
		return nil, nil
	}
	dg := &Digest{Zxid: d.long("digest zxid"), Version: d.int("digest version")}
	if d.err == nil && dg.Version < 2 {
		// Older digest versions stored the digest as a hex string.
		at := d.off()
		if s, ok := d.string("digest"); ok && d.err == nil {
			v, err := strconv.ParseUint(s, 16, 64)
			if err != nil {
				d.fail(at, "digest %q is not hex", s)
			}
			dg.Value = int64(v)
		}
	} else {
		dg.Value = d.long("digest")
	}
	d.checkSum("second checksum (after the digest)")
	d.seal("second seal")
	if d.err != nil {
		return nil, d.err
	}
	if dg.Zxid == 0 {
		return nil, nil
	}
	return dg, nil
}

// body reads what a snapshot file holds between its header and its first
// checksum, which is also the SNAP stream up to the signature: sessions,
// the ACL map and the nodes through the "/" end marker (storage.md §4.1,
// §4.6). A file decoder goes on to the end marker after a semantic error
// (d.deferred); a stream decoder stops there.
func (d *decoder) body(h handler) {
	nsess := d.count("session count", 12)
	for i := 0; i < nsess && d.err == nil; i++ {
		id := d.long("session list")
		to := d.int("session list")
		if d.err == nil {
			h.session(Session{ID: id, Timeout: to})
		}
	}

	nacl := d.count("ACL map size", 12)
	for i := 0; i < nacl && d.err == nil; i++ {
		at := d.off()
		id := d.long("ACL map")
		list := d.aclList("ACL map entry")
		if d.err == nil && id == openACLID {
			d.fail(at, "ACL map holds the reserved id -1")
		}
		if d.err == nil {
			h.acl(id, list)
		}
	}

	// A stream has no checksum to reach: its first semantic error stands.
	for d.err == nil && !(d.stream && d.deferred != nil) {
		at := d.off()
		p, ok := d.string("node path")
		if d.err != nil {
			break
		}
		if !ok {
			d.fail(at, "null node path")
			break
		}
		if p == endPath {
			break
		}
		data := d.buffer("node data")
		aclID := d.long("node ACL id")
		var st wire.StatPersisted
		st.Czxid = d.long("node stat")
		st.Mzxid = d.long("node stat")
		st.Ctime = d.long("node stat")
		st.Mtime = d.long("node stat")
		st.Version = d.int("node stat")
		st.Cversion = d.int("node stat")
		st.Aversion = d.int("node stat")
		st.EphemeralOwner = d.long("node stat")
		st.Pzxid = d.long("node stat")
		if d.err != nil || d.deferred != nil {
			continue // after a semantic error, keep reading only to reach the checksum
		}
		if err := checkPath(p); err != nil {
			d.deferred = &CorruptError{File: d.file, Offset: at, Reason: err.Error()}
			continue
		}
		if err := h.node(at, p, data, aclID, st); err != nil {
			d.deferred = &CorruptError{File: d.file, Offset: at, Reason: err.Error()}
		}
	}
}

var errBadPath = errors.New("invalid node path")

// checkPath accepts what a loader can place: the root as "" (or "/",
// which cannot occur: it ends the tree) and absolute paths without a
// trailing slash. Parents-first order is the loader's check.
func checkPath(p string) error {
	if p == "" {
		return nil
	}
	if p[0] != '/' || p[len(p)-1] == '/' || strings.Contains(p, "//") {
		return fmt.Errorf("%w %q", errBadPath, p)
	}
	return nil
}
