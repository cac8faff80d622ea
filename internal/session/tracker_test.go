package session

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

const (
	testTick  = 2000
	testStart = 0x77edd // gives the real-server id 0x10000077edd0000 for server 1
)

func TestTrackerCreate(t *testing.T) {
	tr := New(1, testTick, testStart)
	s1 := tr.Create(4000, 10_000)
	s2 := tr.Create(6000, 10_000)

	require.Equal(t, &Session{
		ID:       0x10000077edd0000,
		Timeout:  4000,
		Passwd:   Password(0x10000077edd0000),
		Deadline: 16_000,
	}, s1)
	require.Equal(t, wire.SessionID(0x10000077edd0001), s2.ID)
	require.Equal(t, int64(18_000), s2.Deadline)
	require.Equal(t, 2, tr.Len())

	got, ok := tr.Get(s1.ID)
	require.True(t, ok)
	require.Equal(t, s1, got)
	// Snapshots are copies: scribbling on one changes nothing.
	got.Closing = true
	again, _ := tr.Get(s1.ID)
	require.False(t, again.Closing)

	_, ok = tr.Get(42)
	require.False(t, ok)
}

func TestTrackerCreateSkipsRestoredIDs(t *testing.T) {
	tr := New(1, testTick, testStart)
	require.True(t, tr.Add(0x10000077edd0000, 4000, 0))
	s := tr.Create(4000, 0)
	require.Equal(t, wire.SessionID(0x10000077edd0001), s.ID)
}

func TestTrackerAdd(t *testing.T) {
	tr := New(1, testTick, testStart)
	const id = wire.SessionID(0x0400000000000007)
	require.True(t, tr.Add(id, 4000, 0))
	s, ok := tr.Get(id)
	require.True(t, ok)
	require.Equal(t, Password(id), s.Passwd)
	require.Equal(t, int64(6000), s.Deadline)

	// Re-adding an existing id updates its timeout and schedule.
	require.False(t, tr.Add(id, 10_000, 1000))
	s, _ = tr.Get(id)
	require.Equal(t, int32(10_000), s.Timeout)
	require.Equal(t, int64(12_000), s.Deadline)
	require.Equal(t, 1, tr.Len())
}

func TestTrackerTouch(t *testing.T) {
	tests := []struct {
		name         string
		setup        func(tr *Tracker, id wire.SessionID)
		touchID      func(id wire.SessionID) wire.SessionID
		wantOK       bool
		wantDeadline int64
	}{
		{
			name:         "live session moves to a later bucket",
			wantOK:       true,
			wantDeadline: 10_000, // touched at 5000 with 4000 timeout
		},
		{
			name:         "unknown session",
			touchID:      func(id wire.SessionID) wire.SessionID { return id + 1 },
			wantDeadline: 6000,
		},
		{
			name:         "closing session is refused and keeps its deadline",
			setup:        func(tr *Tracker, id wire.SessionID) { tr.SetClosing(id) },
			wantDeadline: 6000,
		},
		{
			name:    "removed session",
			setup:   func(tr *Tracker, id wire.SessionID) { tr.Remove(id) },
			touchID: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(1, testTick, testStart)
			id := tr.Create(4000, 0).ID
			if tc.setup != nil {
				tc.setup(tr, id)
			}
			target := id
			if tc.touchID != nil {
				target = tc.touchID(id)
			}
			require.Equal(t, tc.wantOK, tr.Touch(target, 5000))
			s, ok := tr.Get(id)
			if !ok {
				require.Zero(t, tc.wantDeadline)
				return
			}
			require.Equal(t, tc.wantDeadline, s.Deadline)
		})
	}
}

func TestTrackerSetTimeout(t *testing.T) {
	tr := New(1, testTick, testStart)
	id := tr.Create(4000, 0).ID
	require.True(t, tr.SetTimeout(id, 20_000, 1000))
	s, _ := tr.Get(id)
	require.Equal(t, int32(20_000), s.Timeout)
	require.Equal(t, int64(22_000), s.Deadline)
	// Later touches use the new timeout.
	require.True(t, tr.Touch(id, 3000))
	s, _ = tr.Get(id)
	require.Equal(t, int64(24_000), s.Deadline)

	require.False(t, tr.SetTimeout(id+1, 4000, 0))
	tr.SetClosing(id)
	require.False(t, tr.SetTimeout(id, 4000, 0))
}

