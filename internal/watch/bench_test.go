package watch

import (
	"fmt"
	"testing"

	"github.com/zkd/zkd/internal/wire"
)

type nopWatcher struct{ id wire.SessionID }

func (*nopWatcher) Notify(string, wire.EventType, int64) {}
func (w *nopWatcher) SessionID() wire.SessionID          { return w.id }

// BenchmarkTrigger fires NodeDataChanged on /a/b/c. "none" is what every
// write pays for a path nobody watches; "standard" re-registers its
// one-shot watches before each trigger (both timed), as clients that
// re-arm do; "recursive" watches sit on /a and fire through the ancestor
// walk.
func BenchmarkTrigger(b *testing.B) {
	const path = "/a/b/c"
	b.Run("watchers=0", func(b *testing.B) {
		m := NewManager()
		m.Add(Data, "/elsewhere", &nopWatcher{}, Standard)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			m.Trigger(path, wire.EventNodeDataChanged, int64(i))
		}
	})
	for _, n := range []int{1, 1000} {
		ws := make([]*nopWatcher, n)
		for i := range ws {
			ws[i] = &nopWatcher{id: wire.SessionID(i)}
		}
		b.Run(fmt.Sprintf("watchers=%d/standard", n), func(b *testing.B) {
			m := NewManager()
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				for _, w := range ws {
					m.Add(Data, path, w, Standard)
				}
				if got := m.Trigger(path, wire.EventNodeDataChanged, int64(i)); got != n {
					b.Fatalf("notified %d", got)
				}
			}
		})
		b.Run(fmt.Sprintf("watchers=%d/persistent", n), func(b *testing.B) {
			m := NewManager()
			for _, w := range ws {
				m.AddPersistent(path, w, false)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if got := m.Trigger(path, wire.EventNodeDataChanged, int64(i)); got != n {
					b.Fatalf("notified %d", got)
				}
			}
		})
		b.Run(fmt.Sprintf("watchers=%d/recursive", n), func(b *testing.B) {
			m := NewManager()
			for _, w := range ws {
				m.AddPersistent("/a", w, true)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if got := m.Trigger(path, wire.EventNodeDataChanged, int64(i)); got != n {
					b.Fatalf("notified %d", got)
				}
			}
		})
	}
}
