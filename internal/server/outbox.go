package server

import (
	"io"
	"net"
	"slices"
	"sync"
	"syscall"
	"unsafe"
)

// outbox is the outgoing side of one connection, client or quorum: a
// queue of frames and a writer goroutine. Queuing never blocks. Whoever
// queued outside every shared lock may also write the queue at once
// (flush), with non-blocking system calls. That saves waking the writer
// goroutine, which on an idle core costs two thread switches, for every
// reply and every Zab packet: at moderate load those wakes, not the work,
// were most of zkd's CPU (docs/benchmarking.md). When the socket has no
// room the rest is left to the writer goroutine, which may block, so a
// slow peer never holds up whoever flushed.
//
// One owner at a time writes the socket (writing): a flush or the writer
// goroutine. Either one, when it is done, looks at the queue again, so
// frames queued meanwhile are never stranded.
type outbox struct {
	nc  net.Conn
	raw syscall.RawConn // nil: not a socket flush can write (writer only)

	mu        sync.Mutex
	items     []outItem
	bytes     int
	writing   bool // a flush or the writer goroutine owns the socket
	holds     int  // hold: a flush follows, do not wake the writer
	scheduled bool // in a flushSet that will flush it
	drainThen bool // close once the queue is written (closeAfterFlush)
	closed    bool
	started   bool // the writer goroutine runs (start)

	sig  chan struct{}
	done chan struct{}
	once sync.Once
	// onEnd, if set, ends the connection when the outbox finds it over (a
	// write failed, or the queue drained after closeAfterDrain); it must
	// call shutdown. Without it the outbox shuts itself down.
	onEnd func()
}

// outItem is one queued write: encoded bytes, or a large body (a SNAP
// snapshot) written from its source when its turn comes, then released.
type outItem struct {
	b       []byte
	body    io.WriterTo
	release func()
}

func newOutbox(nc net.Conn, onEnd func()) *outbox {
	o := &outbox{nc: nc, sig: make(chan struct{}, 1), done: make(chan struct{}), onEnd: onEnd}
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			o.raw = raw
		}
	}
	return o
}

// start starts the writer goroutine. Until then nothing is written: a
// flush leaves the queue to the writer.
func (o *outbox) start() {
	o.mu.Lock()
	o.started = true
	o.mu.Unlock()
	go o.writeLoop()
}

// push queues it; ok is false if it was dropped because the outbox is
// closed or closing (closeAfterDrain). act reports whether the caller
// must see to it that the queue gets written (kick, flush or a
// flushSet): false when an owner is writing (it looks again when done),
// a hold is on, or a flushSet has it due. queued is the number of bytes
// waiting.
func (o *outbox) push(it outItem) (act bool, queued int, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || o.drainThen {
		if it.release != nil {
			it.release()
		}
		return false, 0, false
	}
	o.items = append(o.items, it)
	o.bytes += len(it.b)
	return !o.writing && o.holds == 0 && !o.scheduled, o.bytes, true
}

// draining reports whether closeAfterDrain was called.
func (o *outbox) draining() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.drainThen
}

// kick wakes the writer goroutine.
func (o *outbox) kick() {
	select {
	case o.sig <- struct{}{}:
	default:
	}
}

// hold makes pushes ask nothing of their callers (act false) until
// release, which flushes: the holder writes whatever was queued
// meanwhile. The holder may flush earlier too, and must before it blocks
// on anything (conn's bursts).
func (o *outbox) hold() {
	o.mu.Lock()
	o.holds++
	o.mu.Unlock()
}

func (o *outbox) release() {
	o.mu.Lock()
	o.holds--
	o.mu.Unlock()
	o.flush()
}

// schedule marks o as due in a flushSet; false if it already is.
func (o *outbox) schedule() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.scheduled {
		return false
	}
	o.scheduled = true
	return true
}

// closeAfterDrain closes the outbox once everything queued is written.
func (o *outbox) closeAfterDrain() {
	o.mu.Lock()
	o.drainThen = true
	o.mu.Unlock()
	o.kick()
}

