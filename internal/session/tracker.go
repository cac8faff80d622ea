package session

import (
	"crypto/subtle"
	"errors"
	"slices"
	"sync"

	"github.com/zkd/zkd/internal/wire"
)

// Errors returned by Tracker.Validate. They are distinct so the server can
// log why a reconnect was refused, although the client sees the same
// "expired" reply (timeout 0, id 0) for all of them (wire.md §3.3 step 6).
var (
	// ErrBadPassword means the password does not match the session id.
	ErrBadPassword = errors.New("session: bad password")
	// ErrUnknownSession means no such session exists (never did, or it
	// has been removed).
	ErrUnknownSession = errors.New("session: unknown session")
	// ErrSessionClosing means the session exists but is closing or
	// expired, so it can no longer be resumed.
	ErrSessionClosing = errors.New("session: session is closing")
)

// Session is a snapshot of one session's state. Tracker methods return
// copies, so holding one never races with the tracker.
type Session struct {
	// ID is the session id.
	ID wire.SessionID
	// Timeout is the negotiated session timeout in ms.
	Timeout int32
	// Passwd is the session password, always Password(ID).
	Passwd [PasswordLen]byte
	// Closing is set once the session is being closed (by the client or by
	// expiry); a closing session accepts no more requests.
	Closing bool
	// Deadline is the bucket deadline (ms) the session expires at, or 0 if
	// it is not queued for expiry (it already expired).
	Deadline int64
}

// record is the tracker's private, mutable per-session state.
type record struct {
	timeout int32
	closing bool
}

// Tracker is the session table (ZooKeeper's SessionTrackerImpl). It is
// safe for concurrent use; one mutex guards everything, and it is never held
// across I/O or callbacks because the tracker only touches memory.
type Tracker struct {
	ids *IDGenerator

	mu       sync.Mutex
	sessions map[wire.SessionID]*record
	queue    *ExpiryQueue[wire.SessionID]
}

// New returns an empty tracker for server serverID whose expiry buckets are
// tickMs wide; nowMs seeds the session id generator (see InitialID).
func New(serverID int64, tickMs int64, nowMs int64) *Tracker {
	return &Tracker{
		ids:      NewIDGenerator(serverID, nowMs),
		sessions: make(map[wire.SessionID]*record),
		queue:    NewExpiryQueue[wire.SessionID](tickMs),
	}
}

// TickMs returns the width of the expiry buckets.
func (t *Tracker) TickMs() int64 { return t.queue.Tick() }

// snapshot copies a record out; the caller holds t.mu.
func (t *Tracker) snapshot(id wire.SessionID, r *record) *Session {
	d, _ := t.queue.Deadline(id)
	return &Session{
		ID:       id,
		Timeout:  r.timeout,
		Passwd:   Password(id),
		Closing:  r.closing,
		Deadline: d,
	}
}

// Create allocates a fresh session id with the given timeout (ms),
// schedules its expiry from now and returns it.
func (t *Tracker) Create(timeout int32, now int64) *Session {
	t.mu.Lock()
	defer t.mu.Unlock()
	id := t.ids.Next()
	// An id can only be taken already if Add restored it from a previous
	// run that started in the same millisecond; skip rather than clobber.
	for t.sessions[id] != nil {
		id = t.ids.Next()
	}
	r := &record{timeout: timeout}
	t.sessions[id] = r
	t.queue.Update(id, now, int64(timeout))
	return t.snapshot(id, r)
}

// Add tracks a session whose id is already decided, as when replaying a
// createSession transaction or loading a snapshot, and reports whether it
// was new. For a known session it updates the timeout and reschedules it,
// like ZooKeeper's trackSession on an existing id.
func (t *Tracker) Add(id wire.SessionID, timeout int32, now int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.sessions[id]
	if !ok {
		r = &record{}
		t.sessions[id] = r
	}
	r.timeout = timeout
	t.queue.Update(id, now, int64(timeout))
	return !ok
}

// Touch records activity on session id at now, pushing its expiry out by
// its timeout. It returns false if the session is unknown or closing, in
// which case the caller must not serve the request (ZooKeeper's
// touchSession).
func (t *Tracker) Touch(id wire.SessionID, now int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.sessions[id]
	if !ok || r.closing {
		return false
	}
	t.queue.Update(id, now, int64(r.timeout))
	return true
}

// SetTimeout changes the timeout of a live session, as after a reconnect
// that negotiated a new timeout, and reschedules it from now. It returns
// false if the session is unknown or closing.
func (t *Tracker) SetTimeout(id wire.SessionID, timeout int32, now int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.sessions[id]
	if !ok || r.closing {
		return false
	}
	r.timeout = timeout
	t.queue.Update(id, now, int64(timeout))
	return true
}

// Get returns a snapshot of session id.
func (t *Tracker) Get(id wire.SessionID) (*Session, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.sessions[id]
	if !ok {
		return nil, false
	}
	return t.snapshot(id, r), true
}

// Validate checks a reconnect attempt for session id. The password is
// checked first, as ZooKeeper does, because it is a pure function of the id
// and needs no table lookup; then the session must exist and not be
// closing. The comparison is constant-time so the password cannot be
// probed byte by byte.
func (t *Tracker) Validate(id wire.SessionID, passwd []byte) error {
	want := Password(id)
	if subtle.ConstantTimeCompare(want[:], passwd) != 1 {
		return ErrBadPassword
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.sessions[id]
	if !ok {
		return ErrUnknownSession
	}
	if r.closing {
		return ErrSessionClosing
	}
	return nil
}

// SetClosing marks session id as closing so Touch refuses it from now on
// (ZooKeeper's setSessionClosing). The session stays in the table, and in
// the expiry queue, until Remove. It returns false if the id is unknown.
func (t *Tracker) SetClosing(id wire.SessionID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.sessions[id]
	if !ok {
		return false
	}
	r.closing = true
	return true
}

// Remove forgets session id entirely; the server calls it when the
// session's closeSession transaction is applied. It reports whether the
// session was known.
func (t *Tracker) Remove(id wire.SessionID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.sessions[id]; !ok {
		return false
	}
	delete(t.sessions, id)
	t.queue.Remove(id)
	return true
}

// Expire returns the sessions whose deadline is <= now, earliest first.
// They are marked closing and leave the expiry queue, but stay in the table
// until Remove, so that the server can issue their closeSession
// transactions while new requests on them are already refused. Sessions
// that were already closing are included too, as in ZooKeeper: if a
// client's close stalled, expiry retries it, so the server must tolerate
// closing a session twice.
func (t *Tracker) Expire(now int64) []wire.SessionID {
	t.mu.Lock()
	defer t.mu.Unlock()
	ids := t.queue.Expire(now)
	for _, id := range ids {
		if r := t.sessions[id]; r != nil {
			r.closing = true
		}
	}
	return ids
}

// NextExpiration returns the earliest pending expiry deadline in ms, or 0
// if no session is queued.
func (t *Tracker) NextExpiration() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.queue.NextExpiration()
}

// Sessions returns snapshots of all sessions, sorted by id (for dumps and
// for writing the session list into a snapshot file).
func (t *Tracker) Sessions() []Session {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Session, 0, len(t.sessions))
	for id, r := range t.sessions {
		out = append(out, *t.snapshot(id, r))
	}
	slices.SortFunc(out, func(a, b Session) int { return cmpID(a.ID, b.ID) })
	return out
}

// Len returns the number of sessions in the table, closing ones included.
func (t *Tracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.sessions)
}

// cmpID orders session ids as signed 64-bit numbers, as Java's Long does.
func cmpID(a, b wire.SessionID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
