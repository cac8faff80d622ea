package watch

import (
	"sort"
	"strings"
	"sync"

	"github.com/zkd/zkd/internal/wire"
)

// Watcher receives notifications. Notify must not block on I/O: it queues.
type Watcher interface {
	Notify(path string, ev wire.EventType, zxid int64)
	// SessionID names the watcher in wchc/wchp dumps.
	SessionID() wire.SessionID
}

// Mode is how a watch behaves once it fires.
type Mode uint8

// Watch modes (WatcherMode in ZooKeeper).
const (
	Standard Mode = iota // one-shot
	Persistent
	PersistentRecursive
)

// Kind selects one of the two watch tables.
type Kind uint8

// The tables: data (getData/exists and persistent) and child (getChildren
// and persistent). Recursive watches live in the data table only, which is
// why they never see NodeChildrenChanged.
const (
	Data Kind = iota
	Child
)

type table struct {
	byPath    map[string]map[Watcher]Mode
	byWatcher map[Watcher]map[string]struct{}
	recursive int // number of recursive registrations, to skip ancestor walks when 0
}

func newTable() *table {
	return &table{byPath: map[string]map[Watcher]Mode{}, byWatcher: map[Watcher]map[string]struct{}{}}
}

func (t *table) add(path string, w Watcher, m Mode) {
	ws := t.byPath[path]
	if ws == nil {
		ws = map[Watcher]Mode{}
		t.byPath[path] = ws
	}
	if old, ok := ws[w]; ok {
		// A persistent registration is not downgraded by a later one-shot
		// one (WatchManager.addWatch keeps the stronger mode).
		if old != Standard && m == Standard {
			return
		}
		if old == PersistentRecursive {
			t.recursive--
		}
	}
	ws[w] = m
	if m == PersistentRecursive {
		t.recursive++
	}
	ps := t.byWatcher[w]
	if ps == nil {
		ps = map[string]struct{}{}
		t.byWatcher[w] = ps
	}
	ps[path] = struct{}{}
}

func (t *table) remove(path string, w Watcher) bool {
	ws := t.byPath[path]
	m, ok := ws[w]
	if !ok {
		return false
	}
	if m == PersistentRecursive {
		t.recursive--
	}
	delete(ws, w)
	if len(ws) == 0 {
		delete(t.byPath, path)
	}
	if ps := t.byWatcher[w]; ps != nil {
		delete(ps, path)
		if len(ps) == 0 {
			delete(t.byWatcher, w)
		}
	}
	return true
}

// fire appends the watchers of path for ev to out, removing one-shot
// ones. Recursive watchers of path and its ancestors fire too, except for
// NodeChildrenChanged. sets counts the watcher sets that contributed: a
// watcher appears at most once per set, so out needs de-duplicating only
// when more than one set added to it.
func (t *table) fire(path string, ev wire.EventType, out []Watcher, sets *int) []Watcher {
	if ws := t.byPath[path]; len(ws) > 0 {
		*sets++
		for w, m := range ws {
			if m == PersistentRecursive && ev == wire.EventNodeChildrenChanged {
				continue
			}
			out = append(out, w)
			if m == Standard {
				t.remove(path, w)
			}
		}
	}
	if t.recursive == 0 || ev == wire.EventNodeChildrenChanged {
		return out
	}
	for p := parentOf(path); p != ""; p = parentOf(p) {
		added := false
		for w, m := range t.byPath[p] {
			if m == PersistentRecursive {
				out = append(out, w)
				added = true
			}
		}
		if added {
			*sets++
		}
		if p == "/" {
			break
		}
	}
	return out
}

