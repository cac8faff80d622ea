package server

import (
	"fmt"
	"strings"
	"time"

	"github.com/zkd/zkd/internal/auth"
	"github.com/zkd/zkd/internal/datatree"
	"github.com/zkd/zkd/internal/session"
	"github.com/zkd/zkd/internal/wire"
)

func passwordOf(id wire.SessionID) [16]byte { return session.Password(id) }

// view is prepare's picture of the tree: the applied tree, overlaid with
// outstanding changes, overlaid with this request's own changes (local),
// which are published only if the whole request succeeds, so a failed
// multi rolls back as in PrepRequestProcessor.rollbackPendingChanges.
type view struct {
	p     *pipeline
	zxid  int64
	local map[string]change
	order []string
}

func (p *pipeline) newView(zxid int64) *view {
	return &view{p: p, zxid: zxid, local: map[string]change{}}
}

func (v *view) get(path string) *datatree.Info {
	if path == "" {
		path = datatree.RootPath // Java stores the root under "" too
	}
	if c, ok := v.local[path]; ok {
		return c.info
	}
	v.p.outMu.Lock()
	c, ok := v.p.outstanding[path]
	v.p.outMu.Unlock()
	if ok {
		return c.info
	}
	info, exists := v.p.s.tree.Info(path)
	if !exists {
		return nil
	}
	return &info
}

func (v *view) set(path string, info *datatree.Info) {
	if _, seen := v.local[path]; !seen {
		v.order = append(v.order, path)
	}
	v.local[path] = change{zxid: v.zxid, info: info}
}

// removeChild records the delete of path: gone, and its parent has one
// child less and a new pzxid.
func (v *view) removeChild(path string) {
	parentPath, _ := datatree.ParentAndName(path)
	if parent := v.get(parentPath); parent != nil {
		dup := *parent
		dup.NumChildren--
		dup.Stat.Pzxid = v.zxid
		v.set(parentPath, &dup)
	}
	v.set(path, nil)
}

func (v *view) rollback() {
	v.local = map[string]change{}
	v.order = nil
}

func (v *view) publish() {
	if len(v.order) == 0 {
		return
	}
	v.p.outMu.Lock()
	for _, path := range v.order {
		v.p.outstanding[path] = v.local[path]
		v.p.outOrder = append(v.p.outOrder, pendingChange{zxid: v.zxid, path: path})
	}
	v.p.outMu.Unlock()
}

// prepare turns a request into a transaction with the next zxid
// (PrepRequestProcessor). A request that fails validation still becomes a
// txn, an error txn, and consumes its zxid, as in ZooKeeper.
func (p *pipeline) prepare(r *request) {
	p.zxid++
	cxid := r.xid
	if r.internal {
		cxid = 0
	}
	r.hdr = wire.TxnHeader{ClientID: int64(r.session), Cxid: cxid, Zxid: p.zxid, Time: time.Now().UnixMilli(), Type: r.op}
	v := p.newView(p.zxid)

	switch r.op {
	case wire.OpCreateSession:
		r.txn = r.rec
		return
	case wire.OpCloseSession:
		r.txn = p.prepareClose(v, r)
		v.publish()
		return
	}
	if !r.internal {
		if sess, ok := p.s.sessions.Get(r.session); !ok || sess.Closing {
			r.hdr.Type = wire.OpError
			r.txn = &wire.ErrorTxn{Err: wire.ErrSessionExpired}
			return
		}
		// On a leader, a session belongs to the member its client is
		// connected to; a request through any other member is stale
		// (the client moved on): SessionMoved (checkSession's owner test).
		if l, ok := p.replicator().(*leader); ok && !l.ownsSession(r.session, r.via) {
			r.hdr.Type = wire.OpError
			r.txn = &wire.ErrorTxn{Err: wire.ErrSessionMoved}
			return
		}
	}
	if r.decodeErr != wire.OK {
		r.hdr.Type = wire.OpError
		r.txn = &wire.ErrorTxn{Err: r.decodeErr}
		return
	}
	if r.op == wire.OpMulti {
		r.txn = p.prepareMulti(v, r)
		v.publish()
		return
	}
	txn, code := p.prepareOp(v, r, r.op, r.rec)
	if code != wire.OK {
		r.hdr.Type = wire.OpError
		r.txn = &wire.ErrorTxn{Err: code}
		return
	}
	r.txn = txn
	v.publish()
}

