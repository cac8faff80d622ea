package server_test

// Shared plumbing for the integration tests: an in-process server on a
// loopback port picked at run time, go-zookeeper clients bound to it, and a
// raw protocol client for the operations go-zookeeper does not speak.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/server"
	"github.com/zkd/zkd/internal/wire"
)

// Test timing. tickTime is small so session timeouts (2..20 ticks) are
// short; every wait below is a bounded poll, never a timing assertion.
const (
	itTick       = 100
	itMinTimeout = 2 * itTick  // 200 ms
	itMaxTimeout = 20 * itTick // 2000 ms
	itWait       = 10 * time.Second
	itPoll       = 10 * time.Millisecond
)

// itServer is one running server under test.
type itServer struct {
	srv  *server.Server
	addr string
}

// startServer starts a server whose zoo.cfg is a small base plus extra
// lines ("key=value"). It is stopped, and goroutine leaks checked, when the
// test ends.
func startServer(t *testing.T, extra ...string) *itServer {
	t.Helper()
	return startServerLogged(t, zap.NewNop(), extra...)
}

// startServerLogged is startServer with the server logging to lg.
func startServerLogged(t *testing.T, lg *zap.Logger, extra ...string) *itServer {
	t.Helper()
	return startServerSetUp(t, lg, nil, extra...)
}

// startServerSetUp is startServerLogged with setUp run on the server
// before it serves (nil: nothing).
func startServerSetUp(t *testing.T, lg *zap.Logger, setUp func(*server.Server), extra ...string) *itServer {
	t.Helper()
	checkLeaksAtEnd(t)
	lines := []string{
		fmt.Sprintf("tickTime=%d", itTick),
		"dataDir=" + t.TempDir(),
		"clientPort=1",
		"4lw.commands.whitelist=*",
		"admin.enableServer=false",
	}
	lines = append(lines, extra...)
	cfg, err := config.Parse(strings.NewReader(strings.Join(lines, "\n")+"\n"), "zoo.cfg")
	require.NoError(t, err)
	srv, err := server.New(cfg, lg)
	require.NoError(t, err)
	if setUp != nil {
		setUp(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, srv.Serve(ln))
	t.Cleanup(srv.Stop)
	return &itServer{srv: srv, addr: ln.Addr().String()}
}

// nopLogger silences go-zookeeper.
type nopLogger struct{}

func (nopLogger) Printf(string, ...interface{}) {}

// zkClient is a go-zookeeper connection plus its session event stream.
type zkClient struct {
	*zk.Conn
	events <-chan zk.Event
}

// connectZK opens a go-zookeeper session and waits until it has one.
func (s *itServer) connectZK(t *testing.T) *zkClient {
	t.Helper()
	return s.connectZKWith(t, 2*time.Second, nil)
}

// connectZKWith takes the session timeout and an optional dialer.
func (s *itServer) connectZKWith(t *testing.T, timeout time.Duration, d *blockingDialer) *zkClient {
	t.Helper()
	var (
		conn   *zk.Conn
		events <-chan zk.Event
		err    error
	)
	if d != nil {
		conn, events, err = zk.Connect([]string{s.addr}, timeout,
			zk.WithLogger(nopLogger{}), zk.WithLogInfo(false), zk.WithDialer(d.dial))
	} else {
		conn, events, err = zk.Connect([]string{s.addr}, timeout,
			zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
	}
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	c := &zkClient{Conn: conn, events: events}
	c.waitState(t, zk.StateHasSession)
	return c
}

// waitState drains session events until the given state is seen.
func (c *zkClient) waitState(t *testing.T, want zk.State) {
	t.Helper()
	deadline := time.After(itWait)
	for {
		select {
		case ev, ok := <-c.events:
			require.True(t, ok, "event channel closed before state %v", want)
			if ev.Type == zk.EventSession && ev.State == want {
				return
			}
		case <-deadline:
			t.Fatalf("state %v not reached; now %v", want, c.State())
		}
	}
}

// waitEvent waits for one watch event on ch.
func waitEvent(t *testing.T, ch <-chan zk.Event) zk.Event {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(itWait):
		t.Fatal("no watch event")
	}
	return zk.Event{}
}

// eventually polls cond until it holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, itWait, itPoll, what)
}

var openACL = zk.WorldACL(zk.PermAll)

// ---------------------------------------------------------------------
// Raw client: frames requests with internal/wire, reads replies and
// notifications in arrival order.

