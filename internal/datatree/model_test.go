package datatree

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

// The dumb twin (STYLE lesson 8): a plain map of nodes with ZooKeeper's
// create/delete/setData/setACL/closeSession/multi rules written as simply
// as they can be, driven by the same random txns as the real tree.

var modelSeed = flag.Int64("datatree.seed", 0, "seed for TestTreeMatchesTheMapModel (0: time-based)")

type mKind int

const (
	mPersistent mKind = iota
	mEphemeral
	mContainer
	mTTL
)

type mNode struct {
	data     []byte
	acl      []wire.ACL
	stat     wire.StatPersisted
	kind     mKind
	children map[string]bool
}

type model struct {
	nodes map[string]*mNode
}

func newModel() *model {
	m := &model{nodes: map[string]*mNode{}}
	m.nodes["/"] = &mNode{acl: wire.OpenACLUnsafe, children: map[string]bool{"zookeeper": true}}
	m.nodes["/zookeeper"] = &mNode{acl: wire.OpenACLUnsafe, children: map[string]bool{"quota": true, "config": true}}
	m.nodes["/zookeeper/quota"] = &mNode{acl: wire.OpenACLUnsafe, children: map[string]bool{}}
	m.nodes["/zookeeper/config"] = &mNode{acl: wire.ReadACLUnsafe, stat: wire.StatPersisted{Aversion: -1}, children: map[string]bool{}}
	return m
}

func (m *model) clone() *model {
	c := &model{nodes: map[string]*mNode{}}
	for p, n := range m.nodes {
		cp := *n
		cp.children = map[string]bool{}
		for k := range n.children {
			cp.children[k] = true
		}
		c.nodes[p] = &cp
	}
	return c
}

func modelParent(path string) (string, string) {
	i := strings.LastIndex(path, "/")
	if i == 0 {
		return "/", path[1:]
	}
	return path[:i], path[i+1:]
}

func (n *mNode) client() wire.Stat {
	owner := int64(0)
	if n.kind == mEphemeral {
		owner = n.stat.EphemeralOwner
	}
	return wire.Stat{
		Czxid: n.stat.Czxid, Mzxid: n.stat.Mzxid, Ctime: n.stat.Ctime, Mtime: n.stat.Mtime,
		Version: n.stat.Version, Aversion: n.stat.Aversion, EphemeralOwner: owner,
		DataLength: int32(len(n.data)), NumChildren: int32(len(n.children)),
		Cversion: 2*n.stat.Cversion - int32(len(n.children)),
		Pzxid:    n.stat.Pzxid,
	}
}

func (m *model) create(hdr *wire.TxnHeader, path string, data []byte, acl []wire.ACL, pcv int32, kind mKind, owner int64, raise bool) (string, wire.Stat, wire.Code) {
	pp, name := modelParent(path)
	parent := m.nodes[pp]
	if parent == nil {
		return "", wire.Stat{}, wire.ErrNoNode
	}
	if pcv == -1 {
		pcv = parent.stat.Cversion + 1
	}
	if m.nodes[path] != nil {
		// A type-1 create that finds its node still raises the parent
		// (DataTree.processTxn's replay adjustment).
		if raise && pcv > parent.stat.Cversion {
			parent.stat.Cversion = pcv
			parent.stat.Pzxid = hdr.Zxid
		}
		return "", wire.Stat{}, wire.ErrNodeExists
	}
	if pcv > parent.stat.Cversion {
		parent.stat.Cversion = pcv
		parent.stat.Pzxid = hdr.Zxid
	}
	n := &mNode{data: data, acl: acl, kind: kind, children: map[string]bool{}, stat: wire.StatPersisted{
		Czxid: hdr.Zxid, Mzxid: hdr.Zxid, Pzxid: hdr.Zxid, Ctime: hdr.Time, Mtime: hdr.Time, EphemeralOwner: owner,
	}}
	m.nodes[path] = n
	parent.children[name] = true
	return path, n.client(), wire.OK
}

