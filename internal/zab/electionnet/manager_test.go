package electionnet

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// cluster is a set of managers on loopback that know each other.
type cluster struct {
	t     *testing.T
	addrs map[int64]string
	ms    map[int64]*Manager
}

// newCluster starts managers on free loopback ports. The listeners are
// opened first, so that no port is released and re-bound (another socket
// could take it in between).
func newCluster(t *testing.T, sids ...int64) *cluster {
	t.Helper()
	c := &cluster{t: t, addrs: map[int64]string{}, ms: map[int64]*Manager{}}
	lns := map[int64]net.Listener{}
	for _, sid := range sids {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lns[sid] = ln
		c.addrs[sid] = ln.Addr().String()
	}
	for _, sid := range sids {
		m, err := New(sid, "", c.addrs, testLogger(t), WithListener(lns[sid]))
		require.NoError(t, err)
		require.NoError(t, m.Start())
		c.ms[sid] = m
	}
	t.Cleanup(func() {
		for _, m := range c.ms {
			require.NoError(t, m.Close())
		}
	})
	return c
}

func testLogger(t *testing.T) *zap.Logger {
	return zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
}

// start restarts sid's manager on its old address.
func (c *cluster) start(sid int64) *Manager {
	c.t.Helper()
	var m *Manager
	// A just-closed port can take a moment to be bindable again.
	require.Eventually(c.t, func() bool {
		var err error
		m, err = New(sid, c.addrs[sid], c.addrs, testLogger(c.t))
		return err == nil
	}, 5*time.Second, 20*time.Millisecond)
	require.NoError(c.t, m.Start())
	c.ms[sid] = m
	return m
}

// everyoneToEveryone has every server send payload to every other one and
// waits until each has received its messages.
func (c *cluster) everyoneToEveryone(t *testing.T, payload string) {
	t.Helper()
	for from, m := range c.ms {
		for to := range c.ms {
			if to != from {
				m.Send(to, []byte(payload))
			}
		}
	}
	for _, m := range c.ms {
		for range len(c.ms) - 1 {
			recv(t, m)
		}
	}
}

func (c *cluster) stop(sid int64) {
	require.NoError(c.t, c.ms[sid].Close())
	delete(c.ms, sid)
}

// recv waits for the next message on m.
func recv(t *testing.T, m *Manager) Message {
	t.Helper()
	select {
	case msg, ok := <-m.Recv():
		require.True(t, ok, "receive queue closed")
		return msg
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10s")
	}
	return Message{}
}

func TestMessagesFlowInEveryDirection(t *testing.T) {
	c := newCluster(t, 1, 2, 3)
	for from, m := range c.ms {
		for to := range c.ms {
			m.Send(to, []byte(fmt.Sprintf("%d->%d", from, to)))
		}
	}
	for to, m := range c.ms {
		// A message may arrive twice: while the two dials of a pair race,
		// the larger sid closes a fresh connection and the new one repeats
		// the last message (quorum.md §1.2). FLE does not mind.
		got := map[string]bool{}
		for len(got) < 3 {
			msg := recv(t, m)
			require.Equal(t, fmt.Sprintf("%d->%d", msg.From, to), string(msg.Payload))
			got[string(msg.Payload)] = true
		}
	}
}

func TestOnlyTheLargerSidsConnectionSurvives(t *testing.T) {
	c := newCluster(t, 1, 2, 3)
	// Every pair talks in both directions, so both sides dial.
	c.everyoneToEveryone(t, "hi")
	for sid, m := range c.ms {
		require.Eventually(t, func() bool { return len(m.Connected()) == 2 }, 5*time.Second, 10*time.Millisecond, "server %d", sid)
	}
	snapshot := func() map[[2]int64]*conn {
		out := map[[2]int64]*conn{}
		for sid, m := range c.ms {
			m.mu.Lock()
			for peer, cn := range m.conns {
				out[[2]int64{sid, peer}] = cn
			}
			m.mu.Unlock()
		}
		return out
	}
	before := snapshot()
	for key, cn := range before {
		me, peer := key[0], key[1]
		if me > peer {
			require.Equal(t, c.addrs[peer], cn.nc.RemoteAddr().String(), "%d must have dialed %d", me, peer)
		} else {
			require.Equal(t, c.addrs[me], cn.nc.LocalAddr().String(), "%d must have accepted %d's connection", me, peer)
			// The two ends are one TCP connection.
			require.Equal(t, cn.nc.RemoteAddr().String(), before[[2]int64{peer, me}].nc.LocalAddr().String())
		}
	}
	// No flapping: the same connections carry later traffic.
	c.everyoneToEveryone(t, "again")
	require.Equal(t, before, snapshot())
}