func (p *pipeline) prepareClose(v *view, r *request) wire.Record {
	p.s.sessions.SetClosing(r.session)
	owner := int64(r.session)
	set := map[string]bool{}
	for _, path := range p.s.tree.Ephemerals(owner) {
		set[path] = true
	}
	// In-flight creates and deletes change the list (PrepRequestProcessor
	// closeSession case).
	p.outMu.Lock()
	for path, c := range p.outstanding {
		if c.info == nil {
			delete(set, path)
		} else if c.info.Stat.EphemeralOwner == owner {
			set[path] = true
		}
	}
	p.outMu.Unlock()
	paths := make([]string, 0, len(set))
	for path := range set {
		paths = append(paths, path)
	}
	for _, path := range paths {
		v.removeChild(path)
	}
	return &wire.CloseSessionTxn{Paths2Delete: paths}
}

func (p *pipeline) prepareMulti(v *view, r *request) wire.Record {
	m := r.rec.(*wire.MultiRequest)
	txns := make([]wire.Txn, 0, len(m.Ops))
	failed := false
	for _, op := range m.Ops {
		var typ wire.OpCode
		var rec wire.Record
		if failed {
			typ, rec = wire.OpError, &wire.ErrorTxn{Err: wire.ErrRuntimeInconsistency}
		} else {
			txn, code := p.prepareOp(v, r, op.Type, op.Req)
			if code != wire.OK {
				failed = true
				typ, rec = wire.OpError, &wire.ErrorTxn{Err: code}
				v.rollback()
			} else {
				typ, rec = op.Type, txn
			}
		}
		txns = append(txns, wire.Txn{Type: typ, Data: wire.Marshal(rec)})
	}
	return &wire.MultiTxn{Txns: txns}
}

// prepareOp validates one create/delete/setData/setACL/check and returns
// its txn, recording its effect in v. Error precedence follows
// PrepRequestProcessor (wire.md §12).
func (p *pipeline) prepareOp(v *view, r *request, op wire.OpCode, rec wire.Record) (wire.Record, wire.Code) {
	switch q := rec.(type) {
	case *wire.CreateRequest:
		if op != wire.OpCreate && op != wire.OpCreate2 && op != wire.OpCreateContainer {
			return nil, wire.ErrBadArguments
		}
		return p.prepareCreate(v, r, op, q.Path, q.Data, q.ACL, q.Flags, -1)
	case *wire.CreateTTLRequest:
		return p.prepareCreate(v, r, op, q.Path, q.Data, q.ACL, q.Flags, q.TTL)
	case *wire.DeleteRequest:
		switch {
		case op == wire.OpDelete:
			return p.prepareDelete(v, r, q.Path, q.Version)
		case op == wire.OpDeleteContainer && r.internal:
			return p.prepareDeleteContainer(v, q.Path)
		}
		return nil, wire.ErrBadArguments
	case *wire.SetDataRequest:
		return p.prepareSetData(v, r, q)
	case *wire.SetACLRequest:
		return p.prepareSetACL(v, r, q)
	case *wire.ReconfigRequest:
		// A failed reconfig is still a txn (it consumes a zxid), as in
		// ZooKeeper. Standalone servers cannot be reconfigured.
		if !p.s.cfg.ReconfigEnabled {
			return nil, wire.ErrReconfigDisabled
		}
		return nil, wire.ErrUnimplemented
	case *wire.CheckVersionRequest:
		if datatree.ValidatePath(q.Path) != nil {
			return nil, wire.ErrBadArguments
		}
		n := v.get(q.Path)
		if n == nil {
			return nil, wire.ErrNoNode
		}
		if code := p.checkACL(r, n.ACL, wire.PermRead); code != wire.OK {
			return nil, code
		}
		if q.Version != -1 && q.Version != n.Stat.Version {
			return nil, wire.ErrBadVersion
		}
		return &wire.CheckVersionTxn{Path: q.Path, Version: n.Stat.Version + 1}, wire.OK
	}
	// A read op inside a write multi, or an unknown record.
	return nil, wire.ErrBadArguments
}

