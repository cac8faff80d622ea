package session

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBucketDeadline(t *testing.T) {
	tests := []struct {
		name               string
		now, timeout, tick int64
		want               int64
	}{
		{"exact multiple rounds to the next bucket", 1000, 4000, 2000, 6000},
		{"mid bucket rounds up", 1001, 4000, 2000, 6000},
		{"just before boundary", 1999, 4000, 2000, 6000},
		{"on boundary", 2000, 4000, 2000, 8000},
		{"zero", 0, 0, 2000, 2000},
		{"tick of one", 5, 7, 1, 13},
		{"negative time floors", -150, 0, 100, -100},
		{"negative exact", -200, 0, 100, -100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, BucketDeadline(tc.now, tc.timeout, tc.tick))
		})
	}
}

// TestBucketDeadlineGrace checks the property the rounding exists for: a
// session dies strictly after timeout and no later than timeout+tick after
// its last touch.
func TestBucketDeadlineGrace(t *testing.T) {
	tests := []struct {
		name          string
		timeout, tick int64
	}{
		{"zk defaults min", 4000, 2000},
		{"zk defaults max", 40000, 2000},
		{"timeout not a tick multiple", 3333, 1000},
		{"tick larger than timeout", 50, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for now := int64(0); now < 3*tc.tick; now += 7 {
				d := BucketDeadline(now, tc.timeout, tc.tick)
				require.Greater(t, d-now, tc.timeout, "now=%d", now)
				require.LessOrEqual(t, d-now, tc.timeout+tc.tick, "now=%d", now)
				require.Zero(t, d%tc.tick)
			}
		})
	}
}

func TestNewExpiryQueuePanicsOnBadTick(t *testing.T) {
	for _, tick := range []int64{0, -1} {
		require.Panics(t, func() { NewExpiryQueue[int](tick) })
	}
}

func TestExpiryQueueUpdateMovesBuckets(t *testing.T) {
	q := NewExpiryQueue[string](100)
	require.Equal(t, int64(0), q.NextExpiration())

	require.Equal(t, int64(500), q.Update("a", 0, 400))
	require.Equal(t, int64(500), q.Update("b", 50, 400))
	require.Equal(t, 2, q.Len())
	require.Equal(t, []ExpiryBucket[string]{{Deadline: 500, Items: []string{"a", "b"}}}, q.Buckets())

	// Touching a later moves "a" out; its old bucket keeps only "b".
	require.Equal(t, int64(700), q.Update("a", 250, 400))
	require.Equal(t, []ExpiryBucket[string]{
		{Deadline: 500, Items: []string{"b"}},
		{Deadline: 700, Items: []string{"a"}},
	}, q.Buckets())
	d, ok := q.Deadline("a")
	require.True(t, ok)
	require.Equal(t, int64(700), d)

	// Moving the last member out of a bucket drops the bucket.
	q.Update("b", 250, 400)
	require.Equal(t, []ExpiryBucket[string]{{Deadline: 700, Items: []string{"a", "b"}}}, q.Buckets())
	require.Equal(t, int64(700), q.NextExpiration())
	require.Equal(t, 2, q.Len())
}

func TestExpiryQueueSameBucketTouchKeepsOrder(t *testing.T) {
	q := NewExpiryQueue[int](100)
	q.Update(1, 0, 400)
	q.Update(2, 0, 400)
	// Same bucket: a no-op, so 1 stays ahead of 2.
	require.Equal(t, int64(500), q.Update(1, 99, 400))
	require.Equal(t, []int{1, 2}, q.Expire(500))
}

func TestExpiryQueueRemove(t *testing.T) {
	q := NewExpiryQueue[int](100)
	q.Update(1, 0, 400)
	q.Update(2, 0, 800)
	q.Remove(1)
	q.Remove(42) // unknown: no-op
	require.Equal(t, 1, q.Len())
	_, ok := q.Deadline(1)
	require.False(t, ok)
	require.Equal(t, int64(900), q.NextExpiration())
	require.Empty(t, q.Expire(500))
}

func TestExpiryQueueExpire(t *testing.T) {
	// Items touched at 0 with these timeouts land in buckets 100*(t/100+1).
	tests := []struct {
		name     string
		now      int64
		want     []int
		wantLeft int
		wantNext int64
	}{
		{"nothing due yet", 199, nil, 5, 200},
		{"first bucket", 200, []int{3, 5}, 3, 300},
		{"two buckets, earliest first", 350, []int{3, 5, 1, 4}, 1, 600},
		{"everything", 10000, []int{3, 5, 1, 4, 2}, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := NewExpiryQueue[int](100)
			q.Update(1, 0, 250) // 300
			q.Update(2, 0, 500) // 600
			q.Update(3, 0, 100) // 200
			q.Update(4, 0, 299) // 300
			q.Update(5, 0, 150) // 200
			require.Equal(t, tc.want, q.Expire(tc.now))
			require.Equal(t, tc.wantLeft, q.Len())
			require.Equal(t, tc.wantNext, q.NextExpiration())
			require.Len(t, q.Buckets(), map[int]int{5: 3, 3: 2, 1: 1, 0: 0}[tc.wantLeft])
			// Expired items are gone for good.
			for _, it := range tc.want {
				_, ok := q.Deadline(it)
				require.False(t, ok)
			}
		})
	}
}
