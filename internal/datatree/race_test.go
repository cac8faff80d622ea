package datatree

import (
	"errors"
	"fmt"
	"math/rand"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/watch"
	"github.com/zkd/zkd/internal/wire"
)

// counter is a watcher that only counts, for readers whose events are not
// checked (keeps memory flat while they hammer the tree).
type counter struct {
	id wire.SessionID
	n  atomic.Int64
}

func (c *counter) Notify(string, wire.EventType, int64) { c.n.Add(1) }
func (c *counter) SessionID() wire.SessionID            { return c.id }

// TestReadersSeeAChangeOnlyAfterItsWatchFired runs readers, with and
// without watches, against one applier (run it with -race). It checks
// the guarantee of wire.md §11 / the package doc: a client that set a watch
// sees the change only after the notification is queued. Every probe
// watch is registered before the applier starts, so the check cannot be
// flaky: the first read that observes a probe's change must find the
// event already recorded.
func TestReadersSeeAChangeOnlyAfterItsWatchFired(t *testing.T) {
	probes := 300
	if testing.Short() {
		probes = 60
	}
	seed := time.Now().UnixNano()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d", seed)
		}
	})

	tr := New(watch.NewManager())
	zxid := int64(0)
	next := func() int64 { zxid++; return zxid }
	for _, p := range []string{"/r", "/p", "/q", "/s", "/d"} {
		mustCreate(t, tr, next(), p, "")
	}
	for i := 0; i < probes; i++ {
		mustCreate(t, tr, next(), fmt.Sprintf("/q/%d", i), "")
		mustCreate(t, tr, next(), fmt.Sprintf("/s/%d", i), "")
		mustCreate(t, tr, next(), fmt.Sprintf("/d/%d", i), "")
	}

	// Probe watches, one watcher each so every check names its own event.
	created := make([]*recorder, probes)  // exists on missing /p/i
	children := make([]*recorder, probes) // getChildren on /q/i
	changed := make([]*recorder, probes)  // getData on /s/i
	deleted := make([]*recorder, probes)  // exists on present /d/i
	for i := 0; i < probes; i++ {
		created[i], children[i], changed[i], deleted[i] = newRecorder(int64(4*i)), newRecorder(int64(4*i+1)), newRecorder(int64(4*i+2)), newRecorder(int64(4*i+3))
		_, err := tr.Exists(fmt.Sprintf("/p/%d", i), created[i])
		require.ErrorIs(t, err, ErrNoNode)
		_, _, err = tr.GetChildren(fmt.Sprintf("/q/%d", i), children[i])
		require.NoError(t, err)
		_, _, err = tr.GetData(fmt.Sprintf("/s/%d", i), changed[i])
		require.NoError(t, err)
		_, err = tr.Exists(fmt.Sprintf("/d/%d", i), deleted[i])
		require.NoError(t, err)
	}

	var done atomic.Bool
	var wg sync.WaitGroup

	// The applier: probe changes in order, with random noise between them.
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer done.Store(true)
		r := rand.New(rand.NewSource(seed))
		var noise []string
		for i := 0; i < probes; i++ {
			for k := r.Intn(4); k > 0; k-- {
				applyNoise(tr, r, next(), &noise)
			}
			p := fmt.Sprintf("/p/%d", i)
			if i%2 == 0 {
				tr.Apply(hdrFor(wire.OpMulti, next(), sessA), multi(
					sub(wire.OpSetData, &wire.SetDataTxn{Path: "/r", Data: []byte{byte(i)}, Version: int32(i)}),
					sub(wire.OpCreate, createTxn(p, "x", -1)),
				))
			} else {
				applyAt(tr, wire.OpCreate, next(), createTxn(p, "x", -1))
			}
			applyAt(tr, wire.OpCreate, next(), createTxn(fmt.Sprintf("/q/%d/x", i), "", -1))
			applyAt(tr, wire.OpSetData, next(), &wire.SetDataTxn{Path: fmt.Sprintf("/s/%d", i), Data: []byte("new"), Version: 1})
			applyAt(tr, wire.OpDelete, next(), &wire.DeleteTxn{Path: fmt.Sprintf("/d/%d", i)})
		}
	}()

	// Checkers: each walks the probes in the applier's order and checks the
	// first read that sees a change against the watcher.
	deadline := time.Now().Add(30 * time.Second)
	waitFor := func(what string, seen func() bool) bool {
		for !seen() {
			if time.Now().After(deadline) {
				t.Errorf("timed out waiting for %s", what)
				return false
			}
			runtime.Gosched()
		}
		return true
	}
	for c := 0; c < 2; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < probes; i++ {
				p := fmt.Sprintf("/p/%d", i)
				if !waitFor("create of "+p, func() bool { _, _, err := tr.GetData(p, nil); return err == nil }) {
					return
				}
				if !created[i].has(p, wire.EventNodeCreated) {
					t.Errorf("getData saw %s before its exists watch got NodeCreated (events %v)", p, created[i].got())
				}
				q := fmt.Sprintf("/q/%d", i)
				if !waitFor("child of "+q, func() bool { kids, _, _ := tr.GetChildren(q, nil); return slices.Contains(kids, "x") }) {
					return
				}
				if !children[i].has(q, wire.EventNodeChildrenChanged) {
					t.Errorf("getChildren saw %s/x before its child watch got NodeChildrenChanged (events %v)", q, children[i].got())
				}
				s := fmt.Sprintf("/s/%d", i)
				if !waitFor("setData of "+s, func() bool { _, st, _ := tr.GetData(s, nil); return st.Version == 1 }) {
					return
				}
				if !changed[i].has(s, wire.EventNodeDataChanged) {
					t.Errorf("getData saw version 1 of %s before its data watch got NodeDataChanged (events %v)", s, changed[i].got())
				}
				d := fmt.Sprintf("/d/%d", i)
				if !waitFor("delete of "+d, func() bool { _, err := tr.Exists(d, nil); return errors.Is(err, ErrNoNode) }) {
					return
				}
				if !deleted[i].has(d, wire.EventNodeDeleted) {
					t.Errorf("exists saw %s gone before its watch got NodeDeleted (events %v)", d, deleted[i].got())
				}
			}
		}()
	}

	// Noise readers: every read API, with and without watches.
	for rdr := 0; rdr < 4; rdr++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewSource(seed + int64(rdr) + 1))
			w := &counter{id: wire.SessionID(1000 + rdr)}
			for !done.Load() {
				p := fmt.Sprintf("/r/n%d", r.Intn(16))
				var ww watch.Watcher
				if r.Intn(2) == 0 {
					ww = w
				}
				switch r.Intn(12) {
				case 0:
					tr.GetData(p, ww)
				case 1:
					tr.Exists(p, ww)
				case 2:
					tr.GetChildren("/r", ww)
				case 3:
					tr.GetACL(p)
				case 4:
					tr.Info(p)
				case 5:
					tr.AllChildrenNumber("/")
				case 6:
					tr.Walk(func(string, []byte, []wire.ACL, wire.StatPersisted) error { return nil })
				case 7:
					tr.EphemeralCount()
					tr.EphemeralSessions()
				case 8:
					tr.SpecialNodes()
				case 9:
					tr.NodeCount()
					tr.ApproximateDataSize()
					tr.LastZxid()
				case 10:
					tr.Watches().Count()
					tr.Watches().BySession()
					tr.Watches().ByPath()
					tr.Watches().DataSummary()
				case 11:
					tr.Watches().Remove(p, w, wire.WatcherAny)
				}
			}
		}()
	}
	wg.Wait()

	// The quiet tree is consistent: every descendant of / is a node.
	n, err := tr.AllChildrenNumber("/")
	require.NoError(t, err)
	require.Equal(t, tr.NodeCount()-2, n)
	var size int64
	require.NoError(t, tr.Walk(func(path string, data []byte, _ []wire.ACL, _ wire.StatPersisted) error {
		size += int64(len(path) + len(data))
		return nil
	}))
	require.Equal(t, size, tr.ApproximateDataSize())
}

