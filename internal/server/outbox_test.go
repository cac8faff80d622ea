package server

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// tcpPair returns both ends of a loopback TCP connection: an outbox's
// inline flush needs a real socket.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	server = <-accepted
	require.NotNil(t, server)
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// frame returns an 8-byte record: writer id and sequence number.
func seqFrame(writer, seq uint32, pad int) []byte {
	b := make([]byte, 8+pad)
	binary.BigEndian.PutUint32(b, writer)
	binary.BigEndian.PutUint32(b[4:], seq)
	return b
}

// Frames pushed by many goroutines, written by whichever of flush, a
// flushSet, a hold's release or the writer goroutine gets there first,
// arrive whole and, per pusher, in order. Each pusher uses a different
// way to get its frames written.
func TestOutboxKeepsOrderWhoeverWrites(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	a, b := tcpPair(t)
	o := newOutbox(a, nil)
	o.start()
	defer o.shutdown()

	const writers, perWriter, pad = 4, 3000, 56
	done := make(chan map[uint32]uint32, 1)
	go func() {
		next := map[uint32]uint32{}
		buf := make([]byte, 8+pad)
		for i := 0; i < writers*perWriter; i++ {
			if _, err := io.ReadFull(b, buf); err != nil {
				break
			}
			w, seq := binary.BigEndian.Uint32(buf), binary.BigEndian.Uint32(buf[4:])
			if seq != next[w] {
				next[w] = 1 << 31 // out of order
				continue
			}
			next[w]++
		}
		done <- next
	}()

	var wg sync.WaitGroup
	for w := range uint32(writers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var fs flushSet
			for seq := range uint32(perWriter) {
				f := outItem{b: seqFrame(w, seq, pad)}
				switch w {
				case 0: // flush at once
					if act, _, _ := o.push(f); act {
						o.flush()
					}
				case 1: // via a flushSet
					if act, _, _ := o.push(f); act {
						fs.add(o)
					}
					if seq%7 == 0 {
						fs.flush()
					}
				case 2: // the writer goroutine
					if act, _, _ := o.push(f); act {
						o.kick()
					}
				case 3: // under a hold, released now and then
					if seq%5 == 0 {
						o.hold()
					}
					o.push(f)
					if seq%5 == 4 || seq == perWriter-1 {
						o.release()
					}
				}
			}
			fs.flush()
		}()
	}
	wg.Wait()
	select {
	case next := <-done:
		for w := range uint32(writers) {
			require.Equal(t, uint32(perWriter), next[w], "writer %d: frames missing or out of order", w)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("frames stranded in the outbox")
	}
}

// A peer that does not read fills the socket: flush must return at once
// and leave the rest to the writer goroutine, which delivers everything,
// in order, once the peer reads.
func TestOutboxFlushNeverBlocksOnAFullSocket(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	a, b := tcpPair(t)
	o := newOutbox(a, nil)
	o.start()
	defer o.shutdown()

	const n, size = 400, 64 << 10 // 25 MiB: far more than socket buffers hold
	pushed := make(chan struct{})
	go func() {
		defer close(pushed)
		for i := range uint32(n) {
			if act, _, _ := o.push(outItem{b: seqFrame(0, i, size-8)}); act {
				o.flush()
			}
		}
	}()
	// Not a timing assertion on speed: with nobody reading, a blocking
	// flush would never return at all.
	select {
	case <-pushed:
	case <-time.After(20 * time.Second):
		t.Fatal("flush blocked on a socket the peer does not read")
	}
	require.Positive(t, o.queued(), "the peer reads nothing, so most must still be queued")

	buf := make([]byte, size)
	_ = b.SetReadDeadline(time.Now().Add(30 * time.Second)) // stranded frames fail, not hang
	for i := range uint32(n) {
		_, err := io.ReadFull(b, buf)
		require.NoError(t, err)
		require.Equal(t, i, binary.BigEndian.Uint32(buf[4:]))
	}
}

// closeAfterDrain writes what is queued, then closes; later pushes are
// dropped and report it.
func TestOutboxCloseAfterDrain(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	a, b := tcpPair(t)
	ended := make(chan struct{})
	var o *outbox
	o = newOutbox(a, func() { close(ended); o.shutdown() })
	o.start()
	for i := range uint32(10) {
		o.push(outItem{b: seqFrame(0, i, 0)})
	}
	o.closeAfterDrain()
	_, _, ok := o.push(outItem{b: seqFrame(0, 99, 0)})
	require.False(t, ok, "a push after closeAfterDrain must be refused")
	got, err := io.ReadAll(b)
	require.NoError(t, err)
	require.Len(t, got, 80)
	require.Equal(t, uint32(9), binary.BigEndian.Uint32(got[76:]))
	<-ended
}

// Under a hold a push asks nothing of its caller, and the release writes
// it; a flushSet holds an outbox once however often it is added.
func TestOutboxHoldAndFlushSet(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	a, b := tcpPair(t)
	o := newOutbox(a, nil)
	o.start()
	defer o.shutdown()

	o.hold()
	act, _, _ := o.push(outItem{b: seqFrame(0, 0, 0)})
	require.False(t, act)
	o.release()
	buf := make([]byte, 8)
	_, err := io.ReadFull(b, buf)
	require.NoError(t, err)

	var fs flushSet
	for i := range uint32(3) {
		if act, _, _ := o.push(outItem{b: seqFrame(0, 1+i, 0)}); act {
			fs.add(o)
		}
		fs.add(o)
	}
	require.Len(t, fs.set, 1)
	fs.flush()
	for i := range uint32(3) {
		_, err := io.ReadFull(b, buf)
		require.NoError(t, err)
		require.Equal(t, 1+i, binary.BigEndian.Uint32(buf[4:]))
	}
}

// A set larger than one goroutine's chunk (a watch fan-out) is written
// whole: the part past the first chunk by helper goroutines.
func TestFlushSetWritesEveryOutboxOfALargeSet(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	n := 2*flushChunk + 5
	readers := make([]net.Conn, n)
	var fs flushSet
	for i := range n {
		a, b := tcpPair(t)
		readers[i] = b
		o := newOutbox(a, nil)
		o.start()
		defer o.shutdown()
		if act, _, _ := o.push(outItem{b: seqFrame(uint32(i), 0, 0)}); act {
			fs.add(o)
		}
	}
	require.Len(t, fs.set, n)
	fs.flush()
	require.Empty(t, fs.set)
	buf := make([]byte, 8)
	for i, r := range readers {
		require.NoError(t, r.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, err := io.ReadFull(r, buf)
		require.NoError(t, err, "outbox %d", i)
		require.Equal(t, uint32(i), binary.BigEndian.Uint32(buf))
	}
}
