package server

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/zab"
)

type bodyFunc func(w io.Writer) (int64, error)

func (f bodyFunc) WriteTo(w io.Writer) (int64, error) { return f(w) }

// Packets and bodies reach the peer in the order queued, and every body
// is released once, written or not.
func TestQconnOrdersBodiesWithPackets(t *testing.T) {
	a, b := net.Pipe()
	q := newQconn(a)
	var released atomic.Int32
	body := bodyFunc(func(w io.Writer) (int64, error) {
		n, err := w.Write([]byte("BODY"))
		return int64(n), err
	})
	q.send(&zab.QuorumPacket{Type: zab.PktSnap, Zxid: 7})
	q.sendBody(body, func() { released.Add(1) })
	q.send(&zab.QuorumPacket{Type: zab.PktNewLeader, Zxid: 8})

	want := zab.AppendPacket(nil, &zab.QuorumPacket{Type: zab.PktSnap, Zxid: 7})
	want = append(want, "BODY"...)
	want = zab.AppendPacket(want, &zab.QuorumPacket{Type: zab.PktNewLeader, Zxid: 8})
	got := make([]byte, len(want))
	_, err := io.ReadFull(b, got)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Eventually(t, func() bool { return released.Load() == 1 }, 10*time.Second, time.Millisecond)

	// After close, a queued body is released without being written.
	q.close()
	q.sendBody(bodyFunc(func(io.Writer) (int64, error) { return 0, errors.New("must not run") }),
		func() { released.Add(1) })
	require.EqualValues(t, 2, released.Load())
	b.Close()
}
