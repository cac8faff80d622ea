package snapshot

import (
	"bufio"
	"fmt"
	"hash/adler32"
	"io"
	"os"
	"path/filepath"

	"github.com/zkd/zkd/internal/datatree"
	"github.com/zkd/zkd/internal/fsutil"
	"github.com/zkd/zkd/internal/wire"
)

// bufSize is the write and read buffer size: large enough that the
// per-node cost is encoding, not system calls.
const bufSize = 1 << 20

// Write writes a snapshot of tree, taken at zxid, to dir/snapshot.<hex zxid>
// and returns its path.
//
// zxid must be the tree's state when the call starts: every txn <= zxid
// already applied. The walk is fuzzy (it runs while the applier keeps
// changing the tree), which is sound because recovery replays the log from
// zxid+1 over it (storage.md §5).
//
// The file appears under its final name only once complete: it is written
// to a ".tmp" sibling and renamed. With fsync the file is synced before the
// rename and the directory after it, so after Write returns the snapshot
// survives a crash. An error leaves no file under the final name; a crash
// may leave the ".tmp" file, which List ignores.
//
// The digest section says "no digest" (zxid 0): an exact digest of a fuzzy
// snapshot needs the applier's running digest, which the tree does not keep.
func Write(dir string, zxid int64, tree *datatree.Tree, sessions []Session, fsync bool) (path string, err error) {
	final := filepath.Join(dir, Name(zxid))
	tmp := final + tmpSuffix

	sp, err := spoolNodes(dir, tree)
	if err != nil {
		return "", err
	}
	defer sp.close()

	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return "", fmt.Errorf("snapshot: create %s: %w", tmp, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()

	sum := adler32.New()
	// Everything written goes through sum as well, so flushing the buffer
	// makes sum cover every byte so far.
	bw := bufio.NewWriterSize(io.MultiWriter(f, sum), bufSize)
	var e wire.Encoder
	e.Int(Magic)
	e.Int(Version)
	e.Long(DBID)
	bw.Write(e.B) // a bufio.Writer error sticks and surfaces at Flush
	err = sp.writeBody(bw, sessions)
	if err == nil {
		err = bw.Flush() // now sum covers everything through the "/" marker
	}
	if err != nil {
		return "", fmt.Errorf("snapshot: write %s: %w", tmp, err)
	}

	// checksum1 + seal1, then the digest section and its own checksum +
	// seal (FileSnap.serialize, SnapStream.sealStream).
	e.B = e.B[:0]
	e.Long(int64(sum.Sum32()))
	e.String(endPath)
	e.Long(0) // digest zxid: none
	e.Int(DigestVersion)
	e.Long(0)
	bw.Write(e.B)
	if err := bw.Flush(); err != nil {
		return "", fmt.Errorf("snapshot: write %s: %w", tmp, err)
	}
	e.B = e.B[:0]
	e.Long(int64(sum.Sum32()))
	e.String(endPath)
	bw.Write(e.B)
	if err := bw.Flush(); err != nil {
		return "", fmt.Errorf("snapshot: write %s: %w", tmp, err)
	}

	if fsync {
		if err := f.Sync(); err != nil {
			return "", fmt.Errorf("snapshot: fsync %s: %w", tmp, err)
		}
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("snapshot: close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("snapshot: rename %s: %w", tmp, err)
	}
	ok = true
	if fsync {
		if err := fsutil.SyncDir(dir); err != nil {
			return final, fmt.Errorf("snapshot: fsync directory %s: %w", dir, err)
		}
	}
	return final, nil
}

// nodeSpool is a tree's node section, written by one fuzzy walk to an
// unlinked temp file, with the ACL map its nodes refer to.
//
// The ACL map precedes the nodes in a snapshot but is only known once
// every node has been seen, hence the spool. Walking twice instead would
// let an ACL set between the walks reach a node whose id is not in the map.
type nodeSpool struct {
	f        *os.File
	name     string
	unlinked bool // the name is gone already
	acls     *aclCache
}

// spoolNodes walks tree into a spool file in dir (for Write, the snapshot
// directory: same disk, nothing to clean up after a crash) and rewinds it.
// The caller must close the spool.
func spoolNodes(dir string, tree *datatree.Tree) (sp *nodeSpool, err error) {
	f, err := os.CreateTemp(dir, ".snapshot-nodes-*")
	if err != nil {
		return nil, fmt.Errorf("snapshot: create spool in %s: %w", dir, err)
	}
	sp = &nodeSpool{f: f, name: f.Name(), acls: newACLCache()}
	sp.unlinked = os.Remove(sp.name) == nil // fails on systems that cannot unlink open files
	defer func() {
		if err != nil {
			sp.close()
		}
	}()

	sw := bufio.NewWriterSize(f, bufSize)
	var e wire.Encoder
	err = tree.Walk(func(p string, data []byte, acl []wire.ACL, stat wire.StatPersisted) error {
		if p == datatree.RootPath {
			p = "" // DataTree.serialize names the root ""
		}
		e.B = e.B[:0]
		e.String(p)
		e.Buffer(data)
		e.Long(sp.acls.id(acl))
		stat.Encode(&e)
		_, err := sw.Write(e.B)
		return err
	})
	if err == nil {
		err = sw.Flush()
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: spool nodes: %w", err)
	}
	return sp, nil
}

func (sp *nodeSpool) close() {
	sp.f.Close()
	if !sp.unlinked {
		os.Remove(sp.name)
	}
}

// writeBody writes the snapshot body (storage.md §4.1 between the file
// header and the first checksum, which is also the whole SNAP stream but
// its signature): the sessions, the ACL map, the spooled nodes and the "/"
// end marker. It does not flush bw.
func (sp *nodeSpool) writeBody(bw *bufio.Writer, sessions []Session) error {
	var e wire.Encoder
	sp.encodeHead(&e, sessions)
	bw.Write(e.B) // a bufio.Writer error sticks and surfaces at the caller's Flush
	if _, err := io.Copy(bw, sp.f); err != nil {
		return err
	}
	e.B = e.B[:0]
	e.String(endPath)
	_, err := bw.Write(e.B)
	return err
}

// encodeHead encodes what precedes the nodes: sessions and the ACL map.
func (sp *nodeSpool) encodeHead(e *wire.Encoder, sessions []Session) {
	e.Int(int32(len(sessions)))
	for _, s := range sessions {
		e.Long(s.ID)
		e.Int(s.Timeout)
	}
	sp.acls.encodeMap(e)
}

// aclCache assigns the ACL map ids of one snapshot: 1, 2, 3... in the
// order lists are first met, and -1 for exactly [world:anyone ALL].
type aclCache struct {
	ids   map[string]int64 // jute encoding of the list -> id
	lists [][]wire.ACL     // lists[id-1]
	key   wire.Encoder

	// Most nodes share their ACL slice with their neighbours (the tree never
	// mutates one in place), so remember the last slice and skip encoding.
	last   []wire.ACL
	lastID int64
}

func newACLCache() *aclCache { return &aclCache{ids: map[string]int64{}} }

func isOpenACL(acl []wire.ACL) bool {
	return len(acl) == 1 && acl[0] == wire.OpenACLUnsafe[0]
}

func (c *aclCache) id(acl []wire.ACL) int64 {
	if len(acl) > 0 && len(acl) == len(c.last) && &acl[0] == &c.last[0] {
		return c.lastID
	}
	id := c.lookup(acl)
	c.last, c.lastID = acl, id
	return id
}

func (c *aclCache) lookup(acl []wire.ACL) int64 {
	if isOpenACL(acl) {
		return openACLID
	}
	c.key.B = c.key.B[:0]
	encodeACLList(&c.key, acl)
	if id, ok := c.ids[string(c.key.B)]; ok {
		return id
	}
	c.lists = append(c.lists, acl)
	id := int64(len(c.lists))
	c.ids[string(c.key.B)] = id
	return id
}

// encodeMap writes the ACL map (ReferenceCountedACLCache.serialize): its
// size, then (id, vector<ACL>) in id order.
func (c *aclCache) encodeMap(e *wire.Encoder) {
	e.Int(int32(len(c.lists)))
	for i, l := range c.lists {
		e.Long(int64(i + 1))
		encodeACLList(e, l)
	}
}

// encodeACLList writes a vector<ACL>. The ACL map never holds a null
// vector (the reader refuses it), so nil is written as empty.
func encodeACLList(e *wire.Encoder, acl []wire.ACL) {
	e.Int(int32(len(acl)))
	for i := range acl {
		acl[i].Encode(e)
	}
}
