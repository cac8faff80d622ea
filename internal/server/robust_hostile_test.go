package server_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/wire"
)

// robustNopLogger silences go-zookeeper.
type robustNopLogger struct{}

func (robustNopLogger) Printf(string, ...any) {}

// robustHostileMaxBuffer is the jute.maxbuffer of the hostile-client test.
const robustHostileMaxBuffer = 4096

// robustHostileScenario is one kind of misbehaving client. run performs
// one connection's worth of abuse and returns an error only when the
// server's reaction is wrong (network errors caused by the abuse itself
// are expected and ignored).
type robustHostileScenario struct {
	name string
	run  func(addr string, rng *rand.Rand) error
}

var robustHostileScenarios = []robustHostileScenario{
	{"garbage", robustGarbage},
	{"negative-length", robustNegativeLength},
	{"oversized-frame", robustOversizedFrame},
	{"truncated-frame-then-close", robustTruncatedFrame},
	{"unknown-opcode", robustUnknownOpcode},
	{"truncated-getData", robustTruncatedGetData},
	{"garbage-handshake", robustGarbageHandshake},
	{"auth-unknown-scheme", robustAuthUnknownScheme},
	{"pipelined-burst-then-close", robustPipelinedBurst},
}

// TestHostileClients runs well-behaved go-zookeeper clients while raw
// clients abuse the server in every way wire.md §1-4 describes, and checks
// that the server reacts as ZooKeeper does, stays up, and that the good
// clients never notice.
func TestHostileClients(t *testing.T) {
	robustLeakCheck(t)
	testStart := time.Now()
	_, addr := robustStartServer(t, t.TempDir(), fmt.Sprintf("jute.maxbuffer=%d", robustHostileMaxBuffer))

	const (
		goodClients     = 4
		hostilePerKind  = 2
		hostileDuration = 5 * time.Second
	)

	// Well-behaved clients: create/get/set in a loop. Any error, and any
	// session state change other than the initial connect, is a failure.
	var (
		goodErrMu sync.Mutex
		goodErrs  []string
		goodOps   atomic.Int64
		closing   atomic.Bool
		stopGood  = make(chan struct{})
		goodWG    sync.WaitGroup
	)
	goodFail := func(format string, args ...any) {
		goodErrMu.Lock()
		defer goodErrMu.Unlock()
		if len(goodErrs) < 20 {
			goodErrs = append(goodErrs, fmt.Sprintf(format, args...))
		}
	}
	clients := make([]*zk.Conn, 0, goodClients)
	defer func() {
		closing.Store(true)
		for _, c := range clients {
			c.Close()
		}
	}()
	for i := range goodClients {
		hasSession := make(chan struct{})
		var once sync.Once
		cb := func(ev zk.Event) {
			if ev.Type != zk.EventSession {
				return
			}
			switch ev.State {
			case zk.StateHasSession:
				once.Do(func() { close(hasSession) })
			case zk.StateConnecting, zk.StateConnected:
				// Part of the initial connect (and of Close).
			default:
				if !closing.Load() {
					goodFail("client %d: session event %v", i, ev.State)
				}
			}
		}
		c, _, err := zk.Connect([]string{addr}, 10*time.Second,
			zk.WithLogger(robustNopLogger{}), zk.WithEventCallback(cb))
		if err != nil {
			t.Fatalf("good client %d: connect: %v", i, err)
		}
		clients = append(clients, c)
		select {
		case <-hasSession:
		case <-time.After(5 * time.Second):
			t.Fatalf("good client %d: no session after 5s", i)
		}
		goodWG.Add(1)
		go func() {
			defer goodWG.Done()
			acl := zk.WorldACL(zk.PermAll)
			for n := 0; ; n++ {
				select {
				case <-stopGood:
					return
				default:
				}
				path := fmt.Sprintf("/good-%d-%d", i, n)
				data := []byte(fmt.Sprintf("v0-%d-%d", i, n))
				if _, err := c.Create(path, data, 0, acl); err != nil {
					goodFail("client %d: create %s: %v", i, path, err)
					return
				}
				got, st, err := c.Get(path)
				if err != nil || !bytes.Equal(got, data) || st.Version != 0 {
					goodFail("client %d: get %s = %q, %+v, %v", i, path, got, st, err)
					return
				}
				data2 := []byte(fmt.Sprintf("v1-%d-%d", i, n))
				if st, err = c.Set(path, data2, 0); err != nil || st.Version != 1 {
					goodFail("client %d: set %s: %+v, %v", i, path, st, err)
					return
				}
				if got, _, err = c.Get(path); err != nil || !bytes.Equal(got, data2) {
					goodFail("client %d: get after set %s = %q, %v", i, path, got, err)
					return
				}
				goodOps.Add(4)
			}
		}()
	}

	// Hostile clients, hostilePerKind goroutines per scenario.
	type tally struct {
		runs atomic.Int64
		errs atomic.Int64
		mu   sync.Mutex
		msgs []string
	}
	tallies := make([]tally, len(robustHostileScenarios))
	hostileEnd := time.Now().Add(hostileDuration)
	var hostileWG sync.WaitGroup
	for k, sc := range robustHostileScenarios {
		for g := range hostilePerKind {
			hostileWG.Add(1)
			go func() {
				defer hostileWG.Done()
				rng := rand.New(rand.NewPCG(uint64(k), uint64(g)))
				tl := &tallies[k]
				for time.Now().Before(hostileEnd) {
					err := sc.run(addr, rng)
					tl.runs.Add(1)
					if err != nil {
						tl.errs.Add(1)
						tl.mu.Lock()
						if len(tl.msgs) < 3 {
							tl.msgs = append(tl.msgs, err.Error())
						}
						tl.mu.Unlock()
					}
				}
			}()
		}
	}
	hostileWG.Wait()

	// Let the good clients run a little longer, then stop them.
	opsAtEnd := goodOps.Load()
	time.Sleep(300 * time.Millisecond)
	close(stopGood)
	goodWG.Wait()

	for k, sc := range robustHostileScenarios {
		tl := &tallies[k]
		t.Logf("%-28s %5d connections, %d wrong reactions", sc.name, tl.runs.Load(), tl.errs.Load())
		if tl.errs.Load() > 0 {
			t.Errorf("%s: %d wrong server reactions, e.g. %s", sc.name, tl.errs.Load(), strings.Join(tl.msgs, "; "))
		}
		if tl.runs.Load() == 0 {
			t.Errorf("%s: never ran", sc.name)
		}
	}
	t.Logf("good clients: %d operations", goodOps.Load())
	for _, e := range goodErrs {
		t.Errorf("well-behaved client saw an error: %s", e)
	}
	if goodOps.Load() <= opsAtEnd {
		t.Errorf("well-behaved clients made no progress after the hostile phase (%d ops)", goodOps.Load())
	}
	if opsAtEnd < goodClients*4*10 {
		t.Errorf("well-behaved clients starved during the hostile phase: only %d ops", opsAtEnd)
	}

	// The server still answers, and has dropped every hostile connection.
	if out, err := robustFourLetter(addr, "srvr", 5*time.Second); err != nil || !strings.Contains(out, "Zookeeper version:") {
		t.Fatalf("srvr after the abuse: %q, %v", out, err)
	}
	var alive int64
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := robustFourLetter(addr, "mntr", 5*time.Second)
		if err != nil {
			t.Fatalf("mntr: %v", err)
		}
		alive, _ = robustMonitorValue(out, "zk_num_alive_connections")
		// The good clients plus the mntr connection itself.
		if alive <= goodClients+1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if alive > goodClients+1 {
		t.Errorf("server still has %d connections after every hostile client closed (want <= %d)", alive, goodClients+1)
	}
	if d := time.Since(testStart); d > 20*time.Second {
		t.Errorf("test took %v, budget 20s", d)
	}
}

