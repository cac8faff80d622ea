package server_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/server"
	"github.com/zkd/zkd/internal/session"
	"github.com/zkd/zkd/internal/wire"
	"github.com/zkd/zkd/test/harness"
)

// TestMemberBetweenRolesTakesNoSession puts an ensemble member in the gap
// between the end of a role and stopRole: clientsOK still set, no learner
// and no leader. A member there once took a kazoo client's session back
// without asking any leader (it had no learner to ask) and dropped it a
// moment later; a new session or a write would have been prepared by the
// member itself, with a zxid the leader also hands out. It must refuse
// the handshake: close the connection without a ConnectResponse.
func TestMemberBetweenRolesTakesNoSession(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ports, err := harness.FreePorts(6)
	require.NoError(t, err)
	// Members 2 and 3 never run: member 1 looks for a leader for ever.
	servers := fmt.Sprintf("server.1=127.0.0.1:%d:%d;%s\nserver.2=127.0.0.1:%d:%d\nserver.3=127.0.0.1:%d:%d\n",
		ports[0], ports[1], ln.Addr(), ports[2], ports[3], ports[4], ports[5])
	srv := serveMember(t, 1, ln, servers, "")
	const known = wire.SessionID(0x1a2b3c)
	server.AddSession(srv, known, 4000)
	server.SetClientsOK(srv, true)

	pw := session.Password(known)
	cases := []struct {
		name string
		req  wire.ConnectRequest
	}{
		{"new session", wire.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)}},
		{"resumed session", wire.ConnectRequest{TimeOut: 4000, SessionID: int64(known), Passwd: pw[:]}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", ln.Addr().String())
			require.NoError(t, err)
			defer nc.Close()
			_, err = nc.Write(wire.MarshalFrame(&tc.req))
			require.NoError(t, err)
			require.NoError(t, nc.SetReadDeadline(time.Now().Add(itWait)))
			n, err := nc.Read(make([]byte, 64))
			require.Zero(t, n, "a member between roles answered the handshake")
			require.True(t, errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET),
				"want the connection closed, got %v", err)
		})
	}
}
