package diff

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
	"github.com/zkd/zkd/test/harness"
)

// connTranscript exercises what happens around sessions and connections:
// handshake variants, reconnects, catch-up watches, malformed requests.
func connTranscript(t *testing.T, addr string) []string {
	t.Helper()
	var out []string
	logf := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }

	// A 44-byte ConnectRequest (no readOnly byte) gets a 36-byte reply.
	for _, withRO := range []bool{false, true} {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		req := wire.ConnectRequest{TimeOut: 1000, Passwd: make([]byte, 16), HasReadOnly: withRO}
		_, err = c.Write(wire.MarshalFrame(&req))
		require.NoError(t, err)
		var n int32
		require.NoError(t, binary.Read(c, binary.BigEndian, &n))
		body := make([]byte, n)
		_, err = io.ReadFull(c, body)
		require.NoError(t, err)
		var resp wire.ConnectResponse
		require.NoError(t, wire.Unmarshal(body, 0, &resp))
		logf("connect readOnly=%v: reply %d bytes, timeout %d (clamped), passwd %d bytes", withRO, n, resp.TimeOut, len(resp.Passwd))
		c.Close()
	}

	a, err := harness.Dial(addr, 30000)
	require.NoError(t, err)
	defer a.Close()
	b, err := harness.Dial(addr, 30000)
	require.NoError(t, err)

	call := func(c *harness.RawClient, name string, op wire.OpCode, req wire.Record) {
		rep, err := c.Call(op, req)
		require.NoError(t, err, name)
		logf("%s: err=%s bodylen=%d", name, rep.Header.Err, len(rep.Body))
	}
	call(a, "create /s", wire.OpCreate, &wire.CreateRequest{Path: "/s", Data: []byte("1"), ACL: wire.OpenACLUnsafe})
	call(a, "create /s/k", wire.OpCreate, &wire.CreateRequest{Path: "/s/k", ACL: wire.OpenACLUnsafe})
	call(b, "getData /s watch", wire.OpGetData, &wire.GetDataRequest{Path: "/s", Watch: true})
	rel := b.LastZxid()

	// b drops its TCP connection; meanwhile /s changes, /s/k goes, /new appears.
	b.Close()
	call(a, "setData /s", wire.OpSetData, &wire.SetDataRequest{Path: "/s", Data: []byte("2"), Version: -1})
	call(a, "delete /s/k", wire.OpDelete, &wire.DeleteRequest{Path: "/s/k", Version: -1})
	call(a, "create /new", wire.OpCreate, &wire.CreateRequest{Path: "/new", ACL: wire.OpenACLUnsafe})

	// Reconnect with a wrong password: timeout 0, session 0, zero password.
	bad := append([]byte(nil), b.Session.Passwd...)
	bad[0] ^= 0xff
	r, err := harness.Resume(addr, b.Session.SessionID, bad, 30000)
	require.NoError(t, err)
	logf("resume with wrong password: timeout=%d session=%d passwd=%x", r.Session.TimeOut, r.Session.SessionID, r.Session.Passwd)
	r.Close()

	// Reconnect properly and re-register watches as the Java client does.
	b2, err := harness.Resume(addr, b.Session.SessionID, b.Session.Passwd, 30000)
	require.NoError(t, err)
	defer b2.Close()
	logf("resume: same session=%v timeout=%d", b2.Session.SessionID == b.Session.SessionID, b2.Session.TimeOut)
	sw := &wire.SetWatches{RelativeZxid: rel,
		DataWatches:  []string{"/s", "/gone"},
		ExistWatches: []string{"/new", "/absent"},
		ChildWatches: []string{"/s", "/"}}
	call(b2, "setWatches", wire.OpSetWatches, sw)
	logf("catch-up events: %s", events(b2))
	call(a, "create /absent", wire.OpCreate, &wire.CreateRequest{Path: "/absent", ACL: wire.OpenACLUnsafe})
	call(b2, "sync", wire.OpSync, &wire.SyncRequest{Path: "/"})
	logf("events after create /absent: %s", events(b2))

	// A truncated getData (no watch byte) is a MarshallingError and the
	// connection stays usable.
	h := wire.RequestHeader{Xid: 500, Type: wire.OpGetData}
	var e wire.Encoder
	h.Encode(&e)
	e.String("/s")
	require.NoError(t, a.WriteFrame(wire.AppendFrame(nil, e.B)))
	rep, err := a.Recv()
	require.NoError(t, err)
	logf("truncated getData: xid=%d err=%s", rep.Header.Xid, rep.Header.Err)
	call(a, "exists /s after it", wire.OpExists, &wire.ExistsRequest{Path: "/s"})

	// An unknown opcode: Unimplemented, zxid -1, then the server closes.
	h = wire.RequestHeader{Xid: 501, Type: 77}
	require.NoError(t, a.WriteFrame(wire.MarshalFrame(&h)))
	rep, err = a.Recv()
	require.NoError(t, err)
	logf("opcode 77: xid=%d zxid=%d err=%s", rep.Header.Xid, rep.Header.Zxid, rep.Header.Err)
	_, err = a.Recv()
	logf("then closed: %v", err != nil)
	return out
}