func (p *pipeline) checkACL(r *request, acl []wire.ACL, perm int32) wire.Code {
	if r.internal {
		return wire.OK
	}
	if err := auth.Check(acl, perm, r.ids, p.s.cfg.SkipACL); err != nil {
		return wire.ErrNoAuth
	}
	return wire.OK
}

func isSpecialPath(path string) bool {
	switch path {
	case datatree.RootPath, datatree.ZooKeeperPath, datatree.QuotaPath, datatree.ConfigPath:
		return true
	}
	return false
}

func (p *pipeline) prepareCreate(v *view, r *request, op wire.OpCode, path string, data []byte, acl []wire.ACL, flags int32, ttl int64) (wire.Record, wire.Code) {
	if flags < wire.FlagPersistent || flags > wire.FlagPersistentSequentialWithTTL {
		return nil, wire.ErrBadArguments
	}
	isTTL := flags == wire.FlagPersistentWithTTL || flags == wire.FlagPersistentSequentialWithTTL
	isSeq := flags == wire.FlagPersistentSequential || flags == wire.FlagEphemeralSequential || flags == wire.FlagPersistentSequentialWithTTL
	isEph := flags == wire.FlagEphemeral || flags == wire.FlagEphemeralSequential
	// validateCreateRequest: TTL needs extended types; the ttl must suit the mode.
	if isTTL && !p.s.cfg.ExtendedTypesEnabled {
		return nil, wire.ErrUnimplemented
	}
	if isTTL {
		if ttl <= 0 || ttl > datatree.MaxTTL {
			return nil, wire.ErrBadArguments
		}
	} else if ttl >= 0 {
		return nil, wire.ErrBadArguments
	}
	// validatePathForCreate.
	lastSlash := strings.LastIndexByte(path, '/')
	if lastSlash == -1 || strings.IndexByte(path, 0) >= 0 {
		return nil, wire.ErrBadArguments
	}
	fixed, err := auth.ValidateACL(acl, r.ids)
	if err != nil {
		return nil, wire.ErrInvalidACL
	}
	parentPath := path[:lastSlash]
	parent := v.get(parentPath)
	if parent == nil {
		return nil, wire.ErrNoNode
	}
	if code := p.checkACL(r, parent.ACL, wire.PermCreate); code != wire.OK {
		return nil, code
	}
	if isSeq {
		// The suffix is the parent's stored cversion: its count of child
		// creations, not the client-visible cversion (wire.md §9.2).
		path += fmt.Sprintf("%010d", parent.Stat.Cversion)
	}
	if datatree.ValidatePath(path) != nil {
		return nil, wire.ErrBadArguments
	}
	if v.get(path) != nil {
		return nil, wire.ErrNodeExists
	}
	if datatree.KindOf(parent.Stat.EphemeralOwner) == datatree.Ephemeral {
		return nil, wire.ErrNoChildrenForEphemerals
	}
	newCversion := parent.Stat.Cversion + 1
	if code := p.checkQuota(path, int64(len(data)), 1); code != wire.OK {
		return nil, code
	}

	var owner int64
	var txn wire.Record
	switch {
	case op == wire.OpCreateContainer:
		owner = datatree.ContainerOwner
		txn = &wire.CreateContainerTxn{Path: path, Data: data, ACL: fixed, ParentCVersion: newCversion}
	case op == wire.OpCreateTTL:
		owner = datatree.TTLOwner(ttl)
		txn = &wire.CreateTTLTxn{Path: path, Data: data, ACL: fixed, ParentCVersion: newCversion, TTL: ttl}
	default:
		if isEph {
			owner = int64(r.session)
		}
		txn = &wire.CreateTxn{Path: path, Data: data, ACL: fixed, Ephemeral: isEph, ParentCVersion: newCversion}
	}
	dupParent := *parent
	dupParent.NumChildren++
	dupParent.Stat.Cversion = newCversion
	dupParent.Stat.Pzxid = v.zxid
	if parentPath == "" {
		parentPath = datatree.RootPath
	}
	v.set(parentPath, &dupParent)
	v.set(path, &datatree.Info{
		Stat: wire.StatPersisted{Czxid: v.zxid, Mzxid: v.zxid, Pzxid: v.zxid, EphemeralOwner: owner},
		ACL:  fixed, DataLen: len(data),
	})
	return txn, wire.OK
}