// maxIovecs bounds one writev (IOV_MAX on Linux is 1024).
const maxIovecs = 512

// flush writes the queue now, without blocking, unless someone owns the
// socket already (who then looks at the queue again when done). What the
// socket cannot take goes to the writer goroutine. Never call it holding
// a lock others wait on: it is a system call.
func (o *outbox) flush() {
	o.mu.Lock()
	o.scheduled = false
	if o.writing || o.closed || len(o.items) == 0 {
		o.mu.Unlock()
		return
	}
	if o.raw == nil || !o.started || o.drainThen || o.items[0].body != nil {
		// Bodies and the final close are the writer's (and everything,
		// before it starts).
		o.mu.Unlock()
		o.kick()
		return
	}
	o.writing = true
	w := iovPool.Get().(*iovWrite)
	defer iovPool.Put(w)
	for {
		n, want := 0, 0
		for n < len(o.items) && n < maxIovecs && o.items[n].body == nil {
			if b := o.items[n].b; len(b) > 0 {
				w.iov[n] = syscall.Iovec{Base: &b[0]}
				w.iov[n].SetLen(len(b))
				want += len(b)
			} else {
				w.iov[n] = syscall.Iovec{}
			}
			n++
		}
		o.mu.Unlock()
		wrote, err := w.writev(o.raw, n)
		clear(w.iov[:n]) // a pooled array keeps no frame alive
		o.mu.Lock()
		if err != nil {
			o.writing = false
			o.mu.Unlock()
			o.end()
			return
		}
		o.consume(wrote)
		if wrote < want || len(o.items) == 0 || o.items[0].body != nil || o.drainThen {
			// The socket is full, or the rest is the writer's.
			break
		}
	}
	o.writing = false
	rest := len(o.items) > 0 || o.drainThen
	o.mu.Unlock()
	if rest {
		o.kick()
	}
}

// consume drops wrote bytes from the head of the queue. Caller holds mu.
func (o *outbox) consume(wrote int) {
	o.bytes -= wrote
	i := 0
	for ; i < len(o.items) && o.items[i].body == nil; i++ {
		b := o.items[i].b
		if wrote < len(b) {
			o.items[i].b = b[wrote:]
			break
		}
		wrote -= len(b)
	}
	n := copy(o.items, o.items[i:])
	clear(o.items[n:])
	o.items = o.items[:n]
}

// iovWrite is one non-blocking writev's iovecs and results. A flush takes
// one from iovPool: on the flush's stack the array escaped to the heap
// (the system call runs in a closure handed to RawConn.Write), 8 KiB
// allocated and cleared per flush.
type iovWrite struct {
	iov   [maxIovecs]syscall.Iovec
	n     int // iovecs to write
	wrote uintptr
	errno syscall.Errno
	// do is w.write bound once, so handing it to RawConn.Write allocates
	// nothing.
	do func(fd uintptr) bool
}

var iovPool = sync.Pool{New: func() any {
	w := new(iovWrite)
	w.do = w.write
	return w
}}

func (w *iovWrite) write(fd uintptr) bool {
	for {
		var errno syscall.Errno
		w.wrote, _, errno = syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.iov[0])), uintptr(w.n))
		if errno != syscall.EINTR {
			w.errno = errno
			return true
		}
	}
}

// writev writes the first n iovecs with one non-blocking writev; the
// socket being full (EAGAIN) counts as 0 bytes written.
func (w *iovWrite) writev(raw syscall.RawConn, n int) (int, error) {
	if n == 0 {
		return 0, nil
	}
	w.n = n
	if err := raw.Write(w.do); err != nil {
		return 0, err
	}
	switch w.errno {
	case 0:
		return int(w.wrote), nil
	case syscall.EAGAIN:
		return 0, nil
	default:
		return 0, w.errno
	}
}

