package watch

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

type note struct {
	Path string
	Type wire.EventType
	Zxid int64
}

// fake is a Watcher that records what it is told.
type fake struct {
	id  wire.SessionID
	mu  sync.Mutex
	got []note
}

func newFake(id int64) *fake { return &fake{id: wire.SessionID(id)} }

func (f *fake) Notify(path string, ev wire.EventType, zxid int64) {
	f.mu.Lock()
	f.got = append(f.got, note{path, ev, zxid})
	f.mu.Unlock()
}

func (f *fake) SessionID() wire.SessionID { return f.id }

func (f *fake) notes() []note {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]note(nil), f.got...)
}

type registration func(m *Manager, w Watcher)

func dataOn(p string) registration {
	return func(m *Manager, w Watcher) { m.Add(Data, p, w, Standard) }
}
func childOn(p string) registration {
	return func(m *Manager, w Watcher) { m.Add(Child, p, w, Standard) }
}
func persistentOn(p string) registration {
	return func(m *Manager, w Watcher) { m.AddPersistent(p, w, false) }
}
func recursiveOn(p string) registration {
	return func(m *Manager, w Watcher) { m.AddPersistent(p, w, true) }
}

// TestTriggerFiresTheWatchesZooKeeperFires is wire.md §10.3 as a table:
// which registration hears which event, and what is left afterwards.
func TestTriggerFiresTheWatchesZooKeeperFires(t *testing.T) {
	cases := []struct {
		name     string
		reg      []registration
		path     string
		ev       wire.EventType
		notified bool
		left     int // registrations left (Count)
	}{
		{"a data watch hears NodeCreated and is gone (one-shot)", []registration{dataOn("/a")}, "/a", wire.EventNodeCreated, true, 0},
		{"a data watch hears NodeDataChanged and is gone", []registration{dataOn("/a")}, "/a", wire.EventNodeDataChanged, true, 0},
		{"a data watch hears NodeDeleted and is gone", []registration{dataOn("/a")}, "/a", wire.EventNodeDeleted, true, 0},
		{"a data watch does not hear NodeChildrenChanged and stays", []registration{dataOn("/a")}, "/a", wire.EventNodeChildrenChanged, false, 1},
		{"a data watch does not hear changes of a child", []registration{dataOn("/a")}, "/a/b", wire.EventNodeDataChanged, false, 1},
		{"a data watch does not hear changes of another path", []registration{dataOn("/a")}, "/b", wire.EventNodeCreated, false, 1},
		{"a child watch hears NodeChildrenChanged and is gone", []registration{childOn("/a")}, "/a", wire.EventNodeChildrenChanged, true, 0},
		{"a child watch hears NodeDeleted of its node and is gone", []registration{childOn("/a")}, "/a", wire.EventNodeDeleted, true, 0},
		{"a child watch does not hear NodeDataChanged", []registration{childOn("/a")}, "/a", wire.EventNodeDataChanged, false, 1},
		{"a child watch does not hear NodeCreated", []registration{childOn("/a")}, "/a", wire.EventNodeCreated, false, 1},
		{"a persistent watch hears NodeDataChanged and stays in both tables", []registration{persistentOn("/a")}, "/a", wire.EventNodeDataChanged, true, 2},
		{"a persistent watch hears NodeChildrenChanged and stays", []registration{persistentOn("/a")}, "/a", wire.EventNodeChildrenChanged, true, 2},
		{"a persistent watch hears NodeDeleted and stays even though the node is gone", []registration{persistentOn("/a")}, "/a", wire.EventNodeDeleted, true, 2},
		{"a persistent watch hears NodeCreated", []registration{persistentOn("/a")}, "/a", wire.EventNodeCreated, true, 2},
		{"a persistent (non-recursive) watch does not hear a child's changes", []registration{persistentOn("/a")}, "/a/b", wire.EventNodeCreated, false, 2},
		{"a recursive watch hears NodeCreated of a grandchild (3.8: one NodeCreated /w/k)", []registration{recursiveOn("/a")}, "/a/b/c", wire.EventNodeCreated, true, 1},
		{"a recursive watch hears NodeDataChanged of its own node", []registration{recursiveOn("/a")}, "/a", wire.EventNodeDataChanged, true, 1},
		{"a recursive watch hears NodeDeleted of a child", []registration{recursiveOn("/a")}, "/a/b", wire.EventNodeDeleted, true, 1},
		{"a recursive watch never hears NodeChildrenChanged of its node", []registration{recursiveOn("/a")}, "/a", wire.EventNodeChildrenChanged, false, 1},
		{"a recursive watch never hears NodeChildrenChanged of a descendant", []registration{recursiveOn("/a")}, "/a/b", wire.EventNodeChildrenChanged, false, 1},
		{"a recursive registration forced into the child table still never hears NodeChildrenChanged",
			[]registration{func(m *Manager, w Watcher) { m.Add(Child, "/a", w, PersistentRecursive) }}, "/a", wire.EventNodeChildrenChanged, false, 1},
		{"a recursive watch on /a does not hear /ab, which only shares a prefix", []registration{recursiveOn("/a")}, "/ab", wire.EventNodeCreated, false, 1},
		{"a recursive watch does not hear its parent", []registration{recursiveOn("/a/b")}, "/a", wire.EventNodeDataChanged, false, 1},
		{"a recursive watch on / hears every node", []registration{recursiveOn("/")}, "/x/y", wire.EventNodeCreated, true, 1},
		{"a recursive watch on / hears the root itself", []registration{recursiveOn("/")}, "/", wire.EventNodeDataChanged, true, 1},
		{"a standard watch on a child plus a recursive one on its parent notify once; only the standard one goes",
			[]registration{dataOn("/a/b"), recursiveOn("/a")}, "/a/b", wire.EventNodeDataChanged, true, 1},
		{"a data and a child watch on a deleted node notify once and both go (WatchManager dedup)",
			[]registration{dataOn("/a"), childOn("/a")}, "/a", wire.EventNodeDeleted, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := NewManager()
			w := newFake(1)
			for _, r := range tc.reg {
				r(m, w)
			}
			n := m.Trigger(tc.path, tc.ev, 77)
			if tc.notified {
				require.Equal(t, 1, n)
				require.Equal(t, []note{{tc.path, tc.ev, 77}}, w.notes())
			} else {
				require.Equal(t, 0, n)
				require.Empty(t, w.notes())
			}
			require.Equal(t, tc.left, m.Count())
			// Firing the same event again reaches only what stayed.
			again := m.Trigger(tc.path, tc.ev, 78)
			if tc.notified && tc.left == 0 {
				require.Equal(t, 0, again, "a one-shot watch fires once")
			}
		})
	}
}

