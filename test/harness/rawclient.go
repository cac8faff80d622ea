package harness

import (
	"bufio"
	"fmt"
	"net"
	"time"

	"github.com/zkd/zkd/internal/wire"
)

// RawClient speaks the client protocol frame by frame, so tests can send
// exactly the bytes they want and see exactly what comes back.
type RawClient struct {
	Conn    net.Conn
	br      *bufio.Reader
	xid     int32
	Session wire.ConnectResponse
	// Events are the notifications received so far, in arrival order.
	Events   []wire.WatcherEvent
	lastZxid int64
}

// Dial connects and performs the handshake of a new session (45-byte
// ConnectRequest).
func Dial(addr string, timeoutMs int32) (*RawClient, error) {
	return Resume(addr, 0, make([]byte, 16), timeoutMs)
}

// WriteFrame writes bytes as they are (callers include the length prefix).
func (rc *RawClient) WriteFrame(b []byte) error {
	_ = rc.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := rc.Conn.Write(b)
	return err
}

// ReadFrame reads one frame's payload.
func (rc *RawClient) ReadFrame() ([]byte, error) {
	_ = rc.Conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	return wire.ReadFrame(rc.br, 16<<20, nil)
}

// Send writes a request with the next xid and returns the xid.
func (rc *RawClient) Send(op wire.OpCode, req wire.Record) (int32, error) {
	rc.xid++
	xid := rc.xid
	switch op {
	case wire.OpPing:
		xid = wire.XidPing
	case wire.OpAuth:
		xid = wire.XidAuth
	}
	h := wire.RequestHeader{Xid: xid, Type: op}
	return xid, rc.WriteFrame(wire.MarshalFrame(&h, req))
}

// Reply is one decoded reply.
type Reply struct {
	Header wire.ReplyHeader
	Body   []byte
}

// Recv reads frames until a non-notification reply arrives; notifications
// seen on the way are appended to Events.
func (rc *RawClient) Recv() (Reply, error) {
	for {
		frame, err := rc.ReadFrame()
		if err != nil {
			return Reply{}, err
		}
		d := wire.NewDecoder(frame, 0)
		var h wire.ReplyHeader
		h.Decode(d)
		if d.Err != nil {
			return Reply{}, d.Err
		}
		if h.Xid == wire.XidNotification {
			var ev wire.WatcherEvent
			ev.Decode(d)
			rc.Events = append(rc.Events, ev)
			continue
		}
		if h.Zxid > 0 {
			rc.lastZxid = h.Zxid
		}
		return Reply{Header: h, Body: frame[d.Off:]}, nil
	}
}

// Call sends a request and waits for its reply.
func (rc *RawClient) Call(op wire.OpCode, req wire.Record) (Reply, error) {
	xid, err := rc.Send(op, req)
	if err != nil {
		return Reply{}, err
	}
	r, err := rc.Recv()
	if err != nil {
		return r, err
	}
	if r.Header.Xid != xid {
		return r, fmt.Errorf("reply xid %d, want %d", r.Header.Xid, xid)
	}
	return r, nil
}

// Close closes the socket without a closeSession.
func (rc *RawClient) Close() error { return rc.Conn.Close() }

// Resume connects to session (0 for a new one) with the given password.
func Resume(addr string, session int64, passwd []byte, timeoutMs int32) (*RawClient, error) {
	return handshake(addr, wire.ConnectRequest{TimeOut: timeoutMs, SessionID: session, Passwd: passwd, HasReadOnly: true})
}

func handshake(addr string, req wire.ConnectRequest) (*RawClient, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	rc := &RawClient{Conn: c, br: bufio.NewReader(c)}
	if err := rc.WriteFrame(wire.MarshalFrame(&req)); err != nil {
		c.Close()
		return nil, err
	}
	frame, err := rc.ReadFrame()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	if err := wire.Unmarshal(frame, 0, &rc.Session); err != nil {
		c.Close()
		return nil, err
	}
	return rc, nil
}

// LastZxid is the zxid of the last reply received.
func (rc *RawClient) LastZxid() int64 { return rc.lastZxid }

// DialReadOnly opens a new session on a server, accepting a read-only one
// (ConnectRequest.readOnly = true).
func DialReadOnly(addr string, timeoutMs int32) (*RawClient, error) {
	return handshake(addr, wire.ConnectRequest{TimeOut: timeoutMs, Passwd: make([]byte, 16), ReadOnly: true, HasReadOnly: true})
}
