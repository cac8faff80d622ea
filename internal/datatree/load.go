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
}

// NewLoader returns a loader filling t, which should be fresh from New:
// the special nodes it already holds are replaced by the snapshot's.
func NewLoader(t *Tree) *Loader { return &Loader{t: t} }

// Add inserts one node. The root may be given as "" (ZooKeeper's
// snapshots name it so) or "/". A node whose parent is missing is an
// error: the snapshot is not in pre-order or is corrupt.
func (l *Loader) Add(path string, data []byte, acl []wire.ACL, stat wire.StatPersisted) error {
	t := l.t
	if path == "" {
		path = RootPath
	}
	if old := t.nodes.get(path); old != nil {
		// Replacing a node New created (/, /zookeeper, ...): keep its
		// children set, take the snapshot's content.
		t.dataSize.Add(int64(len(data) - len(old.data)))
		old.data, old.acl, old.stat = data, acl, stat
		return nil
	}
	parentPath, name := ParentAndName(path)
	parent := t.nodes.get(parentPath)
	if parent == nil {
		return fmt.Errorf("datatree: load %q: parent %q not loaded before it", path, parentPath)
	}
	if parent.children == nil {
		parent.children = map[string]struct{}{}
	}
	parent.children[name] = struct{}{}
	t.nodes.put(path, &node{data: data, acl: acl, stat: stat})
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
	return nil
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