// applyNoise applies one random txn under /r: creates (some ephemeral,
// container or TTL), deletes, setData, setACL, closeSession and multis.
func applyNoise(tr *Tree, r *rand.Rand, zxid int64, live *[]string) {
	pick := func() string { return fmt.Sprintf("/r/n%d", r.Intn(16)) }
	removeLive := func(p string) {
		if i := slices.Index(*live, p); i >= 0 {
			*live = slices.Delete(*live, i, i+1)
		}
	}
	switch r.Intn(8) {
	case 0, 1:
		p := pick()
		if tr.Apply(hdrFor(wire.OpCreate, zxid, sessA+int64(r.Intn(2))), &wire.CreateTxn{Path: p, Data: []byte("n"), ACL: wire.OpenACLUnsafe, Ephemeral: r.Intn(2) == 0, ParentCVersion: -1}).Err == wire.OK {
			*live = append(*live, p)
		}
	case 2:
		p := pick()
		if applyAt(tr, wire.OpCreateContainer, zxid, &wire.CreateContainerTxn{Path: p, ACL: wire.OpenACLUnsafe, ParentCVersion: -1}).Err == wire.OK {
			*live = append(*live, p)
		}
	case 3:
		if len(*live) > 0 {
			p := (*live)[r.Intn(len(*live))]
			applyAt(tr, wire.OpDelete, zxid, &wire.DeleteTxn{Path: p})
			removeLive(p)
		}
	case 4:
		applyAt(tr, wire.OpSetData, zxid, &wire.SetDataTxn{Path: pick(), Data: make([]byte, r.Intn(64)), Version: int32(zxid)})
	case 5:
		applyAt(tr, wire.OpSetACL, zxid, &wire.SetACLTxn{Path: pick(), ACL: digestACL, Version: int32(zxid)})
	case 6:
		session := sessA + int64(r.Intn(2))
		for _, p := range tr.Ephemerals(session) {
			removeLive(p)
		}
		tr.Apply(hdrFor(wire.OpCloseSession, zxid, session), &wire.CloseSessionTxn{})
	case 7:
		p := pick()
		if tr.Apply(hdrFor(wire.OpMulti, zxid, sessA), multi(
			sub(wire.OpCreateTTL, &wire.CreateTTLTxn{Path: p, ACL: wire.OpenACLUnsafe, ParentCVersion: -1, TTL: 100}),
			sub(wire.OpSetData, &wire.SetDataTxn{Path: p, Data: []byte("m"), Version: 1}),
		)).Err == wire.OK {
			*live = append(*live, p)
		}
	}
}
