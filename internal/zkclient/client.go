package zkclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/zkd/zkd/internal/wire"
)

// State is the client's connection state.
type State int

// States. Closed, Expired and AuthFailed are final.
const (
	StateConnecting State = iota
	StateConnected
	StateClosed
	StateExpired
	StateAuthFailed
)

func (s State) String() string {
	switch s {
	case StateConnecting:
		return "CONNECTING"
	case StateConnected:
		return "CONNECTED"
	case StateClosed:
		return "CLOSED"
	case StateExpired:
		return "EXPIRED"
	case StateAuthFailed:
		return "AUTH_FAILED"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// KeeperState is the session state an event reports
// (Watcher.Event.KeeperState).
type KeeperState int32

// Keeper states used by the client.
const (
	KeeperDisconnected  KeeperState = 0
	KeeperSyncConnected KeeperState = 3
	KeeperAuthFailed    KeeperState = 4
	KeeperExpired       KeeperState = -112
	KeeperClosed        KeeperState = 7
)

func (k KeeperState) String() string {
	switch k {
	case KeeperDisconnected:
		return "Disconnected"
	case KeeperSyncConnected:
		return "SyncConnected"
	case KeeperAuthFailed:
		return "AuthFailed"
	case KeeperExpired:
		return "Expired"
	case KeeperClosed:
		return "Closed"
	}
	return fmt.Sprintf("KeeperState(%d)", int32(k))
}

// Event is a watch notification or a session state change (Type None,
// empty Path).
type Event struct {
	Type  wire.EventType
	State KeeperState
	Path  string
}

// String renders the event as Java's WatchedEvent.toString (3.8).
func (e Event) String() string {
	path := e.Path
	if path == "" {
		path = "null"
	}
	return fmt.Sprintf("WatchedEvent state:%s type:%s path:%s", e.State, e.Type, path)
}

// Config configures a Client.
type Config struct {
	// Servers are host:port addresses, tried in order, round robin.
	Servers []string
	// SessionTimeout is the requested session timeout.
	SessionTimeout time.Duration
	// OnEvent receives every event from one goroutine, in order. It must
	// not call Close; it may issue requests.
	OnEvent func(Event)
}

// ErrClosed is returned by requests on a closed client.
var ErrClosed = errors.New("zkclient: client closed")

// call is one request waiting for its reply.
type call struct {
	resp wire.Record
	// register runs in the reader, under Client.mu, before the caller sees
	// the reply: a watch must be in the table before a notification that
	// follows the reply is looked up there.
	register func(code wire.Code)
	err      error
	done     chan struct{}
}

// Client is one session. It is safe for concurrent use.
type Client struct {
	cfg    Config
	events *eventQueue

	mu        sync.Mutex
	state     State
	conn      net.Conn // nil while (re)connecting
	server    string   // address of conn
	sessionID int64
	passwd    []byte
	timeout   time.Duration // negotiated
	lastZxid  int64
	xid       int32
	pending   map[int32]*call
	// authWait holds callers of AddAuth in send order; auth replies carry
	// no distinct xid. Replayed credentials are queued as nil.
	authWait []*call
	auths    []wire.AuthPacket // replayed on every new connection
	watches  watchSet

	wmu sync.Mutex // serializes frame writes
	// ctx is cancelled by Close: it stops run, a dial or handshake in
	// progress, and marks the next connection loss as final.
	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{} // closed when run returns
	connected chan struct{} // closed on the first session
}

// Connect starts a session and waits until it is established, the server
// reports it expired, or timeout passes (then the client is closed).
func Connect(cfg Config, timeout time.Duration) (*Client, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("zkclient: no servers")
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 30 * time.Second
	}
	c := &Client{
		cfg:       cfg,
		events:    newEventQueue(cfg.OnEvent),
		passwd:    make([]byte, 16),
		pending:   map[int32]*call{},
		done:      make(chan struct{}),
		connected: make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.run()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.connected:
		return c, nil
	case <-c.done:
		st := c.State()
		c.Close()
		return nil, fmt.Errorf("connect to %s: session %v", strings.Join(cfg.Servers, ","), st)
	case <-t.C:
		c.Close()
		return nil, fmt.Errorf("unable to connect to %s within %v", strings.Join(cfg.Servers, ","), timeout)
	}
}

// State is the current connection state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// SessionID is the session's id (0 before the first connection).
func (c *Client) SessionID() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessionID
}

// Server is the address of the current connection ("" when none).
func (c *Client) Server() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.server
}

// Close ends the session (closeSession) and stops every goroutine. Events
// already queued are delivered before it returns.
func (c *Client) Close() {
	// Cancel first, so that the server closing the socket after
	// closeSession is not taken for a loss to recover from.
	c.cancel()
	if c.State() == StateConnected {
		// Best effort: if the connection is lost the session expires.
		_ = c.do(wire.OpCloseSession, nil, nil, nil)
	}
	c.mu.Lock()
	if c.state == StateConnecting || c.state == StateConnected {
		c.state = StateClosed
	}
	if c.conn != nil {
		c.conn.Close()
	}
	c.mu.Unlock()
	<-c.done
	c.events.close()
}

