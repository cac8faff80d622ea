// Package histogram is a log-linear latency histogram in the style of
// HdrHistogram: fixed memory, O(1) recording without allocation, a bounded
// relative error, and exact merging of histograms recorded apart (one per
// benchmark session, merged at the end).
//
// Values are durations in nanoseconds. Below 2^subBits ns every value has
// its own bucket; above, each power of two [2^k, 2^(k+1)) is split into
// 2^subBits equal buckets, so a bucket is never wider than 1/128 of its
// lower bound. Reported values are bucket midpoints, which puts them within
// 1/256 (0.4%) of any value the bucket holds: far finer than the 1 µs / 1%
// a load generator needs. Values up to 2^40 ns (about 18 minutes) are
// resolved; larger ones land in the last bucket, while Max stays exact.
package histogram

import (
	"math"
	"math/bits"
	"time"
)

const (
	subBits    = 7
	subCount   = 1 << subBits // buckets per power of two
	maxBits    = 40           // values >= 2^maxBits ns share the last bucket
	numBuckets = subCount + (maxBits-subBits)*subCount
)

// Histogram counts durations. The zero value is empty and ready to use. It
// is not safe for concurrent use: give each recording goroutine its own and
// Merge them afterwards.
type Histogram struct {
	counts [numBuckets]uint64
	n      uint64
	sum    float64 // ns; float so hours of recording cannot overflow
	min    int64
	max    int64
}

// New returns an empty histogram (heap-allocated: it is about 35 KiB).
func New() *Histogram { return &Histogram{} }

// bucketOf maps a value in ns to its bucket index.
// Invariant: lowerBound(bucketOf(v)) <= v < lowerBound(bucketOf(v)+1)
// for 0 <= v < 2^maxBits.
func bucketOf(v int64) int {
	if v < subCount {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	msb := bits.Len64(uint64(v)) - 1 // >= subBits
	if msb >= maxBits {
		return numBuckets - 1
	}
	shift := msb - subBits
	// v>>shift is in [subCount, 2*subCount): the position inside the octave.
	return subCount + shift*subCount + int(v>>uint(shift)) - subCount
}

// lowerBound is the smallest value of bucket i, and width its size.
func lowerBound(i int) (lo, width int64) {
	if i < subCount {
		return int64(i), 1
	}
	shift := (i - subCount) / subCount
	pos := (i - subCount) % subCount
	return int64(subCount+pos) << uint(shift), int64(1) << uint(shift)
}

// Record adds one value. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// Merge adds every value recorded in o to h. The result is exactly what
// recording both streams into one histogram would have given.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Reset empties h.
func (h *Histogram) Reset() { *h = Histogram{} }

// Count is the number of values recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Min is the smallest value recorded (exact), 0 when empty.
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Max is the largest value recorded (exact), 0 when empty.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean is the exact arithmetic mean, 0 when empty.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Quantile returns the value at quantile q in [0, 1]: the smallest
// recorded value v such that at least q of all values are <= v (the
// nearest-rank definition, sorted[ceil(q*n)-1]), to within the bucket's
// relative error. It is clamped to [Min, Max], so Quantile(1) == Max and
// Quantile(0) == Min exactly. An empty histogram returns 0.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if q <= 0 {
		return time.Duration(h.min)
	}
	if q >= 1 {
		return time.Duration(h.max)
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, w := lowerBound(i)
			v := lo + (w-1)/2
			if v < h.min {
				v = h.min
			}
			if v > h.max {
				v = h.max
			}
			return time.Duration(v)
		}
	}
	return time.Duration(h.max)
}
