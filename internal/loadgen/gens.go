package loadgen

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"github.com/zkd/zkd/internal/wire"
)

// Request generators of the pipelined workloads (see opGen).

// frameSet holds the ready-made frames of one request per key, xid left to
// patch in, so the hot path is one copy. They are shared read-only by all
// sessions; past a memory budget frames are encoded per request instead.
type frameSet struct {
	frames [][]byte           // nil when over budget
	build  func(k int) []byte // encodes key k's frame (xid 0)
}

const frameBudget = 32 << 20

func newFrameSet(keys int, build func(k int) []byte) *frameSet {
	fs := &frameSet{build: build}
	if keys*len(build(0)) <= frameBudget {
		fs.frames = make([][]byte, keys)
		for k := range fs.frames {
			fs.frames[k] = build(k)
		}
	}
	return fs
}

// put appends key k's frame with xid to b.
func (fs *frameSet) put(b []byte, k int, xid int32) []byte {
	n := len(b)
	if fs.frames != nil {
		b = append(b, fs.frames[k]...)
	} else {
		b = append(b, fs.build(k)...)
	}
	binary.BigEndian.PutUint32(b[n+4:], uint32(xid)) // after the length prefix
	return b
}

// frame encodes one request frame with xid 0.
func frame(op wire.OpCode, req wire.Record) []byte {
	h := wire.RequestHeader{Type: op}
	return wire.MarshalFrame(&h, req)
}

// okOnly accepts a reply without error; any server error counts.
func okOnly(code wire.Code) bool { return code == wire.OK }

// keyGen sends one request per op over the pre-created keys: sequentially
// from a per-session offset (getdata, setdata, exists), or for mixed, a
// uniformly random key and a 1-in-10 setData.
type keyGen struct {
	reads  *frameSet // getData or exists
	writes *frameSet // setData; nil for read-only workloads
	keys   int
	next   int
	mixed  bool
	rng    *rand.Rand
}

func (g *keyGen) encode(b []byte, xid int32, _ int, _ string) ([]byte, int32) {
	if !g.mixed {
		k := g.next
		g.next++
		if g.next == g.keys {
			g.next = 0
		}
		if g.writes != nil {
			return g.writes.put(b, k, xid), xid
		}
		return g.reads.put(b, k, xid), xid
	}
	k := g.rng.IntN(g.keys)
	if g.rng.IntN(10) == 0 {
		return g.writes.put(b, k, xid), xid
	}
	return g.reads.put(b, k, xid), xid
}

func (g *keyGen) reply(_ int, code wire.Code, _ []byte) (string, bool, bool) {
	return "", false, okOnly(code)
}

// multiGen sends a multi of multiOps setData requests on consecutive keys
// (wrapping), so every multi is one transaction of ten writes.
type multiGen struct {
	frames *frameSet // one multi per starting key
	keys   int
	next   int
}

const multiOps = 10

func multiFrame(keyPath func(int) string, keys int, data []byte) func(k int) []byte {
	return func(k int) []byte {
		req := wire.MultiRequest{Ops: make([]wire.MultiOp, multiOps)}
		for i := range req.Ops {
			req.Ops[i] = wire.MultiOp{Type: wire.OpSetData, Req: &wire.SetDataRequest{
				Path: keyPath((k + i) % keys), Data: data, Version: -1}}
		}
		return frame(wire.OpMulti, &req)
	}
}

func (g *multiGen) encode(b []byte, xid int32, _ int, _ string) ([]byte, int32) {
	k := g.next
	g.next = (g.next + 1) % g.keys
	return g.frames.put(b, k, xid), xid
}

// reply counts a multi as failed when the header or any result carries an
// error.
func (g *multiGen) reply(_ int, code wire.Code, body []byte) (string, bool, bool) {
	if code != wire.OK {
		return "", false, false
	}
	var resp wire.MultiResponse
	if err := wire.Unmarshal(body, maxFrame, &resp); err != nil {
		return "", false, false
	}
	for _, r := range resp.Results {
		if r.Type == wire.OpError || r.Err != wire.OK {
			return "", false, false
		}
	}
	return "", false, true
}