func (m *model) delete(path string, zxid int64) wire.Code {
	pp, name := modelParent(path)
	if m.nodes[pp] == nil {
		return wire.ErrNoNode
	}
	if m.nodes[path] == nil {
		// ZooKeeper's deleteNode: the parent's pzxid still moves up.
		if p := m.nodes[pp]; zxid > p.stat.Pzxid {
			p.stat.Pzxid = zxid
		}
		return wire.ErrNoNode
	}
	delete(m.nodes, path)
	parent := m.nodes[pp]
	delete(parent.children, name)
	if zxid > parent.stat.Pzxid {
		parent.stat.Pzxid = zxid
	}
	return wire.OK
}

func (m *model) applyOne(hdr *wire.TxnHeader, typ wire.OpCode, rec wire.Record) Result {
	r := Result{Type: typ}
	switch x := rec.(type) {
	case *wire.CreateTxn:
		kind, owner := mPersistent, int64(0)
		if x.Ephemeral {
			kind, owner = mEphemeral, hdr.ClientID
		}
		r.Path, r.Stat, r.Err = m.create(hdr, x.Path, x.Data, x.ACL, x.ParentCVersion, kind, owner, typ == wire.OpCreate)
	case *wire.CreateContainerTxn:
		r.Path, r.Stat, r.Err = m.create(hdr, x.Path, x.Data, x.ACL, x.ParentCVersion, mContainer, asInt64(0x8000000000000000), false)
	case *wire.CreateTTLTxn:
		r.Path, r.Stat, r.Err = m.create(hdr, x.Path, x.Data, x.ACL, x.ParentCVersion, mTTL, asInt64(0xff00000000000000)|x.TTL, false)
	case *wire.DeleteTxn:
		r.Err = m.delete(x.Path, hdr.Zxid)
	case *wire.SetDataTxn:
		n := m.nodes[x.Path]
		if n == nil {
			r.Err = wire.ErrNoNode
			break
		}
		n.data, n.stat.Version, n.stat.Mzxid, n.stat.Mtime = x.Data, x.Version, hdr.Zxid, hdr.Time
		r.Stat = n.client()
	case *wire.SetACLTxn:
		n := m.nodes[x.Path]
		if n == nil {
			r.Err = wire.ErrNoNode
			break
		}
		n.acl, n.stat.Aversion = x.ACL, x.Version
		r.Stat = n.client()
	case *wire.ErrorTxn:
		r.Err = x.Err
	case *wire.CloseSessionTxn, nil:
		var mine []string
		for p, n := range m.nodes {
			if n.kind == mEphemeral && n.stat.EphemeralOwner == hdr.ClientID {
				mine = append(mine, p)
			}
		}
		for _, p := range mine {
			m.delete(p, hdr.Zxid)
		}
	}
	return r
}

// applyMulti follows storage.md §3.7: with an error sub-txn nothing
// applies and the results read OK.., the code, RuntimeInconsistency...
func (m *model) applyMulti(hdr *wire.TxnHeader, subs []wire.SubTxn) Result {
	r := Result{Type: wire.OpMulti}
	failed := false
	for _, s := range subs {
		if s.Type == wire.OpError {
			failed = true
		}
	}
	seenError := false
	for _, s := range subs {
		var sr Result
		switch {
		case s.Type == wire.OpError:
			seenError = true
			sr = Result{Type: wire.OpError, Err: s.Rec.(*wire.ErrorTxn).Err}
		case failed && seenError:
			sr = Result{Type: wire.OpError, Err: wire.ErrRuntimeInconsistency}
		case failed:
			sr = Result{Type: wire.OpError, Err: wire.OK}
		default:
			sr = m.applyOne(hdr, s.Type, s.Rec)
		}
		if r.Err == wire.OK {
			r.Err = sr.Err
		}
		r.Multi = append(r.Multi, sr)
	}
	return r
}

