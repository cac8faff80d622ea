package zkclient

import (
	"sort"
	"strings"

	"github.com/zkd/zkd/internal/wire"
)

// watchKind is one of the client's watch tables (ZKWatchManager's maps).
type watchKind int

const (
	kindData watchKind = iota
	kindExist
	kindChild
	kindPersistent
	kindPersistentRecursive
	numKinds
)

// watchSet records which paths hold which kinds of watch. The client has
// a single watcher, so a path is simply in a table or not.
type watchSet [numKinds]map[string]bool

func (w *watchSet) add(k watchKind, path string) {
	if w[k] == nil {
		w[k] = map[string]bool{}
	}
	w[k][path] = true
}

func (w *watchSet) has(k watchKind, path string) bool { return w[k][path] }

// take removes path from table k and reports whether it was there.
func (w *watchSet) take(k watchKind, path string) bool {
	if !w[k][path] {
		return false
	}
	delete(w[k], path)
	return true
}

// materialize consumes the one-shot watches a notification triggers and
// reports whether any watch (one-shot or persistent) wants the event
// (ZKWatchManager.materialize).
func (w *watchSet) materialize(typ wire.EventType, path string) bool {
	hit := false
	switch typ {
	case wire.EventNodeDataChanged, wire.EventNodeCreated:
		hit = w.take(kindData, path)
		hit = w.take(kindExist, path) || hit
	case wire.EventNodeChildrenChanged:
		hit = w.take(kindChild, path)
	case wire.EventNodeDeleted:
		hit = w.take(kindData, path)
		hit = w.take(kindExist, path) || hit
		hit = w.take(kindChild, path) || hit
	default:
		return false
	}
	if w.has(kindPersistent, path) {
		hit = true
	}
	// Recursive watches on the path or any ancestor. The server never
	// sends NodeChildrenChanged for them, so no need to filter here.
	for p := path; ; p = parent(p) {
		if w.has(kindPersistentRecursive, p) {
			hit = true
		}
		if p == "/" {
			break
		}
	}
	return hit
}

func parent(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// contains reports whether path holds a watch that removeWatches of type
// wtype may remove (ZKWatchManager.containsWatcher): persistent watches
// count for every type.
func (w *watchSet) contains(path string, wtype int32) bool {
	found := w.has(kindPersistent, path) || w.has(kindPersistentRecursive, path)
	switch wtype {
	case wire.WatcherChildren:
		found = found || w.has(kindChild, path)
	case wire.WatcherData:
		found = found || w.has(kindData, path) || w.has(kindExist, path)
	default:
		found = found || w.has(kindChild, path) || w.has(kindData, path) || w.has(kindExist, path)
	}
	return found
}

// remove drops the watches of type wtype on path and returns the
// "watch removed" event types to deliver, in a fixed order (Java iterates
// a HashMap, so its order between types is unspecified). As in
// ZKWatchManager.removeWatcher, only WatcherAny removes persistent watches.
func (w *watchSet) remove(path string, wtype int32) []wire.EventType {
	var child, data, pers bool
	switch wtype {
	case wire.WatcherChildren:
		child = w.take(kindChild, path)
	case wire.WatcherData:
		data = w.take(kindData, path)
		data = w.take(kindExist, path) || data
	default:
		child = w.take(kindChild, path)
		data = w.take(kindData, path)
		data = w.take(kindExist, path) || data
		pers = w.take(kindPersistent, path)
		pers = w.take(kindPersistentRecursive, path) || pers
	}
	var out []wire.EventType
	if child {
		out = append(out, wire.EventChildWatchRemoved)
	}
	if data {
		out = append(out, wire.EventDataWatchRemoved)
	}
	if pers {
		out = append(out, wire.EventPersistentWatchRemoved)
	}
	return out
}

func (w *watchSet) empty() bool {
	for _, m := range w {
		if len(m) > 0 {
			return false
		}
	}
	return true
}

// setWatches is the setWatches2 request that re-registers every watch on
// a new connection.
func (w *watchSet) setWatches(lastZxid int64) *wire.SetWatches2 {
	list := func(k watchKind) []string {
		out := make([]string, 0, len(w[k]))
		for p := range w[k] {
			out = append(out, p)
		}
		sort.Strings(out)
		return out
	}
	return &wire.SetWatches2{
		RelativeZxid:               lastZxid,
		DataWatches:                list(kindData),
		ExistWatches:               list(kindExist),
		ChildWatches:               list(kindChild),
		PersistentWatches:          list(kindPersistent),
		PersistentRecursiveWatches: list(kindPersistentRecursive),
	}
}
