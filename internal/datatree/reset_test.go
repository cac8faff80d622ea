package datatree

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/watch"
	"github.com/zkd/zkd/internal/wire"
)

// walkedNode is one node as Walk reports it.
type walkedNode struct {
	Path string
	Data string
	ACL  []wire.ACL
	Stat wire.StatPersisted
}

func walkAll(t testing.TB, tr *Tree) []walkedNode {
	t.Helper()
	var out []walkedNode
	require.NoError(t, tr.Walk(func(p string, data []byte, acl []wire.ACL, st wire.StatPersisted) error {
		out = append(out, walkedNode{p, string(data), acl, st})
		return nil
	}))
	return out
}

// populate gives tr one node of every kind, with data and a non-open ACL.
func populate(t testing.TB, tr *Tree) {
	t.Helper()
	const sess = 0x1234
	mustCreate(t, tr, 1, "/p", "persistent")
	mustCreate(t, tr, 2, "/p/q", "child")
	require.Equal(t, wire.OK, tr.Apply(hdrFor(wire.OpCreate, 3, sess),
		&wire.CreateTxn{Path: "/p/e", Data: []byte("eph"), ACL: wire.OpenACLUnsafe, Ephemeral: true, ParentCVersion: -1}).Err)
	require.Equal(t, wire.OK, applyAt(tr, wire.OpCreateContainer, 4,
		&wire.CreateContainerTxn{Path: "/c", Data: []byte("cont"), ACL: wire.OpenACLUnsafe, ParentCVersion: -1}).Err)
	require.Equal(t, wire.OK, applyAt(tr, wire.OpCreateTTL, 5,
		&wire.CreateTTLTxn{Path: "/t", Data: []byte("ttl"), ACL: wire.OpenACLUnsafe, ParentCVersion: -1, TTL: 5000}).Err)
	require.Equal(t, wire.OK, applyAt(tr, wire.OpCreate, 6,
		&wire.CreateTxn{Path: "/r", Data: []byte("ro"), ACL: wire.ReadACLUnsafe, ParentCVersion: -1}).Err)
	require.Equal(t, []string{"/p/e"}, tr.Ephemerals(sess))
	require.Len(t, tr.SpecialNodes(), 2)
	require.EqualValues(t, 6, tr.LastZxid())
}

func TestResetGivesWhatNewGives(t *testing.T) {
	wm := watch.NewManager()
	tr := New(wm)
	want := walkAll(t, New(nil))
	wantSize := New(nil).ApproximateDataSize()
	wantCount := New(nil).NodeCount()

	populate(t, tr)
	rec := newRecorder(7)
	_, _, err := tr.GetData("/p", rec)
	require.NoError(t, err)
	old := tr.nodes.get("/p/q")
	oldRoot := tr.nodes.get(RootPath)
	require.NotNil(t, old)

	tr.Reset()

	require.Equal(t, want, walkAll(t, tr))
	require.Equal(t, wantSize, tr.ApproximateDataSize())
	require.Equal(t, wantCount, tr.NodeCount())
	require.Zero(t, tr.LastZxid())
	require.Empty(t, tr.EphemeralSessions())
	require.Zero(t, tr.EphemeralCount())
	require.Empty(t, tr.SpecialNodes())
	require.Same(t, wm, tr.Watches())
	require.Empty(t, rec.got(), "Reset fires no watch")
	require.Equal(t, 1, wm.Count(), "Reset keeps registered watches")

	// Old pointers read as deleted; the new root is another node.
	require.True(t, old.deleted)
	require.True(t, oldRoot.deleted)
	require.NotSame(t, oldRoot, tr.nodes.get(RootPath))
	_, _, err = tr.GetData("/p", nil)
	require.ErrorIs(t, err, ErrNoNode)
	kids, _, err := tr.GetChildren("/", nil)
	require.NoError(t, err)
	require.Equal(t, []string{"zookeeper"}, kids)
	acl, st, err := tr.GetACL(ConfigPath)
	require.NoError(t, err)
	require.Equal(t, wire.ReadACLUnsafe, acl)
	require.EqualValues(t, -1, st.Aversion)

	// The tree works as a fresh one: the same history applies again.
	populate(t, tr)
	fresh := New(nil)
	populate(t, fresh)
	require.Equal(t, walkAll(t, fresh), walkAll(t, tr))
	require.Equal(t, fresh.ApproximateDataSize(), tr.ApproximateDataSize())
	require.Equal(t, fresh.EphemeralSessions(), tr.EphemeralSessions())
	require.Equal(t, fresh.SpecialNodes(), tr.SpecialNodes())
}

