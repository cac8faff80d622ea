package server_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/wire"
)

// robustRaiseNOFILE tries to let this process hold want descriptors,
// raising the soft limit (and the hard limit when privileged) and
// restoring the original limits when the test ends. It returns the limit
// in force afterwards.
func robustRaiseNOFILE(t *testing.T, want uint64) uint64 {
	t.Helper()
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Logf("cannot read RLIMIT_NOFILE: %v", err)
		return 0
	}
	if orig.Cur >= want {
		return orig.Cur
	}
	raised := syscall.Rlimit{Cur: want, Max: max(orig.Max, want)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
		// Unprivileged: the soft limit can go up to the hard limit only.
		raised = syscall.Rlimit{Cur: orig.Max, Max: orig.Max}
		if orig.Cur == orig.Max {
			return orig.Cur
		}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			t.Logf("cannot raise RLIMIT_NOFILE soft limit to %d: %v", orig.Max, err)
			return orig.Cur
		}
	}
	t.Logf("RLIMIT_NOFILE raised from %d/%d to %d/%d", orig.Cur, orig.Max, raised.Cur, raised.Max)
	t.Cleanup(func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
			t.Logf("restoring RLIMIT_NOFILE: %v", err)
		}
	})
	return raised.Cur
}

const (
	robustTenKConns   = 10000
	robustTenKWorkers = 16
	robustTenKBudget  = 60 * time.Second
	// robustTenKSpare is the descriptors a process needs beyond its
	// connections (listener, runtime, test binary).
	robustTenKSpare = 1024
	// robustTenKAddrEnv hands the server address to the client process.
	robustTenKAddrEnv = "ZKD_ROBUST_TENK_ADDR"
	robustTenKPrefix  = "robust-tenk: "
)