// rawFrame is one frame from the server after the handshake.
type rawFrame struct {
	hdr  wire.ReplyHeader
	body []byte
}

// event decodes a notification frame.
func (f rawFrame) event(t *testing.T) wire.WatcherEvent {
	t.Helper()
	require.Equal(t, wire.XidNotification, f.hdr.Xid, "not a notification")
	var ev wire.WatcherEvent
	require.NoError(t, wire.Unmarshal(f.body, 0, &ev))
	return ev
}

type rawClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader

	xid     int32
	sid     int64
	passwd  []byte
	timeout int32
	// events holds notifications read while waiting for replies.
	events []wire.WatcherEvent
}

// dialRaw opens a TCP connection without any handshake.
func (s *itServer) dialRaw(t *testing.T) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", s.addr)
	require.NoError(t, err)
	c := &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}
	t.Cleanup(func() { nc.Close() })
	return c
}

// rawSession dials and completes a handshake for a new session.
func (s *itServer) rawSession(t *testing.T, timeoutMs int32) *rawClient {
	t.Helper()
	c := s.dialRaw(t)
	resp := c.handshake(wire.ConnectRequest{TimeOut: timeoutMs, Passwd: make([]byte, 16), HasReadOnly: true})
	require.NotZero(t, resp.SessionID)
	return c
}

// resume dials a new connection for an existing session.
func (s *itServer) resume(t *testing.T, old *rawClient) (*rawClient, wire.ConnectResponse) {
	t.Helper()
	c := s.dialRaw(t)
	resp := c.handshake(wire.ConnectRequest{TimeOut: old.timeout, SessionID: old.sid, Passwd: old.passwd, HasReadOnly: true})
	return c, resp
}

// handshake sends a ConnectRequest and reads the ConnectResponse.
func (c *rawClient) handshake(req wire.ConnectRequest) wire.ConnectResponse {
	c.t.Helper()
	c.write(wire.MarshalFrame(&req))
	payload := c.readPayload()
	var resp wire.ConnectResponse
	require.NoError(c.t, wire.Unmarshal(payload, 0, &resp))
	c.sid, c.passwd, c.timeout = resp.SessionID, resp.Passwd, resp.TimeOut
	return resp
}

func (c *rawClient) write(b []byte) {
	c.t.Helper()
	_ = c.nc.SetWriteDeadline(time.Now().Add(itWait))
	_, err := c.nc.Write(b)
	require.NoError(c.t, err)
}

func (c *rawClient) readPayload() []byte {
	c.t.Helper()
	b, err := c.tryReadPayload()
	require.NoError(c.t, err)
	return b
}

func (c *rawClient) tryReadPayload() ([]byte, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(itWait))
	return wire.ReadFrame(c.br, 64<<20, nil)
}

// readFrame reads the next reply or notification.
func (c *rawClient) readFrame() rawFrame {
	c.t.Helper()
	p := c.readPayload()
	d := wire.NewDecoder(p, 0)
	var h wire.ReplyHeader
	h.Decode(d)
	require.NoError(c.t, d.Err)
	return rawFrame{hdr: h, body: p[d.Off:]}
}

// nextXid returns the next request xid.
func (c *rawClient) nextXid() int32 { c.xid++; return c.xid }

// send writes one request without waiting, returning its xid.
func (c *rawClient) send(op wire.OpCode, rec wire.Record) int32 {
	c.t.Helper()
	xid := c.nextXid()
	c.sendXid(xid, op, rec)
	return xid
}

func (c *rawClient) sendXid(xid int32, op wire.OpCode, rec wire.Record) {
	c.t.Helper()
	h := wire.RequestHeader{Xid: xid, Type: op}
	c.write(wire.MarshalFrame(&h, rec))
}

// call sends a request and waits for its reply, collecting notifications
// that arrive first. A non-nil resp is decoded from an OK reply's body.
func (c *rawClient) call(op wire.OpCode, rec wire.Record, resp wire.Record) wire.ReplyHeader {
	c.t.Helper()
	xid := c.send(op, rec)
	return c.await(xid, resp)
}

