package datatree

import (
	"github.com/zkd/zkd/internal/wire"
)

// Result is the outcome of applying one transaction: what the client that
// issued it is told.
type Result struct {
	Type  wire.OpCode
	Err   wire.Code
	Path  string    // created path (create*)
	Stat  wire.Stat // stat after create2/setData/setACL
	Multi []Result  // per sub-op results of a multi
}

// Apply applies a committed transaction. It must be called by one goroutine
// at a time, in zxid order. It is deterministic: the same tree and txn give
// the same tree. A txn that cannot apply (a replayed create of a node that
// exists, say) yields an error Result and changes nothing, as in ZooKeeper's
// DataTree.processTxn.
func (t *Tree) Apply(hdr *wire.TxnHeader, rec wire.Record) Result {
	var r Result
	if hdr.Type == wire.OpMulti {
		t.multiMu.Lock()
		r = t.applyMulti(hdr, rec.(*wire.MultiTxn))
		t.multiMu.Unlock()
	} else {
		r = t.applyOne(hdr, hdr.Type, rec)
	}
	if hdr.Zxid > t.lastZxid.Load() {
		t.lastZxid.Store(hdr.Zxid)
	}
	return r
}

func (t *Tree) applyOne(hdr *wire.TxnHeader, typ wire.OpCode, rec wire.Record) Result {
	r := Result{Type: typ}
	switch x := rec.(type) {
	case *wire.CreateTxn:
		owner := int64(0)
		if x.Ephemeral {
			owner = hdr.ClientID
		}
		r.Path, r.Stat, r.Err = t.create(x.Path, x.Data, x.ACL, owner, x.ParentCVersion, hdr.Zxid, hdr.Time)
		if r.Err == wire.ErrNodeExists && typ == wire.OpCreate {
			t.raiseParentCversion(x.Path, x.ParentCVersion, hdr.Zxid)
		}
	case *wire.CreateContainerTxn:
		r.Path, r.Stat, r.Err = t.create(x.Path, x.Data, x.ACL, ContainerOwner, x.ParentCVersion, hdr.Zxid, hdr.Time)
	case *wire.CreateTTLTxn:
		r.Path, r.Stat, r.Err = t.create(x.Path, x.Data, x.ACL, TTLOwner(x.TTL), x.ParentCVersion, hdr.Zxid, hdr.Time)
	case *wire.DeleteTxn:
		r.Err = t.delete(x.Path, hdr.Zxid)
	case *wire.SetDataTxn:
		r.Stat, r.Err = t.setData(x.Path, x.Data, x.Version, hdr.Zxid, hdr.Time)
	case *wire.SetACLTxn:
		r.Stat, r.Err = t.setACL(x.Path, x.ACL, x.Version)
	case *wire.ErrorTxn:
		r.Err = x.Err
	case *wire.CheckVersionTxn:
		// Changes nothing; validated when prepared.
	case *wire.CreateSessionTxn:
		// Sessions live in the session tracker, not the tree.
	case *wire.CloseSessionTxn:
		t.killSession(hdr.ClientID, hdr.Zxid)
	case nil:
		if typ == wire.OpCloseSession {
			t.killSession(hdr.ClientID, hdr.Zxid)
		}
	default:
		r.Err = wire.ErrMarshallingError
	}
	return r
}