// TestTenThousandConnections opens 10,000 sessions, each with a real
// ConnectRequest/ConnectResponse handshake, checks they are all distinct
// and alive, closes them and checks the server is still usable.
//
// Both ends of every connection need a descriptor. When this process may
// hold 2×10,000 (raising RLIMIT_NOFILE as far as allowed) the clients run
// in-process; otherwise, if it may hold 10,000, the clients run in a child
// process (this test binary, TestRobustTenKChild); otherwise it skips.
func TestTenThousandConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 10,000 connections; skipped with -short")
	}
	const n = robustTenKConns
	testStart := time.Now()
	limit := robustRaiseNOFILE(t, 2*n+robustTenKSpare)
	inProcess := limit >= 2*n+robustTenKSpare
	if !inProcess && limit < n+robustTenKSpare {
		t.Skipf("needs %d file descriptors for the server's ends of the connections, "+
			"but RLIMIT_NOFILE is %d and could not be raised; raise it with `ulimit -n %d`",
			n+robustTenKSpare, limit, 2*n+robustTenKSpare)
	}
	robustLeakCheck(t)
	// Sessions must outlive the test even for connections that stay idle.
	_, addr := robustStartServer(t, t.TempDir(), "maxSessionTimeout=180000")

	var msBefore runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&msBefore)
	rssBefore := robustRSS()

	var closeAll func()
	if inProcess {
		t.Logf("RLIMIT_NOFILE %d: clients in-process", limit)
		cs, err := robustTenKOpen(addr, n, testStart.Add(robustTenKBudget))
		if cs != nil {
			defer cs.closeAll()
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("opened %d sessions in %v (%.0f/s) with %d dialers; pinged %d sampled connections",
			n, cs.openDur.Round(time.Millisecond), float64(n)/cs.openDur.Seconds(), robustTenKWorkers, cs.sampled)
		closeAll = cs.closeAll
	} else {
		t.Logf("RLIMIT_NOFILE %d is too low for both ends: clients in a child process", limit)
		child := robustTenKStartChild(t, addr)
		defer child.stop()
		line, err := child.next(testStart.Add(robustTenKBudget))
		if err != nil {
			t.Fatal(err)
		}
		var openNs, sampled, childRSS int64
		if _, err := fmt.Sscanf(line, "ready %d %d %d", &openNs, &sampled, &childRSS); err != nil {
			t.Fatalf("client process: %s", line)
		}
		openDur := time.Duration(openNs)
		t.Logf("opened %d sessions in %v (%.0f/s) with %d dialers; pinged %d sampled connections; client process RSS %d MiB",
			n, openDur.Round(time.Millisecond), float64(n)/openDur.Seconds(), robustTenKWorkers, sampled, childRSS>>10)
		closeAll = func() {
			if err := child.closeAll(testStart.Add(robustTenKBudget)); err != nil {
				t.Fatal(err)
			}
		}
	}

	var msAfter runtime.MemStats
	runtime.ReadMemStats(&msAfter)
	rssAfter := robustRSS()
	what := "server process"
	if inProcess {
		what = "process (server and clients)"
	}
	t.Logf("%s RSS %d MiB -> %d MiB (%.1f KiB per connection); heap in use %d MiB -> %d MiB; goroutines %d",
		what, rssBefore>>10, rssAfter>>10, float64(rssAfter-rssBefore)/n,
		msBefore.HeapInuse>>20, msAfter.HeapInuse>>20, runtime.NumGoroutine())

	// mntr sees them all (plus its own connection).
	out, err := robustFourLetter(addr, "mntr", 10*time.Second)
	if err != nil {
		t.Fatalf("mntr: %v", err)
	}
	alive, ok := robustMonitorValue(out, "zk_num_alive_connections")
	if !ok || alive < n {
		t.Fatalf("mntr zk_num_alive_connections = %d (found %v), want >= %d", alive, ok, n)
	}
	sessions, _ := robustMonitorValue(out, "zk_global_sessions")
	t.Logf("mntr: zk_num_alive_connections %d, zk_global_sessions %d", alive, sessions)
	if sessions < n {
		t.Errorf("mntr zk_global_sessions = %d, want >= %d", sessions, n)
	}

	// Close them all; the server must notice and drop every connection.
	closeStart := time.Now()
	closeAll()
	for {
		out, err := robustFourLetter(addr, "mntr", 10*time.Second)
		if err != nil {
			t.Fatalf("mntr after close: %v", err)
		}
		alive, _ = robustMonitorValue(out, "zk_num_alive_connections")
		if alive <= 1 {
			break
		}
		if time.Since(testStart) > robustTenKBudget {
			t.Fatalf("server still reports %d connections %v after the clients closed them",
				alive, time.Since(closeStart).Round(time.Millisecond))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("server dropped all connections %v after the clients closed them", time.Since(closeStart).Round(time.Millisecond))

	// A normal client still works.
	c, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogger(robustNopLogger{}))
	if err != nil {
		t.Fatalf("connect after the storm: %v", err)
	}
	defer c.Close()
	if _, err := c.Create("/after-10k", []byte("ok"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create after the storm: %v", err)
	}
	if got, _, err := c.Get("/after-10k"); err != nil || string(got) != "ok" {
		t.Fatalf("get after the storm: %q, %v", got, err)
	}
	if d := time.Since(testStart); d > robustTenKBudget {
		t.Errorf("test took %v, budget %v", d, robustTenKBudget)
	}
}

// TestRobustTenKChild is the client half of TestTenThousandConnections
// when it runs in a child process; on its own it skips. It reports on
// stdout ("robust-tenk: ready <openNs> <sampled> <rssKiB>"), waits for a
// line on stdin, closes every connection and reports "closed".
func TestRobustTenKChild(t *testing.T) {
	addr := os.Getenv(robustTenKAddrEnv)
	if addr == "" {
		t.Skip("helper process of TestTenThousandConnections")
	}
	say := func(format string, args ...any) { fmt.Printf(robustTenKPrefix+format+"\n", args...) }
	cs, err := robustTenKOpen(addr, robustTenKConns, time.Now().Add(robustTenKBudget))
	if err != nil {
		say("error %v", err)
		if cs != nil {
			cs.closeAll()
		}
		return
	}
	say("ready %d %d %d", cs.openDur.Nanoseconds(), cs.sampled, robustRSS())
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	cs.closeAll()
	say("closed")
}

// robustTenKClients are the client ends of the 10,000 connections.
type robustTenKClients struct {
	conns   []net.Conn
	sids    []int64
	openDur time.Duration
	sampled int
}

// robustTenKOpen opens n sessions with a few dialer goroutines, then
// checks the session ids are distinct and pings a sample. On error the
// returned clients (if any) still need closeAll.
func robustTenKOpen(addr string, n int, deadline time.Time) (*robustTenKClients, error) {
	cs := &robustTenKClients{conns: make([]net.Conn, n), sids: make([]int64, n)}
	connectFrame := robustConnectFrame(180000)
	var (
		next     atomic.Int64
		failed   atomic.Int64
		errMu    sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range robustTenKWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || time.Now().After(deadline) {
					return
				}
				nc, sid, err := robustTenKHandshake(addr, connectFrame)
				if err != nil {
					failed.Add(1)
					errMu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("connection %d: %w", i, err)
					}
					errMu.Unlock()
					continue
				}
				cs.conns[i], cs.sids[i] = nc, sid
			}
		}()
	}
	wg.Wait()
	cs.openDur = time.Since(start)
	if failed.Load() > 0 {
		return cs, fmt.Errorf("%d of %d handshakes failed; first: %v", failed.Load(), n, firstErr)
	}
	for i, c := range cs.conns {
		if c == nil {
			return cs, fmt.Errorf("connection %d was never opened: over budget after %v", i, cs.openDur)
		}
	}
	// Every session id is distinct.
	seen := make(map[int64]int, n)
	for i, sid := range cs.sids {
		if j, dup := seen[sid]; dup {
			return cs, fmt.Errorf("connections %d and %d got the same session id %#x", j, i, sid)
		}
		seen[sid] = i
	}
	// A sample of the connections answers pings.
	for i := 0; i < n; i += 97 {
		if err := robustTenKPing(cs.conns[i]); err != nil {
			return cs, fmt.Errorf("ping on connection %d (session %#x): %w", i, cs.sids[i], err)
		}
		cs.sampled++
	}
	return cs, nil
}

