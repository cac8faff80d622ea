package datatree

import (
	"sort"
	"sync"

	"github.com/zkd/zkd/internal/wire"
)

// Markers stored in ephemeralOwner for non-session node kinds
// (EphemeralType.java). Clients see 0 for both.
const (
	ContainerOwner int64 = -0x8000000000000000 // 0x8000000000000000
	ttlMask        int64 = -0x0100000000000000 // 0xFF00000000000000
	// MaxTTL is the largest TTL that fits the 40-bit field (ms).
	MaxTTL int64 = 0xFFFFFFFFFF
)

// TTLOwner is the stored ephemeralOwner of a TTL node.
func TTLOwner(ttl int64) int64 { return ttlMask | ttl }

// Kind classifies a node by its stored ephemeralOwner.
type Kind uint8

// Node kinds.
const (
	Persistent Kind = iota
	Ephemeral
	Container
	TTL
)

// KindOf decodes a stored ephemeralOwner.
func KindOf(owner int64) Kind {
	switch {
	case owner == 0:
		return Persistent
	case owner == ContainerOwner:
		return Container
	case owner&ttlMask == ttlMask && (owner>>40)&0xFFFF == 0:
		return TTL
	default:
		return Ephemeral
	}
}

// TTLOf returns the ttl (ms) of a TTL node's stored owner.
func TTLOf(owner int64) int64 { return owner & MaxTTL }

// node is one znode. Its lock guards every field; the children map is
// replaced, never shared, so it can be handed out under the read lock.
type node struct {
	// mu is a plain mutex, not an RWMutex: readers hold it for a few
	// field copies, and the 16 bytes saved keep the node (with acl a
	// pointer) in a 128-byte allocation instead of a 160-byte one.
	mu       sync.Mutex
	data     []byte
	acl      *aclList // shared between nodes; setACL swaps the pointer
	stat     wire.StatPersisted
	children map[string]struct{}
	// deleted is set when the node leaves the map, so a reader that fetched
	// the pointer just before sees it as gone.
	deleted bool
}

// clientStat converts the stored stat to what clients see. Caller holds n.mu.
func (n *node) clientStat() wire.Stat {
	nc := int32(len(n.children))
	owner := n.stat.EphemeralOwner
	if KindOf(owner) != Ephemeral {
		owner = 0
	}
	return wire.Stat{
		Czxid: n.stat.Czxid, Mzxid: n.stat.Mzxid, Ctime: n.stat.Ctime, Mtime: n.stat.Mtime,
		Version: n.stat.Version, Aversion: n.stat.Aversion, EphemeralOwner: owner,
		DataLength: int32(len(n.data)), NumChildren: nc,
		// Stored cversion counts creations only; clients see changes
		// (creates + deletes) = 2*creates - live children (DataNode.copyStat).
		Cversion: n.stat.Cversion*2 - nc,
		Pzxid:    n.stat.Pzxid,
	}
}

func (n *node) childList() []string {
	out := make([]string, 0, len(n.children))
	for c := range n.children {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Info is a consistent copy of a node's metadata, used by the prepare step
// to validate a request before it becomes a transaction.
type Info struct {
	Stat        wire.StatPersisted
	NumChildren int32
	ACL         []wire.ACL
	DataLen     int
}

const shardCount = 64

type shard struct {
	mu sync.RWMutex
	m  map[string]*node
}

type nodeMap struct {
	shards [shardCount]shard
}

func newNodeMap() *nodeMap {
	nm := &nodeMap{}
	for i := range nm.shards {
		nm.shards[i].m = map[string]*node{}
	}
	return nm
}

func (nm *nodeMap) shard(path string) *shard {
	// FNV-1a: cheap and spreads sibling paths well.
	h := uint32(2166136261)
	for i := 0; i < len(path); i++ {
		h ^= uint32(path[i])
		h *= 16777619
	}
	return &nm.shards[h%shardCount]
}

func (nm *nodeMap) get(path string) *node {
	s := nm.shard(path)
	s.mu.RLock()
	n := s.m[path]
	s.mu.RUnlock()
	return n
}

func (nm *nodeMap) put(path string, n *node) {
	s := nm.shard(path)
	s.mu.Lock()
	s.m[path] = n
	s.mu.Unlock()
}

// putNew inserts n at path and reports whether no node was there. It
// costs one map operation instead of a lookup and an insert; the price is
// that a node already at path is replaced all the same, which is fine for
// its only caller, the Loader, whose tree is thrown away on that error.
func (nm *nodeMap) putNew(path string, n *node) bool {
	s := nm.shard(path)
	s.mu.Lock()
	before := len(s.m)
	s.m[path] = n
	added := len(s.m) != before
	s.mu.Unlock()
	return added
}

// reserve makes room for about n nodes, so that loading a large tree does
// not rehash every shard map a dozen times as it grows.
func (nm *nodeMap) reserve(n int) {
	per := n / shardCount
	for i := range nm.shards {
		s := &nm.shards[i]
		s.mu.Lock()
		if len(s.m) < per {
			m := make(map[string]*node, per)
			for k, v := range s.m {
				m[k] = v
			}
			s.m = m
		}
		s.mu.Unlock()
	}
}

func (nm *nodeMap) del(path string) {
	s := nm.shard(path)
	s.mu.Lock()
	delete(s.m, path)
	s.mu.Unlock()
}

func (nm *nodeMap) len() int {
	total := 0
	for i := range nm.shards {
		s := &nm.shards[i]
		s.mu.RLock()
		total += len(s.m)
		s.mu.RUnlock()
	}
	return total
}
