package snapshot

import (
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/datatree"
	"github.com/zkd/zkd/internal/wire"
)

// benchTree has n nodes of size bytes each, 100 per parent, with a handful
// of ACL lists as real trees have.
func benchTree(b *testing.B, n, size int) *datatree.Tree {
	b.Helper()
	tree := datatree.New(nil)
	l := datatree.NewLoader(tree)
	data := make([]byte, size)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	acls := [][]wire.ACL{wire.OpenACLUnsafe, digestACL, wire.ReadACLUnsafe}
	require.NoError(b, l.Add("/bench", nil, wire.OpenACLUnsafe, wire.StatPersisted{}))
	for i := 0; i < n; i++ {
		if i%100 == 0 {
			require.NoError(b, l.Add(fmt.Sprintf("/bench/p%05d", i/100), nil, wire.OpenACLUnsafe, stat(int64(i), 0)))
		}
		p := fmt.Sprintf("/bench/p%05d/n%07d", i/100, i)
		require.NoError(b, l.Add(p, data, acls[i%len(acls)], stat(int64(i), 0)))
	}
	return tree
}

func BenchmarkWrite(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		for _, fsync := range []bool{false, true} {
			b.Run(fmt.Sprintf("nodes=%d/data=100/fsync=%v", n, fsync), func(b *testing.B) {
				tree := benchTree(b, n, 100)
				dir := b.TempDir()
				var size int64
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					p, err := Write(dir, 1, tree, everyKindSessions, fsync)
					if err != nil {
						b.Fatal(err)
					}
					if i == 0 {
						st, _ := os.Stat(p)
						size = st.Size()
						b.SetBytes(size)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(tree.NodeCount()), "ns/node")
				b.ReportMetric(float64(size), "file-bytes")
			})
		}
	}
}

func BenchmarkRead(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("nodes=%d/data=100", n), func(b *testing.B) {
			tree := benchTree(b, n, 100)
			p, err := Write(b.TempDir(), 1, tree, everyKindSessions, false)
			require.NoError(b, err)
			st, err := os.Stat(p)
			require.NoError(b, err)
			b.SetBytes(st.Size())
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := Read(p, 0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(tree.NodeCount()), "ns/node")
			b.ReportMetric(float64(st.Size()), "file-bytes")
		})
	}
}