func (t *Tree) applyMulti(hdr *wire.TxnHeader, m *wire.MultiTxn) Result {
	r := Result{Type: wire.OpMulti}
	subs := make([]wire.Record, len(m.Txns))
	failed := false
	for i, st := range m.Txns {
		rec, err := wire.DecodeTxn(st.Type, st.Data, 0)
		if err != nil {
			rec = &wire.ErrorTxn{Err: wire.ErrMarshallingError}
		}
		subs[i] = rec
		if _, isErr := rec.(*wire.ErrorTxn); isErr {
			failed = true
		}
	}
	// A multi with an error sub-txn applies nothing: ops before the failure
	// report OK, after it RuntimeInconsistency (DataTree.processTxn).
	postFailed := false
	for i, st := range m.Txns {
		typ, rec := st.Type, subs[i]
		if e, isErr := rec.(*wire.ErrorTxn); isErr {
			postFailed = true
			typ = wire.OpError
			rec = e
		} else if failed {
			code := wire.OK
			if postFailed {
				code = wire.ErrRuntimeInconsistency
			}
			typ, rec = wire.OpError, &wire.ErrorTxn{Err: code}
		}
		sub := t.applyOne(hdr, typ, rec)
		if sub.Err != wire.OK && r.Err == wire.OK {
			r.Err = sub.Err
		}
		r.Multi = append(r.Multi, sub)
	}
	return r
}

