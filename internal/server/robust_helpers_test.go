package server_test

// Helpers for the robustness tests (robust_*_test.go). Every name starts
// with "robust" so they cannot collide with the other test files of this
// package.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/server"
	"github.com/zkd/zkd/internal/wire"
)

// robustBaseConfig is the zoo.cfg every robustness server starts from.
// clientPort is a dummy: the tests serve on their own listener.
const robustBaseConfig = "tickTime=2000\nclientPort=1\nmaxClientCnxns=0\n4lw.commands.whitelist=*\nadmin.enableServer=false\n"

// robustStartServer starts an in-process server on 127.0.0.1:0 with the
// base config plus extra zoo.cfg lines, and stops it when the test ends.
func robustStartServer(t testing.TB, dataDir string, extra ...string) (*server.Server, string) {
	t.Helper()
	srv, addr, err := robustNewServer(dataDir, extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv, addr
}

// robustNewServer is robustStartServer without the testing hooks (the
// fuzz target keeps one server for the whole process).
func robustNewServer(dataDir string, extra ...string) (*server.Server, string, error) {
	text := robustBaseConfig + "dataDir=" + dataDir + "\n" + strings.Join(extra, "\n") + "\n"
	cfg, err := config.Parse(strings.NewReader(text), "zoo.cfg")
	if err != nil {
		return nil, "", fmt.Errorf("parse config: %w", err)
	}
	srv, err := server.New(cfg, zap.NewNop())
	if err != nil {
		return nil, "", fmt.Errorf("new server: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	if err := srv.Serve(ln); err != nil {
		ln.Close()
		return nil, "", err
	}
	return srv, ln.Addr().String(), nil
}

// robustLeakCheck registers a goroutine leak check that runs after every
// cleanup registered later (servers, clients). go-zookeeper's goroutines
// wind down asynchronously after Close; goleak retries, and they are
// ignored outright since they are the library's, not the server's.
func robustLeakCheck(t *testing.T) {
	t.Helper()
	opts := []goleak.Option{
		goleak.IgnoreCurrent(),
		goleak.IgnoreTopFunction("github.com/go-zookeeper/zk.(*Conn).loop"),
		goleak.IgnoreTopFunction("github.com/go-zookeeper/zk.(*Conn).sendLoop"),
		goleak.IgnoreTopFunction("github.com/go-zookeeper/zk.(*Conn).recvLoop"),
		goleak.IgnoreAnyFunction("github.com/go-zookeeper/zk.(*Conn).loop.func1"),
	}
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}

// robustDialTCP dials addr from a rotating loopback source address
// (127.1.x.y) when the host routes all of 127/8 to the loopback interface,
// as Linux does. The tests open tens of thousands of short connections to
// one server port; from a single source address their TIME_WAIT entries
// would exhaust the ephemeral port range and stall later dials.
func robustDialTCP(addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	if robustSpreadSources() {
		n := robustSourceSeq.Add(1)
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 1, byte(n>>8), byte(n%254+1))}
	}
	return d.Dial("tcp", addr)
}

var (
	robustSourceSeq     atomic.Uint32
	robustSpreadSources = sync.OnceValue(func() bool {
		ln, err := net.Listen("tcp", "127.1.0.1:0")
		if err != nil {
			return false
		}
		ln.Close()
		return true
	})
)

// robustFourLetter runs a four-letter word on a fresh connection and
// returns the whole reply.
func robustFourLetter(addr, cmd string, timeout time.Duration) (string, error) {
	nc, err := robustDialTCP(addr, timeout)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(timeout))
	if _, err := nc.Write([]byte(cmd)); err != nil {
		return "", err
	}
	b, err := io.ReadAll(nc)
	return string(b), err
}

// robustMonitorValue extracts one numeric key from a mntr reply.
func robustMonitorValue(mntr, key string) (int64, bool) {
	for _, line := range strings.Split(mntr, "\n") {
		k, v, ok := strings.Cut(line, "\t")
		if ok && k == key {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// robustRaw is a hand-driven client connection.
type robustRaw struct {
	nc  net.Conn
	br  *bufio.Reader
	sid int64
}

// robustDial opens a raw connection without handshaking.
func robustDial(addr string) (*robustRaw, error) {
	nc, err := robustDialTCP(addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &robustRaw{nc: nc, br: bufio.NewReaderSize(nc, 512)}, nil
}

// robustConnectFrame is a new-session ConnectRequest frame (45-byte form).
func robustConnectFrame(timeoutMs int32) []byte {
	return wire.MarshalFrame(&wire.ConnectRequest{
		TimeOut: timeoutMs, Passwd: make([]byte, 16), HasReadOnly: true,
	})
}

// robustSession dials and completes a handshake for a new session.
func robustSession(addr string, timeoutMs int32) (*robustRaw, error) {
	c, err := robustDial(addr)
	if err != nil {
		return nil, err
	}
	if err := c.handshake(timeoutMs); err != nil {
		c.nc.Close()
		return nil, err
	}
	return c, nil
}

func (c *robustRaw) handshake(timeoutMs int32) error {
	_ = c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.nc.SetDeadline(time.Time{})
	if _, err := c.nc.Write(robustConnectFrame(timeoutMs)); err != nil {
		return err
	}
	frame, err := wire.ReadFrame(c.br, 0, nil)
	if err != nil {
		return fmt.Errorf("read ConnectResponse: %w", err)
	}
	var resp wire.ConnectResponse
	if err := wire.Unmarshal(frame, 0, &resp); err != nil {
		return fmt.Errorf("decode ConnectResponse: %w", err)
	}
	if resp.SessionID == 0 || resp.TimeOut <= 0 || len(resp.Passwd) != 16 {
		return fmt.Errorf("handshake refused: %+v", resp)
	}
	c.sid = resp.SessionID
	return nil
}

// robustRequest encodes one request frame.
func robustRequest(xid int32, op wire.OpCode, rec wire.Record) []byte {
	return wire.MarshalFrame(&wire.RequestHeader{Xid: xid, Type: op}, rec)
}

// write sends raw bytes with a deadline.
func (c *robustRaw) write(b []byte) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.nc.Write(b)
	return err
}

// reply reads one reply frame and returns its header and body.
func (c *robustRaw) reply(timeout time.Duration) (wire.ReplyHeader, []byte, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
	frame, err := wire.ReadFrame(c.br, 0, nil)
	if err != nil {
		return wire.ReplyHeader{}, nil, err
	}
	d := wire.NewDecoder(frame, 0)
	var h wire.ReplyHeader
	h.Decode(d)
	if d.Err != nil {
		return h, nil, fmt.Errorf("reply header: %w", d.Err)
	}
	return h, frame[d.Off:], nil
}

// expectClosed checks that the server closes the connection without
// sending anything more within timeout.
func (c *robustRaw) expectClosed(timeout time.Duration) error {
	_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
	b, err := io.ReadAll(c.br)
	if len(b) > 0 {
		return fmt.Errorf("expected close without bytes, got %d bytes %x", len(b), b[:min(len(b), 32)])
	}
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("connection still open after %v", timeout)
		}
		if !robustIsReset(err) {
			return err
		}
	}
	return nil
}

// robustIsReset reports a connection reset: the server closing a socket
// with unread input makes the kernel send RST instead of FIN.
func robustIsReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") ||
		strings.Contains(err.Error(), "broken pipe"))
}

func (c *robustRaw) close() { c.nc.Close() }

// robustRSS returns this process's resident set size in KiB (Linux).
func robustRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return -1
}