func TestTriggerNotifiesEveryWatcherOnceAndPassesTheZxid(t *testing.T) {
	m := NewManager()
	a, b, c := newFake(1), newFake(2), newFake(3)
	m.Add(Data, "/a", a, Standard)
	m.Add(Child, "/a", a, Standard)
	m.Add(Data, "/a", b, Standard)
	m.AddPersistent("/", c, true)
	m.AddPersistent("/a", c, false)
	require.Equal(t, 3, m.Trigger("/a", wire.EventNodeDeleted, 0x500000001))
	for _, w := range []*fake{a, b, c} {
		require.Equal(t, []note{{"/a", wire.EventNodeDeleted, 0x500000001}}, w.notes(), "watcher %v", w.id)
	}
	require.Equal(t, 0, m.Trigger("/a", wire.EventNone, 1), "the server never sends EventNone")
}

func TestRegistrationModes(t *testing.T) {
	t.Run("a later one-shot registration does not downgrade a persistent watch", func(t *testing.T) {
		m := NewManager()
		w := newFake(1)
		m.AddPersistent("/a", w, false)
		m.Add(Data, "/a", w, Standard)
		m.Trigger("/a", wire.EventNodeDataChanged, 1)
		m.Trigger("/a", wire.EventNodeDataChanged, 2)
		require.Len(t, w.notes(), 2)
		require.Equal(t, 2, m.Count())
	})
	t.Run("a persistent registration upgrades a one-shot watch", func(t *testing.T) {
		m := NewManager()
		w := newFake(1)
		m.Add(Data, "/a", w, Standard)
		m.AddPersistent("/a", w, true)
		m.Trigger("/a", wire.EventNodeDataChanged, 1)
		m.Trigger("/a/b", wire.EventNodeCreated, 2)
		require.Len(t, w.notes(), 2)
		require.Equal(t, 1, m.Count())
	})
	t.Run("registering the same watch twice keeps one registration", func(t *testing.T) {
		m := NewManager()
		w := newFake(1)
		m.Add(Data, "/a", w, Standard)
		m.Add(Data, "/a", w, Standard)
		require.Equal(t, 1, m.Count())
		require.Equal(t, 1, m.Trigger("/a", wire.EventNodeDataChanged, 1))
		require.Equal(t, 0, m.Count())
	})
	t.Run("a recursive watch registered twice and removed once is gone, and the ancestor walk is off again", func(t *testing.T) {
		m := NewManager()
		w := newFake(1)
		m.AddPersistent("/a", w, true)
		m.AddPersistent("/a", w, true)
		require.Equal(t, 1, m.data.recursive)
		require.True(t, m.Remove("/a", w, wire.WatcherData))
		require.Equal(t, 0, m.data.recursive)
		require.Equal(t, 0, m.Trigger("/a/b", wire.EventNodeCreated, 1))
	})
	t.Run("replacing a recursive watch by a plain persistent one stops descendant events", func(t *testing.T) {
		m := NewManager()
		w := newFake(1)
		m.AddPersistent("/a", w, true)
		m.AddPersistent("/a", w, false)
		require.Equal(t, 0, m.data.recursive)
		require.Equal(t, 0, m.Trigger("/a/b", wire.EventNodeCreated, 1))
		require.Equal(t, 1, m.Trigger("/a", wire.EventNodeChildrenChanged, 2))
	})
	t.Run("a recursive watch that fires stays counted", func(t *testing.T) {
		m := NewManager()
		w := newFake(1)
		m.AddPersistent("/a", w, true)
		m.Trigger("/a", wire.EventNodeDeleted, 1)
		m.Trigger("/a/b", wire.EventNodeDeleted, 2)
		require.Equal(t, 1, m.data.recursive)
		require.Len(t, w.notes(), 2)
	})
}

