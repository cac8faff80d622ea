package server_test

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/session"
	"github.com/zkd/zkd/internal/wire"
)

func TestIntegrationConnectNegotiatesTimeout(t *testing.T) {
	s := startServer(t)
	cases := []struct {
		name      string
		requested int32
		want      int32
	}{
		{"a timeout below minSessionTimeout is raised to the minimum", 10, itMinTimeout},
		{"a timeout inside the bounds is kept", 1500, 1500},
		{"a timeout above maxSessionTimeout is lowered to the maximum", 60000, itMaxTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := s.dialRaw(t)
			resp := c.handshake(wire.ConnectRequest{TimeOut: tc.requested, Passwd: make([]byte, 16), HasReadOnly: true})
			require.Equal(t, tc.want, resp.TimeOut)
			require.Equal(t, int32(0), resp.ProtocolVersion)
			require.Equal(t, int64(1), resp.SessionID>>56, "standalone session ids carry server id 1 in the top byte")
			pw := session.Password(wire.SessionID(resp.SessionID))
			require.Equal(t, pw[:], resp.Passwd)
			require.True(t, resp.HasReadOnly)
			require.False(t, resp.ReadOnly)
		})
	}

	t.Run("consecutive sessions get consecutive ids", func(t *testing.T) {
		a := s.rawSession(t, 1000)
		b := s.rawSession(t, 1000)
		require.Equal(t, a.sid+1, b.sid)
	})
}

func TestIntegrationConnectRequestLength(t *testing.T) {
	s := startServer(t)
	cases := []struct {
		name        string
		hasReadOnly bool
		reqLen      int
		respLen     int
	}{
		{"a 45-byte request with readOnly gets a 37-byte reply", true, 45, 37},
		{"a 44-byte request without readOnly gets a 36-byte reply", false, 44, 36},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := s.dialRaw(t)
			req := wire.ConnectRequest{TimeOut: 1000, Passwd: make([]byte, 16), HasReadOnly: tc.hasReadOnly}
			frame := wire.MarshalFrame(&req)
			require.Len(t, frame, 4+tc.reqLen)
			c.write(frame)
			payload := c.readPayload()
			require.Len(t, payload, tc.respLen)
			// The session works afterwards.
			var resp wire.ExistsResponse
			require.Equal(t, wire.OK, c.call(wire.OpExists, &wire.ExistsRequest{Path: "/"}, &resp).Err)
		})
	}
}

func TestIntegrationSessionResume(t *testing.T) {
	s := startServer(t)

	t.Run("reconnecting with the same id and password resumes the session", func(t *testing.T) {
		a := s.rawSession(t, 1000)
		require.Equal(t, wire.OK, a.create("/resume-eph", nil, wire.FlagEphemeral).Err)
		b := s.dialRaw(t)
		resp := b.handshake(wire.ConnectRequest{TimeOut: 1500, SessionID: a.sid, Passwd: a.passwd, HasReadOnly: true})
		require.Equal(t, a.sid, resp.SessionID)
		require.Equal(t, a.passwd, resp.Passwd)
		require.Equal(t, int32(1500), resp.TimeOut, "the timeout is renegotiated")
		// The old connection is closed by the server.
		a.expectClosed()
		// The ephemeral still belongs to the session.
		var st wire.ExistsResponse
		require.Equal(t, wire.OK, b.call(wire.OpExists, &wire.ExistsRequest{Path: "/resume-eph"}, &st).Err)
		require.Equal(t, b.sid, st.Stat.EphemeralOwner)
	})

	invalid := []struct {
		name   string
		mangle func(c *rawClient) (int64, []byte)
	}{
		{"a wrong password gets an expired reply and a close", func(c *rawClient) (int64, []byte) {
			pw := bytes.Clone(c.passwd)
			pw[0] ^= 0xff
			return c.sid, pw
		}},
		{"an unknown session id gets an expired reply and a close", func(c *rawClient) (int64, []byte) {
			pw := session.Password(wire.SessionID(c.sid + 1000))
			return c.sid + 1000, pw[:]
		}},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			a := s.rawSession(t, 1000)
			id, pw := tc.mangle(a)
			b := s.dialRaw(t)
			resp := b.handshake(wire.ConnectRequest{TimeOut: 1000, SessionID: id, Passwd: pw, HasReadOnly: true})
			require.Equal(t, int32(0), resp.TimeOut)
			require.Equal(t, int64(0), resp.SessionID)
			require.Equal(t, make([]byte, 16), resp.Passwd)
			require.Empty(t, b.expectClosed())
		})
	}

	t.Run("go-zookeeper resumes its session after its connection drops", func(t *testing.T) {
		d := newBlockingDialer()
		c := s.connectZKWith(t, 2*time.Second, d)
		id := c.SessionID()
		_, err := c.Create("/gz-resume", nil, zk.FlagEphemeral, openACL)
		require.NoError(t, err)
		d.cut()
		c.waitState(t, zk.StateDisconnected)
		d.release()
		c.waitState(t, zk.StateHasSession)
		require.Equal(t, id, c.SessionID())
		ok, st, err := c.Exists("/gz-resume")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, id, st.EphemeralOwner)
	})

	t.Run("go-zookeeper sees StateExpired when its session expired while disconnected", func(t *testing.T) {
		d := newBlockingDialer()
		c := s.connectZKWith(t, 200*time.Millisecond, d)
		_, err := c.Create("/gz-expire", nil, zk.FlagEphemeral, openACL)
		require.NoError(t, err)
		_, _, wch, err := c.ExistsW("/gz-expire-watch")
		require.NoError(t, err)
		watcher := s.connectZK(t)
		d.cut()
		eventually(t, "session expired", func() bool {
			ok, _, err := watcher.Exists("/gz-expire")
			return err == nil && !ok
		})
		d.release()
		c.waitState(t, zk.StateExpired)
		ev := waitEvent(t, wch)
		require.Equal(t, zk.EventNotWatching, ev.Type)
		require.ErrorIs(t, ev.Err, zk.ErrSessionExpired)
	})
}