// modelTxn is one generated txn, kept typed so the model need not decode.
type modelTxn struct {
	hdr  *wire.TxnHeader
	rec  wire.Record
	subs []wire.SubTxn // for a multi
}

func (x modelTxn) String() string {
	if x.subs == nil {
		return fmt.Sprintf("zxid=%d session=%d %v %+v", x.hdr.Zxid, x.hdr.ClientID, x.hdr.Type, x.rec)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "zxid=%d session=%d multi[", x.hdr.Zxid, x.hdr.ClientID)
	for _, s := range x.subs {
		fmt.Fprintf(&b, " %v %+v;", s.Type, s.Rec)
	}
	b.WriteString(" ]")
	return b.String()
}

type txnGen struct {
	r *rand.Rand
}

var modelACLs = [][]wire.ACL{wire.OpenACLUnsafe, wire.ReadACLUnsafe, digestACL}

// path picks from a small namespace so creates collide and subtrees form.
// Depth-3 paths are the only ephemerals, so an ephemeral never gets a
// child (prepare refuses that with NoChildrenForEphemerals).
func (g *txnGen) path() string {
	depth := 1 + g.r.Intn(3)
	var b strings.Builder
	for i := 0; i < depth; i++ {
		b.WriteByte('/')
		b.WriteByte("abc"[g.r.Intn(3)])
	}
	if g.r.Intn(20) == 0 {
		return "/zookeeper/q"
	}
	return b.String()
}

func (g *txnGen) data() []byte {
	if g.r.Intn(8) == 0 {
		return nil
	}
	b := make([]byte, g.r.Intn(9))
	g.r.Read(b)
	return b
}

func (g *txnGen) existing(m *model, userOnly bool) string {
	var ps []string
	for p := range m.nodes {
		if userOnly && (p == "/" || p == "/zookeeper" || p == "/zookeeper/quota" || p == "/zookeeper/config") {
			continue
		}
		ps = append(ps, p)
	}
	if len(ps) == 0 || g.r.Intn(10) == 0 {
		return g.path()
	}
	sort.Strings(ps)
	return ps[g.r.Intn(len(ps))]
}

// op makes one sub-txn valid for a multi (or a lone txn) against m.
func (g *txnGen) op(m *model) wire.SubTxn {
	switch k := g.r.Intn(100); {
	case k < 40:
		p := g.path()
		pcv := int32(1 + g.r.Intn(3))
		if parent := m.nodes[func() string { pp, _ := modelParent(p); return pp }()]; parent != nil {
			switch c := g.r.Intn(10); {
			case c < 7:
				pcv = parent.stat.Cversion + 1
			case c < 8:
				pcv = -1
			default:
				pcv = parent.stat.Cversion - int32(g.r.Intn(2)) // stale: replay of a fuzzy snapshot
			}
		}
		acl := modelACLs[g.r.Intn(len(modelACLs))]
		switch c := g.r.Intn(10); {
		case c < 2:
			return wire.SubTxn{Type: wire.OpCreateContainer, Rec: &wire.CreateContainerTxn{Path: p, Data: g.data(), ACL: acl, ParentCVersion: pcv}}
		case c < 4:
			return wire.SubTxn{Type: wire.OpCreateTTL, Rec: &wire.CreateTTLTxn{Path: p, Data: g.data(), ACL: acl, ParentCVersion: pcv, TTL: 1 + g.r.Int63n(MaxTTL)}}
		default:
			typ := wire.OpCreate
			if g.r.Intn(2) == 0 {
				typ = wire.OpCreate2
			}
			eph := strings.Count(p, "/") == 3 && g.r.Intn(2) == 0
			return wire.SubTxn{Type: typ, Rec: &wire.CreateTxn{Path: p, Data: g.data(), ACL: acl, Ephemeral: eph, ParentCVersion: pcv}}
		}
	case k < 65:
		p := g.existing(m, true)
		if n := m.nodes[p]; n != nil && len(n.children) > 0 {
			// prepare answers NotEmpty; no such txn is ever logged.
			p += "/zz"
		}
		typ := wire.OpDelete
		if g.r.Intn(4) == 0 {
			typ = wire.OpDeleteContainer
		}
		return wire.SubTxn{Type: typ, Rec: &wire.DeleteTxn{Path: p}}
	case k < 90:
		p := g.existing(m, false)
		v := int32(g.r.Intn(5))
		if n := m.nodes[p]; n != nil {
			v = n.stat.Version + 1
		}
		return wire.SubTxn{Type: wire.OpSetData, Rec: &wire.SetDataTxn{Path: p, Data: g.data(), Version: v}}
	default:
		return wire.SubTxn{Type: wire.OpCheck, Rec: &wire.CheckVersionTxn{Path: g.existing(m, false), Version: int32(g.r.Intn(3))}}
	}
}

