package txnlog

import (
	"fmt"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/wire"
)

// BenchmarkAppendSync measures one group commit: Append a batch of
// 100-byte entries, then Sync with fsync, on the disk under the test's
// temp dir. ns/op is the latency of one commit; MB/s the log throughput;
// fsync-µs the mean fsync alone.
func BenchmarkAppendSync(b *testing.B) {
	const entrySize = 100
	for _, batch := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("batch=%d/entry=%dB", batch, entrySize), func(b *testing.B) {
			var fsyncs int
			var fsyncTotal time.Duration
			l, err := Open(b.TempDir(), Options{
				ForceSync: true,
				OnFsync:   func(d time.Duration) { fsyncs++; fsyncTotal += d },
			}, nil)
			if err != nil {
				b.Fatal(err)
			}
			ents := make([]*wire.TxnEntry, batch)
			for i := range ents {
				ents[i] = sized(0, entrySize)
			}
			zxid := int64(0)
			b.SetBytes(int64(batch * entrySize))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				for _, e := range ents {
					zxid++
					e.Header.Zxid = zxid
				}
				if err := l.Append(ents...); err != nil {
					b.Fatal(err)
				}
				if err := l.Sync(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if fsyncs > 0 {
				b.ReportMetric(float64(fsyncTotal.Microseconds())/float64(fsyncs), "fsync-µs")
			}
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
