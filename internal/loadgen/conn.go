package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/zkd/zkd/internal/wire"
)

// ioTimeout bounds every blocking step outside the measured pipeline
// (handshake, setup calls, closeSession, draining at the end of a phase).
const ioTimeout = 30 * time.Second

// maxFrame is the largest reply accepted; replies here are small, but a
// server configured with a larger jute.maxbuffer may send larger ones.
const maxFrame = 16 << 20

// errRefused means the server answered the handshake with a zero timeout:
// it would not create the session.
var errRefused = errors.New("session refused by server")

// conn is one session on its own TCP connection.
type conn struct {
	nc        net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	addr      string
	sessionID wire.SessionID
	// timeout is the negotiated session timeout: idle sessions ping at a
	// third of it.
	timeout time.Duration
	// xid is the last xid used. Only the goroutine currently writing to
	// the connection touches it.
	xid int32
	buf []byte // reusable frame buffer for synchronous calls
	// watchdogged: a caller-wide timer closes the connection instead of a
	// deadline per call (the watch workload: 4 timer updates per watcher
	// and round made the tool, not the server, the bottleneck).
	watchdogged bool
}

// dial connects to addr and creates a new session. handshake is the time
// from sending the ConnectRequest until its response arrived (the TCP
// connect is not included).
// Buffer sizes of a session's connection: large for pipelined load, small
// for the connection storm, whose sessions only shake hands (64 KiB
// buffers per dial made the tool's own allocation the limit there).
const (
	loadBufSize      = 64 << 10
	handshakeBufSize = 4 << 10
)

func dial(ctx context.Context, addr string, sessionTimeout time.Duration, bufSize int) (c *conn, handshake time.Duration, err error) {
	// No keepalive (sessions ping), and Go's TCP conns already have
	// TCP_NODELAY: no setsockopt calls beyond the connect, which matter
	// in the connection storm, where the tool shares the CPU with the
	// servers.
	d := net.Dialer{Timeout: ioTimeout, KeepAlive: -1}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, 0, err
	}
	c = &conn{nc: nc, addr: addr, br: bufio.NewReaderSize(nc, bufSize), bw: bufio.NewWriterSize(nc, bufSize)}
	_ = nc.SetDeadline(time.Now().Add(ioTimeout))
	req := wire.ConnectRequest{
		TimeOut:     int32(sessionTimeout / time.Millisecond),
		Passwd:      make([]byte, 16),
		HasReadOnly: true,
	}
	start := time.Now()
	if _, err := nc.Write(wire.MarshalFrame(&req)); err != nil {
		nc.Close()
		return nil, 0, fmt.Errorf("handshake with %s: %w", addr, err)
	}
	frame, err := wire.ReadFrame(c.br, maxFrame, nil)
	handshake = time.Since(start)
	if err != nil {
		nc.Close()
		return nil, 0, fmt.Errorf("handshake with %s: %w (the server may limit connections per client IP: maxClientCnxns)", addr, err)
	}
	var resp wire.ConnectResponse
	if err := wire.Unmarshal(frame, maxFrame, &resp); err != nil {
		nc.Close()
		return nil, 0, fmt.Errorf("handshake with %s: %w", addr, err)
	}
	if resp.TimeOut <= 0 {
		nc.Close()
		return nil, 0, fmt.Errorf("handshake with %s: %w", addr, errRefused)
	}
	_ = nc.SetDeadline(time.Time{})
	c.sessionID = wire.SessionID(resp.SessionID)
	c.timeout = time.Duration(resp.TimeOut) * time.Millisecond
	return c, handshake, nil
}

// call sends one request and waits for its reply, skipping notifications.
// The body aliases an internal buffer until the next call.
func (c *conn) call(op wire.OpCode, req wire.Record) (wire.Code, []byte, error) {
	if !c.watchdogged {
		_ = c.nc.SetDeadline(time.Now().Add(ioTimeout))
		defer c.nc.SetDeadline(time.Time{})
	}
	c.xid++
	h := wire.RequestHeader{Xid: c.xid, Type: op}
	if op == wire.OpPing {
		h.Xid = wire.XidPing
	}
	if _, err := c.nc.Write(wire.MarshalFrame(&h, req)); err != nil {
		return 0, nil, err
	}
	for {
		frame, err := wire.ReadFrame(c.br, maxFrame, c.buf)
		if err != nil {
			return 0, nil, err
		}
		c.buf = frame[:0]
		d := wire.Decoder{B: frame}
		var rh wire.ReplyHeader
		rh.Decode(&d)
		if d.Err != nil {
			return 0, nil, d.Err
		}
		if rh.Xid == wire.XidNotification {
			continue
		}
		if rh.Xid != h.Xid {
			return 0, nil, fmt.Errorf("reply xid %d, want %d", rh.Xid, h.Xid)
		}
		return rh.Err, frame[d.Off:], nil
	}
}

// close ends the session with closeSession (so ephemerals go at once) and
// closes the connection. Errors are ignored: the session expires anyway.
func (c *conn) close() {
	_ = c.nc.SetDeadline(time.Now().Add(5 * time.Second))
	c.xid++
	h := wire.RequestHeader{Xid: c.xid, Type: wire.OpCloseSession}
	if _, err := c.nc.Write(wire.MarshalFrame(&h)); err == nil {
		_, _ = wire.ReadFrame(c.br, maxFrame, nil)
	}
	_ = c.nc.Close()
}