func (t *Tree) create(path string, data []byte, acl []wire.ACL, owner int64, parentCVersion int32, zxid, now int64) (string, wire.Stat, wire.Code) {
	parentPath, name := ParentAndName(path)
	parent := t.nodes.get(parentPath)
	if parent == nil {
		return "", wire.Stat{}, wire.ErrNoNode
	}
	parent.mu.Lock()
	defer parent.mu.Unlock()
	if parent.deleted {
		return "", wire.Stat{}, wire.ErrNoNode
	}
	if _, exists := parent.children[name]; exists {
		return "", wire.Stat{}, wire.ErrNodeExists
	}
	if parentCVersion == -1 {
		parentCVersion = parent.stat.Cversion + 1
	}
	// Replaying a fuzzy snapshot's log can meet a create whose effect on the
	// parent is already there; only move cversion/pzxid forward.
	if parentCVersion > parent.stat.Cversion {
		parent.stat.Cversion = parentCVersion
		parent.stat.Pzxid = zxid
	}
	n := &node{
		data: data,
		acl:  t.acls.share(acl),
		stat: wire.StatPersisted{Czxid: zxid, Mzxid: zxid, Pzxid: zxid, Ctime: now, Mtime: now, EphemeralOwner: owner},
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if parent.children == nil {
		parent.children = map[string]struct{}{}
	}
	parent.children[name] = struct{}{}
	t.nodes.put(path, n)
	t.dataSize.Add(int64(len(path) + len(data)))
	switch KindOf(owner) {
	case Ephemeral:
		t.auxMu.Lock()
		set := t.ephemerals[owner]
		if set == nil {
			set = map[string]struct{}{}
			t.ephemerals[owner] = set
		}
		set[path] = struct{}{}
		t.auxMu.Unlock()
	case Container, TTL:
		t.auxMu.Lock()
		t.special[path] = struct{}{}
		t.auxMu.Unlock()
	}
	// Before the triggers, as in ZooKeeper: whoever is told of the node
	// sees the quota stats that count it.
	t.quotaCreated(parentPath, name, path, len(data), parent, n)
	// Triggered under both locks: a reader of either node sees the change
	// only after the notifications are queued.
	t.watches.Trigger(path, wire.EventNodeCreated, zxid)
	t.watches.Trigger(parentPath, wire.EventNodeChildrenChanged, zxid)
	return path, n.clientStat(), wire.OK
}

func (t *Tree) delete(path string, zxid int64) wire.Code {
	parentPath, name := ParentAndName(path)
	parent := t.nodes.get(parentPath)
	n := t.nodes.get(path)
	if parent == nil {
		return wire.ErrNoNode
	}
	if n == nil {
		// Replaying a log over a fuzzy snapshot can meet a delete (or a
		// closeSession's ephemeral) whose node the snapshot already lacks
		// while its parent was written before the delete: the parent's
		// pzxid still moves up to the txn's, as ZooKeeper's
		// DataTree.deleteNode does (ZOOKEEPER-3125), so a recovered tree
		// equals the one that was served.
		parent.mu.Lock()
		if !parent.deleted && zxid > parent.stat.Pzxid {
			parent.stat.Pzxid = zxid
		}
		parent.mu.Unlock()
		return wire.ErrNoNode
	}
	parent.mu.Lock()
	defer parent.mu.Unlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.deleted || parent.deleted {
		return wire.ErrNoNode
	}
	n.deleted = true
	delete(parent.children, name)
	if zxid > parent.stat.Pzxid {
		parent.stat.Pzxid = zxid
	}
	t.dataSize.Add(-int64(len(path) + len(n.data)))
	switch KindOf(n.stat.EphemeralOwner) {
	case Ephemeral:
		t.auxMu.Lock()
		if set := t.ephemerals[n.stat.EphemeralOwner]; set != nil {
			delete(set, path)
			if len(set) == 0 {
				delete(t.ephemerals, n.stat.EphemeralOwner)
			}
		}
		t.auxMu.Unlock()
	case Container, TTL:
		t.auxMu.Lock()
		delete(t.special, path)
		t.auxMu.Unlock()
	}
	t.quotaDeleted(parentPath, name, path, len(n.data), parent, n)
	t.watches.Trigger(path, wire.EventNodeDeleted, zxid)
	t.watches.Trigger(parentPath, wire.EventNodeChildrenChanged, zxid)
	// Leave the map only after the triggers: a reader that finds no entry
	// does not wait on n.mu, so it must not see the node gone before the
	// NodeDeleted notifications are queued (until then it finds the node,
	// waits on its lock and sees deleted).
	t.nodes.del(path)
	return wire.OK
}

func (t *Tree) setData(path string, data []byte, version int32, zxid, now int64) (wire.Stat, wire.Code) {
	n := t.nodes.get(path)
	if n == nil {
		return wire.Stat{}, wire.ErrNoNode
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.deleted {
		return wire.Stat{}, wire.ErrNoNode
	}
	t.dataSize.Add(int64(len(data) - len(n.data)))
	bytesDiff := int64(len(data) - len(n.data))
	n.data = data
	n.stat.Version = version
	n.stat.Mzxid = zxid
	n.stat.Mtime = now
	t.bumpQuota(path, bytesDiff, 0, n)
	t.watches.Trigger(path, wire.EventNodeDataChanged, zxid)
	return n.clientStat(), wire.OK
}

func (t *Tree) setACL(path string, acl []wire.ACL, version int32) (wire.Stat, wire.Code) {
	n := t.nodes.get(path)
	if n == nil {
		return wire.Stat{}, wire.ErrNoNode
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.deleted {
		return wire.Stat{}, wire.ErrNoNode
	}
	n.acl = t.acls.share(acl)
	n.stat.Aversion = version
	return n.clientStat(), wire.OK
}

// killSession deletes a closed session's ephemerals.
func (t *Tree) killSession(session, zxid int64) {
	for _, p := range t.Ephemerals(session) {
		t.delete(p, zxid)
	}
}

// Replay applies a txn read back from the log during recovery. It is Apply:
// the replay adjustments ZooKeeper makes live in applyOne too, as in
// DataTree.processTxn, so they also cover creates inside a multi.
func (t *Tree) Replay(hdr *wire.TxnHeader, rec wire.Record) Result { return t.Apply(hdr, rec) }

// raiseParentCversion is the NodeExists adjustment of a type-1 create:
// replaying a fuzzy snapshot's log can meet a create whose node the
// snapshot already holds; its parent's cversion and pzxid still move up to
// what the txn says (DataTree.setCversionPzxid).
func (t *Tree) raiseParentCversion(path string, parentCVersion int32, zxid int64) {
	parentPath, _ := ParentAndName(path)
	parent := t.nodes.get(parentPath)
	if parent == nil {
		return
	}
	parent.mu.Lock()
	defer parent.mu.Unlock()
	if parentCVersion == -1 {
		parentCVersion = parent.stat.Cversion + 1
	}
	if parentCVersion > parent.stat.Cversion {
		parent.stat.Cversion = parentCVersion
		parent.stat.Pzxid = zxid
	}
}
