package e2e

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkd/zkd/test/harness"
)

// Environment variables understood by the suite.
const (
	envTarget = "ZKD_E2E_TARGET" // "zookeeper" runs the suite against Apache ZooKeeper
	envBin    = "ZKD_BIN"        // path of the zkd binary
	envAddr   = "ZKD_E2E_ADDR"   // use an already running server at host:port
	envCI     = "CI"             // missing tools fail instead of skip
)

// javaDir is where Debian installs the ZooKeeper jars and their dependencies.
const javaDir = "/usr/share/java"

// Values shared by every test, set once by TestMain before any test runs.
var (
	// serverAddr is the client address of the server under test, "127.0.0.1:port".
	serverAddr string
	// serverKind is "zkd" or "zookeeper" (or "external" with ZKD_E2E_ADDR).
	serverKind string
	// repoRoot is the directory holding go.mod.
	repoRoot string
	// workDir is a scratch directory removed when the suite ends.
	workDir string
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

// runMain exists so that deferred cleanups run before os.Exit.
func runMain(m *testing.M) int {
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode")
		return 0
	}
	var err error
	repoRoot, err = harness.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	workDir, err = os.MkdirTemp("", "zkd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(workDir)

	if addr := os.Getenv(envAddr); addr != "" {
		serverAddr, serverKind = addr, "external"
		if err := waitReady(context.Background(), addr, nil, 30*time.Second); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: server at %s not ready: %v\n", addr, err)
			return 1
		}
		return m.Run()
	}

	launch, skipMsg, err := serverLauncher()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if skipMsg != "" {
		if os.Getenv(envCI) != "" {
			fmt.Fprintln(os.Stderr, "e2e: FAIL (CI is set):", skipMsg)
			return 1
		}
		fmt.Println("e2e: SKIP all tests:", skipMsg)
		return 0
	}

	srv, err := startServer(launch)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	serverAddr = srv.addr
	fmt.Printf("e2e: %s serving on %s (log %s)\n", serverKind, serverAddr, srv.logPath)

	code := m.Run()

	if err := srv.stop(10 * time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: stopping server:", err)
		if code == 0 {
			code = 1
		}
	}
	if code != 0 {
		srv.dumpLog(os.Stderr, 60)
	}
	return code
}

// launcher builds the command line that runs a server with the given zoo.cfg.
type launcher func(cfgPath string) *exec.Cmd

// serverLauncher picks the server under test. A non-empty skip message means
// the server cannot be run on this machine for a reason that is not a bug
// (a missing package, or no zkd main package yet).
func serverLauncher() (launch launcher, skip string, err error) {
	switch target := os.Getenv(envTarget); target {
	case "zookeeper":
		serverKind = "zookeeper"
		return zookeeperLauncher()
	case "", "zkd":
		serverKind = "zkd"
		return zkdLauncher()
	default:
		return nil, "", fmt.Errorf("%s=%q: want zkd or zookeeper", envTarget, target)
	}
}

func zkdLauncher() (launcher, string, error) {
	bin := os.Getenv(envBin)
	if bin == "" {
		bin = filepath.Join(repoRoot, "bin", "zkd")
		if _, err := os.Stat(bin); err != nil {
			if !hasGoFiles(filepath.Join(repoRoot, "cmd", "zkd")) {
				return nil, "no zkd binary and no Go files in ./cmd/zkd to build one from", nil
			}
			build := exec.Command("go", "build", "-o", "bin/zkd", "./cmd/zkd")
			build.Dir = repoRoot
			if out, err := build.CombinedOutput(); err != nil {
				return nil, "", fmt.Errorf("go build -o bin/zkd ./cmd/zkd: %v\n%s", err, out)
			}
		}
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, "", fmt.Errorf("zkd binary: %v", err)
	}
	return func(cfg string) *exec.Cmd {
		return exec.Command(bin, "server", "--config", cfg)
	}, "", nil
}

func hasGoFiles(dir string) bool {
	matches, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	return len(matches) > 0
}

func zookeeperLauncher() (launcher, string, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, "java not found (install the zookeeper package: scripts/install-test-deps.sh)", nil
	}
	cp, missing := classpath("zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "?slf4j-simple.jar")
	if missing != "" {
		return nil, missing + " not found in " + javaDir + " (install the zookeeper package)", nil
	}
	return func(cfg string) *exec.Cmd {
		return exec.Command(java,
			"-Xmx512m", "-XX:+UseSerialGC",
			"-Djava.net.preferIPv4Stack=true",
			// Read by ContainerManager as a JVM property only: the zoo.cfg key
			// of the same name becomes zookeeper.znode.container.checkIntervalMs
			// and has no effect in 3.8.
			"-Dznode.container.checkIntervalMs=1000",
			"-Dorg.slf4j.simpleLogger.showDateTime=true",
			"-cp", cp,
			"org.apache.zookeeper.server.ZooKeeperServerMain", cfg)
	}, "", nil
}