func TestRestartedPeerGetsTheLastMessageAgain(t *testing.T) {
	tests := []struct {
		name       string
		sender     int64
		restarted  int64
		reconnects func(c *cluster)
	}{
		{"the smaller sid restarts and dials", 3, 1, func(c *cluster) { c.ms[1].ConnectAll() }},
		{"the larger sid restarts and dials", 1, 3, func(c *cluster) { c.ms[3].ConnectAll() }},
		{"the larger sid restarts and sends", 1, 3, func(c *cluster) { c.ms[3].Send(1, []byte("i am back")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, 1, 2, 3)
			c.ms[tt.sender].Send(tt.restarted, []byte("last"))
			msg := recv(t, c.ms[tt.restarted])
			require.Equal(t, "last", string(msg.Payload))

			c.stop(tt.restarted)
			c.start(tt.restarted)
			tt.reconnects(c)

			// The sender's queue is empty when the new connection comes up,
			// so it repeats the last message.
			msg = recv(t, c.ms[tt.restarted])
			require.Equal(t, tt.sender, msg.From)
			require.Equal(t, "last", string(msg.Payload))
		})
	}
}

// rawHandshake is an initiator's handshake written by hand.
func rawHandshake(sid int64, addr string) []byte {
	v := ProtocolVersionV1
	b := binary.BigEndian.AppendUint64(nil, uint64(v))
	b = binary.BigEndian.AppendUint64(b, uint64(sid))
	b = binary.BigEndian.AppendUint32(b, uint32(len(addr)))
	return append(b, addr...)
}

func frame(n int32, payload []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(n)), payload...)
}

func TestBadLengthClosesOnlyThatConnection(t *testing.T) {
	tests := []struct {
		name   string
		length int32
	}{
		{"zero length", 0},
		{"negative length", -1},
		{"one byte over 512 KiB", MaxMessageSize + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, 1, 2)
			nc, err := net.Dial("tcp", c.addrs[1])
			require.NoError(t, err)
			defer nc.Close()
			// sid 9 > 1, so server 1 keeps the connection.
			_, err = nc.Write(append(rawHandshake(9, "127.0.0.1:1"), frame(2, []byte("ok"))...))
			require.NoError(t, err)
			msg := recv(t, c.ms[1])
			require.Equal(t, Message{From: 9, Payload: []byte("ok")}, msg)

			_, err = nc.Write(frame(tt.length, nil))
			require.NoError(t, err)
			require.NoError(t, nc.SetReadDeadline(time.Now().Add(5*time.Second)))
			_, err = nc.Read(make([]byte, 1))
			require.ErrorIs(t, err, io.EOF, "server 1 must close the connection")

			// The other peer is unaffected.
			c.ms[2].Send(1, []byte("still here"))
			c.ms[1].Send(2, []byte("me too"))
			require.Equal(t, "still here", string(recv(t, c.ms[1]).Payload))
			require.Equal(t, "me too", string(recv(t, c.ms[2]).Payload))
		})
	}
}

func TestLargestMessagePasses(t *testing.T) {
	c := newCluster(t, 1, 2)
	big := make([]byte, MaxMessageSize)
	big[len(big)-1] = 7
	c.ms[1].Send(2, big)
	require.Equal(t, big, recv(t, c.ms[2]).Payload)
	c.ms[1].Send(2, make([]byte, MaxMessageSize+1)) // refused locally
	c.ms[1].Send(2, []byte("next"))
	require.Equal(t, "next", string(recv(t, c.ms[2]).Payload))
}

// TestHandshakeBytes checks the initiator's bytes (quorum.md §1.1) against
// a hand-written peer with a smaller sid, so the connection is kept.
func TestHandshakeBytes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	m, err := New(2, "127.0.0.1:0", map[int64]string{1: ln.Addr().String()}, testLogger(t))
	require.NoError(t, err)
	defer m.Close()
	require.NoError(t, m.Start())

	m.Send(1, []byte("vote"))
	nc, err := ln.Accept()
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(5*time.Second)))
	br := bufio.NewReader(nc)

	addr := m.Addr().String()
	want := append(rawHandshake(2, addr), frame(4, []byte("vote"))...)
	got := make([]byte, len(want))
	_, err = io.ReadFull(br, got)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0}, got[:8], "protocol version -65536")
}