func TestTrackerValidate(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(tr *Tracker, id wire.SessionID)
		id      func(id wire.SessionID) wire.SessionID
		passwd  func(id wire.SessionID) []byte
		wantErr error
	}{
		{name: "good"},
		{
			name:    "wrong password",
			passwd:  func(wire.SessionID) []byte { return make([]byte, PasswordLen) },
			wantErr: ErrBadPassword,
		},
		{
			name:    "short password",
			passwd:  func(id wire.SessionID) []byte { p := Password(id); return p[:15] },
			wantErr: ErrBadPassword,
		},
		{
			name:    "unknown session with its own valid password",
			id:      func(id wire.SessionID) wire.SessionID { return id + 1 },
			wantErr: ErrUnknownSession,
		},
		{
			// The password is checked first, as ZooKeeper does.
			name:    "unknown session with a wrong password",
			id:      func(id wire.SessionID) wire.SessionID { return id + 1 },
			passwd:  func(wire.SessionID) []byte { return nil },
			wantErr: ErrBadPassword,
		},
		{
			name:    "closing session",
			setup:   func(tr *Tracker, id wire.SessionID) { tr.SetClosing(id) },
			wantErr: ErrSessionClosing,
		},
		{
			name:    "expired session",
			setup:   func(tr *Tracker, _ wire.SessionID) { tr.Expire(1 << 40) },
			wantErr: ErrSessionClosing,
		},
		{
			name:    "removed session",
			setup:   func(tr *Tracker, id wire.SessionID) { tr.Remove(id) },
			wantErr: ErrUnknownSession,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(1, testTick, testStart)
			id := tr.Create(4000, 0).ID
			if tc.setup != nil {
				tc.setup(tr, id)
			}
			if tc.id != nil {
				id = tc.id(id)
			}
			p := Password(id)
			passwd := p[:]
			if tc.passwd != nil {
				passwd = tc.passwd(id)
			}
			err := tr.Validate(id, passwd)
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
		})
	}
}

func TestTrackerExpire(t *testing.T) {
	tr := New(1, testTick, testStart)
	a := tr.Create(4000, 0).ID    // 6000
	b := tr.Create(4000, 1000).ID // 6000
	c := tr.Create(8000, 0).ID    // 10000
	d := tr.Create(4000, 0).ID    // 6000, then touched to 8000
	require.True(t, tr.Touch(d, 3000))
	require.Equal(t, int64(6000), tr.NextExpiration())

	tests := []struct {
		now  int64
		want []wire.SessionID
		next int64
	}{
		{5999, nil, 6000},
		{6000, []wire.SessionID{a, b}, 8000},
		{7000, nil, 8000},
		{20_000, []wire.SessionID{d, c}, 0},
		{30_000, nil, 0},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, tr.Expire(tc.now), "now=%d", tc.now)
		require.Equal(t, tc.next, tr.NextExpiration(), "now=%d", tc.now)
		for _, id := range tc.want {
			s, ok := tr.Get(id)
			require.True(t, ok, "expired sessions stay until Remove")
			require.True(t, s.Closing)
			require.Zero(t, s.Deadline)
			require.False(t, tr.Touch(id, tc.now), "expired sessions cannot be revived")
		}
	}
	require.Equal(t, 4, tr.Len())
	for _, id := range []wire.SessionID{a, b, c, d} {
		require.True(t, tr.Remove(id))
		require.False(t, tr.Remove(id))
	}
	require.Zero(t, tr.Len())
}

// TestTrackerExpiresClosingSessions follows ZooKeeper: a session closed by
// its client but never removed is still expired, so a stalled close is
// retried.
func TestTrackerExpiresClosingSessions(t *testing.T) {
	tr := New(1, testTick, testStart)
	id := tr.Create(4000, 0).ID
	require.True(t, tr.SetClosing(id))
	require.False(t, tr.SetClosing(id+1))
	require.Equal(t, []wire.SessionID{id}, tr.Expire(6000))
}

// TestTrackerSessionLifetime checks wire.md §5.4 end to end: a session dies
// after more than timeout and at most timeout+tick past its last packet.
func TestTrackerSessionLifetime(t *testing.T) {
	tests := []struct {
		name      string
		lastTouch int64
		timeout   int32
	}{
		{"touch on a tick", 10_000, 4000},
		{"touch just after a tick", 10_001, 4000},
		{"touch just before a tick", 11_999, 4000},
		{"odd timeout", 10_500, 5555},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(1, testTick, testStart)
			id := tr.Create(tc.timeout, 0).ID
			require.True(t, tr.Touch(id, tc.lastTouch))
			var diedAt int64
			for now := tc.lastTouch; now <= tc.lastTouch+int64(tc.timeout)+2*testTick; now++ {
				if ids := tr.Expire(now); len(ids) > 0 {
					require.Equal(t, []wire.SessionID{id}, ids)
					diedAt = now
					break
				}
			}
			require.NotZero(t, diedAt)
			require.Greater(t, diedAt-tc.lastTouch, int64(tc.timeout))
			require.LessOrEqual(t, diedAt-tc.lastTouch, int64(tc.timeout)+testTick)
		})
	}
}