// run dials servers round robin until Close or a final state. It owns
// the reconnect policy.
func (c *Client) run() {
	defer close(c.done)
	backoff := 50 * time.Millisecond
	for i := 0; ; i++ {
		if c.ctx.Err() != nil {
			return
		}
		addr := c.cfg.Servers[i%len(c.cfg.Servers)]
		conn, br, err := c.handshake(addr)
		if err != nil {
			if errors.Is(err, wire.ErrSessionExpired) {
				return
			}
			if (i+1)%len(c.cfg.Servers) == 0 {
				select {
				case <-c.ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, time.Second)
			}
			continue
		}
		backoff = 50 * time.Millisecond
		c.serve(conn, br)
		i-- // after a loss, try the same server first once more
	}
}

// handshake connects to addr and resumes (or starts) the session: connect
// request, then the replayed credentials and watches, before any request
// of a caller can use the connection.
func (c *Client) handshake(addr string) (net.Conn, *bufio.Reader, error) {
	c.mu.Lock()
	req := wire.ConnectRequest{
		LastZxidSeen: c.lastZxid,
		TimeOut:      int32(c.cfg.SessionTimeout / time.Millisecond),
		SessionID:    c.sessionID,
		Passwd:       c.passwd,
		HasReadOnly:  true,
	}
	c.mu.Unlock()
	d := net.Dialer{Timeout: c.cfg.SessionTimeout}
	conn, err := d.DialContext(c.ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(c.ctx, func() { conn.Close() })
	defer stop()
	_ = conn.SetDeadline(time.Now().Add(c.cfg.SessionTimeout))
	br := bufio.NewReader(conn)
	var resp wire.ConnectResponse
	_, err = conn.Write(wire.MarshalFrame(&req))
	if err == nil {
		var frame []byte
		if frame, err = wire.ReadFrame(br, 0, nil); err == nil {
			err = wire.Unmarshal(frame, 0, &resp)
		}
	}
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	if resp.TimeOut <= 0 {
		conn.Close()
		c.mu.Lock()
		c.state = StateExpired
		c.mu.Unlock()
		c.events.push(Event{Type: wire.EventNone, State: KeeperExpired})
		return nil, nil, wire.ErrSessionExpired
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx.Err() != nil {
		conn.Close()
		return nil, nil, ErrClosed
	}
	c.sessionID, c.passwd = resp.SessionID, resp.Passwd
	c.timeout = time.Duration(resp.TimeOut) * time.Millisecond
	var e wire.Encoder
	for i := range c.auths {
		start := e.BeginFrame()
		(&wire.RequestHeader{Xid: wire.XidAuth, Type: wire.OpAuth}).Encode(&e)
		c.auths[i].Encode(&e)
		e.EndFrame(start)
		c.authWait = append(c.authWait, nil)
	}
	if !c.watches.empty() {
		start := e.BeginFrame()
		(&wire.RequestHeader{Xid: wire.XidSetWatches, Type: wire.OpSetWatches2}).Encode(&e)
		c.watches.setWatches(c.lastZxid).Encode(&e)
		e.EndFrame(start)
	}
	if len(e.B) > 0 {
		if _, err := conn.Write(e.B); err != nil {
			conn.Close()
			c.authWait = nil
			return nil, nil, err
		}
	}
	c.conn, c.server, c.state = conn, addr, StateConnected
	select {
	case <-c.connected:
	default:
		close(c.connected)
	}
	c.events.push(Event{Type: wire.EventNone, State: KeeperSyncConnected})
	return conn, br, nil
}

// serve runs one connection until it fails or is closed, then fails the
// requests still waiting on it with ConnectionLoss.
func (c *Client) serve(conn net.Conn, br *bufio.Reader) {
	c.mu.Lock()
	timeout := c.timeout
	c.mu.Unlock()
	stopPing := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.ping(conn, timeout/3, stopPing)
	}()
	err := c.read(conn, br, timeout*2/3)
	close(stopPing)
	wg.Wait()
	conn.Close()

	c.mu.Lock()
	c.conn, c.server = nil, ""
	pending, auths := c.pending, c.authWait
	c.pending, c.authWait = map[int32]*call{}, nil
	final := c.state != StateConnected || c.ctx.Err() != nil
	switch {
	case !final:
		c.state = StateConnecting
	case c.state == StateConnected:
		c.state = StateClosed
	}
	c.mu.Unlock()
	lost := fmt.Errorf("%w: %v", wire.ErrConnectionLoss, err)
	for _, cl := range pending {
		cl.finish(lost)
	}
	for _, cl := range auths {
		if cl != nil {
			cl.finish(lost)
		}
	}
	if !final {
		c.events.push(Event{Type: wire.EventNone, State: KeeperDisconnected})
	}
}

// ping keeps the session alive while the connection is idle or busy.
func (c *Client) ping(conn net.Conn, every time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	frame := wire.MarshalFrame(&wire.RequestHeader{Xid: wire.XidPing, Type: wire.OpPing})
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if c.write(conn, frame) != nil {
				return
			}
		}
	}
}

