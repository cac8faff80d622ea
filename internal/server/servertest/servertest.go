// Package servertest starts an in-process zkd server for the tests of the
// packages that talk to one (the cli, its client, the load generator):
// one copy of the set-up instead of one per package.
package servertest

import (
	"net"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/server"
)

// Start runs a standalone server on a loopback port picked at run time and
// stops it when the test ends (Stop is idempotent, so a test may stop it
// earlier). Its zoo.cfg is tickTime=100, a temporary dataDir and no
// AdminServer, then extra lines ("key=value"), which win. It returns the
// client address and the server.
func Start(t testing.TB, extra ...string) (string, *server.Server) {
	t.Helper()
	lines := append([]string{"tickTime=100", "dataDir=" + t.TempDir(), "clientPort=1", "admin.enableServer=false"}, extra...)
	cfg, err := config.Parse(strings.NewReader(strings.Join(lines, "\n")+"\n"), "zoo.cfg")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return ln.Addr().String(), srv
}