func TestIntegrationPingKeepsSessionAlive(t *testing.T) {
	s := startServer(t)
	c := s.rawSession(t, itMinTimeout)
	require.Equal(t, int32(itMinTimeout), c.timeout)
	require.Equal(t, wire.OK, c.create("/ping-eph", nil, wire.FlagEphemeral).Err)
	// Ping at a third of the timeout for several timeouts.
	end := time.Now().Add(5 * time.Duration(itMinTimeout) * time.Millisecond)
	for time.Now().Before(end) {
		c.ping()
		time.Sleep(time.Duration(itMinTimeout/3) * time.Millisecond)
	}
	var st wire.ExistsResponse
	require.Equal(t, wire.OK, c.call(wire.OpExists, &wire.ExistsRequest{Path: "/ping-eph"}, &st).Err)
	require.Equal(t, c.sid, st.Stat.EphemeralOwner)

	t.Run("a ping reply carries xid -2 and the last zxid", func(t *testing.T) {
		var ex wire.ExistsResponse
		h := c.call(wire.OpExists, &wire.ExistsRequest{Path: "/"}, &ex)
		c.sendXid(wire.XidPing, wire.OpPing, nil)
		f := c.readFrame()
		require.Equal(t, wire.XidPing, f.hdr.Xid)
		require.Equal(t, h.Zxid, f.hdr.Zxid)
		require.Equal(t, wire.OK, f.hdr.Err)
		require.Empty(t, f.body)
	})
}

func TestIntegrationCloseSession(t *testing.T) {
	s := startServer(t)
	watcher := s.connectZK(t)
	_, err := watcher.Create("/cs", nil, 0, openACL)
	require.NoError(t, err)

	t.Run("closing a go-zookeeper session removes its ephemerals and fires watches", func(t *testing.T) {
		owner := s.connectZK(t)
		_, err := owner.Create("/cs/e", []byte("x"), zk.FlagEphemeral, openACL)
		require.NoError(t, err)
		_, _, dch, err := watcher.ExistsW("/cs/e")
		require.NoError(t, err)
		_, _, cch, err := watcher.ChildrenW("/cs")
		require.NoError(t, err)
		owner.Close()
		ev := waitEvent(t, dch)
		require.Equal(t, zk.EventNodeDeleted, ev.Type)
		require.Equal(t, "/cs/e", ev.Path)
		ev = waitEvent(t, cch)
		require.Equal(t, zk.EventNodeChildrenChanged, ev.Type)
		require.Equal(t, "/cs", ev.Path)
		ok, _, err := watcher.Exists("/cs/e")
		require.NoError(t, err)
		require.False(t, ok)
	})

	t.Run("a raw closeSession is answered with its own zxid and the socket is closed", func(t *testing.T) {
		c := s.rawSession(t, 1000)
		h1 := c.create("/cs/raw", nil, wire.FlagEphemeral)
		require.Equal(t, wire.OK, h1.Err)
		h := c.call(wire.OpCloseSession, nil, nil)
		require.Equal(t, wire.OK, h.Err)
		require.Equal(t, h1.Zxid+1, h.Zxid)
		require.Empty(t, c.expectClosed())
		ok, _, err := watcher.Exists("/cs/raw")
		require.NoError(t, err)
		require.False(t, ok)
		// The session cannot be resumed.
		b, resp := s.resume(t, c)
		require.Zero(t, resp.SessionID)
		b.expectClosed()
	})
}

