package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zkd/zkd/internal/wire"
)

const javaDir = "/usr/share/java"

// server is one run of zkd or ZooKeeper on a data directory.
type server struct {
	kind    string // "zkd" or "zookeeper"
	prog    string
	args    []string
	dir     string // zoo.cfg, logs; dataDir is dir/data
	addr    string
	cmd     *exec.Cmd
	started time.Time
	logPath string
	exited  chan struct{}
}

// serverSpec says how to start one kind of server.
type serverSpec struct {
	kind string
	// heap describes the JVM heap setting for the report ("" for zkd).
	heap string
	// command gives the program and its arguments (before the config
	// file) for a server whose files go in dir.
	command func(dir string) (string, []string)
}

func zkdSpec(bin string) serverSpec {
	return serverSpec{kind: "zkd", command: func(string) (string, []string) {
		return bin, []string{"server", "--config"}
	}}
}

// zooKeeperSpec starts ZooKeeper the way Debian's zkServer.sh does: no
// heap flags (Debian's zkEnv.sh sets none, so the JVM default of a quarter
// of RAM applies) unless xmx is given, the OOM flags zkServer.sh always
// passes, and QuorumPeerMain (which runs standalone for a config without
// server.N lines). Logging goes to stdout through slf4j-simple.
func zooKeeperSpec(xmx string) serverSpec {
	heap := "JVM default (zkServer.sh sets no -Xmx)"
	if xmx != "" {
		heap = "-Xmx" + xmx
	}
	return serverSpec{kind: "zookeeper", heap: heap, command: func(dir string) (string, []string) {
		var cp []string
		for _, j := range []string{"zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-simple.jar", "netty.jar"} {
			if _, err := os.Stat(filepath.Join(javaDir, j)); err == nil {
				cp = append(cp, filepath.Join(javaDir, j))
			}
		}
		args := []string{
			"-Dzookeeper.log.dir=" + dir,
			"-XX:+HeapDumpOnOutOfMemoryError", "-XX:HeapDumpPath=" + dir,
			"-XX:OnOutOfMemoryError=kill -9 %p",
		}
		if xmx != "" {
			args = append(args, "-Xmx"+xmx)
		}
		args = append(args, "-cp", strings.Join(cp, ":"), "org.apache.zookeeper.server.quorum.QuorumPeerMain")
		return "java", args
	}}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// writeConfig writes the zoo.cfg both servers use (same keys for both).
func writeConfig(dir string, port int) error {
	cfg := fmt.Sprintf(`tickTime=2000
dataDir=%s
clientPort=%d
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=*
`, filepath.Join(dir, "data"), port)
	return os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o644)
}

// start runs the server on dir's zoo.cfg without waiting for it.
func start(spec serverSpec, dir string, port int) (*server, error) {
	s := &server{kind: spec.kind, dir: dir, addr: fmt.Sprintf("127.0.0.1:%d", port), exited: make(chan struct{})}
	s.prog, s.args = spec.command(dir)
	s.args = append(s.args, filepath.Join(dir, "zoo.cfg"))
	s.logPath = filepath.Join(dir, fmt.Sprintf("%s-%d.log", spec.kind, time.Now().UnixNano()))
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(s.prog, s.args...)
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.started = time.Now()
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() { _ = s.cmd.Wait(); logf.Close(); close(s.exited) }()
	return s, nil
}

// waitServing polls until a new session can read path, and returns the
// time from process start to that first successful read.
func (s *server) waitServing(path string, timeout time.Duration) (time.Duration, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return 0, fmt.Errorf("%s exited during startup:\n%s", s.kind, s.logTail())
		default:
		}
		if c, err := dial(s.addr, time.Second, 30000); err == nil {
			code, err := c.call(wire.OpGetData, &wire.GetDataRequest{Path: path}, &wire.GetDataResponse{}, 5*time.Second)
			if err == nil && code == wire.OK {
				took := time.Since(s.started)
				c.close()
				return took, nil
			}
			c.conn.Close()
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("%s not serving %s after %v:\n%s", s.kind, path, timeout, s.logTail())
}

// stop sends SIGTERM and waits (SIGKILL after a minute).
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(time.Minute):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *server) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

func (s *server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// oom reports whether the server's output shows it ran out of heap.
func (s *server) oom() bool {
	b, _ := os.ReadFile(s.logPath)
	return strings.Contains(string(b), "OutOfMemoryError")
}

// rssBytes reads VmRSS of the server process.
func (s *server) rssBytes() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				n, err := strconv.ParseInt(f[0], 10, 64)
				return n * 1024, err
			}
		}
	}
	return 0, errors.New("no VmRSS")
}

// newestSnapshot returns the newest snapshot file in dir/data/version-2
// and its size.
func newestSnapshot(dir string) (string, int64, error) {
	v2 := filepath.Join(dir, "data", "version-2")
	ents, err := os.ReadDir(v2)
	if err != nil {
		return "", 0, err
	}
	var best string
	var bestZxid int64 = -1
	var size int64
	for _, e := range ents {
		hex, ok := strings.CutPrefix(e.Name(), "snapshot.")
		if !ok {
			continue
		}
		z, err := strconv.ParseInt(hex, 16, 64)
		if err != nil || z < bestZxid {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		best, bestZxid, size = e.Name(), z, info.Size()
	}
	if best == "" {
		return "", 0, errors.New("no snapshot in " + v2)
	}
	return best, size, nil
}

// dirUsage is the disk space (allocated blocks) of the files under dir,
// so preallocated log space that was never written is not counted.
func dirUsage(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				total += st.Blocks * 512
			}
		}
		return nil
	})
	return total
}
