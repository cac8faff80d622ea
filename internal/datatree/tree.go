package datatree

import (
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/zkd/zkd/internal/watch"
	"github.com/zkd/zkd/internal/wire"
)

// Paths of the nodes every tree has (DataTree.java).
const (
	RootPath      = "/"
	ZooKeeperPath = "/zookeeper"
	QuotaPath     = "/zookeeper/quota"
	ConfigPath    = "/zookeeper/config"
)

// Tree is the znode tree. See the package doc for its concurrency contract.
type Tree struct {
	nodes   *nodeMap
	watches *watch.Manager

	// multiMu makes a multi transaction atomic to readers: Apply of a multi
	// takes it exclusively, reads share it. Single-op writes do not take it,
	// so in the common case a read contends only on its own node's lock.
	multiMu sync.RWMutex

	// Invariant: lastZxid only grows; it is the zxid of the last applied txn.
	lastZxid atomic.Int64

	dataSize atomic.Int64 // sum of path lengths + data lengths

	auxMu      sync.Mutex
	ephemerals map[int64]map[string]struct{} // session id -> its ephemeral paths
	special    map[string]struct{}           // container and TTL paths, for the reaper

	// quotaMu guards quotas only; it is a leaf lock, never held while
	// taking another.
	quotaMu sync.RWMutex
	quotas  map[string]struct{} // quota'd paths (DataTree.pTrie), see quota.go

	acls aclCache // equal ACL lists of created nodes share one copy
}

// New returns a tree holding /, /zookeeper, /zookeeper/quota and
// /zookeeper/config. w may be nil (no watches, as when replaying a log).
func New(w *watch.Manager) *Tree {
	if w == nil {
		w = watch.NewManager()
	}
	t := &Tree{
		nodes:      newNodeMap(),
		watches:    w,
		ephemerals: map[int64]map[string]struct{}{},
		special:    map[string]struct{}{},
		quotas:     map[string]struct{}{},
	}
	root := &node{children: map[string]struct{}{"zookeeper": {}}, acl: openACL}
	zk := &node{children: map[string]struct{}{"quota": {}, "config": {}}, acl: openACL}
	quota := &node{acl: openACL}
	// ZooKeeper gives /zookeeper/config aversion -1 (DataTree.addConfigNode).
	config := &node{acl: readACL, stat: wire.StatPersisted{Aversion: -1}}
	t.nodes.put(RootPath, root)
	t.nodes.put(ZooKeeperPath, zk)
	t.nodes.put(QuotaPath, quota)
	t.nodes.put(ConfigPath, config)
	t.dataSize.Store(int64(len(ZooKeeperPath) + len(QuotaPath) + len(ConfigPath) + len(RootPath)))
	return t
}

// Watches is the manager the tree triggers.
func (t *Tree) Watches() *watch.Manager { return t.watches }

// LastZxid is the zxid of the last applied transaction.
func (t *Tree) LastZxid() int64 { return t.lastZxid.Load() }

// SetLastZxid is for loaders (snapshot restore) only.
func (t *Tree) SetLastZxid(z int64) { t.lastZxid.Store(z) }

// NodeCount is the number of znodes plus one, as ZooKeeper reports it (the
// root is stored under both "" and "/" there).
func (t *Tree) NodeCount() int { return t.nodes.len() + 1 }

// ApproximateDataSize is the sum of path and data lengths.
func (t *Tree) ApproximateDataSize() int64 { return t.dataSize.Load() }

// ParentAndName splits a path into its parent path and last segment.
func ParentAndName(path string) (string, string) {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return RootPath, path[i+1:]
	}
	return path[:i], path[i+1:]
}

// ErrNoNode is returned by reads of a missing node.
var ErrNoNode = wire.ErrNoNode

// lookup returns the live node at path with its read lock held.
func (t *Tree) lookup(path string) *node {
	n := t.nodes.get(path)
	if n == nil {
		return nil
	}
	n.mu.Lock()
	if n.deleted {
		n.mu.Unlock()
		return nil
	}
	return n
}

// GetData returns a node's data and stat, registering a data watch for w
// if the node exists.
func (t *Tree) GetData(path string, w watch.Watcher) ([]byte, wire.Stat, error) {
	t.multiMu.RLock()
	defer t.multiMu.RUnlock()
	n := t.lookup(path)
	if n == nil {
		return nil, wire.Stat{}, ErrNoNode
	}
	defer n.mu.Unlock()
	if w != nil {
		t.watches.Add(watch.Data, path, w, watch.Standard)
	}
	return n.data, n.clientStat(), nil
}

// Exists returns a node's stat. The watch is registered whether or not the
// node exists, before looking, so a concurrent create cannot slip between.
func (t *Tree) Exists(path string, w watch.Watcher) (wire.Stat, error) {
	t.multiMu.RLock()
	defer t.multiMu.RUnlock()
	if w != nil {
		t.watches.Add(watch.Data, path, w, watch.Standard)
	}
	n := t.lookup(path)
	if n == nil {
		return wire.Stat{}, ErrNoNode
	}
	defer n.mu.Unlock()
	return n.clientStat(), nil
}

