package interop

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/wire"
	"github.com/zkd/zkd/test/harness"
)

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// connect opens a go-zookeeper session and waits until it is established.
func connect(t testing.TB, addr string) *zk.Conn {
	t.Helper()
	c, events, err := zk.Connect([]string{addr}, 30*time.Second, zk.WithLogger(quietLogger{}), zk.WithLogInfo(false))
	if err != nil {
		t.Fatalf("connect %s: %v", addr, err)
	}
	deadline := time.After(15 * time.Second)
	for c.State() != zk.StateHasSession {
		select {
		case <-events:
		case <-deadline:
			c.Close()
			t.Fatalf("connect %s: no session (state %v)", addr, c.State())
		}
	}
	return c
}

var (
	open = zk.WorldACL(zk.PermAll)
	// ipACL lets this host (loopback) do everything and another network
	// read; ipOther locks out everyone but the super user and alice.
	ipACL   = []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "127.0.0.1"}, {Perms: zk.PermRead, Scheme: "ip", ID: "10.0.0.0/8"}}
	ipOther = []zk.ACL{{Perms: zk.PermRead | zk.PermWrite, Scheme: "ip", ID: "192.168.7.0/24"}, zk.DigestACL(zk.PermAll, "alice", "alice-pw")[0]}
)

// binaryData is 0..255 repeated: every byte value, not valid UTF-8.
func binaryData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// populate writes a varied subtree under prefix through go-zookeeper:
// null, empty, binary and large data; sequential, container and TTL
// nodes; digest, auth and ip ACLs; repeated setData and setACL; deletes
// that move cversion and pzxid; multis (one failing, which logs an error
// txn); ephemerals of a session that is then closed (their deletion is
// part of the closeSession txn). It returns when every write is
// acknowledged and the session is closed.
func populate(t testing.TB, addr, prefix string) {
	t.Helper()
	c := connect(t, addr)
	defer c.Close()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s under %s: %v", what, prefix, err)
		}
	}
	create := func(path string, data []byte, flags int32, acl []zk.ACL) string {
		t.Helper()
		p, err := c.Create(path, data, flags, acl)
		must("create "+path, err)
		return p
	}
	set := func(path string, data []byte, version int32) {
		t.Helper()
		_, err := c.Set(path, data, version)
		must("setData "+path, err)
	}

	must("addauth alice", c.AddAuth("digest", []byte("alice:alice-pw")))
	must("addauth bob", c.AddAuth("digest", []byte("bob:bob-pw")))

	create(prefix, []byte("subtree "+prefix), 0, open)
	create(prefix+"/null", nil, 0, open)
	create(prefix+"/empty", []byte{}, 0, open)
	create(prefix+"/binary", binaryData(1000), 0, open)
	big := make([]byte, 300_000)
	for i := range big {
		big[i] = byte(i*7 + i/251)
	}
	create(prefix+"/big", big, 0, open)
	create(prefix+"/unicode-ünï€ode-ノード", []byte("данные"), 0, open)
	create(prefix+"/deep", nil, 0, open)
	create(prefix+"/deep/a", []byte("a"), 0, open)
	create(prefix+"/deep/a/b", []byte("b"), 0, open)
	create(prefix+"/deep/a/b/c", []byte("c"), 0, open)

	// Sequential nodes; deleting one moves the parent's cversion/pzxid.
	create(prefix+"/seq", nil, 0, open)
	var seqs []string
	for i := 0; i < 4; i++ {
		seqs = append(seqs, create(prefix+"/seq/item-", []byte(fmt.Sprint(i)), zk.FlagSequence, open))
	}
	must("delete "+seqs[1], c.Delete(seqs[1], 0))
	create(prefix+"/seq/", []byte("nameless"), zk.FlagSequence, open) // name is the counter alone

	// Container with a child (so it is not reaped); TTL nodes far from
	// expiring.
	_, err := c.CreateContainer(prefix+"/container", []byte("box"), zk.FlagContainer, open)
	must("createContainer", err)
	create(prefix+"/container/kid", []byte("kid"), 0, open)
	_, err = c.CreateTTL(prefix+"/ttl", []byte("ttl"), zk.FlagTTL, open, 2*time.Hour)
	must("createTTL", err)
	_, err = c.CreateTTL(prefix+"/ttlseq-", nil, zk.FlagPersistentSequentialWithTTL, open, 3*time.Hour)
	must("createTTL sequential", err)

	// ACLs: digest ids, "auth" (expanded to the session's two digest
	// identities, in the order they were added), ip ranges.
	create(prefix+"/acl-digest", []byte("d"), 0, append(zk.DigestACL(zk.PermAll, "alice", "alice-pw"), zk.WorldACL(zk.PermRead)...))
	set(prefix+"/acl-digest", []byte("d2"), 0) // needs alice's auth
	create(prefix+"/acl-auth", []byte("creator"), 0, zk.AuthACL(zk.PermAll))
	create(prefix+"/acl-ip", []byte("ip"), 0, ipACL)
	create(prefix+"/acl-locked", []byte("locked"), 0, ipOther)
	create(prefix+"/acl-locked/inside", []byte("x"), 0, open) // alice may create
	create(prefix+"/acl-readonly", nil, 0, zk.WorldACL(zk.PermRead|zk.PermAdmin))

	// Versions and aversions.
	create(prefix+"/ver", []byte("v0"), 0, open)
	for i := 1; i <= 5; i++ {
		set(prefix+"/ver", []byte(fmt.Sprintf("v%d", i)), int32(i-1))
	}
	set(prefix+"/ver", nil, -1) // back to null data
	_, err = c.SetACL(prefix+"/ver", zk.WorldACL(zk.PermRead|zk.PermWrite|zk.PermAdmin), 0)
	must("setACL", err)
	_, err = c.SetACL(prefix+"/ver", append(zk.DigestACL(zk.PermAll, "bob", "bob-pw"), open...), 1)
	must("setACL", err)

	// Deletes: children created and removed, one name reused.
	create(prefix+"/del", []byte("parent"), 0, open)
	for _, k := range []string{"a", "b", "c", "d"} {
		create(prefix+"/del/"+k, []byte(k), 0, open)
	}
	must("delete", c.Delete(prefix+"/del/b", -1))
	must("delete", c.Delete(prefix+"/del/d", 0))
	create(prefix+"/del/b", []byte("b again"), 0, open)
	create(prefix+"/gone", []byte("gone"), 0, open)
	must("delete", c.Delete(prefix+"/gone", 0))

	// Multis: one that commits (create, set, check, delete in one txn)
	// and one that fails (logged as an error multi, changes nothing).
	_, err = c.Multi(
		&zk.CreateRequest{Path: prefix + "/multi", Data: []byte("m"), Acl: open},
		&zk.CreateRequest{Path: prefix + "/multi/one", Data: []byte("1"), Acl: open},
		&zk.CreateRequest{Path: prefix + "/multi/two", Data: nil, Acl: open},
		&zk.CreateRequest{Path: prefix + "/multi/seq-", Data: []byte("s"), Acl: open, Flags: zk.FlagSequence},
		&zk.SetDataRequest{Path: prefix + "/multi/one", Data: []byte("1b"), Version: 0},
		&zk.CheckVersionRequest{Path: prefix + "/multi/one", Version: 1},
		&zk.DeleteRequest{Path: prefix + "/multi/two", Version: 0},
		&zk.SetDataRequest{Path: prefix + "/ver", Data: []byte("from multi"), Version: 6},
	)
	must("multi", err)
	_, err = c.Multi(
		&zk.CreateRequest{Path: prefix + "/multi/never", Data: []byte("x"), Acl: open},
		&zk.CheckVersionRequest{Path: prefix + "/multi/one", Version: 42},
	)
	if !errors.Is(err, zk.ErrBadVersion) {
		t.Fatalf("failing multi under %s: got %v, want bad version", prefix, err)
	}

	// Many children written concurrently (pipelined on one session).
	create(prefix+"/many", nil, 0, open)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Create(fmt.Sprintf("%s/many/child-%03d", prefix, i), []byte(strings.Repeat("x", i)), 0, open); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must("create many", err)
	}

	// Ephemerals of this session: removed by its closeSession.
	create(prefix+"/eph-of-closed", nil, zk.FlagEphemeral, open)
	create(prefix+"/seq/eph-", []byte("e"), zk.FlagEphemeralSequential, open)
	// A node whose parent has only ephemeral-churn history.
	create(prefix+"/churn", nil, 0, open)
	for i := 0; i < 3; i++ {
		p := create(prefix+"/churn/e-", nil, zk.FlagEphemeralSequential, open)
		must("delete", c.Delete(p, 0))
	}
}

