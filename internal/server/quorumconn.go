package server

import (
	"bufio"
	"io"
	"net"
	"sync"
	"time"

	"github.com/zkd/zkd/internal/zab"
)

// qconn is one Zab connection (leader <-> learner): packets are read by
// the owner's goroutine and written by a writer goroutine from a queue,
// so a slow peer never blocks the commit path that enqueues to it.
type qconn struct {
	nc     net.Conn
	br     *bufio.Reader
	mu     sync.Mutex
	out    []outItem
	closed bool // guarded by mu: nothing more is queued
	sig    chan struct{}
	done   chan struct{}
	once   sync.Once
}

func newQconn(nc net.Conn) *qconn {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	q := &qconn{nc: nc, br: bufio.NewReaderSize(nc, 64<<10), sig: make(chan struct{}, 1), done: make(chan struct{})}
	go q.writeLoop()
	return q
}

// outItem is one queued write: encoded bytes, or a large body (a SNAP
// snapshot) written from its source when its turn comes, then released.
type outItem struct {
	b       []byte
	body    io.WriterTo
	release func()
}

// send queues a packet; it never blocks.
func (q *qconn) send(p *zab.QuorumPacket) { q.enqueue(outItem{b: zab.AppendPacket(nil, p)}) }

// sendBody queues a body that writes itself to the connection in its turn
// (between the packets queued before and after it); release is called
// once it is written or the connection is gone.
func (q *qconn) sendBody(body io.WriterTo, release func()) {
	q.enqueue(outItem{body: body, release: release})
}

func (q *qconn) enqueue(it outItem) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		if it.release != nil {
			it.release()
		}
		return
	}
	q.out = append(q.out, it)
	q.mu.Unlock()
	select {
	case q.sig <- struct{}{}:
	default:
	}
}

func (q *qconn) writeLoop() {
	var bufs net.Buffers
	// Two queues swap roles, so appending to the live one reuses the
	// other's array instead of growing a new one every wakeup.
	var spare []outItem
	for {
		select {
		case <-q.sig:
		case <-q.done:
			return
		}
		q.mu.Lock()
		items := q.out
		q.out = spare[:0]
		q.mu.Unlock()
		if err := q.write(items, &bufs); err != nil {
			q.close()
			return
		}
		clear(items) // drop the packets' bytes
		spare = items
	}
}

// write writes items in order, packets batched into one writev. Every
// body's release runs, written or not.
func (q *qconn) write(items []outItem, bufs *net.Buffers) (err error) {
	*bufs = (*bufs)[:0]
	for i, it := range items {
		if it.body == nil {
			if err == nil {
				*bufs = append(*bufs, it.b)
			}
			continue
		}
		if err == nil && len(*bufs) > 0 {
			_, err = bufs.WriteTo(q.nc)
			*bufs = (*bufs)[:0]
		}
		if err == nil {
			_, err = it.body.WriteTo(q.nc)
		}
		it.release()
		items[i] = outItem{}
	}
	if err == nil && len(*bufs) > 0 {
		_, err = bufs.WriteTo(q.nc)
	}
	return err
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
		// Release queued bodies the writer will never take.
		q.mu.Lock()
		q.closed = true
		rest := q.out
		q.out = nil
		q.mu.Unlock()
		for _, it := range rest {
			if it.release != nil {
				it.release()
			}
		}
	})
}
