package server_test

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

func TestIntegrationInvalidOpcodes(t *testing.T) {
	s := startServer(t)
	cases := []struct {
		name string
		op   wire.OpCode
	}{
		{"an unknown opcode is Unimplemented and closes the connection", 77},
		{"opcode 0 is Unimplemented and closes the connection", 0},
		{"the unused opcode 10 is Unimplemented and closes the connection", 10},
		{"a client createSession is Unimplemented and closes the connection", wire.OpCreateSession},
		{"a client deleteContainer is Unimplemented and closes the connection", wire.OpDeleteContainer},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := s.rawSession(t, 2000)
			xid := c.send(tc.op, &wire.GetDataRequest{Path: "/"})
			f := c.readFrame()
			require.Equal(t, xid, f.hdr.Xid)
			require.Equal(t, int64(-1), f.hdr.Zxid)
			require.Equal(t, wire.ErrUnimplemented, f.hdr.Err)
			require.Empty(t, f.body)
			require.Empty(t, c.expectClosed())
		})
	}
}

func TestIntegrationMalformedRequests(t *testing.T) {
	s := startServer(t)
	c := s.rawSession(t, 2000)
	require.Equal(t, wire.OK, c.create("/mal", []byte("v"), 0).Err)

	truncated := []struct {
		name  string
		op    wire.OpCode
		body  []byte
		write bool
	}{
		{"a getData without its watch byte", wire.OpGetData, []byte{0, 0, 0, 4, '/', 'm', 'a', 'l'}, false},
		{"an exists with a string longer than the frame", wire.OpExists, []byte{0, 0, 0, 40, '/', 'm'}, false},
		{"a setData without its version", wire.OpSetData, []byte{0, 0, 0, 4, '/', 'm', 'a', 'l', 0, 0, 0, 0}, true},
		{"a create without flags", wire.OpCreate, []byte{0, 0, 0, 4, '/', 'm', 'a', 'x', 0xff, 0xff, 0xff, 0xff}, true},
		{"a multi without its terminator", wire.OpMulti, []byte{0, 0, 0, 2, 0}, true},
	}
	for _, tc := range truncated {
		t.Run(tc.name+" is MarshallingError and the connection stays open", func(t *testing.T) {
			before := c.call(wire.OpSync, &wire.SyncRequest{Path: "/"}, nil).Zxid
			xid := c.nextXid()
			frame := binary.BigEndian.AppendUint32(nil, uint32(8+len(tc.body)))
			frame = binary.BigEndian.AppendUint32(frame, uint32(xid))
			frame = binary.BigEndian.AppendUint32(frame, uint32(tc.op))
			frame = append(frame, tc.body...)
			c.write(frame)
			h := c.await(xid, nil)
			require.Equal(t, wire.ErrMarshallingError, h.Err)
			if tc.write {
				// ZooKeeper logs an error txn for it (verified: a truncated
				// create is answered with the next zxid).
				require.Equal(t, before+1, h.Zxid, "an undecodable write consumes a zxid")
			} else {
				require.Equal(t, before, h.Zxid)
			}
			var resp wire.GetDataResponse
			require.Equal(t, wire.OK, c.call(wire.OpGetData, &wire.GetDataRequest{Path: "/mal"}, &resp).Err)
			require.Equal(t, "v", string(resp.Data))
		})
	}
	t.Run("addWatch with an unknown mode is MarshallingError", func(t *testing.T) {
		// As ZooKeeper 3.8.0 answers mode 2 (verified).
		h := c.call(wire.OpAddWatch, &wire.AddWatchRequest{Path: "/mal", Mode: 2}, nil)
		require.Equal(t, wire.ErrMarshallingError, h.Err)
	})
	t.Run("trailing bytes after a record are ignored", func(t *testing.T) {
		xid := c.nextXid()
		h := wire.RequestHeader{Xid: xid, Type: wire.OpGetData}
		frame := wire.MarshalFrame(&h, &wire.GetDataRequest{Path: "/mal"}, &wire.GetDataRequest{Path: "junk"})
		c.write(frame)
		var resp wire.GetDataResponse
		require.Equal(t, wire.OK, c.await(xid, &resp).Err)
		require.Equal(t, "v", string(resp.Data))
	})
}

