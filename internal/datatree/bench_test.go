package datatree

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/zkd/zkd/internal/watch"
	"github.com/zkd/zkd/internal/wire"
)

// nopWatcher takes notifications without doing anything, so benchmarks
// measure the tree and the watch tables, not a queue.
type nopWatcher struct{ id wire.SessionID }

func (*nopWatcher) Notify(string, wire.EventType, int64) {}
func (w *nopWatcher) SessionID() wire.SessionID          { return w.id }

func BenchmarkGetData(b *testing.B) {
	for _, size := range []int{16, 1024} {
		for _, watched := range []bool{false, true} {
			b.Run(fmt.Sprintf("data=%d/watch=%v", size, watched), func(b *testing.B) {
				tr := New(nil)
				mustCreate(b, tr, 1, "/bench", "")
				paths := make([]string, 64)
				for i := range paths {
					paths[i] = "/bench/n" + strconv.Itoa(i)
					applyAt(tr, wire.OpCreate, int64(2+i), &wire.CreateTxn{Path: paths[i], Data: make([]byte, size), ParentCVersion: -1})
				}
				var w watch.Watcher
				if watched {
					w = &nopWatcher{id: 1}
				}
				b.ReportAllocs()
				b.SetBytes(int64(size))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, _, err := tr.GetData(paths[i&63], w); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
	b.Run("parallel/data=16", func(b *testing.B) {
		tr := New(nil)
		mustCreate(b, tr, 1, "/bench", "")
		paths := make([]string, 64)
		for i := range paths {
			paths[i] = "/bench/n" + strconv.Itoa(i)
			applyAt(tr, wire.OpCreate, int64(2+i), &wire.CreateTxn{Path: paths[i], Data: make([]byte, 16), ParentCVersion: -1})
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				tr.GetData(paths[i&63], nil)
				i++
			}
		})
	})
}

func BenchmarkApplySetData(b *testing.B) {
	for _, size := range []int{16, 1024} {
		for _, watched := range []bool{false, true} {
			b.Run(fmt.Sprintf("data=%d/persistentWatch=%v", size, watched), func(b *testing.B) {
				tr := New(nil)
				mustCreate(b, tr, 1, "/bench", "")
				if watched {
					tr.Watches().AddPersistent("/bench", &nopWatcher{id: 1}, false)
				}
				data := make([]byte, size)
				hdr := &wire.TxnHeader{ClientID: 1, Type: wire.OpSetData}
				txn := &wire.SetDataTxn{Path: "/bench", Data: data}
				b.ReportAllocs()
				b.SetBytes(int64(size))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					hdr.Zxid = int64(2 + i)
					txn.Version = int32(i + 1)
					if r := tr.Apply(hdr, txn); r.Err != wire.OK {
						b.Fatal(r.Err)
					}
				}
			})
		}
	}
}

// BenchmarkApplyCreate creates under a parent that already has many
// children. "create" deletes its nodes again every 1000 creates with the
// timer stopped, so the parent stays within [children, children+1000];
// "create+delete" times both halves of each pair.
func BenchmarkApplyCreate(b *testing.B) {
	for _, children := range []int{1_000, 100_000} {
		setup := func(b *testing.B) (*Tree, int64) {
			tr := New(nil)
			mustCreate(b, tr, 1, "/bench", "")
			zxid := int64(2)
			for i := 0; i < children; i++ {
				applyAt(tr, wire.OpCreate, zxid, &wire.CreateTxn{Path: "/bench/old" + strconv.Itoa(i), ParentCVersion: -1})
				zxid++
			}
			return tr, zxid
		}
		b.Run(fmt.Sprintf("children=%d/create", children), func(b *testing.B) {
			tr, zxid := setup(b)
			hdr := &wire.TxnHeader{ClientID: 1, Type: wire.OpCreate}
			var batch []string
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p := "/bench/new" + strconv.Itoa(i)
				hdr.Zxid = zxid
				zxid++
				if r := tr.Apply(hdr, &wire.CreateTxn{Path: p, Data: []byte("x"), ParentCVersion: -1}); r.Err != wire.OK {
					b.Fatal(r.Err)
				}
				batch = append(batch, p)
				if len(batch) == 1000 {
					b.StopTimer()
					for _, p := range batch {
						applyAt(tr, wire.OpDelete, zxid, &wire.DeleteTxn{Path: p})
						zxid++
					}
					batch = batch[:0]
					b.StartTimer()
				}
			}
		})
		b.Run(fmt.Sprintf("children=%d/create+delete", children), func(b *testing.B) {
			tr, zxid := setup(b)
			create := &wire.TxnHeader{ClientID: 1, Type: wire.OpCreate}
			del := &wire.TxnHeader{ClientID: 1, Type: wire.OpDelete}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p := "/bench/new" + strconv.Itoa(i)
				create.Zxid, del.Zxid = zxid, zxid+1
				zxid += 2
				if r := tr.Apply(create, &wire.CreateTxn{Path: p, ParentCVersion: -1}); r.Err != wire.OK {
					b.Fatal(r.Err)
				}
				if r := tr.Apply(del, &wire.DeleteTxn{Path: p}); r.Err != wire.OK {
					b.Fatal(r.Err)
				}
			}
		})
	}
}