// --- scenarios ---

// robustHostileTimeout bounds every wait for the server's reaction.
const robustHostileTimeout = 3 * time.Second

// robustGarbage sends random bytes, reads whatever comes back for a short
// while, and closes.
func robustGarbage(addr string, rng *rand.Rand) error {
	c, err := robustDial(addr)
	if err != nil {
		return err
	}
	defer c.close()
	b := make([]byte, 1+rng.IntN(2*robustHostileMaxBuffer))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	_ = c.write(b)
	_ = c.nc.SetReadDeadline(time.Now().Add(time.Duration(rng.IntN(50)) * time.Millisecond))
	_, _ = c.br.ReadByte()
	return nil
}

// robustNegativeLength sends a negative frame length, before or after the
// handshake: the server must close without replying.
func robustNegativeLength(addr string, rng *rand.Rand) error {
	return robustBadLength(addr, rng, -1-rng.Int32N(1<<30))
}

// robustOversizedFrame sends a frame length above jute.maxbuffer.
func robustOversizedFrame(addr string, rng *rand.Rand) error {
	n := int32(robustHostileMaxBuffer + 1)
	if rng.IntN(2) == 0 {
		n += rng.Int32N(1 << 30)
	}
	return robustBadLength(addr, rng, n)
}

func robustBadLength(addr string, rng *rand.Rand, n int32) error {
	after := rng.IntN(2) == 0
	var c *robustRaw
	var err error
	if after {
		c, err = robustSession(addr, 4000)
	} else {
		c, err = robustDial(addr)
	}
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	defer c.close()
	b := binary.BigEndian.AppendUint32(nil, uint32(n))
	// Some payload, as if the length were real.
	b = append(b, make([]byte, rng.IntN(64))...)
	if err := c.write(b); err != nil && !robustIsReset(err) {
		return fmt.Errorf("write: %w", err)
	}
	if err := c.expectClosed(robustHostileTimeout); err != nil {
		return fmt.Errorf("length %d (after handshake: %v): %w", n, after, err)
	}
	return nil
}