// classpath joins jars from javaDir. A name starting with "?" is optional.
// It returns the first missing required jar.
func classpath(jars ...string) (cp string, missing string) {
	var parts []string
	for _, j := range jars {
		optional := strings.HasPrefix(j, "?")
		j = strings.TrimPrefix(j, "?")
		p := filepath.Join(javaDir, j)
		if _, err := os.Stat(p); err != nil {
			if optional {
				continue
			}
			return "", j
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, string(os.PathListSeparator)), ""
}

// server is a server process started by the suite.
type server struct {
	cmd     *exec.Cmd
	addr    string
	logPath string
	exited  chan struct{} // closed when the process has been reaped
	waitErr error         // valid after exited is closed
}

// startServer writes a zoo.cfg on a fresh port and starts the server,
// retrying on a new port if the process dies before it is ready (the port
// picked by freePort can be taken by someone else in between).
func startServer(launch launcher) (*server, error) {
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		dir := filepath.Join(workDir, fmt.Sprintf("server%d", attempt))
		dataDir := filepath.Join(dir, "data")
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return nil, err
		}
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		cfg := strings.Join([]string{
			"tickTime=2000",
			"dataDir=" + dataDir,
			"clientPort=" + strconv.Itoa(port),
			"clientPortAddress=127.0.0.1",
			"4lw.commands.whitelist=*",
			"extendedTypesEnabled=true",
			"admin.enableServer=false",
			"znode.container.checkIntervalMs=1000",
			"",
		}, "\n")
		cfgPath := filepath.Join(dir, "zoo.cfg")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
			return nil, err
		}
		logPath := filepath.Join(dir, "server.log")
		logFile, err := os.Create(logPath)
		if err != nil {
			return nil, err
		}
		cmd := launch(cfgPath)
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = logFile, logFile
		// Own process group, so that a Ctrl-C on go test does not race our
		// orderly shutdown; we still signal only this PID.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			logFile.Close()
			return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
		}
		s := &server{cmd: cmd, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), logPath: logPath, exited: make(chan struct{})}
		go func() {
			s.waitErr = cmd.Wait()
			logFile.Close()
			close(s.exited)
		}()
		err = waitReady(context.Background(), s.addr, s.exited, 60*time.Second)
		if err == nil {
			return s, nil
		}
		lastErr = fmt.Errorf("%s on %s: %w", serverKind, s.addr, err)
		_ = s.stop(5 * time.Second)
		s.dumpLog(os.Stderr, 40)
	}
	return nil, lastErr
}

// freePort asks the kernel for an unused loopback port and releases it.
func freePort() (int, error) { return harness.FreePort() }

// waitReady polls the four-letter word "ruok" until the server answers
// "imok" and srvr does not say it is not serving yet. exited, when not nil, aborts the wait if the process dies.
func waitReady(ctx context.Context, addr string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if exited != nil {
			select {
			case <-exited:
				return errors.New("server process exited before it was ready")
			default:
			}
		}
		reply, err := fourLetterWord(addr, "ruok", 2*time.Second)
		if err == nil && reply != "imok" {
			err = fmt.Errorf("ruok answered %q", reply)
		}
		if err == nil {
			// ZooKeeper 3.8 answers imok as soon as its socket is open,
			// before the database is loaded; srvr tells whether it serves.
			reply, err = fourLetterWord(addr, "srvr", 2*time.Second)
			if err == nil && !strings.Contains(reply, "not currently serving") {
				return nil
			}
			if err == nil {
				err = fmt.Errorf("srvr answered %q", reply)
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("not ready after %v: %v", timeout, last)
}

// fourLetterWord sends a 4lw command and returns everything the server
// writes before closing the connection.
func fourLetterWord(addr, word string, timeout time.Duration) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte(word)); err != nil {
		return "", err
	}
	out, err := io.ReadAll(conn)
	return string(out), err
}

// stop sends SIGTERM to the server PID and SIGKILL if it has not exited
// within timeout.
func (s *server) stop(timeout time.Duration) error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-s.exited:
		return nil
	case <-time.After(timeout):
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	return fmt.Errorf("server pid %d ignored SIGTERM for %v and was killed", s.cmd.Process.Pid, timeout)
}

// dumpLog writes the last n lines of the server log.
func (s *server) dumpLog(w io.Writer, n int) {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	fmt.Fprintf(w, "---- last %d lines of %s ----\n%s\n----\n", len(lines), s.logPath, bytes.Join(lines, []byte("\n")))
}