// TestSmallerInitiatorIsDialedBack: server 3 closes a connection from sid 1
// and opens its own (quorum.md §1.1, acceptor rule); a legacy handshake
// (bare sid) is understood.
func TestSmallerInitiatorIsDialedBack(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprintf("legacy=%v", legacy), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			m, err := New(3, "127.0.0.1:0", map[int64]string{1: ln.Addr().String()}, testLogger(t))
			require.NoError(t, err)
			defer m.Close()
			require.NoError(t, m.Start())

			nc, err := net.Dial("tcp", m.Addr().String())
			require.NoError(t, err)
			defer nc.Close()
			hs := rawHandshake(1, ln.Addr().String())
			if legacy {
				hs = binary.BigEndian.AppendUint64(nil, 1)
			}
			_, err = nc.Write(hs)
			require.NoError(t, err)
			require.NoError(t, nc.SetReadDeadline(time.Now().Add(5*time.Second)))
			_, err = nc.Read(make([]byte, 1))
			require.ErrorIs(t, err, io.EOF, "server 3 must close the smaller sid's connection")

			back, err := ln.Accept()
			require.NoError(t, err)
			defer back.Close()
			require.NoError(t, back.SetReadDeadline(time.Now().Add(5*time.Second)))
			got := make([]byte, 16)
			_, err = io.ReadFull(back, got)
			require.NoError(t, err)
			require.Equal(t, int64(3), int64(binary.BigEndian.Uint64(got[8:])), "server 3 dials back")
			require.Eventually(t, func() bool { return len(m.Connected()) == 1 }, 5*time.Second, 10*time.Millisecond)
		})
	}
}

func TestBadHandshakesAreClosed(t *testing.T) {
	tests := []struct {
		name string
		hs   []byte
	}{
		{"unknown protocol version", binary.BigEndian.AppendUint64(nil, uint64(0xffffffffffff0005))},
		{"address length zero", rawHandshake(9, "")},
		{"address without port", rawHandshake(9, "localhost")},
		{"address too long", append(binary.BigEndian.AppendUint32(rawHandshake(9, "")[:16], 4096), make([]byte, 4096)...)},
	}
	m, err := New(1, "127.0.0.1:0", nil, testLogger(t))
	require.NoError(t, err)
	defer m.Close()
	require.NoError(t, m.Start())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", m.Addr().String())
			require.NoError(t, err)
			defer nc.Close()
			_, err = nc.Write(tt.hs)
			require.NoError(t, err)
			require.NoError(t, nc.SetReadDeadline(time.Now().Add(5*time.Second)))
			_, err = nc.Read(make([]byte, 1))
			require.Error(t, err)
			require.Empty(t, m.Connected())
		})
	}
}

func TestHandshakeTimeout(t *testing.T) {
	m, err := New(1, "127.0.0.1:0", nil, testLogger(t), WithCnxTimeout(100*time.Millisecond))
	require.NoError(t, err)
	defer m.Close()
	require.NoError(t, m.Start())
	nc, err := net.Dial("tcp", m.Addr().String())
	require.NoError(t, err)
	defer nc.Close()
	_, err = nc.Write([]byte{0xff, 0xff}) // half a protocol version, then silence
	require.NoError(t, err)
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = nc.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF)
}

func TestCloseIsCleanAndIdempotent(t *testing.T) {
	c := newCluster(t, 1, 2, 3)
	c.ms[1].Send(2, []byte("x"))
	c.ms[3].Send(1, []byte("y"))
	recv(t, c.ms[2])
	m := c.ms[1]
	c.stop(1)
	require.NoError(t, m.Close())
	for range m.Recv() {
		// Messages received before Close stay readable; then the channel
		// ends.
	}
	m.Send(2, []byte("after close")) // must not panic
	m.Send(1, []byte("after close"))
	require.ErrorIs(t, m.Start(), ErrClosed)
}

func TestHaveDelivered(t *testing.T) {
	m, err := New(1, "127.0.0.1:0", map[int64]string{2: "127.0.0.1:1"}, testLogger(t))
	require.NoError(t, err)
	defer m.Close()
	require.True(t, m.HaveDelivered(), "no queues yet")
	m.Send(2, []byte("unreachable"))
	require.False(t, m.HaveDelivered(), "the only queue holds a message")
}
