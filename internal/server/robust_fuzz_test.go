package server_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/server"
	"github.com/zkd/zkd/internal/wire"
)

// One server per fuzz process, started on first use and stopped, if the
// process gets that far, by the fuzz target's cleanup.
var (
	robustFuzzOnce sync.Once
	robustFuzzSrv  *server.Server
	robustFuzzDir  string
	robustFuzzAddr string
	robustFuzzErr  error
)

func robustFuzzServer(t *testing.T) string {
	robustFuzzOnce.Do(func() {
		robustFuzzDir, robustFuzzErr = os.MkdirTemp("", "zkd-fuzz-")
		if robustFuzzErr != nil {
			return
		}
		// A small jute.maxbuffer so oversized lengths are easy to reach.
		robustFuzzSrv, robustFuzzAddr, robustFuzzErr = robustNewServer(robustFuzzDir, "jute.maxbuffer=65536")
	})
	if robustFuzzErr != nil {
		t.Fatalf("start fuzz server: %v", robustFuzzErr)
	}
	return robustFuzzAddr
}

// Input layout: the first byte selects how the rest is delivered.
const (
	robustFuzzHandshake = 1 << 0 // handshake first, then write the rest
	robustFuzzKeepOpen  = 1 << 1 // do not half-close after writing
)

// robustFuzzReadFor bounds how long one input waits for the server.
const robustFuzzReadFor = 200 * time.Millisecond

// FuzzServerFrames writes arbitrary bytes to the server, raw or after a
// valid handshake, and checks after each input that a fresh connection
// still gets "imok" from ruok.
func FuzzServerFrames(f *testing.F) {
	f.Cleanup(func() {
		if robustFuzzSrv != nil {
			robustFuzzSrv.Stop()
		}
		if robustFuzzDir != "" {
			os.RemoveAll(robustFuzzDir)
		}
		// A next run (go test -count=N) starts its own server.
		robustFuzzOnce = sync.Once{}
		robustFuzzSrv, robustFuzzDir, robustFuzzAddr, robustFuzzErr = nil, "", "", nil
	})
	for _, seed := range robustFuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		addr := robustFuzzServer(t)
		mode, payload := data[0], data[1:]
		robustFuzzDeliver(t, addr, mode, payload)

		out, err := robustFourLetter(addr, "ruok", 5*time.Second)
		if err != nil || out != "imok" {
			t.Fatalf("server unhealthy after input (mode %#x, %d bytes): ruok = %q, %v", mode, len(payload), out, err)
		}
	})
}