// GetChildren returns a node's child names (sorted) and stat, registering
// a child watch for w if the node exists.
func (t *Tree) GetChildren(path string, w watch.Watcher) ([]string, wire.Stat, error) {
	t.multiMu.RLock()
	defer t.multiMu.RUnlock()
	n := t.lookup(path)
	if n == nil {
		return nil, wire.Stat{}, ErrNoNode
	}
	defer n.mu.Unlock()
	if w != nil {
		t.watches.Add(watch.Child, path, w, watch.Standard)
	}
	return n.childList(), n.clientStat(), nil
}

// GetACL returns a node's ACL and stat.
func (t *Tree) GetACL(path string) ([]wire.ACL, wire.Stat, error) {
	t.multiMu.RLock()
	defer t.multiMu.RUnlock()
	n := t.lookup(path)
	if n == nil {
		return nil, wire.Stat{}, ErrNoNode
	}
	defer n.mu.Unlock()
	return n.acl.get(), n.clientStat(), nil
}

// Info returns a copy of a node's metadata for the prepare step.
func (t *Tree) Info(path string) (Info, bool) {
	n := t.lookup(path)
	if n == nil {
		return Info{}, false
	}
	defer n.mu.Unlock()
	return Info{Stat: n.stat, NumChildren: int32(len(n.children)), ACL: n.acl.get(), DataLen: len(n.data)}, true
}

// AllChildrenNumber counts every descendant of path (not path itself).
func (t *Tree) AllChildrenNumber(path string) (int, error) {
	// multiMu is read-locked once here, not in the recursion: a second
	// RLock while a multi waits in Lock would deadlock (sync.RWMutex
	// forbids recursive read locking).
	t.multiMu.RLock()
	defer t.multiMu.RUnlock()
	return t.allChildrenNumber(path)
}

func (t *Tree) allChildrenNumber(path string) (int, error) {
	n := t.lookup(path)
	if n == nil {
		return 0, ErrNoNode
	}
	kids := n.childList()
	n.mu.Unlock()
	total := 0
	for _, c := range kids {
		cp := join(path, c)
		total++
		if k, err := t.allChildrenNumber(cp); err == nil {
			total += k
		}
	}
	return total, nil
}

func join(parent, name string) string {
	if parent == RootPath {
		return "/" + name
	}
	return parent + "/" + name
}

// Ephemerals returns the ephemeral paths of a session, sorted.
func (t *Tree) Ephemerals(session int64) []string {
	t.auxMu.Lock()
	defer t.auxMu.Unlock()
	out := make([]string, 0, len(t.ephemerals[session]))
	for p := range t.ephemerals[session] {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// EphemeralSessions returns every session that owns ephemerals with its
// paths (for getEphemerals with a prefix and the dump command).
func (t *Tree) EphemeralSessions() map[int64][]string {
	t.auxMu.Lock()
	ids := make([]int64, 0, len(t.ephemerals))
	for id := range t.ephemerals {
		ids = append(ids, id)
	}
	t.auxMu.Unlock()
	out := make(map[int64][]string, len(ids))
	for _, id := range ids {
		if ps := t.Ephemerals(id); len(ps) > 0 {
			out[id] = ps
		}
	}
	return out
}

// EphemeralCount is the number of ephemeral nodes.
func (t *Tree) EphemeralCount() int {
	t.auxMu.Lock()
	defer t.auxMu.Unlock()
	n := 0
	for _, ps := range t.ephemerals {
		n += len(ps)
	}
	return n
}

// ReapCandidate is a container or TTL node the reaper may delete.
type ReapCandidate struct {
	Path string
	Kind Kind
	Info Info
}

// SpecialNodes returns the container and TTL nodes with their metadata.
func (t *Tree) SpecialNodes() []ReapCandidate {
	t.auxMu.Lock()
	paths := make([]string, 0, len(t.special))
	for p := range t.special {
		paths = append(paths, p)
	}
	t.auxMu.Unlock()
	sort.Strings(paths)
	out := make([]ReapCandidate, 0, len(paths))
	for _, p := range paths {
		if info, ok := t.Info(p); ok {
			out = append(out, ReapCandidate{Path: p, Kind: KindOf(info.Stat.EphemeralOwner), Info: info})
		}
	}
	return out
}

// Walk calls fn for every node in depth-first order, parents before
// children, children sorted. fn gets copies; it must not call Apply.
func (t *Tree) Walk(fn func(path string, data []byte, acl []wire.ACL, stat wire.StatPersisted) error) error {
	var walk func(path string) error
	walk = func(path string) error {
		n := t.lookup(path)
		if n == nil {
			return nil
		}
		data, acl, stat, kids := n.data, n.acl.get(), n.stat, n.childList()
		n.mu.Unlock()
		if err := fn(path, data, acl, stat); err != nil {
			return err
		}
		for _, c := range kids {
			if err := walk(join(path, c)); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(RootPath)
}

// SetWatches replaces the watch manager. Only for a tree nobody else uses
// yet (one just loaded from a snapshot).
func (t *Tree) SetWatches(w *watch.Manager) { t.watches = w }
