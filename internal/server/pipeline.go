package server

import (
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zkd/zkd/internal/datatree"
	"github.com/zkd/zkd/internal/wire"
)

// request is one write on its way through the pipeline.
type request struct {
	conn     *conn // nil for server-issued requests (expiry, reaper)
	session  wire.SessionID
	xid      int32
	op       wire.OpCode
	rec      wire.Record // decoded request record (nil for closeSession)
	ids      []wire.Id   // the connection's identities when it was sent
	start    time.Time
	internal bool // issued by the server itself: cxid 0, no reply
	// decodeErr is set when the request record could not be decoded: it
	// becomes an error txn with this code.
	decodeErr wire.Code

	connect *wire.ConnectRequest // createSession: answer with a ConnectResponse
	onDone  chan struct{}        // closed once applied and answered

	// Set by prepare. Invariant: hdr.Zxid is unique and increasing in the
	// order requests leave prepare, which is the order they are applied.
	hdr wire.TxnHeader
	txn wire.Record
}

// pipeline orders writes: one goroutine prepares them (assigning zxids),
// one applies them. Between the two is the commit point: today the
// standalone server commits at once; the txn log (#3) and Zab (#4) plug in
// there, which is why prepare validates against the tree *plus* the
// changes of txns prepared but not yet applied (outstanding).
type pipeline struct {
	s       *Server
	in      chan *request
	applyCh chan *request
	wg      sync.WaitGroup

	zxid int64 // last assigned; owned by the prepare goroutine

	outMu       sync.Mutex
	outstanding map[string]change // path -> newest pending view of it
	outOrder    []pendingChange   // FIFO by zxid, to expire entries once applied
}

type change struct {
	zxid int64
	info *datatree.Info // nil: the node will not exist
}

type pendingChange struct {
	zxid int64
	path string
}

func newPipeline(s *Server) *pipeline {
	return &pipeline{
		s:           s,
		in:          make(chan *request, 4096),
		applyCh:     make(chan *request, 4096),
		outstanding: map[string]change{},
	}
}

func (p *pipeline) start() {
	p.zxid = p.s.tree.LastZxid()
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		defer close(p.applyCh)
		for r := range p.in {
			p.prepare(r)
			p.applyCh <- r
		}
	}()
	go func() {
		defer p.wg.Done()
		for r := range p.applyCh {
			p.apply(r)
		}
	}()
}

// submit hands a write to the pipeline. Callers are the connection
// readers and the server's timers, all stopped before stop is called.
func (p *pipeline) submit(r *request) {
	if r.start.IsZero() {
		r.start = time.Now()
	}
	p.s.stats.outstanding.Add(1)
	select {
	case p.in <- r:
	case <-p.s.ctx.Done():
		p.s.stats.outstanding.Add(-1)
		if r.conn != nil && !r.internal {
			r.conn.endWrite()
		}
	}
}

func (p *pipeline) stop() {
	close(p.in)
	p.wg.Wait()
}

// apply applies a prepared txn to the tree and answers its client.
func (p *pipeline) apply(r *request) {
	s := p.s
	res := s.tree.Apply(&r.hdr, r.txn)
	p.forget(r.hdr.Zxid)
	s.stats.outstanding.Add(-1)

	switch r.op {
	case wire.OpCreateSession:
		if c := r.conn; c != nil {
			pw := passwordOf(r.session)
			c.sendConnectResponse(r.connect, c.timeout.Load(), r.session, pw[:])
			c.endWrite()
		}
		if r.onDone != nil {
			close(r.onDone)
		}
		return
	case wire.OpCloseSession:
		s.sessions.Remove(r.session)
		if r.internal {
			if c := s.connOf(r.session); c != nil {
				c.close()
			}
			return
		}
		if c := r.conn; c != nil {
			c.reply(r.xid, r.hdr.Zxid, wire.OK, nil, r.start)
			c.closeAfterFlush()
			c.endWrite()
		}
		return
	}
	if r.internal || r.conn == nil {
		if res.Err != wire.OK {
			s.log.Debug("server-issued txn failed", zap.Stringer("op", r.op), zap.Stringer("err", res.Err))
		}
		return
	}
	c := r.conn
	if res.Err != wire.OK && (r.op != wire.OpMulti || r.decodeErr != wire.OK) {
		c.reply(r.xid, r.hdr.Zxid, res.Err, nil, r.start)
	} else {
		c.reply(r.xid, r.hdr.Zxid, wire.OK, responseFor(r, &res), r.start)
	}
	c.endWrite()
}

// responseFor builds the reply body of an applied write.
func responseFor(r *request, res *datatree.Result) wire.Record {
	switch r.op {
	case wire.OpCreate:
		return &wire.CreateResponse{Path: res.Path}
	case wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL:
		return &wire.Create2Response{Path: res.Path, Stat: res.Stat}
	case wire.OpSetData:
		return &wire.SetDataResponse{Stat: res.Stat}
	case wire.OpSetACL:
		return &wire.SetACLResponse{Stat: res.Stat}
	case wire.OpMulti:
		ops := r.rec.(*wire.MultiRequest).Ops
		out := &wire.MultiResponse{Results: make([]wire.MultiResult, 0, len(res.Multi))}
		for i, sub := range res.Multi {
			if sub.Type == wire.OpError || sub.Err != wire.OK {
				out.Results = append(out.Results, wire.MultiResult{Type: wire.OpError, Err: sub.Err})
				continue
			}
			var typ wire.OpCode
			if i < len(ops) {
				typ = ops[i].Type
			}
			switch typ {
			case wire.OpCreate, wire.OpCreate2:
				// ZooKeeper 3.8 answers a create2 sub-op with a plain create
				// result (verified by test/diff).
				out.Results = append(out.Results, wire.MultiResult{Type: wire.OpCreate, Body: &wire.CreateResponse{Path: sub.Path}})
			case wire.OpCreateContainer, wire.OpCreateTTL:
				// Containers and TTL nodes report as create2 (OpResult.CreateResult).
				out.Results = append(out.Results, wire.MultiResult{Type: wire.OpCreate2, Body: &wire.Create2Response{Path: sub.Path, Stat: sub.Stat}})
			case wire.OpSetData:
				out.Results = append(out.Results, wire.MultiResult{Type: wire.OpSetData, Body: &wire.SetDataResponse{Stat: sub.Stat}})
			default: // delete, check
				out.Results = append(out.Results, wire.MultiResult{Type: typ})
			}
		}
		return out
	}
	return nil
}

// forget drops outstanding changes made by txns up to zxid, which the
// tree now reflects.
func (p *pipeline) forget(zxid int64) {
	p.outMu.Lock()
	defer p.outMu.Unlock()
	i := 0
	for ; i < len(p.outOrder) && p.outOrder[i].zxid <= zxid; i++ {
		pc := p.outOrder[i]
		if c, ok := p.outstanding[pc.path]; ok && c.zxid == pc.zxid {
			delete(p.outstanding, pc.path)
		}
	}
	p.outOrder = append(p.outOrder[:0], p.outOrder[i:]...)
}
