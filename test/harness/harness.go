// Package harness starts servers for tests: Apache ZooKeeper 3.8 from
// Debian's zookeeper package (the reference), and the zkd binary. Ports
// are chosen at run time; processes are stopped by PID.
package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/loopback"
)

// JavaDir is where Debian installs the ZooKeeper jars.
const JavaDir = "/usr/share/java"

// Process is a server started by a test.
type Process struct {
	Addr    string
	Dir     string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
}

// FreePort returns a loopback port that was free a moment ago, below the
// kernel's ephemeral range (see loopback.FreePort).
func FreePort() (int, error) { return loopback.FreePort() }

// FreePorts returns n distinct free loopback ports (see FreePort).
func FreePorts(n int) ([]int, error) { return loopback.FreePorts(n) }

// ZooKeeperAvailable says why Apache ZooKeeper cannot be started, or "".
func ZooKeeperAvailable() string {
	if _, err := exec.LookPath("java"); err != nil {
		return "java not found"
	}
	if _, err := os.Stat(filepath.Join(JavaDir, "zookeeper.jar")); err != nil {
		return "zookeeper.jar not found in " + JavaDir + " (apt-get install zookeeper)"
	}
	return ""
}

// RequireOrSkip skips the test when a dependency is missing, except in CI
// (CI set), where a missing dependency is a failure.
func RequireOrSkip(t testing.TB, why string) {
	t.Helper()
	if why == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("missing test dependency in CI: %s (run scripts/install-test-deps.sh)", why)
	}
	t.Skip(why)
}

func zkClasspath() string {
	var parts []string
	for _, j := range []string{"zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-simple.jar", "netty.jar"} {
		p := filepath.Join(JavaDir, j)
		if _, err := os.Stat(p); err == nil {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ":")
}

// StartZooKeeper starts Apache ZooKeeper standalone with the given extra
// zoo.cfg lines and JVM system properties.
func StartZooKeeper(t testing.TB, extraCfg string, jvmProps ...string) *Process {
	t.Helper()
	RequireOrSkip(t, ZooKeeperAvailable())
	return start(t, "java", ZooKeeperArgs(jvmProps...), extraCfg)
}

// StartZkd starts the zkd binary (ZKD_BIN, default bin/zkd from the repo).
func StartZkd(t testing.TB, extraCfg string) *Process {
	t.Helper()
	bin := ZkdBinary(t)
	return start(t, bin, []string{"server"}, extraCfg)
}

// ZkdBinary finds or builds the zkd binary.
func ZkdBinary(t testing.TB) string {
	t.Helper()
	if b := os.Getenv("ZKD_BIN"); b != "" {
		return b
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "bin", "zkd")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/zkd")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build zkd: %v\n%s", err, out)
	}
	return bin
}

// RepoRoot is the directory holding go.mod, found upwards from the
// working directory (tests run in their package directory).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("harness: go.mod not found above the working directory")
		}
		dir = parent
	}
}

func start(t testing.TB, prog string, args []string, extraCfg string) *Process {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		dir := t.TempDir()
		port, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config(filepath.Join(dir, "data"), port, extraCfg)
		p, err := Launch(prog, args, dir, cfg)
		if err != nil {
			lastErr = err
			continue
		}
		t.Cleanup(p.Stop)
		return p
	}
	t.Fatalf("server %s did not start: %v", prog, lastErr)
	return nil
}

// Config is the zoo.cfg text the harness uses: loopback, all four-letter
// words, no AdminServer, plus extra lines.
func Config(dataDir string, port int, extra string) string {
	return fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"admin.enableServer=false\n4lw.commands.whitelist=*\n%s\n", dataDir, port, extra)
}

