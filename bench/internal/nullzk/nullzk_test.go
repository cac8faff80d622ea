package nullzk

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/zkd/zkd/internal/loadgen"
	"github.com/zkd/zkd/internal/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestServesTheFloorWorkloads: the load tool's two workloads that
// bench/compare runs against the null server complete without errors.
func TestServesTheFloorWorkloads(t *testing.T) {
	s, err := Start(3)
	require.NoError(t, err)
	defer s.Stop()
	servers := strings.Split(s.ConnectString(), ",")
	require.Len(t, servers, 3)
	ctx := context.Background()

	res, err := loadgen.Run(ctx, loadgen.Config{Servers: servers, Workload: "connect", Sessions: 4, Ops: 200})
	require.NoError(t, err)
	assert.Equal(t, int64(200), res.Ops)
	assert.Zero(t, res.Errors, "%v", res.Messages)

	res, err = loadgen.Run(ctx, loadgen.Config{Servers: servers, Workload: "watch", Watchers: 30, Rounds: 4})
	require.NoError(t, err)
	assert.Equal(t, int64(4), res.Ops)
	assert.Equal(t, int64(30*4), res.Notifications, "every watcher on every member is notified each round")
	assert.Zero(t, res.Errors, "%v", res.Messages)
}

// TestGarbageDropsOnlyThatConnection: a frame that is not a request ends
// its connection; the server goes on serving others.
func TestGarbageDropsOnlyThatConnection(t *testing.T) {
	s, err := Start(1)
	require.NoError(t, err)
	defer s.Stop()
	addr := s.ConnectString()

	bad, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer bad.Close()
	_, err = bad.Write([]byte{0, 0, 0, 2, 1}) // a 2-byte frame cut short, then EOF
	require.NoError(t, err)
	require.NoError(t, bad.(*net.TCPConn).CloseWrite())
	_ = bad.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = bad.Read(make([]byte, 1))
	assert.Error(t, err, "the server closes the connection")

	res, err := loadgen.Run(context.Background(), loadgen.Config{Servers: []string{addr}, Workload: "connect", Ops: 10})
	require.NoError(t, err)
	assert.Equal(t, int64(10), res.Ops)
}

// TestUnknownRequest gets ZUNIMPLEMENTED, as a server that does not
// support an opcode answers.
func TestUnknownRequest(t *testing.T) {
	s, err := Start(1)
	require.NoError(t, err)
	defer s.Stop()
	nc, err := net.Dial("tcp", s.ConnectString())
	require.NoError(t, err)
	defer nc.Close()
	_, err = nc.Write(wire.MarshalFrame(&wire.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}))
	require.NoError(t, err)
	br := bufio.NewReader(nc)
	_, err = wire.ReadFrame(br, 1<<20, nil)
	require.NoError(t, err)
	_, err = nc.Write(wire.MarshalFrame(&wire.RequestHeader{Xid: 7, Type: wire.OpGetACL}, &wire.GetACLRequest{Path: "/"}))
	require.NoError(t, err)
	frame, err := wire.ReadFrame(br, 1<<20, nil)
	require.NoError(t, err)
	d := wire.Decoder{B: frame}
	var rh wire.ReplyHeader
	rh.Decode(&d)
	assert.Equal(t, int32(7), rh.Xid)
	assert.Equal(t, wire.ErrUnimplemented, rh.Err)
}
