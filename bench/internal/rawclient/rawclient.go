// Package rawclient is a minimal ZooKeeper client for the benchmark programs:
// one session on a raw connection, with blocking calls and a pipelined
// mode that keeps a window of requests in flight. It speaks the wire
// format of internal/wire and nothing more (no reconnects, no watches).
package rawclient

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/zkd/zkd/internal/wire"
)

// Client is one session on a raw connection that pipelines requests: a
// window of them is in flight at once, and replies (which a ZooKeeper
// server sends in request order per connection) are matched in FIFO order.
type Client struct {
	conn      net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	sessionID int64
	xid       int32
}

func Dial(addr string, timeout time.Duration, sessionTimeoutMs int32) (*Client, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	cl := &Client{conn: c, br: bufio.NewReaderSize(c, 64<<10), bw: bufio.NewWriterSize(c, 64<<10)}
	_ = c.SetDeadline(time.Now().Add(timeout))
	req := wire.ConnectRequest{TimeOut: sessionTimeoutMs, Passwd: make([]byte, 16)}
	if _, err := c.Write(wire.MarshalFrame(&req)); err != nil {
		c.Close()
		return nil, err
	}
	frame, err := wire.ReadFrame(cl.br, 0, nil)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	var resp wire.ConnectResponse
	if err := wire.Unmarshal(frame, 0, &resp); err != nil {
		c.Close()
		return nil, err
	}
	if resp.TimeOut <= 0 {
		c.Close()
		return nil, errors.New("handshake: session refused")
	}
	_ = c.SetDeadline(time.Time{})
	cl.sessionID = resp.SessionID
	return cl, nil
}

// Close ends the session (closeSession) and the connection.
func (c *Client) Close() {
	_ = c.conn.SetDeadline(time.Now().Add(5 * time.Second))
	c.xid++
	h := wire.RequestHeader{Xid: c.xid, Type: wire.OpCloseSession}
	if _, err := c.conn.Write(wire.MarshalFrame(&h)); err == nil {
		_, _ = wire.ReadFrame(c.br, 0, nil)
	}
	c.conn.Close()
}

// Abort drops the connection without closing the session (the server
// expires it after its timeout), e.g. after a failed call.
func (c *Client) Abort() { c.conn.Close() }

// SessionID is the id the server gave the session.
func (c *Client) SessionID() int64 { return c.sessionID }

// Call sends one request and waits for its reply.
func (c *Client) Call(op wire.OpCode, req, resp wire.Record, timeout time.Duration) (wire.Code, error) {
	_ = c.conn.SetDeadline(time.Now().Add(timeout))
	defer c.conn.SetDeadline(time.Time{})
	c.xid++
	h := wire.RequestHeader{Xid: c.xid, Type: op}
	if _, err := c.conn.Write(wire.MarshalFrame(&h, req)); err != nil {
		return 0, err
	}
	for {
		frame, err := wire.ReadFrame(c.br, 0, nil)
		if err != nil {
			return 0, err
		}
		d := wire.NewDecoder(frame, 0)
		var rh wire.ReplyHeader
		rh.Decode(d)
		if rh.Xid == wire.XidNotification {
			continue
		}
		if rh.Xid != h.Xid {
			return 0, fmt.Errorf("reply xid %d, want %d", rh.Xid, h.Xid)
		}
		if rh.Err == wire.OK && resp != nil {
			if err := wire.Unmarshal(frame[d.Off:], 0, resp); err != nil {
				return 0, err
			}
		}
		return rh.Err, nil
	}
}

type inflight struct {
	xid   int32
	start time.Time
}

// Pipeline sends the requests next produces, keeping at most window in
// flight, until next reports none is left; done is called (from another
// goroutine) with each reply's code and latency, in order. It returns when
// every reply arrived, or on the first transport error.
func (c *Client) Pipeline(window int, next func() (wire.OpCode, wire.Record, bool), done func(wire.Code, time.Duration)) error {
	slots := make(chan struct{}, window) // one token per request in flight
	q := make(chan inflight, window)
	readErr := make(chan error, 1)
	go func() {
		fail := func(err error) {
			readErr <- err
			// Drain so the sender never blocks on a full window.
			for range q {
				<-slots
			}
		}
		for p := range q {
			frame, err := wire.ReadFrame(c.br, 0, nil)
			if err != nil {
				fail(err)
				return
			}
			d := wire.NewDecoder(frame, 0)
			var rh wire.ReplyHeader
			rh.Decode(d)
			if rh.Xid != p.xid {
				fail(fmt.Errorf("reply xid %d, want %d", rh.Xid, p.xid))
				return
			}
			done(rh.Err, time.Since(p.start))
			<-slots
		}
		readErr <- nil
	}()
	var sendErr error
	for sendErr == nil {
		op, rec, ok := next()
		if !ok {
			break
		}
		select {
		case slots <- struct{}{}:
		default:
			// The window is full: push out what is buffered, then wait.
			if sendErr = c.bw.Flush(); sendErr != nil {
				continue
			}
			slots <- struct{}{}
		}
		c.xid++
		p := inflight{xid: c.xid, start: time.Now()}
		q <- p
		h := wire.RequestHeader{Xid: p.xid, Type: op}
		_, sendErr = c.bw.Write(wire.MarshalFrame(&h, rec))
	}
	if sendErr == nil {
		sendErr = c.bw.Flush()
	}
	close(q)
	if sendErr != nil {
		c.conn.Close()
		<-readErr
		return sendErr
	}
	return <-readErr
}
