package histogram

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// exactQuantile is the dumb twin of Quantile: nearest rank on sorted values.
func exactQuantile(sorted []int64, q float64) int64 {
	if q <= 0 {
		return sorted[0]
	}
	rank := int(math.Ceil(q * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	if rank > len(sorted) {
		rank = len(sorted)
	}
	return sorted[rank-1]
}

func requireWithin(t *testing.T, want, got int64, rel float64, what string) {
	t.Helper()
	diff := math.Abs(float64(got - want))
	require.LessOrEqualf(t, diff, rel*float64(want)+0.5, "%s: got %d, exact %d", what, got, want)
}

var quantiles = []float64{0, 0.5, 0.9, 0.99, 0.999, 0.9999, 1}

func TestQuantilesAreWithinOnePercentOfExactSortedValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name string
		n    int
		gen  func() int64
	}{
		{"a single value", 1, func() int64 { return 1234567 }},
		{"a constant", 1000, func() int64 { return 50 * int64(time.Microsecond) }},
		{"small values below the linear range are exact", 10000, func() int64 { return rng.Int64N(128) }},
		{"uniform microseconds to a millisecond", 100000, func() int64 { return 1000 + rng.Int64N(int64(time.Millisecond)) }},
		{"exponential with a 200 µs mean", 100000, func() int64 { return int64(rng.ExpFloat64() * 200e3) }},
		{"bimodal fast reads and slow fsyncs", 50000, func() int64 {
			if rng.IntN(100) < 95 {
				return 30e3 + rng.Int64N(20e3)
			}
			return 5e6 + rng.Int64N(20e6)
		}},
		{"log-uniform from 1 µs to 60 s", 100000, func() int64 {
			return int64(math.Exp(math.Log(1e3) + rng.Float64()*(math.Log(60e9)-math.Log(1e3))))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := New()
			vals := make([]int64, c.n)
			var sum float64
			for i := range vals {
				vals[i] = c.gen()
				sum += float64(vals[i])
				h.Record(time.Duration(vals[i]))
			}
			slices.Sort(vals)
			require.Equal(t, uint64(c.n), h.Count())
			require.Equal(t, vals[0], int64(h.Min()))
			require.Equal(t, vals[len(vals)-1], int64(h.Max()))
			requireWithin(t, int64(sum/float64(c.n)), int64(h.Mean()), 1e-9, "mean")
			for _, q := range quantiles {
				requireWithin(t, exactQuantile(vals, q), int64(h.Quantile(q)), 0.01, fmt.Sprintf("q=%v", q))
			}
		})
	}
}

func TestMergeEqualsRecordingIntoOneHistogram(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	parts := make([]*Histogram, 8)
	all := New()
	for i := range parts {
		parts[i] = New()
		for j := 0; j < 1000*(i+1); j++ {
			v := time.Duration(rng.Int64N(int64(time.Duration(i+1) * time.Millisecond)))
			parts[i].Record(v)
			all.Record(v)
		}
	}
	merged := New()
	merged.Merge(New()) // merging an empty histogram changes nothing
	merged.Merge(nil)
	for _, p := range parts {
		merged.Merge(p)
	}
	require.Equal(t, all.counts, merged.counts)
	require.Equal(t, all.Count(), merged.Count())
	require.Equal(t, all.Min(), merged.Min())
	require.Equal(t, all.Max(), merged.Max())
	require.InDelta(t, float64(all.Mean()), float64(merged.Mean()), 1)
	for _, q := range quantiles {
		require.Equal(t, all.Quantile(q), merged.Quantile(q), "q=%v", q)
	}
}

func TestEdgeCases(t *testing.T) {
	t.Run("an empty histogram reports zeros", func(t *testing.T) {
		h := New()
		require.Zero(t, h.Count())
		require.Zero(t, h.Quantile(0.5))
		require.Zero(t, h.Max())
		require.Zero(t, h.Mean())
	})
	t.Run("negative durations count as zero", func(t *testing.T) {
		h := New()
		h.Record(-5 * time.Second)
		require.Equal(t, uint64(1), h.Count())
		require.Zero(t, h.Quantile(1))
	})
	t.Run("values beyond the resolved range keep an exact max", func(t *testing.T) {
		h := New()
		h.Record(time.Hour)
		h.Record(2 * time.Hour)
		require.Equal(t, 2*time.Hour, h.Max())
		require.Equal(t, 2*time.Hour, h.Quantile(1))
		require.Equal(t, time.Hour, h.Quantile(0))
	})
	t.Run("sixty seconds is resolved within one percent", func(t *testing.T) {
		h := New()
		h.Record(59 * time.Second)
		h.Record(60 * time.Second)
		requireWithin(t, int64(59*time.Second), int64(h.Quantile(0.5)), 0.01, "p50")
	})
	t.Run("merging into an empty histogram takes the other's min", func(t *testing.T) {
		a, b := New(), New()
		b.Record(time.Second)
		a.Merge(b)
		require.Equal(t, time.Second, a.Min())
	})
	t.Run("reset empties", func(t *testing.T) {
		h := New()
		h.Record(time.Second)
		h.Reset()
		require.Zero(t, h.Count())
		require.Zero(t, h.Max())
	})
}

// TestBucketBoundsHoldEveryValue checks bucketOf against lowerBound on
// random values across the whole range, and the 1/128 width bound.
func TestBucketBoundsHoldEveryValue(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 200000; i++ {
		v := rng.Int64N(int64(1) << uint(1+rng.IntN(maxBits)))
		b := bucketOf(v)
		lo, w := lowerBound(b)
		require.LessOrEqual(t, lo, v)
		require.Less(t, v, lo+w)
		if b+1 < numBuckets {
			next, _ := lowerBound(b + 1)
			require.Equal(t, lo+w, next, "buckets are contiguous at %d", b)
		}
		if lo >= subCount {
			require.LessOrEqual(t, float64(w)/float64(lo), 1.0/subCount)
		}
	}
}

func BenchmarkRecord(b *testing.B) {
	for _, spread := range []time.Duration{time.Microsecond, time.Millisecond, time.Second} {
		b.Run(fmt.Sprintf("spread=%v", spread), func(b *testing.B) {
			vals := make([]time.Duration, 1024)
			rng := rand.New(rand.NewPCG(7, 8))
			for i := range vals {
				vals[i] = time.Duration(rng.Int64N(int64(spread)))
			}
			h := New()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h.Record(vals[i&1023])
			}
		})
	}
}

func BenchmarkMerge(b *testing.B) {
	x, y := New(), New()
	y.Record(time.Millisecond)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		x.Merge(y)
	}
}
