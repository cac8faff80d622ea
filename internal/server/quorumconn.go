package server

import (
	"bufio"
	"net"
	"sync"
	"time"

	"github.com/zkd/zkd/internal/zab"
)

// qconn is one Zab connection (leader <-> learner): packets are read by
// the owner's goroutine and written by a writer goroutine from a queue,
// so a slow peer never blocks the commit path that enqueues to it.
type qconn struct {
	nc   net.Conn
	br   *bufio.Reader
	mu   sync.Mutex
	out  [][]byte
	sig  chan struct{}
	done chan struct{}
	once sync.Once
}

func newQconn(nc net.Conn) *qconn {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	q := &qconn{nc: nc, br: bufio.NewReaderSize(nc, 64<<10), sig: make(chan struct{}, 1), done: make(chan struct{})}
	go q.writeLoop()
	return q
}

// send queues a packet; it never blocks.
func (q *qconn) send(p *zab.QuorumPacket) { q.sendRaw(zab.AppendPacket(nil, p)) }

// sendRaw queues bytes that are already an encoded packet stream.
func (q *qconn) sendRaw(b []byte) {
	q.mu.Lock()
	q.out = append(q.out, b)
	q.mu.Unlock()
	select {
	case q.sig <- struct{}{}:
	default:
	}
}

func (q *qconn) writeLoop() {
	var bufs net.Buffers
	for {
		select {
		case <-q.sig:
		case <-q.done:
			return
		}
		q.mu.Lock()
		frames := q.out
		q.out = nil
		q.mu.Unlock()
		if len(frames) == 0 {
			continue
		}
		bufs = append(bufs[:0], frames...)
		if _, err := bufs.WriteTo(q.nc); err != nil {
			q.close()
			return
		}
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

func (q *qconn) close() {
	q.once.Do(func() {
		close(q.done)
		q.nc.Close()
	})
}
