package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zkd/zkd/bench/internal/rawclient"
	"github.com/zkd/zkd/bench/internal/servers"
	"github.com/zkd/zkd/internal/wire"
)

// server is one run of zkd or ZooKeeper on a data directory.
type server struct {
	*servers.Process
	kind string
}

// zooKeeperSpec starts ZooKeeper the way Debian's zkServer.sh does (no
// heap flags unless xmx is given), with logging on: an OutOfMemoryError
// must show in the output.
func zooKeeperSpec(xmx string) servers.Spec {
	return servers.ZooKeeper(servers.ZooKeeperOptions{Xmx: xmx, Log: true})
}

// writeConfig writes the zoo.cfg both servers use (same keys for both).
func writeConfig(dir string, port int) error {
	cfg := servers.Config{Timing: servers.DebianTiming, DataDir: filepath.Join(dir, "data"), ClientPort: port}
	return os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg.ZooCfg()), 0o644)
}

// start runs the server on dir's zoo.cfg without waiting for it.
func start(spec servers.Spec, dir string, port int) (*server, error) {
	prog, args := spec.Command(dir, filepath.Join(dir, "zoo.cfg"))
	p, err := servers.Start(prog, args, dir, fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, err
	}
	return &server{Process: p, kind: spec.Kind}, nil
}

// waitServing polls until a new session can read path, and returns the
// time from process start to that first successful read.
func (s *server) waitServing(path string, timeout time.Duration) (time.Duration, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !s.Alive() {
			return 0, fmt.Errorf("%s exited during startup:\n%s", s.kind, s.Log(4000))
		}
		if c, err := rawclient.Dial(s.Addr, time.Second, 30000); err == nil {
			code, err := c.Call(wire.OpGetData, &wire.GetDataRequest{Path: path}, &wire.GetDataResponse{}, 5*time.Second)
			if err == nil && code == wire.OK {
				took := time.Since(s.Started)
				c.Close()
				return took, nil
			}
			c.Abort()
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("%s not serving %s after %v:\n%s", s.kind, path, timeout, s.Log(4000))
}

// stop sends SIGTERM and waits (SIGKILL after a minute).
func (s *server) stop() { s.Stop(time.Minute) }

// oom reports whether the server's output shows it ran out of heap.
func (s *server) oom() bool {
	return strings.Contains(s.Log(0), "OutOfMemoryError")
}