func (o *outbox) writeLoop() {
	var bufs net.Buffers
	// Two queues swap roles, so appending to the live one reuses the
	// other's array instead of growing a new one every wakeup.
	var spare []outItem
	for {
		select {
		case <-o.sig:
		case <-o.done:
			return
		}
		for {
			o.mu.Lock()
			if o.writing {
				// A flush owns the socket; it kicks again if it leaves
				// anything behind.
				o.mu.Unlock()
				break
			}
			if len(o.items) == 0 {
				drained := o.drainThen
				o.mu.Unlock()
				if drained {
					o.end()
					return
				}
				break
			}
			items := o.items
			o.items = spare[:0]
			o.bytes = 0
			o.writing = true
			o.mu.Unlock()
			err := o.write(items, &bufs)
			clear(items) // drop the frames' bytes
			spare = items
			o.mu.Lock()
			o.writing = false
			o.mu.Unlock()
			if err != nil {
				o.end()
				return
			}
		}
	}
}

// write writes items in order, frames batched into one writev. Every
// body's release runs, written or not.
func (o *outbox) write(items []outItem, bufs *net.Buffers) (err error) {
	*bufs = (*bufs)[:0]
	for i, it := range items {
		if it.body == nil {
			if err == nil {
				*bufs = append(*bufs, it.b)
			}
			continue
		}
		if err == nil && len(*bufs) > 0 {
			_, err = bufs.WriteTo(o.nc)
			*bufs = (*bufs)[:0]
		}
		if err == nil {
			_, err = it.body.WriteTo(o.nc)
		}
		it.release()
		items[i] = outItem{}
	}
	if err == nil && len(*bufs) > 0 {
		_, err = bufs.WriteTo(o.nc)
	}
	return err
}

// end ends the connection from inside the outbox.
func (o *outbox) end() {
	if o.onEnd != nil {
		o.onEnd()
		return
	}
	o.shutdown()
}

// shutdown closes the socket once and stops the writer; queued bodies
// are released.
func (o *outbox) shutdown() {
	o.once.Do(func() {
		close(o.done)
		o.nc.Close()
		o.mu.Lock()
		o.closed = true
		rest := o.items
		o.items = nil
		o.bytes = 0
		o.mu.Unlock()
		for _, it := range rest {
			if it.release != nil {
				it.release()
			}
		}
	})
}

// flushSet collects outboxes pushed to while writing was not yet
// possible, to flush together later: the applier's replies and
// notifications of a batch (once Server.order is released), a follower's
// ACKs of a logged batch, the writes a client's burst forwarded to the
// leader.
type flushSet struct {
	mu  sync.Mutex
	set []*outbox
}

// add takes o into the set unless it is already due in one.
func (f *flushSet) add(o *outbox) {
	if !o.schedule() {
		return
	}
	f.mu.Lock()
	f.set = append(f.set, o)
	f.mu.Unlock()
}

// flushChunk is how many outboxes one goroutine flushes in a row.
const flushChunk = 128

// flush writes every outbox in the set in place and empties it. The
// caller writes the first flushChunk itself, one after another; each
// further chunk gets a goroutine of its own, so that a large watch
// fan-out does not hold the applier up for long (10,000 watchers on one
// member would be some 90 ms of writes on a loopback VM) and its sockets
// are written on every core. Writing in place rather than waking each
// connection's writer goroutine measured faster for fan-out and for
// saturated throughput alike: on a 3-node ensemble, 8.3-9.5 ms to the
// last of 1,000 notifications instead of 11.1-11.4, and 74-85k saturated
// setData/s instead of 70-72k (docs/benchmarking.md). An outbox some
// other goroutine is writing is left to it (it looks at the queue again
// when done), so frames keep their order whoever flushes.
func (f *flushSet) flush() {
	f.mu.Lock()
	set := f.set
	f.set = nil
	f.mu.Unlock()
	first := set
	if len(set) > flushChunk {
		first = set[:flushChunk]
		for part := range slices.Chunk(set[flushChunk:], flushChunk) {
			part = slices.Clone(part) // set's array is reused below
			go func() {
				for _, o := range part {
					o.flush()
				}
			}()
		}
	}
	for _, o := range first {
		o.flush()
	}
	clear(set)
	f.mu.Lock()
	if f.set == nil {
		f.set = set[:0] // reuse the array
	}
	f.mu.Unlock()
}