var errorCodes = []wire.Code{wire.ErrNoNode, wire.ErrNodeExists, wire.ErrBadVersion, wire.ErrNotEmpty, wire.ErrNoAuth}

func (g *txnGen) next(m *model, zxid int64) modelTxn {
	session := int64(1 + g.r.Intn(3))
	if g.r.Intn(20) == 0 {
		// An old txn met again during replay.
		zxid = 1 + g.r.Int63n(zxid)
	}
	hdr := &wire.TxnHeader{ClientID: session, Cxid: int32(zxid), Zxid: zxid, Time: 1_700_000_000_000 + g.r.Int63n(1<<30)}
	switch k := g.r.Intn(100); {
	case k < 55:
		s := g.op(m)
		hdr.Type = s.Type
		return modelTxn{hdr: hdr, rec: s.Rec}
	case k < 65:
		p := g.existing(m, false)
		v := int32(g.r.Intn(5))
		if n := m.nodes[p]; n != nil {
			v = n.stat.Aversion + 1
		}
		hdr.Type = wire.OpSetACL
		return modelTxn{hdr: hdr, rec: &wire.SetACLTxn{Path: p, ACL: modelACLs[g.r.Intn(len(modelACLs))], Version: v}}
	case k < 68:
		hdr.Type = wire.OpError
		return modelTxn{hdr: hdr, rec: &wire.ErrorTxn{Err: errorCodes[g.r.Intn(len(errorCodes))]}}
	case k < 74:
		hdr.Type = wire.OpCloseSession
		if g.r.Intn(3) == 0 {
			return modelTxn{hdr: hdr, rec: nil}
		}
		var paths []string
		for p, n := range m.nodes {
			if n.kind == mEphemeral && n.stat.EphemeralOwner == session {
				paths = append(paths, p)
			}
		}
		sort.Strings(paths)
		return modelTxn{hdr: hdr, rec: &wire.CloseSessionTxn{Paths2Delete: paths}}
	case k < 76:
		hdr.Type = wire.OpCreateSession
		return modelTxn{hdr: hdr, rec: &wire.CreateSessionTxn{TimeOut: 30000}}
	default:
		hdr.Type = wire.OpMulti
		scratch := m.clone()
		subs := make([]wire.SubTxn, 1+g.r.Intn(5))
		for i := range subs {
			subs[i] = g.op(scratch)
			scratch.applyOne(hdr, subs[i].Type, subs[i].Rec)
		}
		if g.r.Intn(3) == 0 {
			// The leader logs a failed multi with the failing op as an
			// ErrorTxn and every later one as ErrorTxn(-2).
			at := g.r.Intn(len(subs))
			subs[at] = wire.SubTxn{Type: wire.OpError, Rec: &wire.ErrorTxn{Err: errorCodes[g.r.Intn(len(errorCodes))]}}
			for i := at + 1; i < len(subs); i++ {
				subs[i] = wire.SubTxn{Type: wire.OpError, Rec: &wire.ErrorTxn{Err: wire.ErrRuntimeInconsistency}}
			}
		}
		return modelTxn{hdr: hdr, rec: wire.WrapMultiTxn(subs), subs: subs}
	}
}