// mutate changes nodes an earlier server wrote under prefix.
func mutate(t testing.TB, addr, prefix string) {
	t.Helper()
	c := connect(t, addr)
	defer c.Close()
	if err := c.AddAuth("digest", []byte("bob:bob-pw")); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		what string
		do   func() error
	}{
		{"set binary", func() error { _, err := c.Set(prefix+"/binary", binaryData(77), 0); return err }},
		{"set ver", func() error { _, err := c.Set(prefix+"/ver", []byte("later"), 7); return err }},
		{"setACL ver", func() error { _, err := c.SetACL(prefix+"/ver", open, 2); return err }},
		{"delete del/a", func() error { return c.Delete(prefix+"/del/a", 0) }},
		{"create del/z", func() error { _, err := c.Create(prefix+"/del/z", []byte("z"), 0, open); return err }},
		{"sequential", func() error { _, err := c.Create(prefix+"/seq/item-", nil, zk.FlagSequence, open); return err }},
		{"delete many/child-007", func() error { return c.Delete(prefix+"/many/child-007", -1) }},
		{"container kid", func() error { _, err := c.Create(prefix+"/container/kid2", nil, 0, open); return err }},
		{"set null", func() error { _, err := c.Set(prefix+"/null", []byte("no longer null"), 0); return err }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("mutate %s: %s: %v", prefix, s.what, err)
		}
	}
}

