package snapshot

import (
	"encoding/binary"
	"hash/crc32"
	"strings"

	"github.com/zkd/zkd/internal/datatree"
	"github.com/zkd/zkd/internal/wire"
)

// NodeDigest is a node's contribution to the tree digest, DigestCalculator
// version 2 (storage.md §6): CRC-32 of the path (the root as ""), the data
// and a 60-byte stat block, or 0 for nodes under /zookeeper/.
func NodeDigest(path string, data []byte, stat wire.StatPersisted) int64 {
	if path == datatree.RootPath {
		path = ""
	}
	if strings.HasPrefix(path, datatree.ZooKeeperPath+"/") {
		return 0
	}
	// Note the order: not StatPersisted's.
	var b [60]byte
	binary.BigEndian.PutUint64(b[0:], uint64(stat.Czxid))
	binary.BigEndian.PutUint64(b[8:], uint64(stat.Mzxid))
	binary.BigEndian.PutUint64(b[16:], uint64(stat.Pzxid))
	binary.BigEndian.PutUint64(b[24:], uint64(stat.Ctime))
	binary.BigEndian.PutUint64(b[32:], uint64(stat.Mtime))
	binary.BigEndian.PutUint32(b[40:], uint32(stat.Version))
	binary.BigEndian.PutUint32(b[44:], uint32(stat.Cversion))
	binary.BigEndian.PutUint32(b[48:], uint32(stat.Aversion))
	binary.BigEndian.PutUint64(b[52:], uint64(stat.EphemeralOwner))
	c := crc32.Update(0, crc32.IEEETable, []byte(path))
	c = crc32.Update(c, crc32.IEEETable, data)
	c = crc32.Update(c, crc32.IEEETable, b[:])
	return int64(c)
}

// TreeDigest sums NodeDigest over the tree (wrapping at 64 bits). It is
// exact only for a tree nobody is changing, such as one just loaded; it
// lets a loaded snapshot be checked against its Digest when Digest.Zxid
// equals the snapshot's zxid (a quiescent snapshot).
func TreeDigest(t *datatree.Tree) int64 {
	var sum int64
	_ = t.Walk(func(p string, data []byte, _ []wire.ACL, stat wire.StatPersisted) error {
		sum += NodeDigest(p, data, stat)
		return nil
	})
	return sum
}
