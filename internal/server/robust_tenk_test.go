package server_test

import (
	"bufio"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/wire"
)

// robustRaiseNOFILE makes sure this process may hold want descriptors,
// raising the soft limit (and, when privileged, the hard limit) for the
// rest of the test and restoring the original limits afterwards. It skips
// the test when that is impossible.
func robustRaiseNOFILE(t *testing.T, want uint64) {
	t.Helper()
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Skipf("cannot read RLIMIT_NOFILE: %v", err)
	}
	if orig.Cur >= want {
		return
	}
	raised := syscall.Rlimit{Cur: want, Max: max(orig.Max, want)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
		// Unprivileged: the soft limit can go up to the hard limit only.
		if orig.Max < want {
			t.Skipf("needs %d file descriptors (client and server ends of every connection) "+
				"but the RLIMIT_NOFILE hard limit is %d and raising it failed (%v); "+
				"raise it with `ulimit -Hn %d` or run as root", want, orig.Max, err, want)
		}
		raised = syscall.Rlimit{Cur: orig.Max, Max: orig.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			t.Skipf("cannot raise RLIMIT_NOFILE soft limit to %d: %v", orig.Max, err)
		}
	}
	t.Logf("RLIMIT_NOFILE raised from %d/%d to %d/%d", orig.Cur, orig.Max, raised.Cur, raised.Max)
	t.Cleanup(func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
			t.Logf("restoring RLIMIT_NOFILE: %v", err)
		}
	})
}

// TestTenThousandConnections opens 10,000 sessions, each with a real
// ConnectRequest/ConnectResponse handshake, checks they are all distinct
// and alive, closes them and checks the server is still usable.
func TestTenThousandConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 10,000 connections; skipped with -short")
	}
	const (
		n       = 10000
		workers = 16
		budget  = 60 * time.Second
	)
	testStart := time.Now()
	// Both ends of every connection live in this process.
	robustRaiseNOFILE(t, 2*n+1024)
	robustLeakCheck(t)
	// Sessions must outlive the test even for connections that stay idle.
	srv, addr := robustStartServer(t, t.TempDir(), "maxSessionTimeout=180000")
	_ = srv

	var msBefore runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&msBefore)
	rssBefore := robustRSS()

	conns := make([]net.Conn, n)
	sids := make([]int64, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	connectFrame := robustConnectFrame(180000)
	var (
		next     atomic.Int64
		failed   atomic.Int64
		errMu    sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	openStart := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || time.Since(testStart) > budget {
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
				conns[i], sids[i] = nc, sid
			}
		}()
	}
	wg.Wait()
	openDur := time.Since(openStart)
	if failed.Load() > 0 {
		t.Fatalf("%d of %d handshakes failed; first: %v", failed.Load(), n, firstErr)
	}
	for i, c := range conns {
		if c == nil {
			t.Fatalf("connection %d was never opened (over the %v budget after %v)", i, budget, time.Since(testStart))
		}
	}
	var msAfter runtime.MemStats
	runtime.ReadMemStats(&msAfter)
	rssAfter := robustRSS()
	t.Logf("opened %d sessions in %v (%.0f/s) with %d dialers", n, openDur.Round(time.Millisecond),
		float64(n)/openDur.Seconds(), workers)
	t.Logf("process RSS %d MiB -> %d MiB (%.1f KiB per connection, both ends); heap in use %d MiB -> %d MiB; goroutines %d",
		rssBefore>>10, rssAfter>>10, float64(rssAfter-rssBefore)/n,
		msBefore.HeapInuse>>20, msAfter.HeapInuse>>20, runtime.NumGoroutine())

	// Every session id is distinct.
	seen := make(map[int64]int, n)
	for i, sid := range sids {
		if j, dup := seen[sid]; dup {
			t.Fatalf("connections %d and %d got the same session id %#x", j, i, sid)
		}
		seen[sid] = i
	}

	// A sample of the connections answers pings.
	pingStart := time.Now()
	sampled := 0
	for i := 0; i < n; i += 97 {
		if err := robustTenKPing(conns[i]); err != nil {
			t.Fatalf("ping on connection %d (session %#x): %v", i, sids[i], err)
		}
		sampled++
	}
	t.Logf("pinged %d sampled connections in %v", sampled, time.Since(pingStart).Round(time.Millisecond))

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
	var cwg sync.WaitGroup
	for w := range workers {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			for i := w; i < n; i += workers {
				conns[i].Close()
				conns[i] = nil
			}
		}()
	}
	cwg.Wait()
	for {
		out, err := robustFourLetter(addr, "mntr", 10*time.Second)
		if err != nil {
			t.Fatalf("mntr after close: %v", err)
		}
		alive, _ = robustMonitorValue(out, "zk_num_alive_connections")
		if alive <= 1 {
			break
		}
		if time.Since(testStart) > budget {
			t.Fatalf("server still reports %d connections %v after the clients closed them",
				alive, time.Since(closeStart).Round(time.Millisecond))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("server dropped all connections %v after close", time.Since(closeStart).Round(time.Millisecond))

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
	if d := time.Since(testStart); d > budget {
		t.Errorf("test took %v, budget %v", d, budget)
	}
}

// robustTenKHandshake dials and completes a new-session handshake,
// keeping only the socket (no per-connection buffers survive).
func robustTenKHandshake(addr string, connectFrame []byte) (net.Conn, int64, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
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