func TestTrackerSessions(t *testing.T) {
	tr := New(1, testTick, testStart)
	require.Empty(t, tr.Sessions())
	require.True(t, tr.Add(0x0300000000000001, 6000, 0))
	require.True(t, tr.Add(0x0100000000000005, 4000, 0))
	require.True(t, tr.Add(-5, 4000, 0)) // negative ids sort first, like Java longs
	tr.SetClosing(-5)
	got := tr.Sessions()
	require.Len(t, got, 3)
	require.Equal(t, []wire.SessionID{-5, 0x0100000000000005, 0x0300000000000001},
		[]wire.SessionID{got[0].ID, got[1].ID, got[2].ID})
	require.True(t, got[0].Closing)
	require.Equal(t, int32(6000), got[2].Timeout)
}

func TestTrackerDump(t *testing.T) {
	// Deadline D is Sun Nov 22 03:44:04 UTC 2026, a multiple of the tick.
	d := time.Date(2026, time.November, 22, 3, 44, 4, 0, time.UTC).UnixMilli()
	tr := New(1, testTick, testStart)
	a := tr.Create(4000, d-5000).ID                  // D
	b := tr.Add(0x0100000000000001, 4000, d-5000)    // D, lower id: listed first
	c := tr.Create(10_000, d-11_000+24*3600*1000).ID // a day later, single-digit day
	gone := tr.Create(4000, d-5000).ID
	tr.Remove(gone)
	require.True(t, b)

	dump := tr.Dump(d - 5000)
	require.Equal(t, Dump{
		Now:      d - 5000,
		Sessions: 3,
		Buckets: []DumpBucket{
			{Deadline: d, IDs: []wire.SessionID{0x0100000000000001, a}},
			{Deadline: d + 24*3600*1000, IDs: []wire.SessionID{c}},
		},
	}, dump)

	tests := []struct {
		name string
		loc  *time.Location
		want string
	}{
		{
			name: "utc",
			loc:  time.UTC,
			want: "Session Sets (2)/(3):\n" +
				"2 expire at Sun Nov 22 03:44:04 UTC 2026:\n" +
				"\t0x100000000000001\n" +
				"\t0x10000077edd0000\n" +
				"1 expire at Mon Nov 23 03:44:04 UTC 2026:\n" +
				"\t0x10000077edd0001\n",
		},
		{
			name: "zone with abbreviation",
			loc:  time.FixedZone("PST", -8*3600),
			want: "Session Sets (2)/(3):\n" +
				"2 expire at Sat Nov 21 19:44:04 PST 2026:\n" +
				"\t0x100000000000001\n" +
				"\t0x10000077edd0000\n" +
				"1 expire at Sun Nov 22 19:44:04 PST 2026:\n" +
				"\t0x10000077edd0001\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, WriteDump(&buf, dump, tc.loc))
			require.Equal(t, tc.want, buf.String())
		})
	}
}

func TestWriteDumpDayPadding(t *testing.T) {
	// Java's "dd" zero-pads the day of the month.
	d := time.Date(2026, time.March, 5, 1, 2, 4, 0, time.UTC).UnixMilli()
	var buf bytes.Buffer
	require.NoError(t, WriteDump(&buf, Dump{Sessions: 1, Buckets: []DumpBucket{{Deadline: d, IDs: []wire.SessionID{1}}}}, time.UTC))
	require.Equal(t, "Session Sets (1)/(1):\n1 expire at Thu Mar 05 01:02:04 UTC 2026:\n\t0x1\n", buf.String())

	buf.Reset()
	require.NoError(t, WriteDump(&buf, Dump{}, nil))
	require.Equal(t, "Session Sets (0)/(0):\n", buf.String())
}

// TestTrackerConcurrent hammers every method from several goroutines; its
// value is in running under -race.
func TestTrackerConcurrent(t *testing.T) {
	tr := New(1, 10, testStart)
	const workers, rounds = 8, 300
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var mine []wire.SessionID
			for i := range rounds {
				now := int64(i)
				s := tr.Create(int32(20+w), now)
				mine = append(mine, s.ID)
				for _, id := range mine {
					tr.Touch(id, now)
				}
				p := Password(s.ID)
				_ = tr.Validate(s.ID, p[:])
				tr.SetTimeout(s.ID, 30, now)
				_, _ = tr.Get(s.ID)
				for _, id := range tr.Expire(now) {
					tr.Remove(id)
				}
				if i%10 == 0 {
					_ = tr.Sessions()
					_ = tr.Dump(now)
					_ = tr.NextExpiration()
					_ = tr.Len()
					tr.SetClosing(mine[0])
				}
			}
		})
	}
	wg.Wait()
	// Everything still queued eventually expires, and removing it empties
	// the table.
	for _, id := range tr.Expire(1 << 40) {
		tr.Remove(id)
	}
	require.Zero(t, tr.Len())
	require.Equal(t, workers*rounds, int(tr.ids.next.Load()-int64(InitialID(1, testStart))))
}