func parentOf(p string) string {
	if p == "/" || p == "" {
		return ""
	}
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// Manager holds both watch tables. It is safe for concurrent use; its lock
// is only ever taken for map updates, never across I/O (Notify queues).
type Manager struct {
	mu    sync.Mutex
	data  *table
	child *table
}

// NewManager returns an empty manager.
func NewManager() *Manager { return &Manager{data: newTable(), child: newTable()} }

// Add registers w on path in the given table.
func (m *Manager) Add(k Kind, path string, w Watcher, mode Mode) {
	m.mu.Lock()
	m.tableOf(k).add(path, w, mode)
	m.mu.Unlock()
}

// AddPersistent registers an addWatch watch: persistent watches go in both
// tables, recursive ones in the data table only (as ZooKeeper does).
func (m *Manager) AddPersistent(path string, w Watcher, recursive bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if recursive {
		m.data.add(path, w, PersistentRecursive)
		return
	}
	m.data.add(path, w, Persistent)
	m.child.add(path, w, Persistent)
}

func (m *Manager) tableOf(k Kind) *table {
	if k == Child {
		return m.child
	}
	return m.data
}

// Trigger notifies the watchers interested in ev on path and returns how
// many were notified. For a delete, the tree calls it once for the data
// table and once for the child table; a watcher in both hears it once.
func (m *Manager) Trigger(path string, ev wire.EventType, zxid int64) int {
	var out []Watcher
	sets := 0
	m.mu.Lock()
	switch ev {
	case wire.EventNodeCreated, wire.EventNodeDataChanged:
		out = m.data.fire(path, ev, out, &sets)
	case wire.EventNodeChildrenChanged:
		out = m.child.fire(path, ev, out, &sets)
	case wire.EventNodeDeleted:
		out = m.data.fire(path, ev, out, &sets)
		out = m.child.fire(path, ev, out, &sets)
	}
	m.mu.Unlock()
	if sets > 1 {
		out = dedupe(out)
	}
	for _, w := range out {
		w.Notify(path, ev, zxid)
	}
	return len(out)
}

// dedupe drops repeated watchers, keeping the first of each.
func dedupe(ws []Watcher) []Watcher {
	seen := make(map[Watcher]struct{}, len(ws))
	out := ws[:0]
	for _, w := range ws {
		if _, ok := seen[w]; !ok {
			seen[w] = struct{}{}
			out = append(out, w)
		}
	}
	return out
}

// Has reports whether w has a watch of the selected type on path
// (checkWatches). typ is wire.WatcherChildren, WatcherData or WatcherAny.
func (m *Manager) Has(path string, w Watcher, typ int32) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	inData := m.data.byPath[path] != nil && hasKey(m.data.byPath[path], w)
	inChild := m.child.byPath[path] != nil && hasKey(m.child.byPath[path], w)
	switch typ {
	case wire.WatcherChildren:
		return inChild
	case wire.WatcherData:
		return inData
	default:
		return inData || inChild
	}
}

func hasKey(ws map[Watcher]Mode, w Watcher) bool { _, ok := ws[w]; return ok }

// Remove removes w's watches of the selected type on path and reports
// whether any were there (removeWatches).
func (m *Manager) Remove(path string, w Watcher, typ int32) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	removed := false
	if typ == wire.WatcherData || typ == wire.WatcherAny {
		removed = m.data.remove(path, w) || removed
	}
	if typ == wire.WatcherChildren || typ == wire.WatcherAny {
		removed = m.child.remove(path, w) || removed
	}
	return removed
}

// RemoveWatcher drops every watch of w (its connection closed).
func (m *Manager) RemoveWatcher(w Watcher) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range []*table{m.data, m.child} {
		for p := range t.byWatcher[w] {
			t.remove(p, w)
		}
	}
}

// Count is the total number of registrations in both tables (zk_watch_count).
func (m *Manager) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, t := range []*table{m.data, m.child} {
		for _, ws := range t.byPath {
			n += len(ws)
		}
	}
	return n
}

// Summary is what wchs prints: counts over the data table only, as
// ZooKeeper's DataTree.dumpWatchesSummary does.
type Summary struct {
	Connections, Paths, Watches int
}

// DataSummary counts the data table.
func (m *Manager) DataSummary() Summary {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Summary{Connections: len(m.data.byWatcher), Paths: len(m.data.byPath)}
	for _, ws := range m.data.byPath {
		s.Watches += len(ws)
	}
	return s
}

// BySession lists data-table watch paths per session, sorted (wchc).
func (m *Manager) BySession() map[wire.SessionID][]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[wire.SessionID][]string{}
	for w, ps := range m.data.byWatcher {
		id := w.SessionID()
		for p := range ps {
			out[id] = append(out[id], p)
		}
	}
	for _, ps := range out {
		sort.Strings(ps)
	}
	return out
}

// ByPath lists watching sessions per data-table path, sorted (wchp).
func (m *Manager) ByPath() map[string][]wire.SessionID {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]wire.SessionID{}
	for p, ws := range m.data.byPath {
		for w := range ws {
			out[p] = append(out[p], w.SessionID())
		}
		sort.Slice(out[p], func(i, j int) bool { return out[p][i] < out[p][j] })
	}
	return out
}