func robustFuzzDeliver(t *testing.T, addr string, mode byte, payload []byte) {
	var c *robustRaw
	var err error
	if mode&robustFuzzHandshake != 0 {
		c, err = robustSession(addr, 4000)
	} else {
		c, err = robustDial(addr)
	}
	if err != nil {
		t.Fatalf("server unreachable (mode %#x): %v", mode, err)
	}
	defer c.close()
	_ = c.nc.SetDeadline(time.Now().Add(robustFuzzReadFor))
	if _, err := c.nc.Write(payload); err != nil {
		return // the server may close before reading everything
	}
	if mode&robustFuzzKeepOpen == 0 {
		// Half-close: the server sees EOF after the input and must close.
		if tc, ok := c.nc.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
	// Drain replies until the server closes or the deadline passes.
	_, _ = io.Copy(io.Discard, c.br)
}

// robustFuzzSeeds are valid request streams and mutations of them, each
// prefixed with a mode byte.
func robustFuzzSeeds() [][]byte {
	req := robustRequest
	acl := wire.OpenACLUnsafe
	create := req(1, wire.OpCreate, &wire.CreateRequest{Path: "/fz", Data: []byte("d"), ACL: acl})
	create2 := req(2, wire.OpCreate2, &wire.CreateRequest{Path: "/fz/s-", Data: nil, ACL: acl, Flags: 3})
	getData := req(3, wire.OpGetData, &wire.GetDataRequest{Path: "/fz", Watch: true})
	setData := req(4, wire.OpSetData, &wire.SetDataRequest{Path: "/fz", Data: []byte("e"), Version: -1})
	children := req(5, wire.OpGetChildren2, &wire.GetChildrenRequest{Path: "/", Watch: true})
	multi := req(6, wire.OpMulti, &wire.MultiRequest{Ops: []wire.MultiOp{
		{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/fm", Data: []byte("m"), ACL: acl}},
		{Type: wire.OpCheck, Req: &wire.CheckVersionRequest{Path: "/fm", Version: 0}},
		{Type: wire.OpSetData, Req: &wire.SetDataRequest{Path: "/fm", Data: []byte("n"), Version: -1}},
		{Type: wire.OpDelete, Req: &wire.DeleteRequest{Path: "/fm", Version: -1}},
	}})
	multiRead := req(7, wire.OpMultiRead, &wire.MultiRequest{Ops: []wire.MultiOp{
		{Type: wire.OpGetData, Req: &wire.GetDataRequest{Path: "/zookeeper"}},
		{Type: wire.OpGetChildren, Req: &wire.GetChildrenRequest{Path: "/"}},
	}})
	setWatches := req(8, wire.OpSetWatches2, &wire.SetWatches2{
		RelativeZxid: 0, DataWatches: []string{"/fz"}, ExistWatches: []string{"/nope"},
		ChildWatches: []string{"/"}, PersistentWatches: []string{"/p"}, PersistentRecursiveWatches: []string{"/"},
	})
	addWatch := req(9, wire.OpAddWatch, &wire.AddWatchRequest{Path: "/", Mode: 1})
	auth := req(wire.XidAuth, wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte("u:p")})
	ping := req(wire.XidPing, wire.OpPing, nil)
	closeSession := req(10, wire.OpCloseSession, nil)
	deleteReq := req(11, wire.OpDelete, &wire.DeleteRequest{Path: "/fz", Version: -1})
	ttl := req(12, wire.OpCreateTTL, &wire.CreateTTLRequest{Path: "/ttl", ACL: acl, Flags: 5, TTL: 1000})
	unknown := req(13, 77, nil)

	cat := func(frames ...[]byte) []byte {
		var b []byte
		for _, f := range frames {
			b = append(b, f...)
		}
		return b
	}
	with := func(mode byte, b []byte) []byte { return append([]byte{mode}, b...) }
	hs := byte(robustFuzzHandshake)
	open := byte(robustFuzzHandshake | robustFuzzKeepOpen)

	seeds := [][]byte{
		with(hs, create),
		with(hs, getData),
		with(hs, multi),
		with(hs, cat(create, create2, getData, setData, children, multi, multiRead, ping, deleteReq)),
		with(hs, cat(setWatches, addWatch, auth, ttl, create, setData)),
		with(open, cat(create, getData, ping)),
		with(hs, cat(ping, closeSession, ping)),
		with(hs, cat(getData, unknown, getData)),
		// Truncated records and frames.
		with(hs, getData[:len(getData)-1]),
		with(hs, multi[:len(multi)/2]),
		with(open, create[:7]),
		// Bad lengths after the handshake.
		with(hs, binary.BigEndian.AppendUint32(nil, 0xffffffff)),
		with(hs, binary.BigEndian.AppendUint32(nil, 1<<20)),
		with(hs, []byte{0, 0, 0, 0}),
		// A multi whose op count field is mangled.
		with(hs, func() []byte { b := append([]byte(nil), multi...); b[12] ^= 0x80; return b }()),
		// Raw: handshake frames, 4lw words, garbage.
		with(0, robustConnectFrame(4000)),
		with(0, cat(robustConnectFrame(4000), create, getData)),
		with(2, cat(robustConnectFrame(30000), multi)),
		with(0, wire.MarshalFrame(&wire.ConnectRequest{TimeOut: 4000, SessionID: 0x0100000000000001, Passwd: make([]byte, 16)})),
		with(0, wire.MarshalFrame(&wire.ConnectRequest{LastZxidSeen: 1 << 40, TimeOut: 4000, Passwd: make([]byte, 16)})),
		with(0, []byte("ruok")),
		with(0, []byte("stmk\x00\x00\x00\x00\x00\x00\x01\x32")),
		with(0, []byte("mntr")),
		with(0, []byte("cons")),
		with(0, []byte{0x80, 0, 0, 0}),
		with(0, []byte{0, 0, 0, 3, 1, 2, 3}),
		with(0, []byte(fmt.Sprintf("%040d", 0))),
	}
	return seeds
}
