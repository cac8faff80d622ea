package session

import (
	"slices"
)

// BucketDeadline returns the expiry deadline for something touched at now
// with the given timeout, rounded up to the next multiple of tick:
//
//	(floor((now + timeout) / tick) + 1) * tick
//
// Rounding up (rather than to the nearest tick) gives every item a grace
// period of up to one tick, so an item dies between timeout and
// timeout+tick after its last touch, never early. This is ZooKeeper's
// ExpiryQueue.roundToNextInterval.
func BucketDeadline(now, timeout, tick int64) int64 {
	return (floorDiv(now+timeout, tick) + 1) * tick
}

// floorDiv is integer division rounding towards negative infinity; Go's /
// truncates towards zero, which would put negative times (only seen with
// odd fake clocks) in the wrong bucket.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// queueEntry records where an item currently sits.
type queueEntry struct {
	deadline int64
	// seq orders items that share a bucket by the moment they entered it,
	// which keeps Expire's output deterministic even though T has no order.
	seq uint64
}

// ExpiryBucket is one group of items sharing a deadline, as reported by
// ExpiryQueue.Buckets.
type ExpiryBucket[T comparable] struct {
	// Deadline is the bucket's expiry time in ms.
	Deadline int64
	// Items are the members, in the order they entered the bucket.
	Items []T
}

// ExpiryQueue tracks items in fixed-width time buckets, like ZooKeeper's
// ExpiryQueue. Each item belongs to exactly one bucket, identified by its
// rounded deadline (see BucketDeadline).
//
// It is pure bookkeeping: time is passed in, it starts no goroutines, and it
// does no locking, so the owner must serialise access. The zero value is not
// usable; call NewExpiryQueue.
type ExpiryQueue[T comparable] struct {
	tick    int64
	items   map[T]queueEntry
	buckets map[int64]map[T]uint64
	seq     uint64
}

// NewExpiryQueue returns an empty queue whose buckets are tickMs wide. It
// panics if tickMs is not positive, since no bucketing is possible then.
func NewExpiryQueue[T comparable](tickMs int64) *ExpiryQueue[T] {
	if tickMs <= 0 {
		panic("session: expiry queue tick must be positive")
	}
	return &ExpiryQueue[T]{
		tick:    tickMs,
		items:   make(map[T]queueEntry),
		buckets: make(map[int64]map[T]uint64),
	}
}

// Tick returns the bucket width in ms.
func (q *ExpiryQueue[T]) Tick() int64 { return q.tick }

// Update (re)schedules item to expire timeout ms after now, moving it to
// the matching bucket, and returns the new deadline. Re-touching an item
// within the same bucket is a no-op, which matters because every packet
// from a client touches its session.
func (q *ExpiryQueue[T]) Update(item T, now int64, timeout int64) int64 {
	deadline := BucketDeadline(now, timeout, q.tick)
	old, ok := q.items[item]
	if ok && old.deadline == deadline {
		return deadline
	}
	if ok {
		q.removeFromBucket(item, old.deadline)
	}
	q.seq++
	q.items[item] = queueEntry{deadline: deadline, seq: q.seq}
	b := q.buckets[deadline]
	if b == nil {
		b = make(map[T]uint64)
		q.buckets[deadline] = b
	}
	b[item] = q.seq
	return deadline
}

// removeFromBucket drops item from its bucket and drops the bucket once it
// is empty. ZooKeeper leaves empty buckets behind until they expire; deleting
// them eagerly keeps NextExpiration pointing at a bucket that really has
// something in it, so the driver never wakes for nothing.
func (q *ExpiryQueue[T]) removeFromBucket(item T, deadline int64) {
	b := q.buckets[deadline]
	delete(b, item)
	if len(b) == 0 {
		delete(q.buckets, deadline)
	}
}

// Remove takes item out of the queue; it is a no-op for unknown items.
func (q *ExpiryQueue[T]) Remove(item T) {
	e, ok := q.items[item]
	if !ok {
		return
	}
	delete(q.items, item)
	q.removeFromBucket(item, e.deadline)
}

// Deadline reports the bucket deadline item is currently scheduled for.
func (q *ExpiryQueue[T]) Deadline(item T) (int64, bool) {
	e, ok := q.items[item]
	return e.deadline, ok
}

// Expire removes and returns every item whose bucket deadline is <= now,
// earliest bucket first and, within a bucket, in the order items entered
// it. Unlike ZooKeeper's poll, which hands out one bucket per call, it
// drains all due buckets, so a driver that woke late catches up at once.
func (q *ExpiryQueue[T]) Expire(now int64) []T {
	var due []int64
	for d := range q.buckets {
		if d <= now {
			due = append(due, d)
		}
	}
	if len(due) == 0 {
		return nil
	}
	slices.Sort(due)
	var out []T
	for _, d := range due {
		members := q.sortedMembers(q.buckets[d])
		for _, it := range members {
			delete(q.items, it)
		}
		delete(q.buckets, d)
		out = append(out, members...)
	}
	return out
}

// sortedMembers lists a bucket's items in entry order.
func (q *ExpiryQueue[T]) sortedMembers(b map[T]uint64) []T {
	type pair struct {
		item T
		seq  uint64
	}
	ps := make([]pair, 0, len(b))
	for it, s := range b {
		ps = append(ps, pair{it, s})
	}
	slices.SortFunc(ps, func(a, b pair) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	out := make([]T, len(ps))
	for i, p := range ps {
		out[i] = p.item
	}
	return out
}

// NextExpiration returns the earliest bucket deadline, or 0 when the queue
// is empty. A linear scan is fine: the number of live buckets is bounded by
// maxTimeout/tick + 1 (about 21 with ZooKeeper's defaults).
func (q *ExpiryQueue[T]) NextExpiration() int64 {
	var next int64
	first := true
	for d := range q.buckets {
		if first || d < next {
			next, first = d, false
		}
	}
	return next
}

// Len returns the number of queued items.
func (q *ExpiryQueue[T]) Len() int { return len(q.items) }

// Buckets returns a copy of the queue's contents, earliest deadline first,
// for dumps and tests.
func (q *ExpiryQueue[T]) Buckets() []ExpiryBucket[T] {
	out := make([]ExpiryBucket[T], 0, len(q.buckets))
	for d, b := range q.buckets {
		out = append(out, ExpiryBucket[T]{Deadline: d, Items: q.sortedMembers(b)})
	}
	slices.SortFunc(out, func(a, b ExpiryBucket[T]) int {
		switch {
		case a.Deadline < b.Deadline:
			return -1
		case a.Deadline > b.Deadline:
			return 1
		}
		return 0
	})
	return out
}
