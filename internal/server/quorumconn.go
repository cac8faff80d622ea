package server

import (
	"bufio"
	"io"
	"net"
	"time"

	"github.com/zkd/zkd/internal/zab"
)

// qconn is one Zab connection (leader <-> learner): packets are read by
// the owner's goroutine and written through an outbox, so a slow peer
// never blocks the commit path that queues to it.
type qconn struct {
	nc net.Conn
	br *bufio.Reader
	ob *outbox
}

func newQconn(nc net.Conn) *qconn {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	q := &qconn{nc: nc, br: bufio.NewReaderSize(nc, 64<<10), ob: newOutbox(nc, nil)}
	q.ob.start()
	return q
}

// send queues a packet for the writer goroutine; it never blocks.
func (q *qconn) send(p *zab.QuorumPacket) {
	if act, _, _ := q.ob.push(outItem{b: zab.AppendPacket(nil, p)}); act {
		q.ob.kick()
	}
}

// sendNow queues a packet and writes the queue at once where the socket
// has room (outbox.flush). Only for callers that hold no lock.
func (q *qconn) sendNow(p *zab.QuorumPacket) {
	if act, _, _ := q.ob.push(outItem{b: zab.AppendPacket(nil, p)}); act {
		q.ob.flush()
	}
}

// sendLater queues a packet to be written when fs is flushed, after the
// caller has released its lock.
func (q *qconn) sendLater(p *zab.QuorumPacket, fs *flushSet) {
	if act, _, _ := q.ob.push(outItem{b: zab.AppendPacket(nil, p)}); act {
		fs.add(q.ob)
	}
}

// sendBody queues a body that writes itself to the connection in its turn
// (between the packets queued before and after it); release is called
// once it is written or the connection is gone.
func (q *qconn) sendBody(body io.WriterTo, release func()) {
	if act, _, _ := q.ob.push(outItem{body: body, release: release}); act {
		q.ob.kick()
	}
}

// read reads one packet, failing after timeout (0: no deadline).
func (q *qconn) read(timeout time.Duration) (*zab.QuorumPacket, error) {
	if timeout > 0 {
		_ = q.nc.SetReadDeadline(time.Now().Add(timeout))
	} else {
		_ = q.nc.SetReadDeadline(time.Time{})
	}
	return zab.ReadPacket(q.br, 0)
}

func (q *qconn) close() { q.ob.shutdown() }