func (cs *robustTenKClients) closeAll() {
	var wg sync.WaitGroup
	for w := range robustTenKWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(cs.conns); i += robustTenKWorkers {
				if cs.conns[i] != nil {
					cs.conns[i].Close()
					cs.conns[i] = nil
				}
			}
		}()
	}
	wg.Wait()
}

// robustTenKChild is the client process.
type robustTenKChild struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr bytes.Buffer
}

func robustTenKStartChild(t *testing.T, addr string) *robustTenKChild {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ch := &robustTenKChild{lines: make(chan string, 16)}
	ch.cmd = exec.Command(exe, "-test.run=^TestRobustTenKChild$", "-test.count=1", "-test.timeout=120s")
	ch.cmd.Env = append(os.Environ(), robustTenKAddrEnv+"="+addr)
	ch.cmd.Stderr = &ch.stderr
	if ch.stdin, err = ch.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := ch.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.cmd.Start(); err != nil {
		t.Fatalf("start client process: %v", err)
	}
	go func() {
		defer close(ch.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), robustTenKPrefix); ok {
				ch.lines <- line
			}
		}
	}()
	return ch
}

// next waits for the child's next report.
func (ch *robustTenKChild) next(deadline time.Time) (string, error) {
	select {
	case line, ok := <-ch.lines:
		if !ok {
			return "", fmt.Errorf("client process exited early: %s", ch.stderr.String())
		}
		if strings.HasPrefix(line, "error") {
			return "", fmt.Errorf("client process: %s", line)
		}
		return line, nil
	case <-time.After(time.Until(deadline)):
		return "", fmt.Errorf("client process did not report within the budget")
	}
}

func (ch *robustTenKChild) closeAll(deadline time.Time) error {
	if _, err := io.WriteString(ch.stdin, "close\n"); err != nil {
		return fmt.Errorf("tell client process to close: %w", err)
	}
	line, err := ch.next(deadline)
	if err != nil {
		return err
	}
	if line != "closed" {
		return fmt.Errorf("client process: %q, want closed", line)
	}
	return nil
}

// stop ends the child (it exits by itself after closeAll).
func (ch *robustTenKChild) stop() {
	ch.stdin.Close()
	done := make(chan struct{})
	go func() {
		for range ch.lines {
		}
		_ = ch.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = ch.cmd.Process.Kill()
		<-done
	}
}

// robustTenKHandshake dials and completes a new-session handshake,
// keeping only the socket (no per-connection buffers survive).
func robustTenKHandshake(addr string, connectFrame []byte) (net.Conn, int64, error) {
	nc, err := robustDialTCP(addr, 10*time.Second)
	if err != nil {
		return nil, 0, err
	}
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write(connectFrame); err != nil {
		nc.Close()
		return nil, 0, err
	}
	frame, err := wire.ReadFrame(bufio.NewReaderSize(nc, 64), 0, nil)
	if err != nil {
		nc.Close()
		return nil, 0, fmt.Errorf("read ConnectResponse: %w", err)
	}
	var resp wire.ConnectResponse
	if err := wire.Unmarshal(frame, 0, &resp); err != nil {
		nc.Close()
		return nil, 0, fmt.Errorf("decode ConnectResponse: %w", err)
	}
	if resp.SessionID == 0 || resp.TimeOut <= 0 || len(resp.Passwd) != 16 || !resp.HasReadOnly {
		nc.Close()
		return nil, 0, fmt.Errorf("bad ConnectResponse %+v", resp)
	}
	_ = nc.SetDeadline(time.Time{})
	return nc, resp.SessionID, nil
}

// robustTenKPing sends one ping and checks its reply.
func robustTenKPing(nc net.Conn) error {
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	defer nc.SetDeadline(time.Time{})
	if _, err := nc.Write(robustRequest(wire.XidPing, wire.OpPing, nil)); err != nil {
		return err
	}
	frame, err := wire.ReadFrame(bufio.NewReaderSize(nc, 64), 0, nil)
	if err != nil {
		return err
	}
	var h wire.ReplyHeader
	if err := wire.Unmarshal(frame, 0, &h); err != nil {
		return err
	}
	if h.Xid != wire.XidPing || h.Err != wire.OK {
		return fmt.Errorf("ping reply %+v", h)
	}
	return nil
}
