package datatree

// Reset empties the tree back to what New gives: /, /zookeeper,
// /zookeeper/quota and /zookeeper/config with their standard ACLs and
// stats. Ephemeral sessions, the container/TTL set, the quota set and the
// data size are cleared and lastZxid goes back to 0 (the one exception to
// its only-grows rule). The watch manager is kept and no watch fires: the
// caller (a follower about to load the leader's SNAP, quorum.md §5.3)
// deals with its sessions itself.
//
// Reset is a write: call it from the applier, never concurrently with
// Apply or a Loader. Concurrent readers are safe: see ReplaceWith.
func (t *Tree) Reset() {
	// The standard nodes come from New itself, so the two cannot drift
	// apart.
	t.ReplaceWith(New(t.watches))
}

// ReplaceWith makes src's content t's: nodes, ephemeral sessions,
// container/TTL set, quota set, data size and lastZxid (which may go down). src must
// not be used afterwards. t keeps its watch manager and no watch fires.
// It costs a pass over t's old nodes, not a copy of src: an ensemble
// member that rebuilt its tree from disk before an election takes the
// rebuilt tree this way without holding two copies.
//
// ReplaceWith is a write: call it from the applier (or with no applier
// running), never concurrently with Apply or a Loader. Concurrent readers
// are safe: the switch happens with every shard locked (and multiMu held,
// so reads that take it see either the old tree or the new one), and
// every node removed is marked deleted under its own lock first, so a
// reader still holding an old node pointer finds it gone.
func (t *Tree) ReplaceWith(src *Tree) {
	t.multiMu.Lock()
	defer t.multiMu.Unlock()

	// Holding all shard locks, no reader can fetch a node pointer until
	// the new maps are in. Taking node locks while holding shard locks is
	// safe here: only Apply takes a shard lock while holding a node lock
	// (create and delete, under the parent's lock), and Apply does not run
	// concurrently with ReplaceWith; readers release the shard lock before
	// they lock a node. Both trees hash a path into the same shard.
	for i := range t.nodes.shards {
		t.nodes.shards[i].mu.Lock()
	}
	for i := range t.nodes.shards {
		s := &t.nodes.shards[i]
		for _, n := range s.m {
			n.mu.Lock()
			n.deleted = true
			n.mu.Unlock()
		}
		s.m = src.nodes.shards[i].m
		src.nodes.shards[i].m = nil
	}
	t.dataSize.Store(src.dataSize.Load())
	t.lastZxid.Store(src.lastZxid.Load())
	t.auxMu.Lock()
	t.ephemerals, src.ephemerals = src.ephemerals, nil
	t.special, src.special = src.special, nil
	t.auxMu.Unlock()
	t.quotaMu.Lock()
	t.quotas, src.quotas = src.quotas, nil
	t.quotaMu.Unlock()
	for i := range t.nodes.shards {
		t.nodes.shards[i].mu.Unlock()
	}
}