// robustTruncatedFrame starts a frame, sends part of it and closes, before
// or after the handshake.
func robustTruncatedFrame(addr string, rng *rand.Rand) error {
	var c *robustRaw
	var err error
	var frame []byte
	if rng.IntN(2) == 0 {
		c, err = robustDial(addr)
		frame = robustConnectFrame(4000)
	} else {
		c, err = robustSession(addr, 4000)
		frame = robustRequest(1, wire.OpGetData, &wire.GetDataRequest{Path: "/zookeeper", Watch: true})
	}
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	defer c.close()
	_ = c.write(frame[:rng.IntN(len(frame))])
	if rng.IntN(2) == 0 {
		time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
	}
	return nil
}

// robustUnknownOpcode sends an invalid opcode after the handshake: the
// reply is {xid, zxid -1, err -6} and then the server closes.
func robustUnknownOpcode(addr string, rng *rand.Rand) error {
	c, err := robustSession(addr, 4000)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	defer c.close()
	ops := []wire.OpCode{0, 10, 23, 77, 99, 108, 9999, -10, 20, -3}
	op := ops[rng.IntN(len(ops))]
	xid := 1 + rng.Int32N(1000)
	if err := c.write(robustRequest(xid, op, &wire.GetDataRequest{Path: "/"})); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	h, body, err := c.reply(robustHostileTimeout)
	if err != nil {
		return fmt.Errorf("op %d: no reply: %w", op, err)
	}
	if h.Xid != xid || h.Zxid != -1 || h.Err != wire.ErrUnimplemented || len(body) != 0 {
		return fmt.Errorf("op %d: reply %+v body %d bytes, want {xid %d, zxid -1, err -6}", op, h, len(body), xid)
	}
	if err := c.expectClosed(robustHostileTimeout); err != nil {
		return fmt.Errorf("op %d: after Unimplemented: %w", op, err)
	}
	return nil
}

// robustTruncatedGetData sends records missing their last field: the reply
// is MarshallingError and the connection stays usable.
func robustTruncatedGetData(addr string, rng *rand.Rand) error {
	c, err := robustSession(addr, 4000)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	defer c.close()
	var body wire.Encoder
	body.String("/zookeeper") // no watch byte
	var e wire.Encoder
	at := e.BeginFrame()
	(&wire.RequestHeader{Xid: 1, Type: wire.OpGetData}).Encode(&e)
	e.B = append(e.B, body.B...)
	e.EndFrame(at)
	// A create missing its flags: a write must fail the same way.
	var cb wire.Encoder
	cb.String(fmt.Sprintf("/trunc-%d", rng.Uint32()))
	cb.Buffer([]byte("x"))
	at = e.BeginFrame()
	(&wire.RequestHeader{Xid: 2, Type: wire.OpCreate}).Encode(&e)
	e.B = append(e.B, cb.B...)
	encodeOpenACL(&e)
	e.EndFrame(at)
	e.B = append(e.B, robustRequest(3, wire.OpGetData, &wire.GetDataRequest{Path: "/zookeeper"})...)
	e.B = append(e.B, robustRequest(wire.XidPing, wire.OpPing, nil)...)
	if err := c.write(e.B); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	want := []struct {
		xid int32
		err wire.Code
	}{{1, wire.ErrMarshallingError}, {2, wire.ErrMarshallingError}, {3, wire.OK}, {wire.XidPing, wire.OK}}
	for _, w := range want {
		h, body, err := c.reply(robustHostileTimeout)
		if err != nil {
			return fmt.Errorf("waiting for xid %d: %w", w.xid, err)
		}
		if h.Xid != w.xid || h.Err != w.err {
			return fmt.Errorf("reply %+v, want xid %d err %d", h, w.xid, w.err)
		}
		if w.err != wire.OK && len(body) != 0 {
			return fmt.Errorf("error reply xid %d has a %d-byte body", h.Xid, len(body))
		}
		if w.xid == 3 {
			var r wire.GetDataResponse
			if err := wire.Unmarshal(body, 0, &r); err != nil {
				return fmt.Errorf("getData after MarshallingError: %w", err)
			}
		}
	}
	return nil
}

// encodeOpenACL appends a one-entry world:anyone ACL vector.
func encodeOpenACL(e *wire.Encoder) {
	e.Int(1)
	(&wire.ACL{Perms: wire.PermAll, ID: wire.Id{Scheme: "world", ID: "anyone"}}).Encode(e)
}