func (c *Client) write(conn net.Conn, frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = conn.SetWriteDeadline(time.Now().Add(c.cfg.SessionTimeout))
	_, err := conn.Write(frame)
	if err != nil {
		conn.Close() // the reader notices and the connection is replaced
	}
	return err
}

// read decodes frames until the connection fails. A server that stays
// silent for readTimeout (pings are answered) is taken as gone.
func (c *Client) read(conn net.Conn, br *bufio.Reader, readTimeout time.Duration) error {
	for {
		_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
		frame, err := wire.ReadFrame(br, 0, nil)
		if err != nil {
			return err
		}
		d := wire.NewDecoder(frame, 0)
		var h wire.ReplyHeader
		h.Decode(d)
		if d.Err != nil {
			return d.Err
		}
		switch h.Xid {
		case wire.XidPing, wire.XidSetWatches:
			continue
		case wire.XidNotification:
			var ev wire.WatcherEvent
			ev.Decode(d)
			if d.Err != nil {
				return d.Err
			}
			c.mu.Lock()
			hit := c.watches.materialize(ev.Type, ev.Path)
			c.mu.Unlock()
			if hit {
				c.events.push(Event{Type: ev.Type, State: KeeperState(ev.State), Path: ev.Path})
			}
			continue
		case wire.XidAuth:
			c.mu.Lock()
			var cl *call
			if len(c.authWait) > 0 {
				cl, c.authWait = c.authWait[0], c.authWait[1:]
			}
			if h.Err == wire.ErrAuthFailed {
				c.state = StateAuthFailed
			}
			c.mu.Unlock()
			if cl != nil {
				cl.finish(codeErr(h.Err))
			}
			if h.Err == wire.ErrAuthFailed {
				c.events.push(Event{Type: wire.EventNone, State: KeeperAuthFailed})
				return wire.ErrAuthFailed
			}
			continue
		}
		c.mu.Lock()
		cl := c.pending[h.Xid]
		delete(c.pending, h.Xid)
		if h.Zxid > 0 {
			c.lastZxid = h.Zxid
		}
		var derr error
		if cl != nil && h.Err == wire.OK && cl.resp != nil {
			derr = wire.Unmarshal(frame[d.Off:], 0, cl.resp)
		}
		if cl != nil && cl.register != nil && derr == nil {
			cl.register(h.Err)
		}
		c.mu.Unlock()
		if cl == nil {
			continue // a reply to nobody: ignore, as ClientCnxn would fail; be lenient
		}
		if derr != nil {
			cl.finish(derr)
			return derr
		}
		cl.finish(codeErr(h.Err))
	}
}

func codeErr(code wire.Code) error {
	if code == wire.OK {
		return nil
	}
	return code
}

func (cl *call) finish(err error) {
	cl.err = err
	close(cl.done)
}

// do sends one request and waits for its reply. A request made while the
// client is reconnecting fails at once with ConnectionLoss, as the shell
// wants; it is not queued.
func (c *Client) do(op wire.OpCode, req, resp wire.Record, register func(wire.Code)) error {
	cl := &call{resp: resp, register: register, done: make(chan struct{})}
	c.mu.Lock()
	switch c.state {
	case StateConnected:
	case StateConnecting:
		c.mu.Unlock()
		return wire.ErrConnectionLoss
	case StateExpired:
		c.mu.Unlock()
		return wire.ErrSessionExpired
	case StateAuthFailed:
		c.mu.Unlock()
		return wire.ErrAuthFailed
	default:
		c.mu.Unlock()
		return ErrClosed
	}
	conn := c.conn
	c.xid++
	xid := c.xid
	h := wire.RequestHeader{Xid: xid, Type: op}
	if op == wire.OpAuth {
		h.Xid = wire.XidAuth
		c.authWait = append(c.authWait, cl)
	} else {
		c.pending[xid] = cl
	}
	c.mu.Unlock()
	// A failed write closes conn; serve then fails cl with ConnectionLoss.
	_ = c.write(conn, wire.MarshalFrame(&h, req))
	<-cl.done
	return cl.err
}

// eventQueue delivers events to a callback from one goroutine without
// ever blocking the producer (the reader).
type eventQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	items  []Event
	closed bool
	done   chan struct{}
}

func newEventQueue(fn func(Event)) *eventQueue {
	q := &eventQueue{done: make(chan struct{})}
	q.cond = sync.NewCond(&q.mu)
	go func() {
		defer close(q.done)
		for {
			q.mu.Lock()
			for len(q.items) == 0 && !q.closed {
				q.cond.Wait()
			}
			if len(q.items) == 0 {
				q.mu.Unlock()
				return
			}
			ev := q.items[0]
			q.items = q.items[1:]
			q.mu.Unlock()
			if fn != nil {
				fn(ev)
			}
		}
	}()
	return q
}

func (q *eventQueue) push(ev Event) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, ev)
		q.cond.Signal()
	}
	q.mu.Unlock()
}

// close delivers what is queued, then stops the goroutine.
func (q *eventQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Signal()
	q.mu.Unlock()
	<-q.done
}