// Launch writes cfg to dir/zoo.cfg and starts prog on it, waiting until it
// serves. prog is "java" (args end with the main class) or the zkd binary
// (args are its subcommand). The caller stops the process (Stop or Kill).
// Launching again in the same dir reuses the same data: that is how tests
// restart a server.
func Launch(prog string, args []string, dir, cfg string) (*Process, error) {
	addr := ""
	for _, line := range strings.Split(cfg, "\n") {
		if v, ok := strings.CutPrefix(line, "clientPort="); ok {
			addr = "127.0.0.1:" + strings.TrimSpace(v)
		}
	}
	p, err := Spawn(prog, args, dir, cfg, addr)
	if err != nil {
		return nil, err
	}
	if err := p.waitReady(30 * time.Second); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// Spawn is Launch without waiting: ensemble members only serve once a
// quorum is up, so tests start them all, then WaitServing on each.
func Spawn(prog string, args []string, dir, cfg, addr string) (*Process, error) {
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	full := append([]string{}, args...)
	if filepath.Base(prog) == "java" {
		full = append(full, cfgPath) // ZooKeeperServerMain takes the file as its argument
	} else {
		full = append(full, "--config", cfgPath)
	}
	p := &Process{Addr: addr, Dir: dir, logPath: filepath.Join(dir, fmt.Sprintf("server-%d.log", time.Now().UnixNano())), exited: make(chan struct{})}
	logf, err := os.Create(p.logPath)
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(prog, full...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", prog, err)
	}
	go func() { _ = p.cmd.Wait(); logf.Close(); close(p.exited) }()
	return p, nil
}

// WaitServing waits until the server answers srvr with a Mode.
func (p *Process) WaitServing(timeout time.Duration) error { return p.waitReady(timeout) }

// Mode is the Mode line of srvr ("leader", "follower", ...), or "" when
// the server does not serve.
func (p *Process) Mode() string {
	out, err := FourLetterWord(p.Addr, "srvr", 2*time.Second)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(out, "\n") {
		if m, ok := strings.CutPrefix(line, "Mode: "); ok {
			return strings.TrimSpace(m)
		}
	}
	return ""
}

// ZooKeeperArgs are the java arguments that run Apache ZooKeeper
// standalone (pass to Launch with prog "java").
func ZooKeeperArgs(jvmProps ...string) []string {
	args := append([]string{"-Xmx256m", "-XX:+UseSerialGC", "-Djava.net.preferIPv4Stack=true"}, jvmProps...)
	return append(args, "-cp", zkClasspath(), "org.apache.zookeeper.server.ZooKeeperServerMain")
}

// ZooKeeperQuorumArgs are the java arguments that run Apache ZooKeeper as
// an ensemble member (QuorumPeerMain), for mixed ensembles.
func ZooKeeperQuorumArgs(jvmProps ...string) []string {
	args := ZooKeeperArgs(jvmProps...)
	args[len(args)-1] = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
	return args
}

// Kill ends the process with SIGKILL (a crash) and waits for it.
func (p *Process) Kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// Exited is closed when the process has ended.
func (p *Process) Exited() <-chan struct{} { return p.exited }

func (p *Process) waitReady(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		// ruok answers before ZooKeeper serves sessions; srvr reports a
		// Mode only once it does.
		if out, err := FourLetterWord(p.Addr, "srvr", time.Second); err == nil && strings.Contains(out, "Mode:") {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("exited early; log:\n%s", p.Log())
		case <-ctx.Done():
			return fmt.Errorf("not ready after %v; log:\n%s", timeout, p.Log())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Log returns the server's output so far.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	return string(b)
}

// PID of the server process.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Pause freezes the process with SIGSTOP (a hung server: its sockets
// stay open, nothing answers) and returns once every thread has stopped:
// kill(2) returns before the threads of a busy process are all halted,
// and a test that acts right after must not race them. Resume undoes it.
func (p *Process) Pause() {
	p.signal(syscall.SIGSTOP)
	deadline := time.Now().Add(2 * time.Second)
	for !p.allThreadsStopped() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// allThreadsStopped reads each thread's state in /proc (Linux): T is
// stopped by a signal.
func (p *Process) allThreadsStopped() bool {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", p.PID()))
	if err != nil || len(tasks) == 0 {
		return true // no /proc: nothing to wait on
	}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		// "pid (comm) S ...": the state follows the last ')'.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 || i+2 >= len(b) {
			return false
		}
		if st := b[i+2]; st != 'T' && st != 't' {
			return false
		}
	}
	return true
}

// Resume continues a paused process with SIGCONT.
func (p *Process) Resume() { p.signal(syscall.SIGCONT) }

func (p *Process) signal(sig syscall.Signal) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
}

// FullLog returns the server's whole output so far (Log keeps the tail).
func (p *Process) FullLog() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// Stop ends the process: SIGTERM, then SIGKILL after 5 s.
func (p *Process) Stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	// A paused process only acts on SIGTERM once continued.
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// FourLetterWord sends a four-letter word and returns the whole reply.
func FourLetterWord(addr, word string, timeout time.Duration) (string, error) {
	return loopback.FourLetterWord(addr, word, timeout)
}