// pathGen creates or deletes one path per op: the n-th op of the session
// works on path(n). It serves the create and fill workloads and the
// unmeasured setup and cleanup passes.
type pathGen struct {
	op    wire.OpCode // OpCreate or OpDelete
	path  func(n int64) string
	data  []byte
	flags int32
	// alsoOK is a code that is not an error here: NodeExists when setup
	// finds nodes an interrupted run left, NoNode in cleanup.
	alsoOK wire.Code
	n      int64 // ops started; the writer's
}

func (g *pathGen) encode(b []byte, xid int32, _ int, _ string) ([]byte, int32) {
	p := g.path(g.n)
	g.n++
	e := wire.Encoder{B: b}
	start := e.BeginFrame()
	h := wire.RequestHeader{Xid: xid, Type: g.op}
	h.Encode(&e)
	if g.op == wire.OpDelete {
		req := wire.DeleteRequest{Path: p, Version: -1}
		req.Encode(&e)
	} else {
		req := wire.CreateRequest{Path: p, Data: g.data, ACL: wire.OpenACLUnsafe, Flags: g.flags}
		req.Encode(&e)
	}
	e.EndFrame(start)
	return e.B, xid
}

func (g *pathGen) reply(_ int, code wire.Code, _ []byte) (string, bool, bool) {
	return "", false, code == wire.OK || (g.alsoOK != wire.OK && code == g.alsoOK)
}

// churnGen is the lock recipe: create an ephemeral sequential node, then
// delete the path the server returned. One op = both requests.
type churnGen struct {
	create []byte // frame, xid to patch
	dir    string
}

func newChurnGen(dir string, data []byte) *churnGen {
	return &churnGen{dir: dir, create: frame(wire.OpCreate, &wire.CreateRequest{
		Path: dir + "/lock-", Data: data, ACL: wire.OpenACLUnsafe, Flags: wire.FlagEphemeralSequential})}
}

func (g *churnGen) encode(b []byte, xid int32, step int, arg string) ([]byte, int32) {
	if step == 0 {
		n := len(b)
		b = append(b, g.create...)
		binary.BigEndian.PutUint32(b[n+4:], uint32(xid))
		return b, xid
	}
	e := wire.Encoder{B: b}
	start := e.BeginFrame()
	h := wire.RequestHeader{Xid: xid, Type: wire.OpDelete}
	h.Encode(&e)
	req := wire.DeleteRequest{Path: arg, Version: -1}
	req.Encode(&e)
	e.EndFrame(start)
	return e.B, xid
}

func (g *churnGen) reply(step int, code wire.Code, body []byte) (string, bool, bool) {
	if code != wire.OK {
		return "", false, false
	}
	if step == 0 {
		var resp wire.CreateResponse
		if err := wire.Unmarshal(body, maxFrame, &resp); err != nil || resp.Path == "" {
			return "", false, false
		}
		return resp.Path, true, true
	}
	return "", false, true
}

// pingGen sends ZooKeeper pings (xid -2): the protocol's round trip with
// the least server work.
type pingGen struct{ frame []byte }

func newPingGen() *pingGen {
	h := wire.RequestHeader{Xid: wire.XidPing, Type: wire.OpPing}
	return &pingGen{frame: wire.MarshalFrame(&h)}
}

func (g *pingGen) encode(b []byte, _ int32, _ int, _ string) ([]byte, int32) {
	return append(b, g.frame...), wire.XidPing
}

func (g *pingGen) reply(_ int, code wire.Code, _ []byte) (string, bool, bool) {
	return "", false, okOnly(code)
}

// fillPath names node k of the fill tree: fillPerParent children per
// parent, so a parent's child list stays small.
func fillPath(dir string, k int64) string {
	return fmt.Sprintf("%s/p%04d/c%04d", dir, k/fillPerParent, k%fillPerParent)
}

func fillParent(dir string, p int64) string { return fmt.Sprintf("%s/p%04d", dir, p) }

const fillPerParent = 1000