// await reads frames until the reply to xid.
func (c *rawClient) await(xid int32, resp wire.Record) wire.ReplyHeader {
	c.t.Helper()
	for {
		f := c.readFrame()
		if f.hdr.Xid == wire.XidNotification {
			c.events = append(c.events, f.event(c.t))
			continue
		}
		require.Equal(c.t, xid, f.hdr.Xid, "reply out of order")
		if f.hdr.Err == wire.OK && resp != nil {
			require.NoError(c.t, wire.Unmarshal(f.body, 0, resp))
		}
		if f.hdr.Err != wire.OK {
			require.Empty(c.t, f.body, "an error reply carries no body")
		}
		return f.hdr
	}
}

// waitEvent returns the next notification (buffered or read).
func (c *rawClient) waitEvent() wire.WatcherEvent {
	c.t.Helper()
	if len(c.events) > 0 {
		ev := c.events[0]
		c.events = c.events[1:]
		return ev
	}
	f := c.readFrame()
	return f.event(c.t)
}

// ping sends a ping and waits for its reply.
func (c *rawClient) ping() {
	c.t.Helper()
	c.sendXid(wire.XidPing, wire.OpPing, nil)
	for {
		f := c.readFrame()
		if f.hdr.Xid == wire.XidNotification {
			c.events = append(c.events, f.event(c.t))
			continue
		}
		require.Equal(c.t, wire.XidPing, f.hdr.Xid)
		return
	}
}

// expectClosed waits for the server to close the connection, ignoring any
// frames still in flight. It returns what was read before the close.
func (c *rawClient) expectClosed() []byte {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(itWait))
	rest, err := io.ReadAll(c.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatal("server did not close the connection")
	}
	return rest
}

// create is a raw create helper for the common case.
func (c *rawClient) create(path string, data []byte, flags int32) wire.ReplyHeader {
	c.t.Helper()
	return c.call(wire.OpCreate, &wire.CreateRequest{Path: path, Data: data, ACL: wire.OpenACLUnsafe, Flags: flags}, nil)
}

// fourLetter sends a four-letter word and returns the full reply.
func (s *itServer) fourLetter(t *testing.T, cmd string) string {
	t.Helper()
	nc, err := net.Dial("tcp", s.addr)
	require.NoError(t, err)
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(itWait))
	_, err = nc.Write([]byte(cmd))
	require.NoError(t, err)
	b, err := io.ReadAll(nc)
	if !errors.Is(err, syscall.ECONNRESET) {
		// A refused connection (maxClientCnxns) may be reset rather than
		// closed, since the server never read the command.
		require.NoError(t, err)
	}
	return string(b)
}

// blockingDialer lets a test hold go-zookeeper's reconnects and cut its
// current TCP connection.
type blockingDialer struct {
	mu      sync.Mutex
	conns   []net.Conn
	gate    chan struct{} // closed = dials allowed
	blocked bool
}

func newBlockingDialer() *blockingDialer {
	g := make(chan struct{})
	close(g)
	return &blockingDialer{gate: g}
}

func (d *blockingDialer) dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	d.mu.Lock()
	gate := d.gate
	d.mu.Unlock()
	select {
	case <-gate:
	case <-time.After(itWait):
		return nil, errors.New("dial held too long")
	}
	nc, err := net.DialTimeout(network, addr, timeout)
	if err == nil {
		d.mu.Lock()
		d.conns = append(d.conns, nc)
		d.mu.Unlock()
	}
	return nc, err
}

// hold blocks future dials and closes the current connections.
func (d *blockingDialer) cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gate = make(chan struct{})
	d.blocked = true
	for _, c := range d.conns {
		c.Close()
	}
	d.conns = nil
}

// release lets dials proceed again.
func (d *blockingDialer) release() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.blocked {
		close(d.gate)
		d.blocked = false
	}
}

// checkLeaksAtEnd registers a goroutine leak check. Call it first, so it
// runs last, after the servers and every client have been stopped.
func checkLeaksAtEnd(t *testing.T) {
	// What runs now (other tests' servers in parallel tests, the test
	// framework) is not this test's; taken here, not in the cleanup, which
	// would excuse everything.
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		goleak.VerifyNone(t,
			before,
			// go-zookeeper's connection goroutines may take a moment to notice
			// Close; goleak retries, but these are the library's, not ours.
			goleak.IgnoreTopFunction("github.com/go-zookeeper/zk.(*Conn).loop"),
			goleak.IgnoreTopFunction("github.com/go-zookeeper/zk.(*Conn).sendLoop"),
			goleak.IgnoreTopFunction("github.com/go-zookeeper/zk.(*Conn).recvLoop"),
		)
	})
}
