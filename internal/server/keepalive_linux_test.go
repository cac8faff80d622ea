package server

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/loopback"
)

// serverSocketTimer returns the timer field ("tr" in /proc/net/tcp: 0 none,
// 2 keepalive) of the server's side of the connection from client to
// server.
func serverSocketTimer(t *testing.T, server, client *net.TCPAddr) string {
	t.Helper()
	f, err := os.Open("/proc/net/tcp")
	require.NoError(t, err)
	defer f.Close()
	local := fmt.Sprintf("0100007F:%04X", server.Port)
	remote := fmt.Sprintf("0100007F:%04X", client.Port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		// sl local rem st tx:rx tr:when ...
		if len(fs) > 5 && fs[1] == local && fs[2] == remote {
			return strings.SplitN(fs[5], ":", 2)[0]
		}
	}
	t.Fatalf("no socket %s -> %s in /proc/net/tcp", local, remote)
	return ""
}

// Client connections get TCP keepalive only with clientTcpKeepAlive, as in
// ZooKeeper (zookeeper.clientTcpKeepAlive, default off).
func TestClientTCPKeepAlive(t *testing.T) {
	for _, tc := range []struct {
		extra string
		timer string
	}{
		{"", "00"},
		{"clientTcpKeepAlive=true", "02"},
		{"zookeeper.clientTcpKeepAlive=true", "02"},
	} {
		t.Run(tc.extra, func(t *testing.T) {
			port, err := loopback.FreePort()
			require.NoError(t, err)
			lines := []string{"tickTime=100", "dataDir=" + t.TempDir(), fmt.Sprint("clientPort=", port),
				"clientPortAddress=127.0.0.1", "admin.enableServer=false", tc.extra}
			cfg, err := config.Parse(strings.NewReader(strings.Join(lines, "\n")+"\n"), "zoo.cfg")
			require.NoError(t, err)
			srv, err := New(cfg, zap.NewNop())
			require.NoError(t, err)
			require.NoError(t, srv.Start())
			t.Cleanup(srv.Stop)

			nc, err := net.Dial("tcp", srv.ln.Addr().String())
			require.NoError(t, err)
			defer nc.Close()
			server := srv.ln.Addr().(*net.TCPAddr)
			client := nc.LocalAddr().(*net.TCPAddr)
			// The accept (and the keepalive setting) happens after connect
			// returns; a keepalive timer shows as soon as it is set.
			var timer string
			for i := 0; i < 100; i++ {
				if timer = serverSocketTimer(t, server, client); timer == tc.timer {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			require.Equal(t, tc.timer, timer)
		})
	}
}