// compareWithModel checks every node and counter of tr against m.
func compareWithModel(t *testing.T, tr *Tree, m *model, where string) {
	t.Helper()
	var paths []string
	require.NoError(t, tr.Walk(func(path string, data []byte, acl []wire.ACL, stat wire.StatPersisted) error {
		paths = append(paths, path)
		n := m.nodes[path]
		require.NotNil(t, n, "%s: tree has %s, model does not", where, path)
		require.True(t, bytes.Equal(n.data, data), "%s: data of %s: model %q tree %q", where, path, n.data, data)
		require.Equal(t, n.acl, acl, "%s: acl of %s", where, path)
		require.Equal(t, n.stat, stat, "%s: stored stat of %s", where, path)
		kids, cst, err := tr.GetChildren(path, nil)
		require.NoError(t, err)
		want := make([]string, 0, len(n.children))
		for c := range n.children {
			want = append(want, c)
		}
		sort.Strings(want)
		require.Equal(t, want, kids, "%s: children of %s", where, path)
		require.Equal(t, n.client(), cst, "%s: client stat of %s", where, path)
		return nil
	}))
	require.Len(t, paths, len(m.nodes), "%s: node sets differ", where)

	var size int64
	eph := map[int64][]string{}
	var special []string
	for p, n := range m.nodes {
		size += int64(len(p) + len(n.data))
		switch n.kind {
		case mEphemeral:
			eph[n.stat.EphemeralOwner] = append(eph[n.stat.EphemeralOwner], p)
		case mContainer, mTTL:
			special = append(special, p)
		}
	}
	for _, ps := range eph {
		sort.Strings(ps)
	}
	sort.Strings(special)
	require.Equal(t, len(m.nodes)+1, tr.NodeCount(), "%s: NodeCount", where)
	require.Equal(t, size, tr.ApproximateDataSize(), "%s: ApproximateDataSize", where)
	require.Equal(t, eph, tr.EphemeralSessions(), "%s: ephemerals", where)
	var gotSpecial []string
	for _, c := range tr.SpecialNodes() {
		gotSpecial = append(gotSpecial, c.Path)
		want := Container
		if m.nodes[c.Path].kind == mTTL {
			want = TTL
		}
		require.Equal(t, want, c.Kind, "%s: kind of %s", where, c.Path)
	}
	require.Equal(t, special, gotSpecial, "%s: special nodes", where)
}

func TestTreeMatchesTheMapModel(t *testing.T) {
	seeds, steps := 12, 400
	if testing.Short() {
		seeds, steps = 3, 200
	}
	base := *modelSeed
	if base == 0 {
		base = time.Now().UnixNano()
	} else {
		seeds = 1
	}
	for i := 0; i < seeds; i++ {
		seed := base + int64(i)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("replay with: go test ./internal/datatree -run TestTreeMatchesTheMapModel -datatree.seed=%d", seed)
				}
			})
			g := &txnGen{r: rand.New(rand.NewSource(seed))}
			tr, m := New(nil), newModel()
			var lastZxid int64
			for step := 1; step <= steps; step++ {
				x := g.next(m, int64(step))
				var want Result
				if x.subs != nil {
					want = m.applyMulti(x.hdr, x.subs)
				} else {
					want = m.applyOne(x.hdr, x.hdr.Type, x.rec)
				}
				got := tr.Apply(x.hdr, x.rec)
				where := fmt.Sprintf("seed %d step %d (%s)", seed, step, x)
				require.Equal(t, want, got, "%s: result", where)
				lastZxid = max(lastZxid, x.hdr.Zxid)
				require.Equal(t, lastZxid, tr.LastZxid(), "%s: last zxid", where)
				compareWithModel(t, tr, m, where)
			}
		})
	}
}