func (p *pipeline) prepareDelete(v *view, r *request, path string, version int32) (wire.Record, wire.Code) {
	lastSlash := strings.LastIndexByte(path, '/')
	if lastSlash == -1 || strings.IndexByte(path, 0) >= 0 || isSpecialPath(path) {
		return nil, wire.ErrBadArguments
	}
	parentPath := path[:lastSlash]
	if parentPath == "" {
		parentPath = datatree.RootPath
	}
	parent := v.get(parentPath)
	if parent == nil {
		return nil, wire.ErrNoNode
	}
	if code := p.checkACL(r, parent.ACL, wire.PermDelete); code != wire.OK {
		return nil, code
	}
	n := v.get(path)
	if n == nil {
		return nil, wire.ErrNoNode
	}
	if version != -1 && version != n.Stat.Version {
		return nil, wire.ErrBadVersion
	}
	if n.NumChildren > 0 {
		return nil, wire.ErrNotEmpty
	}
	v.removeChild(path)
	return &wire.DeleteTxn{Path: path}, wire.OK
}

// prepareDeleteContainer re-checks, at prepare time, what the reaper saw:
// the node may have gained a child or been replaced meanwhile
// (PrepRequestProcessor deleteContainer case).
func (p *pipeline) prepareDeleteContainer(v *view, path string) (wire.Record, wire.Code) {
	n := v.get(path)
	if n == nil {
		return nil, wire.ErrNoNode
	}
	if n.NumChildren > 0 {
		return nil, wire.ErrNotEmpty
	}
	if k := datatree.KindOf(n.Stat.EphemeralOwner); k != datatree.Container && k != datatree.TTL {
		return nil, wire.ErrBadVersion
	}
	v.removeChild(path)
	return &wire.DeleteTxn{Path: path}, wire.OK
}

func (p *pipeline) prepareSetData(v *view, r *request, q *wire.SetDataRequest) (wire.Record, wire.Code) {
	if datatree.ValidatePath(q.Path) != nil {
		return nil, wire.ErrBadArguments
	}
	n := v.get(q.Path)
	if n == nil {
		return nil, wire.ErrNoNode
	}
	if code := p.checkACL(r, n.ACL, wire.PermWrite); code != wire.OK {
		return nil, code
	}
	// The current length is prepare's view of the node, outstanding
	// setData included, as ZooKeeper takes it from the ChangeRecord.
	if code := p.checkQuota(q.Path, int64(len(q.Data)-n.DataLen), 0); code != wire.OK {
		return nil, code
	}
	if q.Version != -1 && q.Version != n.Stat.Version {
		return nil, wire.ErrBadVersion
	}
	dup := *n
	dup.Stat.Version++
	dup.Stat.Mzxid = v.zxid
	dup.DataLen = len(q.Data)
	v.set(q.Path, &dup)
	return &wire.SetDataTxn{Path: q.Path, Data: q.Data, Version: dup.Stat.Version}, wire.OK
}

func (p *pipeline) prepareSetACL(v *view, r *request, q *wire.SetACLRequest) (wire.Record, wire.Code) {
	if datatree.ValidatePath(q.Path) != nil {
		return nil, wire.ErrBadArguments
	}
	fixed, err := auth.ValidateACL(q.ACL, r.ids)
	if err != nil {
		return nil, wire.ErrInvalidACL
	}
	n := v.get(q.Path)
	if n == nil {
		return nil, wire.ErrNoNode
	}
	if code := p.checkACL(r, n.ACL, wire.PermAdmin); code != wire.OK {
		return nil, code
	}
	if q.Version != -1 && q.Version != n.Stat.Aversion {
		return nil, wire.ErrBadVersion
	}
	dup := *n
	dup.Stat.Aversion++
	dup.ACL = fixed
	v.set(q.Path, &dup)
	return &wire.SetACLTxn{Path: q.Path, ACL: fixed, Version: dup.Stat.Aversion}, wire.OK
}