func TestIntegrationBareCheck(t *testing.T) {
	// ZooKeeper 3.8 logs a top-level check (13) and never answers it; zkd
	// answers it like a conditional read (docs/divergence.md).
	s := startServer(t)
	c := s.rawSession(t, 2000)
	require.Equal(t, wire.OK, c.create("/chk", nil, 0).Err)
	cases := []struct {
		name    string
		path    string
		version int32
		want    wire.Code
	}{
		{"a check of the current version is answered OK", "/chk", 0, wire.OK},
		{"a check of any version is answered OK", "/chk", -1, wire.OK},
		{"a check of a stale version is BadVersion", "/chk", 3, wire.ErrBadVersion},
		{"a check of a missing node is NoNode", "/nochk", -1, wire.ErrNoNode},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := c.call(wire.OpCheck, &wire.CheckVersionRequest{Path: tc.path, Version: tc.version}, nil)
			require.Equal(t, tc.want, h.Err)
		})
	}
	t.Run("a bare check writes no transaction", func(t *testing.T) {
		before := c.call(wire.OpSync, &wire.SyncRequest{Path: "/"}, nil).Zxid
		c.call(wire.OpCheck, &wire.CheckVersionRequest{Path: "/chk", Version: 0}, nil)
		after := c.call(wire.OpSync, &wire.SyncRequest{Path: "/"}, nil).Zxid
		require.Equal(t, before, after)
	})
}

func TestIntegrationHandshakeEdges(t *testing.T) {
	s := startServer(t)
	seed := s.rawSession(t, 2000)
	h := seed.create("/hs", nil, 0)
	require.Equal(t, wire.OK, h.Err)

	t.Run("a client that has seen a newer zxid is closed without a reply", func(t *testing.T) {
		c := s.dialRaw(t)
		c.write(wire.MarshalFrame(&wire.ConnectRequest{LastZxidSeen: h.Zxid + 100, TimeOut: 2000, Passwd: make([]byte, 16), HasReadOnly: true}))
		require.Empty(t, c.expectClosed())
	})
	t.Run("a client that has seen the current zxid is accepted", func(t *testing.T) {
		c := s.dialRaw(t)
		resp := c.handshake(wire.ConnectRequest{LastZxidSeen: h.Zxid, TimeOut: 2000, Passwd: make([]byte, 16), HasReadOnly: true})
		require.NotZero(t, resp.SessionID)
	})
	t.Run("a four-letter word after the handshake is just a bad length", func(t *testing.T) {
		c := s.rawSession(t, 2000)
		c.write([]byte("ruok"))
		require.Empty(t, c.expectClosed())
	})
	t.Run("requests pipelined behind the ConnectRequest are served after it", func(t *testing.T) {
		c := s.dialRaw(t)
		frames := wire.MarshalFrame(&wire.ConnectRequest{TimeOut: 2000, Passwd: make([]byte, 16), HasReadOnly: true})
		frames = append(frames, wire.MarshalFrame(&wire.RequestHeader{Xid: 1, Type: wire.OpExists}, &wire.ExistsRequest{Path: "/hs"})...)
		c.write(frames)
		var resp wire.ConnectResponse
		require.NoError(t, wire.Unmarshal(c.readPayload(), 0, &resp))
		require.NotZero(t, resp.SessionID)
		f := c.readFrame()
		require.Equal(t, int32(1), f.hdr.Xid)
		require.Equal(t, wire.OK, f.hdr.Err)
	})
	t.Run("reconfig is refused while reconfigEnabled is false", func(t *testing.T) {
		c := s.rawSession(t, 2000)
		r := c.call(wire.OpReconfig, &wire.ReconfigRequest{CurConfigID: -1}, nil)
		require.Equal(t, wire.ErrReconfigDisabled, r.Err)
	})
}