func TestIntegrationSessionExpiry(t *testing.T) {
	s := startServer(t)
	watcher := s.connectZK(t)
	_, err := watcher.Create("/exp", nil, 0, openACL)
	require.NoError(t, err)

	silent := s.rawSession(t, itMinTimeout)
	require.Equal(t, wire.OK, silent.create("/exp/e", nil, wire.FlagEphemeral).Err)
	require.Equal(t, wire.OK, silent.create("/exp/s-", nil, wire.FlagEphemeralSequential).Err)
	_, _, dch, err := watcher.ExistsW("/exp/e")
	require.NoError(t, err)
	_, _, cch, err := watcher.ChildrenW("/exp")
	require.NoError(t, err)

	t.Run("a client that stops pinging loses its ephemerals", func(t *testing.T) {
		ev := waitEvent(t, dch)
		require.Equal(t, zk.EventNodeDeleted, ev.Type)
		ev = waitEvent(t, cch)
		require.Equal(t, zk.EventNodeChildrenChanged, ev.Type)
		kids, _, err := watcher.Children("/exp")
		require.NoError(t, err)
		require.Empty(t, kids)
	})
	t.Run("the expired client's connection is closed", func(t *testing.T) {
		silent.expectClosed()
	})
	t.Run("the expired session cannot be resumed", func(t *testing.T) {
		b, resp := s.resume(t, silent)
		require.Zero(t, resp.SessionID)
		require.Zero(t, resp.TimeOut)
		b.expectClosed()
	})
}

func TestIntegrationMaxClientCnxns(t *testing.T) {
	s := startServer(t, "maxClientCnxns=3")
	var held []*rawClient
	for i := 0; i < 3; i++ {
		held = append(held, s.rawSession(t, 1000))
	}
	t.Run("a connection over the per-IP limit is closed without a byte", func(t *testing.T) {
		c := s.dialRaw(t)
		// The server may close before or after this write lands.
		_, _ = c.nc.Write(wire.MarshalFrame(&wire.ConnectRequest{TimeOut: 1000, Passwd: make([]byte, 16)}))
		require.Empty(t, c.expectClosed())
	})
	t.Run("closing a connection frees a slot", func(t *testing.T) {
		held[0].nc.Close()
		eventually(t, "a slot is freed", func() bool {
			nc := s.dialRaw(t)
			nc.write(wire.MarshalFrame(&wire.ConnectRequest{TimeOut: 1000, Passwd: make([]byte, 16), HasReadOnly: true}))
			p, err := nc.tryReadPayload()
			nc.nc.Close()
			return err == nil && len(p) == 37
		})
	})
	t.Run("four-letter words count against the limit too", func(t *testing.T) {
		// Probe connections may still count until the server sees them
		// close; retry until a third session is established.
		eventually(t, "a third session", func() bool {
			c := s.dialRaw(t)
			c.write(wire.MarshalFrame(&wire.ConnectRequest{TimeOut: 1000, Passwd: make([]byte, 16), HasReadOnly: true}))
			p, err := c.tryReadPayload()
			if err != nil || len(p) != 37 {
				c.nc.Close()
				return false
			}
			held = append(held, c)
			return true
		})
		// Three sessions are open again; ruok is refused (empty reply).
		eventually(t, "limit reached again", func() bool { return s.fourLetter(t, "ruok") == "" })
	})
}

func TestIntegrationJuteMaxBuffer(t *testing.T) {
	const limit = 8192
	s := startServer(t, "jute.maxbuffer=8192")
	other := s.connectZK(t)
	_, err := other.Create("/big", nil, 0, openACL)
	require.NoError(t, err)

	t.Run("a frame just under the limit is served", func(t *testing.T) {
		c := s.rawSession(t, 1000)
		data := make([]byte, limit-64)
		var resp wire.SetDataResponse
		h := c.call(wire.OpSetData, &wire.SetDataRequest{Path: "/big", Data: data, Version: -1}, &resp)
		require.Equal(t, wire.OK, h.Err)
		require.Equal(t, int32(len(data)), resp.Stat.DataLength)
	})
	t.Run("an oversized frame closes that connection without a reply", func(t *testing.T) {
		c := s.rawSession(t, 1000)
		frame := wire.MarshalFrame(&wire.RequestHeader{Xid: 1, Type: wire.OpSetData},
			&wire.SetDataRequest{Path: "/big", Data: make([]byte, limit+1), Version: -1})
		_, _ = c.nc.Write(frame)
		require.Empty(t, c.expectClosed())
	})
	t.Run("an oversized length prefix before the handshake closes the connection", func(t *testing.T) {
		c := s.dialRaw(t)
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], limit+1)
		c.write(b[:])
		require.Empty(t, c.expectClosed())
	})
	t.Run("other clients are unaffected", func(t *testing.T) {
		data, st, err := other.Get("/big")
		require.NoError(t, err)
		require.Len(t, data, limit-64)
		require.Equal(t, int32(1), st.Version)
	})
}
