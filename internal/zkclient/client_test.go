package zkclient

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/zkd/zkd/internal/server/servertest"
	"github.com/zkd/zkd/internal/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func startServer(t *testing.T) string {
	t.Helper()
	addr, _ := servertest.Start(t)
	return addr
}

// proxy forwards loopback connections to a server and can cut them all,
// which the client sees as a lost connection.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); _, _ = io.Copy(s, c); s.Close() }()
			go func() { defer p.wg.Done(); _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.cut(); p.wg.Wait() })
	return p
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

type events struct {
	mu  sync.Mutex
	evs []Event
}

func (e *events) add(ev Event) { e.mu.Lock(); e.evs = append(e.evs, ev); e.mu.Unlock() }
func (e *events) has(want Event) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.evs {
		if ev == want {
			return true
		}
	}
	return false
}

// After a lost connection the client resumes the same session, replays
// its credentials, and re-registers its watches (setWatches2), so a
// change made while it was away still fires the watch
// (ZooKeeper guarantee: watches survive a reconnect within the session).
func TestReconnectKeepsSessionAuthAndWatches(t *testing.T) {
	addr := startServer(t)
	px := startProxy(t, addr)
	var evs events
	c, err := Connect(Config{Servers: []string{px.ln.Addr().String()}, SessionTimeout: 10 * time.Second, OnEvent: evs.add}, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	other, err := Connect(Config{Servers: []string{addr}, SessionTimeout: 10 * time.Second}, 5*time.Second)
	require.NoError(t, err)
	defer other.Close()

	sid := c.SessionID()
	require.NoError(t, c.AddAuth("digest", []byte("u:p")))
	_, err = c.Create("/r", nil, wire.FlagPersistent, wire.OpenACLUnsafe)
	require.NoError(t, err)
	_, _, err = c.Get("/r", true)
	require.NoError(t, err)
	require.NoError(t, c.AddWatch("/r", wire.AddWatchPersistentRecursive))

	px.cut()
	require.Eventually(t, func() bool { return evs.has(Event{Type: wire.EventNone, State: KeeperDisconnected}) },
		5*time.Second, 10*time.Millisecond)
	_, err = other.Set("/r", []byte("x"), -1) // while c is away, or just back
	require.NoError(t, err)
	require.Eventually(t, func() bool { return c.State() == StateConnected }, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, sid, c.SessionID())

	require.Eventually(t, func() bool {
		return evs.has(Event{Type: wire.EventNodeDataChanged, State: KeeperSyncConnected, Path: "/r"})
	}, 5*time.Second, 10*time.Millisecond)
	infos, err := c.WhoAmI()
	require.NoError(t, err)
	require.Contains(t, infos, wire.ClientInfo{AuthScheme: "digest", User: "u"})

	// The recursive watch survived too.
	_, err = other.Create("/r/child", nil, wire.FlagPersistent, wire.OpenACLUnsafe)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return evs.has(Event{Type: wire.EventNodeCreated, State: KeeperSyncConnected, Path: "/r/child"})
	}, 5*time.Second, 10*time.Millisecond)
}

func TestClosedClientRefusesRequests(t *testing.T) {
	c, err := Connect(Config{Servers: []string{startServer(t)}, SessionTimeout: 5 * time.Second}, 5*time.Second)
	require.NoError(t, err)
	c.Close()
	require.Equal(t, StateClosed, c.State())
	_, err = c.Exists("/", false)
	require.ErrorIs(t, err, ErrClosed)
	c.Close() // twice is fine
}

func TestConnectTimesOutOnDeadServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, err = Connect(Config{Servers: []string{addr}, SessionTimeout: time.Second}, 300*time.Millisecond)
	require.Error(t, err)
}

func TestWatchSetMaterialize(t *testing.T) {
	var w watchSet
	w.add(kindData, "/a")
	w.add(kindChild, "/a")
	w.add(kindPersistentRecursive, "/")
	require.True(t, w.materialize(wire.EventNodeDataChanged, "/a"))
	require.False(t, w.has(kindData, "/a"), "one-shot data watch is consumed")
	require.True(t, w.has(kindChild, "/a"), "child watch stays")
	require.True(t, w.materialize(wire.EventNodeCreated, "/x/y"), "recursive watch on an ancestor")
	require.True(t, w.contains("/", wire.WatcherData), "persistent watches count for every type")
	require.Empty(t, w.remove("/", wire.WatcherData), "but only WatcherAny removes them")
	require.Equal(t, []wire.EventType{wire.EventPersistentWatchRemoved}, w.remove("/", wire.WatcherAny))
}