// TestResetLoaderAfterReset is the follower's SNAP path: Reset, then load.
func TestResetLoaderAfterReset(t *testing.T) {
	src := New(nil)
	populate(t, src)
	tr := New(nil)
	mustCreate(t, tr, 1, "/other", "x")
	tr.Reset()
	l := NewLoader(tr)
	for _, n := range walkAll(t, src) {
		require.NoError(t, l.Add(n.Path, []byte(n.Data), n.ACL, n.Stat))
	}
	require.Equal(t, walkAll(t, src), walkAll(t, tr))
	require.Equal(t, src.ApproximateDataSize(), tr.ApproximateDataSize())
	require.Equal(t, src.EphemeralSessions(), tr.EphemeralSessions())
	require.Equal(t, src.SpecialNodes(), tr.SpecialNodes())
}

// TestResetConcurrentReaders resets a tree over and over while readers
// hammer it (run with -race). Readers must never see a node whose data
// belongs to another path, nor a half-built standard node.
func TestResetConcurrentReaders(t *testing.T) {
	rounds := 200
	if testing.Short() {
		rounds = 30
	}
	tr := New(watch.NewManager())
	var done atomic.Bool
	var wg sync.WaitGroup
	var reads atomic.Int64
	errs := make(chan error, 16)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	w := &counter{id: 99}
	for r := 0; r < 6; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			for i := 0; !done.Load(); i++ {
				p := fmt.Sprintf("/n%d/k%d", i%5, i%7)
				var watcher watch.Watcher
				if r%2 == 0 {
					watcher = w
				}
				switch i % 6 {
				case 0:
					if data, _, err := tr.GetData(p, watcher); err == nil && string(data) != p {
						report(fmt.Errorf("node %s holds %q", p, data))
					}
				case 1:
					if _, err := tr.Exists(p, watcher); err != nil && err != ErrNoNode {
						report(err)
					}
				case 2:
					tr.GetChildren(fmt.Sprintf("/n%d", i%5), watcher)
				case 3:
					if acl, _, err := tr.GetACL(ConfigPath); err == nil && len(acl) != 1 {
						report(fmt.Errorf("config ACL %v", acl))
					}
				case 4:
					err := tr.Walk(func(p string, data []byte, _ []wire.ACL, _ wire.StatPersisted) error {
						if len(data) > 0 && string(data) != p {
							return fmt.Errorf("walk: node %s holds %q", p, data)
						}
						return nil
					})
					if err != nil {
						report(err)
					}
				case 5:
					tr.Info(p)
					tr.AllChildrenNumber("/")
					tr.NodeCount()
					tr.EphemeralCount()
					tr.SpecialNodes()
				}
				reads.Add(1)
			}
		}(r)
	}

	for round := 0; round < rounds; round++ {
		zxid := int64(0)
		for i := 0; i < 5; i++ {
			zxid++
			mustCreate(t, tr, zxid, fmt.Sprintf("/n%d", i), fmt.Sprintf("/n%d", i))
			for k := 0; k < 7; k++ {
				zxid++
				p := fmt.Sprintf("/n%d/k%d", i, k)
				rec := &wire.CreateTxn{Path: p, Data: []byte(p), ACL: wire.OpenACLUnsafe, Ephemeral: k%2 == 0, ParentCVersion: -1}
				require.Equal(t, wire.OK, tr.Apply(hdrFor(wire.OpCreate, zxid, 0x55), rec).Err)
			}
		}
		tr.Reset()
		require.Zero(t, tr.EphemeralCount())
		require.Equal(t, 5, tr.NodeCount())
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	require.Positive(t, reads.Load())
}

func TestReplaceWithTakesTheOtherTree(t *testing.T) {
	wm := watch.NewManager()
	tr := New(wm)
	mustCreate(t, tr, 1, "/old", "gone")
	oldNode := tr.nodes.get("/old")

	src := New(nil)
	populate(t, src)
	want := walkAll(t, src)
	wantSize, wantCount := src.ApproximateDataSize(), src.NodeCount()

	tr.ReplaceWith(src)
	require.Equal(t, want, walkAll(t, tr))
	require.Equal(t, wantSize, tr.ApproximateDataSize())
	require.Equal(t, wantCount, tr.NodeCount())
	require.EqualValues(t, 6, tr.LastZxid())
	require.Equal(t, []string{"/p/e"}, tr.Ephemerals(0x1234))
	require.Len(t, tr.SpecialNodes(), 2)
	_, _, err := tr.GetData("/old", nil)
	require.ErrorIs(t, err, ErrNoNode)
	oldNode.mu.Lock()
	require.True(t, oldNode.deleted, "a reader holding the old node must see it gone")
	oldNode.mu.Unlock()
	// The tree keeps working: writes apply on top of the adopted content.
	mustCreate(t, tr, 7, "/p/new", "x")
	require.EqualValues(t, 7, tr.LastZxid())
}