func events(c *harness.RawClient) string {
	var s []string
	for _, ev := range c.Events {
		s = append(s, fmt.Sprintf("%s %s", ev.Type, ev.Path))
	}
	c.Events = nil
	sort.Strings(s)
	return strings.Join(s, ", ")
}

func TestSessionsAndConnectionsLikeZooKeeper(t *testing.T) {
	zk := harness.StartZooKeeper(t, "")
	zkd := harness.StartZkd(t, "")
	want := connTranscript(t, zk.Addr)
	got := connTranscript(t, zkd.Addr)
	assertSame(t, want, got)
}

// fourLetterShape reduces a 4lw reply to its shape: keys and fixed text,
// with numbers, versions, paths and addresses replaced.
func fourLetterShape(s string) string {
	for _, re := range []struct{ re, with string }{
		{`Zookeeper version: .*`, "Zookeeper version: V"},
		{`zk_version\t.*`, "zk_version\tV"},
		{`/[0-9.]+:[0-9]+`, "/ADDR"},
		{`0x[0-9a-f]+`, "0xN"},
		{`-?[0-9]+(\.[0-9]+)?`, "N"},
		{`dataDir=.*`, "dataDir=D"},
		{`dataLogDir=.*`, "dataLogDir=D"},
	} {
		s = regexp.MustCompile(re.re).ReplaceAllString(s, re.with)
	}
	return s
}

func TestFourLetterWordsLikeZooKeeper(t *testing.T) {
	const cfg = "4lw.commands.whitelist=ruok,srvr,stat,conf,isro,wchs,dirs,crst,srst\n"
	zk := harness.StartZooKeeper(t, cfg)
	zkd := harness.StartZkd(t, cfg)
	for _, w := range []string{"ruok", "srvr", "conf", "isro", "wchs", "dirs", "crst", "srst", "mntr", "envi", "dump"} {
		t.Run(w, func(t *testing.T) {
			want, err := harness.FourLetterWord(zk.Addr, w, 5*time.Second)
			require.NoError(t, err)
			got, err := harness.FourLetterWord(zkd.Addr, w, 5*time.Second)
			require.NoError(t, err)
			if w == "dirs" {
				// Sizes differ (ZooKeeper has written a snapshot); compare the keys.
				want, got = fourLetterShape(want), fourLetterShape(got)
			}
			require.Equal(t, fourLetterShape(want), fourLetterShape(got))
		})
	}
	// "xxxx" is not a command: read as a frame length, silently closed.
	for _, addr := range []string{zk.Addr, zkd.Addr} {
		out, _ := harness.FourLetterWord(addr, "xxxx", 5*time.Second)
		require.Empty(t, out)
	}
	_ = bytes.MinRead
}