// TestHasAndRemoveSelectByWatcherType is wire.md §10.5: Children covers
// the child table, Data covers exist/data and persistent watches on the
// data side, Any both.
func TestHasAndRemoveSelectByWatcherType(t *testing.T) {
	type want struct{ children, data, any bool }
	cases := []struct {
		name string
		reg  registration
		has  want
		// leftAfter says whether w still has a watch on the path after
		// Remove of each type.
		leftAfter want
	}{
		{"a data watch is Data, not Children", dataOn("/a"), want{false, true, true}, want{true, false, false}},
		{"a child watch is Children, not Data", childOn("/a"), want{true, false, true}, want{false, true, false}},
		{"a persistent watch is both", persistentOn("/a"), want{true, true, true}, want{true, true, false}},
		{"a recursive watch is Data only", recursiveOn("/a"), want{false, true, true}, want{true, false, false}},
	}
	types := []struct {
		name string
		typ  int32
		pick func(want) bool
	}{
		{"Children", wire.WatcherChildren, func(w want) bool { return w.children }},
		{"Data", wire.WatcherData, func(w want) bool { return w.data }},
		{"Any", wire.WatcherAny, func(w want) bool { return w.any }},
	}
	for _, tc := range cases {
		for _, ty := range types {
			t.Run(tc.name+"; checked and removed as "+ty.name, func(t *testing.T) {
				m := NewManager()
				w, other := newFake(1), newFake(2)
				tc.reg(m, w)
				m.Add(Data, "/a", other, Standard)
				m.Add(Child, "/a", other, Standard)
				before := m.Count()
				require.Equal(t, ty.pick(tc.has), m.Has("/a", w, ty.typ))
				require.False(t, m.Has("/b", w, ty.typ), "no watch on another path")
				require.Equal(t, ty.pick(tc.has), m.Remove("/a", w, ty.typ))
				require.Equal(t, ty.pick(tc.leftAfter), m.Has("/a", w, wire.WatcherAny), "what is left of w")
				require.True(t, m.Has("/a", other, wire.WatcherAny), "another watcher's watches stay")
				require.False(t, m.Remove("/b", w, ty.typ), "NoWatcher on a path without watches")
				if !ty.pick(tc.has) {
					require.Equal(t, before, m.Count())
				}
			})
		}
	}
}