// robustGarbageHandshake sends a well-framed ConnectRequest too short to
// decode: the server closes without a reply.
func robustGarbageHandshake(addr string, rng *rand.Rand) error {
	c, err := robustDial(addr)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	defer c.close()
	// ConnectRequest needs at least 28 bytes before the password buffer.
	payload := make([]byte, rng.IntN(28))
	for i := range payload {
		payload[i] = byte(rng.Uint32())
	}
	if err := c.write(wire.AppendFrame(nil, payload)); err != nil && !robustIsReset(err) {
		return fmt.Errorf("write: %w", err)
	}
	if err := c.expectClosed(robustHostileTimeout); err != nil {
		return fmt.Errorf("%d-byte ConnectRequest: %w", len(payload), err)
	}
	return nil
}

// robustAuthUnknownScheme authenticates with a scheme the server has no
// provider for: {xid -4, err -115}, then close.
func robustAuthUnknownScheme(addr string, rng *rand.Rand) error {
	c, err := robustSession(addr, 4000)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	defer c.close()
	pkt := &wire.AuthPacket{Scheme: fmt.Sprintf("bogus%d", rng.IntN(100)), Auth: []byte("who:me")}
	if err := c.write(robustRequest(wire.XidAuth, wire.OpAuth, pkt)); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	h, body, err := c.reply(robustHostileTimeout)
	if err != nil {
		return fmt.Errorf("no auth reply: %w", err)
	}
	if h.Xid != wire.XidAuth || h.Err != wire.ErrAuthFailed || len(body) != 0 {
		return fmt.Errorf("auth reply %+v body %d bytes, want {xid -4, err -115}", h, len(body))
	}
	if err := c.expectClosed(robustHostileTimeout); err != nil {
		return fmt.Errorf("after AuthFailed: %w", err)
	}
	return nil
}

// robustPipelinedBurst writes many requests at once and closes without
// reading (sometimes reading a few replies first, sometimes with RST).
func robustPipelinedBurst(addr string, rng *rand.Rand) error {
	c, err := robustSession(addr, 4000)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	defer c.close()
	var b []byte
	n := 20 + rng.IntN(300)
	base := fmt.Sprintf("/burst-%x", c.sid)
	for i := range n {
		xid := int32(i + 1)
		p := fmt.Sprintf("%s-%d", base, i%8)
		var frame []byte
		switch rng.IntN(6) {
		case 0:
			frame = robustRequest(xid, wire.OpCreate, &wire.CreateRequest{
				Path: p, Data: []byte("burst"), ACL: wire.OpenACLUnsafe, Flags: 1, // ephemeral
			})
		case 1:
			frame = robustRequest(xid, wire.OpSetData, &wire.SetDataRequest{Path: p, Data: []byte("x"), Version: -1})
		case 2:
			frame = robustRequest(xid, wire.OpGetData, &wire.GetDataRequest{Path: p, Watch: true})
		case 3:
			frame = robustRequest(xid, wire.OpExists, &wire.ExistsRequest{Path: p, Watch: true})
		case 4:
			frame = robustRequest(wire.XidPing, wire.OpPing, nil)
		case 5:
			frame = robustRequest(xid, wire.OpDelete, &wire.DeleteRequest{Path: p, Version: -1})
		}
		b = append(b, frame...)
	}
	if err := c.write(b); err != nil && !robustIsReset(err) {
		return fmt.Errorf("write burst: %w", err)
	}
	switch rng.IntN(3) {
	case 0:
		for range rng.IntN(10) {
			if _, _, err := c.reply(robustHostileTimeout); err != nil {
				return fmt.Errorf("reading burst replies: %w", err)
			}
		}
	case 1:
		// Abort: RST instead of FIN.
		if tc, ok := c.nc.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
	}
	return nil
}

// TestRobustConcurrentTraceMask runs stmk and gtmk on concurrent
// connections: the trace mask is process state shared by every
// connection, and under -race this caught an unsynchronized global.
func TestRobustConcurrentTraceMask(t *testing.T) {
	robustLeakCheck(t)
	_, addr := robustStartServer(t, t.TempDir())
	const rounds = 20
	errs := make(chan error, 2*rounds)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range rounds {
			// stmk takes an 8-byte big-endian mask; 306 is the default.
			out, err := robustFourLetter(addr, "stmk\x00\x00\x00\x00\x00\x00\x01\x32", 5*time.Second)
			if err != nil || out != "306" {
				errs <- fmt.Errorf("stmk: %q, %v", out, err)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for range rounds {
			out, err := robustFourLetter(addr, "gtmk", 5*time.Second)
			if err != nil || out != "306" {
				errs <- fmt.Errorf("gtmk: %q, %v", out, err)
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
