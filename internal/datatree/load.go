package datatree

import (
	"fmt"

	"github.com/zkd/zkd/internal/wire"
)

// Loader rebuilds a tree from a snapshot: nodes arrive parents first (the
// snapshot's pre-order walk). It bypasses Apply and fires no watches, so it
// must only be used on a tree nobody else can see yet.
type Loader struct {
	t *Tree
	// chain is the path from the root to the node added last. In pre-order
	// a node's parent is on it, so the parent is found by popping rather
	// than by hashing the parent's path into the map: loading a million
	// nodes spends most of its time in map lookups otherwise.
	chain []loaded
	// acls maps the snapshot's ACL lists (one slice per ACL id, shared by
	// its nodes) to the tree's shared lists, by identity: no key to build
	// per node.
	acls map[*wire.ACL]*aclList
}

type loaded struct {
	path string
	n    *node
}

// NewLoader returns a loader filling t, which should be fresh from New:
// the special nodes it already holds are replaced by the snapshot's.
func NewLoader(t *Tree) *Loader { return &Loader{t: t} }

// Reserve tells the loader to expect about n nodes (a hint: more or fewer
// is fine). It saves the map growth of a large load.
func (l *Loader) Reserve(n int) {
	if n > 0 {
		l.t.nodes.reserve(n)
	}
}

// Add inserts one node. The root may be given as "" (ZooKeeper's
// snapshots name it so) or "/". A node whose parent is missing is an
// error: the snapshot is not in pre-order or is corrupt; so is a node
// given twice, except the ones New created (/, /zookeeper, ...), whose
// content the snapshot's copy replaces. After an error the tree is only
// fit to be thrown away.
func (l *Loader) Add(path string, data []byte, acl []wire.ACL, stat wire.StatPersisted) error {
	t := l.t
	if path == "" {
		path = RootPath
	}
	if standard[path] {
		old := t.nodes.get(path)
		if old != nil {
			// Keep its children set, take the snapshot's content.
			t.dataSize.Add(int64(len(data) - len(old.data)))
			old.data, old.acl, old.stat = data, l.acl(acl), stat
			l.push(path, old)
			return nil
		}
	}
	parentPath, name := ParentAndName(path)
	parent := l.parent(parentPath)
	if parent == nil {
		return fmt.Errorf("datatree: load %q: parent %q not loaded before it", path, parentPath)
	}
	n := &node{data: data, acl: l.acl(acl), stat: stat}
	if !t.nodes.putNew(path, n) {
		return fmt.Errorf("datatree: load %q: node appears twice", path)
	}
	if parent.children == nil {
		parent.children = map[string]struct{}{}
	}
	parent.children[name] = struct{}{}
	t.dataSize.Add(int64(len(path) + len(data)))
	switch KindOf(stat.EphemeralOwner) {
	case Ephemeral:
		set := t.ephemerals[stat.EphemeralOwner]
		if set == nil {
			set = map[string]struct{}{}
			t.ephemerals[stat.EphemeralOwner] = set
		}
		set[path] = struct{}{}
	case Container, TTL:
		t.special[path] = struct{}{}
	}
	l.push(path, n)
	return nil
}

// standard lists the nodes New creates.
var standard = map[string]bool{RootPath: true, ZooKeeperPath: true, QuotaPath: true, ConfigPath: true}

// parent finds the node at path: on the chain of the last node's
// ancestors when the input is in pre-order, in the map otherwise.
func (l *Loader) parent(path string) *node {
	for i := len(l.chain) - 1; i >= 0; i-- {
		if l.chain[i].path == path {
			l.chain = l.chain[:i+1]
			return l.chain[i].n
		}
	}
	l.chain = l.chain[:0]
	n := l.t.nodes.get(path)
	if n != nil {
		l.chain = append(l.chain, loaded{path, n})
	}
	return n
}

// push records n as the node added last; the chain then ends at it.
func (l *Loader) push(path string, n *node) {
	if k := len(l.chain); k > 0 && !isChildOf(path, l.chain[k-1].path) {
		l.chain = l.chain[:0]
	}
	l.chain = append(l.chain, loaded{path, n})
}

// isChildOf reports whether path's parent is parent.
func isChildOf(path, parent string) bool {
	pp, _ := ParentAndName(path)
	return pp == parent
}

// Finish ends a load: it rebuilds the quota set and recounts every quota's
// stats node from the loaded nodes, as ZooKeeper does at the end of
// DataTree.deserialize (setupQuota). Call it once every node is added.
func (l *Loader) Finish() { l.t.SetupQuota() }

// DropEphemeralsExcept deletes the ephemerals of every session not in live
// (ZooKeeperServer.loadData: owners that did not survive the restart).
// It returns the paths removed.
func (t *Tree) DropEphemeralsExcept(live map[int64]bool, zxid int64) []string {
	var dropped []string
	for owner, paths := range t.EphemeralSessions() {
		if live[owner] {
			continue
		}
		for _, p := range paths {
			if t.delete(p, zxid) == wire.OK {
				dropped = append(dropped, p)
			}
		}
	}
	return dropped
}

// acl returns the shared list for a snapshot's ACL slice.
func (l *Loader) acl(acl []wire.ACL) *aclList {
	if len(acl) == 0 {
		return l.t.acls.share(acl)
	}
	if a, ok := l.acls[&acl[0]]; ok {
		return a
	}
	a := l.t.acls.share(acl)
	if l.acls == nil {
		l.acls = map[*wire.ACL]*aclList{}
	}
	l.acls[&acl[0]] = a
	return a
}