func TestRemoveWatcherDropsEveryWatchOfAClosedConnection(t *testing.T) {
	m := NewManager()
	gone, stays := newFake(1), newFake(2)
	for _, p := range []string{"/a", "/b", "/c/d"} {
		m.Add(Data, p, gone, Standard)
		m.Add(Child, p, gone, Standard)
		m.Add(Data, p, stays, Standard)
	}
	m.AddPersistent("/", gone, true)
	m.AddPersistent("/p", gone, false)
	require.Equal(t, 3*3+1+2, m.Count())

	m.RemoveWatcher(gone)
	require.Equal(t, 3, m.Count())
	require.Equal(t, 0, m.data.recursive)
	for _, p := range []string{"/a", "/b", "/c/d", "/", "/p"} {
		require.False(t, m.Has(p, gone, wire.WatcherAny), p)
	}
	m.Trigger("/a", wire.EventNodeDeleted, 1)
	m.Trigger("/p", wire.EventNodeDeleted, 2)
	require.Empty(t, gone.notes())
	require.Len(t, stays.notes(), 1)
	m.RemoveWatcher(gone) // idempotent
	m.RemoveWatcher(newFake(9))
	require.Equal(t, 2, m.Count())
}

func TestCountAndDumps(t *testing.T) {
	m := NewManager()
	a, b, c := newFake(0x11), newFake(0x22), newFake(0x33)
	m.Add(Data, "/x", a, Standard)
	m.Add(Data, "/y", a, Standard)
	m.Add(Data, "/x", b, Standard)
	m.Add(Child, "/z", c, Standard) // child table only
	m.AddPersistent("/p", b, false) // both tables
	m.AddPersistent("/r", c, true)  // data table only

	t.Run("Count is the registrations of both tables (zk_watch_count)", func(t *testing.T) {
		require.Equal(t, 3+1+2+1, m.Count())
	})
	t.Run("DataSummary counts the data table only, as wchs does", func(t *testing.T) {
		require.Equal(t, Summary{Connections: 3, Paths: 4, Watches: 5}, m.DataSummary())
	})
	t.Run("BySession lists each session's data-table paths sorted (wchc)", func(t *testing.T) {
		require.Equal(t, map[wire.SessionID][]string{
			0x11: {"/x", "/y"},
			0x22: {"/p", "/x"},
			0x33: {"/r"},
		}, m.BySession())
	})
	t.Run("ByPath lists each data-table path's sessions sorted (wchp)", func(t *testing.T) {
		require.Equal(t, map[string][]wire.SessionID{
			"/x": {0x11, 0x22},
			"/y": {0x11},
			"/p": {0x22},
			"/r": {0x33},
		}, m.ByPath())
	})
	t.Run("an empty manager dumps nothing", func(t *testing.T) {
		e := NewManager()
		require.Equal(t, 0, e.Count())
		require.Equal(t, Summary{}, e.DataSummary())
		require.Empty(t, e.BySession())
		require.Empty(t, e.ByPath())
	})
}

func TestParentOf(t *testing.T) {
	for in, want := range map[string]string{"/": "", "": "", "/a": "/", "/a/b": "/a", "/a/b/c": "/a/b"} {
		t.Run(fmt.Sprintf("the parent of %q is %q", in, want), func(t *testing.T) {
			require.Equal(t, want, parentOf(in))
		})
	}
}

// TestManagerIsSafeForConcurrentUse is for -race: registrations,
// triggers, removals and dumps from many goroutines.
func TestManagerIsSafeForConcurrentUse(t *testing.T) {
	m := NewManager()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newFake(int64(g))
			for i := 0; i < 500; i++ {
				p := fmt.Sprintf("/n%d", i%7)
				switch i % 9 {
				case 0:
					m.Add(Data, p, w, Standard)
				case 1:
					m.Add(Child, p, w, Standard)
				case 2:
					m.AddPersistent(p, w, i%2 == 0)
				case 3:
					m.Trigger(p+"/c", wire.EventNodeCreated, int64(i))
				case 4:
					m.Trigger(p, wire.EventNodeDeleted, int64(i))
				case 5:
					m.Remove(p, w, wire.WatcherAny)
				case 6:
					m.Has(p, w, wire.WatcherData)
					m.Count()
				case 7:
					m.DataSummary()
					m.BySession()
					m.ByPath()
				case 8:
					if i%45 == 8 {
						m.RemoveWatcher(w)
					}
				}
			}
			m.RemoveWatcher(w)
		}()
	}
	wg.Wait()
	require.Equal(t, 0, m.Count())
	require.Equal(t, 0, m.data.recursive)
	require.Equal(t, 0, m.child.recursive)
}
