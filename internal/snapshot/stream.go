package snapshot

import (
	"bufio"
	"fmt"
	"io"

	"github.com/zkd/zkd/internal/datatree"
	"github.com/zkd/zkd/internal/wire"
	"github.com/zkd/zkd/internal/zab"
)

// streamBufSize is ReadStream's field buffer: strings up to this size are
// read in one piece, longer ones in chunks of it.
const streamBufSize = 64 << 10

// WriteStream writes tree and sessions as the snapshot a leader sends after
// a SNAP packet (storage.md §4.6, quorum.md §5.3): the body of a snapshot
// file (sessions, ACL map, nodes, "/") without header, checksums, seals or
// digest, followed by the ustring "BenWasHere" (zab.SnapSignature).
//
// The walk is fuzzy, exactly as for Write: the learner is sent the
// proposals committed after the SNAP zxid and replays them over it. The
// node section is spooled first to an unlinked temp file in spoolDir (the
// ACL map precedes it but is only known after the walk), so the tree is
// not held while a slow peer drains w. Output goes through a buffer that
// is flushed before WriteStream returns.
func WriteStream(w io.Writer, spoolDir string, tree *datatree.Tree, sessions []Session) error {
	s, err := SpoolStream(spoolDir, tree, sessions)
	if err != nil {
		return err
	}
	defer s.Close()
	bw := bufio.NewWriterSize(w, bufSize)
	if _, err := s.WriteTo(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("snapshot: write stream: %w", err)
	}
	return nil
}

// Stream is a SNAP snapshot ready to be sent (WriteStream's bytes): its
// node section waits in an unlinked spool file, so a leader syncing a
// learner holds a few KiB in memory, not the whole tree again, and the
// bytes go to the socket by sendfile. Close releases the spool.
type Stream struct {
	sp   *nodeSpool
	head []byte // sessions and ACL map
	tail []byte // end marker and signature
}

// SpoolStream walks tree (fuzzily, as WriteStream) into a spool in
// spoolDir and returns the stream to send. The caller must Close it.
func SpoolStream(spoolDir string, tree *datatree.Tree, sessions []Session) (*Stream, error) {
	sp, err := spoolNodes(spoolDir, tree)
	if err != nil {
		return nil, err
	}
	var e wire.Encoder
	sp.encodeHead(&e, sessions)
	head := e.B
	var t wire.Encoder
	t.String(endPath)
	t.String(zab.SnapSignature)
	return &Stream{sp: sp, head: head, tail: t.B}, nil
}

// WriteTo writes the whole stream to w. It may be called once.
func (s *Stream) WriteTo(w io.Writer) (int64, error) {
	var total int64
	n, err := w.Write(s.head)
	total += int64(n)
	if err != nil {
		return total, fmt.Errorf("snapshot: send stream: %w", err)
	}
	// io.Copy from the *os.File lets a TCP connection use sendfile.
	m, err := io.Copy(w, s.sp.f)
	total += m
	if err != nil {
		return total, fmt.Errorf("snapshot: send stream: %w", err)
	}
	n, err = w.Write(s.tail)
	total += int64(n)
	if err != nil {
		return total, fmt.Errorf("snapshot: send stream: %w", err)
	}
	return total, nil
}

// Close releases the spool.
func (s *Stream) Close() { s.sp.close() }

// ReadStream reads a SNAP snapshot stream (WriteStream's format) from r
// into tree and returns its sessions. tree must hold only what
// datatree.New gives (a tree just Reset); the caller then sets its last
// zxid to the SNAP packet's zxid and, as a file restore does, drops the
// ephemerals of sessions it does not keep.
//
// The stream has no length and no checksum, so ReadStream reads it field
// by field, taking from r exactly the bytes of the snapshot and its
// signature: what follows (NEWLEADER, in Zab) stays in r. max bounds every
// buffer and string length (jute.maxbuffer); 0 means no bound. Counts are
// not trusted for allocation: memory grows only with bytes received.
//
// Every failure is a *CorruptError whose Offset counts from the stream's
// first byte; a stream that ends early also wraps io.ErrUnexpectedEOF, a
// read error wraps that error. A body not followed by the signature fails
// with "missing signature". On error the tree holds part of the snapshot.
func ReadStream(r *bufio.Reader, tree *datatree.Tree, max int) ([]Session, error) {
	d := &decoder{src: r, size: -1, max: max, stream: true, buf: make([]byte, 0, streamBufSize)}
	h := newTreeBuilder(tree)
	d.body(h)
	if d.err != nil {
		return nil, d.err
	}
	if d.deferred != nil {
		return nil, d.deferred
	}
	d.signature()
	if d.err != nil {
		return nil, d.err
	}
	h.loader.Finish()
	return h.sessions, nil
}

// signature reads the ustring zab.SnapSignature. Its length is checked
// before its bytes are read, so a wrong one costs no allocation.
func (d *decoder) signature() {
	const sig = zab.SnapSignature
	at := d.off()
	n := d.int("signature")
	if d.err != nil {
		d.err.Reason = "missing signature: " + d.err.Reason
		return
	}
	if n != int32(len(sig)) {
		d.fail(at, "missing signature: string length %d, want %q", n, sig)
		return
	}
	b := d.bytes(len(sig), "signature", at)
	if d.err != nil {
		d.err.Reason = "missing signature: " + d.err.Reason
		return
	}
	if string(b) != sig {
		d.fail(at, "missing signature: got %q, want %q", b, sig)
	}
}