// liveSession is a session left open (never closed) with ephemerals,
// whose id and password let the test resume it on the next server.
type liveSession struct {
	rc         *harness.RawClient
	id         int64
	passwd     []byte
	ephemerals []string
}

func openLive(t testing.TB, addr, prefix string) *liveSession {
	t.Helper()
	rc, err := harness.Dial(addr, 30000)
	if err != nil {
		t.Fatal(err)
	}
	ls := &liveSession{rc: rc, id: rc.Session.SessionID, passwd: rc.Session.Passwd}
	var cr wire.CreateResponse
	mustCall(t, rc, wire.OpCreate, &wire.CreateRequest{Path: prefix + "/live", Data: []byte("alive"), ACL: wire.OpenACLUnsafe, Flags: 1}, &cr)
	ls.ephemerals = append(ls.ephemerals, cr.Path)
	mustCall(t, rc, wire.OpCreate, &wire.CreateRequest{Path: prefix + "/seq/live-", Data: nil, ACL: wire.OpenACLUnsafe, Flags: 3}, &cr)
	ls.ephemerals = append(ls.ephemerals, cr.Path)
	return ls
}

// resume reconnects to the live session on addr (the server that took
// over the data directory) and checks the session and its ephemerals
// survived; then it closes the session so later phases are deterministic.
func (ls *liveSession) resume(t testing.TB, addr string) {
	t.Helper()
	rc, err := harness.Resume(addr, ls.id, ls.passwd, 30000)
	if err != nil {
		t.Fatalf("resume session %#x on %s: %v", ls.id, addr, err)
	}
	if rc.Session.SessionID != ls.id || rc.Session.TimeOut <= 0 {
		t.Fatalf("resume session %#x: got session %#x timeout %d (expired)", ls.id, rc.Session.SessionID, rc.Session.TimeOut)
	}
	for _, p := range ls.ephemerals {
		var ex wire.ExistsResponse
		if code := call(t, rc, wire.OpExists, &wire.ExistsRequest{Path: p}, &ex); code != wire.OK {
			t.Fatalf("ephemeral %s of resumed session: %v", p, code)
		}
		if ex.Stat.EphemeralOwner != ls.id {
			t.Fatalf("ephemeral %s owner %#x, want %#x", p, ex.Stat.EphemeralOwner, ls.id)
		}
	}
	// The resumed session can write.
	mustCall(t, rc, wire.OpSetData, &wire.SetDataRequest{Path: ls.ephemerals[0], Data: []byte("resumed"), Version: 0}, nil)
	closeSession(t, rc)
}
