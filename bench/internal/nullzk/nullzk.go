// Package nullzk is the least a server can do and still serve the load
// tool's connection storm and watch fan-out: it answers the handshake and
// each request at once, keeps no tree, writes no log and replicates
// nothing. Run against it on the same machine, the tool measures the floor
// of those two figures: the TCP and scheduling work that any server, and
// the tool itself, must do per session and per notification. No real
// server can beat it there, so it tells how far a figure is from this
// machine's limit rather than from another server's.
//
// A Server has one listener per "member". A setData on any member fires
// the data watches left on every member, as a replicated write would, the
// members' notifications written in parallel (one goroutine per member,
// each writing its watchers' sockets in turn, the fastest of the ways
// measured).
package nullzk

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/zkd/zkd/internal/wire"
)

// maxFrame bounds a request; the workloads' requests are small.
const maxFrame = 1 << 20

// Server is a running null ensemble.
type Server struct {
	members []*member
	wg      sync.WaitGroup
	nextSID atomic.Int64
	zxid    atomic.Int64

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool
}

// member is one listener and the watches left on it.
type member struct {
	s  *Server
	ln net.Listener

	mu       sync.Mutex
	watchers []*conn
}

// conn is one client connection; replies and notifications are written
// under mu, so each frame goes out whole.
type conn struct {
	nc net.Conn
	mu sync.Mutex
}

func (c *conn) write(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.nc.Write(b)
	return err
}

// Start listens on members loopback ports chosen by the kernel.
func Start(members int) (*Server, error) {
	if members < 1 {
		return nil, fmt.Errorf("nullzk: %d members", members)
	}
	s := &Server{conns: map[*conn]struct{}{}}
	for i := 0; i < members; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.Stop()
			return nil, fmt.Errorf("nullzk: listen: %w", err)
		}
		s.members = append(s.members, &member{s: s, ln: ln})
	}
	for _, m := range s.members {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); m.accept() }()
	}
	return s, nil
}

// ConnectString lists the members' addresses, as a client's connect
// string does.
func (s *Server) ConnectString() string {
	var addrs []string
	for _, m := range s.members {
		addrs = append(addrs, m.ln.Addr().String())
	}
	return strings.Join(addrs, ",")
}

// Stop closes the listeners and every connection and waits for the
// server's goroutines.
func (s *Server) Stop() {
	s.mu.Lock()
	s.closed = true
	for _, m := range s.members {
		_ = m.ln.Close()
	}
	for c := range s.conns {
		_ = c.nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (m *member) accept() {
	for {
		nc, err := m.ln.Accept()
		if err != nil {
			return // closed by Stop
		}
		c := &conn{nc: nc}
		s := m.s
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = nc.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			_ = m.serve(c) // a client that goes away or sends garbage is dropped
			_ = nc.Close()
			m.forget(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// forget drops c's watches once it is gone.
func (m *member) forget(c *conn) {
	for _, o := range m.s.members {
		o.mu.Lock()
		kept := o.watchers[:0]
		for _, w := range o.watchers {
			if w != c {
				kept = append(kept, w)
			}
		}
		clear(o.watchers[len(kept):])
		o.watchers = kept
		o.mu.Unlock()
	}
}

// serve runs one connection: the handshake, then request by request.
func (m *member) serve(c *conn) error {
	br := bufio.NewReaderSize(c.nc, 4096)
	frame, err := wire.ReadFrame(br, maxFrame, nil)
	if err != nil {
		return err
	}
	var req wire.ConnectRequest
	if err := wire.Unmarshal(frame, maxFrame, &req); err != nil {
		return err
	}
	resp := wire.ConnectResponse{TimeOut: req.TimeOut, SessionID: m.s.nextSID.Add(1), Passwd: make([]byte, 16)}
	if err := c.write(wire.MarshalFrame(&resp)); err != nil {
		return err
	}
	var buf []byte
	for {
		frame, err := wire.ReadFrame(br, maxFrame, buf)
		if err != nil {
			return err
		}
		buf = frame[:0]
		reply, changed, end, err := m.answer(c, frame)
		if err != nil {
			return err
		}
		if changed != "" {
			m.s.fire(changed)
		}
		if err := c.write(reply); err != nil {
			return err
		}
		if end {
			return nil
		}
	}
}

// answer builds the reply to one request frame. changed is the path whose
// data the request set (its watches fire); end says the session is over
// once the reply is written (closeSession).
func (m *member) answer(c *conn, frame []byte) (reply []byte, changed string, end bool, err error) {
	d := wire.Decoder{B: frame}
	var h wire.RequestHeader
	h.Decode(&d)
	if d.Err != nil {
		return nil, "", false, d.Err
	}
	e := wire.Encoder{}
	start := e.BeginFrame()
	rh := wire.ReplyHeader{Xid: h.Xid, Zxid: m.s.zxid.Load()}
	switch h.Type {
	case wire.OpCreate:
		var r wire.CreateRequest
		r.Decode(&d)
		rh.Zxid = m.s.zxid.Add(1)
		rh.Encode(&e)
		e.String(r.Path)
	case wire.OpGetData:
		var r wire.GetDataRequest
		r.Decode(&d)
		rh.Encode(&e)
		e.Buffer(nil)
		(&wire.Stat{}).Encode(&e)
		if r.Watch {
			m.mu.Lock()
			m.watchers = append(m.watchers, c)
			m.mu.Unlock()
		}
	case wire.OpSetData:
		var r wire.SetDataRequest
		r.Decode(&d)
		rh.Zxid = m.s.zxid.Add(1)
		rh.Encode(&e)
		(&wire.Stat{}).Encode(&e)
		changed = r.Path
	case wire.OpExists:
		rh.Encode(&e)
		(&wire.Stat{}).Encode(&e)
	case wire.OpSync:
		var r wire.SyncRequest
		r.Decode(&d)
		rh.Encode(&e)
		e.String(r.Path)
	case wire.OpDelete, wire.OpPing:
		rh.Encode(&e)
	case wire.OpCloseSession:
		rh.Encode(&e)
		end = true
	default:
		rh.Err = wire.ErrUnimplemented
		rh.Encode(&e)
	}
	if d.Err != nil {
		return nil, "", false, d.Err
	}
	e.EndFrame(start)
	return e.B, changed, end, nil
}

// fire sends one NodeDataChanged notification of path to every watch left
// on every member and clears them (watches are one-shot; the null server
// does not tell paths apart).
func (s *Server) fire(path string) {
	e := wire.Encoder{}
	start := e.BeginFrame()
	(&wire.ReplyHeader{Xid: wire.XidNotification, Zxid: -1}).Encode(&e)
	(&wire.WatcherEvent{Type: wire.EventNodeDataChanged, State: 3, Path: path}).Encode(&e)
	e.EndFrame(start)
	var wg sync.WaitGroup
	for _, m := range s.members {
		m.mu.Lock()
		ws := m.watchers
		m.watchers = nil
		m.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, w := range ws {
				_ = w.write(e.B) // a failed watcher is its reader's to notice
			}
		}()
	}
	wg.Wait()
}
