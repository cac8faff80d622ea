package storage

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zkd/zkd/internal/datatree"
	"github.com/zkd/zkd/internal/snapshot"
	"github.com/zkd/zkd/internal/txnlog"
	"github.com/zkd/zkd/internal/wire"
)

// Options configures a Store.
type Options struct {
	SnapDir string // <dataDir>/version-2
	LogDir  string // <dataLogDir>/version-2
	// SnapCount is ZooKeeper's snapCount: a snapshot is taken after a
	// random number of txns in (SnapCount/2, SnapCount], so members of an
	// ensemble do not all snapshot at once.
	SnapCount int
	Log       txnlog.Options
	// Rand picks the snapshot trigger; nil means a random source.
	Rand *rand.Rand
	// OnSnapshot, if set, receives how long each snapshot took to write
	// (the snapshottime metric).
	OnSnapshot func(time.Duration)
	// Gate, if set, is shared by the stores a server opens one after
	// another; nil gives the store its own.
	Gate *SnapshotGate
}

// SnapshotGate lets one snapshot run at a time across the stores a server
// opens one after another (an ensemble member reopens its store at every
// role change), and lets the server wait for a background snapshot that
// outlives the store that started it (Store.CloseLog).
type SnapshotGate struct {
	mu sync.Mutex     // held while a snapshot is written
	wg sync.WaitGroup // background snapshots running
}

// Wait returns once no background snapshot is running.
func (g *SnapshotGate) Wait() { g.wg.Wait() }

// Store is the durable side of the write pipeline. Append/Sync/AfterSync
// are called by one goroutine (the server's sync loop); snapshots run in
// a background goroutine of the Store.
type Store struct {
	opts Options
	lg   *zap.Logger
	log  *txnlog.Log
	tree *datatree.Tree
	// sessions reports the live sessions for a snapshot.
	sessions func() []snapshot.Session

	sinceSnap int // txns appended since the last roll
	trigger   int // roll + snapshot when sinceSnap exceeds it

	gate      *SnapshotGate
	lastSnap  snapshotInfo
	lastSnapM sync.Mutex
}

type snapshotInfo struct {
	Zxid int64
	Path string
	At   time.Time
	Took time.Duration
}

// Open prepares the store for appends after Recover.
func Open(opts Options, tree *datatree.Tree, sessions func() []snapshot.Session, lg *zap.Logger) (*Store, error) {
	if lg == nil {
		lg = zap.NewNop()
	}
	if opts.SnapCount < 2 {
		opts.SnapCount = 100000
	}
	if opts.Rand == nil {
		opts.Rand = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
	}
	if err := os.MkdirAll(opts.SnapDir, 0o755); err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", opts.SnapDir, err)
	}
	l, err := txnlog.Open(opts.LogDir, opts.Log, lg)
	if err != nil {
		return nil, err
	}
	s := &Store{opts: opts, lg: lg, log: l, tree: tree, sessions: sessions, gate: opts.Gate}
	if s.gate == nil {
		s.gate = &SnapshotGate{}
	}
	s.resetTrigger()
	return s, nil
}

func (s *Store) resetTrigger() {
	half := s.opts.SnapCount / 2
	s.trigger = half + s.opts.Rand.IntN(half+1)
	s.sinceSnap = 0
}

// Append buffers entries for the log; they are durable once Sync returns
// nil. On error the entries appended since the last Sync are discarded
// (txnlog's failure contract).
func (s *Store) Append(entries ...*wire.TxnEntry) error {
	if err := s.log.Append(entries...); err != nil {
		return err
	}
	s.sinceSnap += len(entries)
	return nil
}

// Sync makes every appended entry durable (fsync unless forceSync=no).
func (s *Store) Sync() error { return s.log.Sync() }

// LastLoggedZxid is the zxid of the last entry in the log.
func (s *Store) LastLoggedZxid() int64 { return s.log.LastZxid() }

// AfterSync rolls the log and starts a background snapshot when enough
// txns were logged since the last one. As ZooKeeper's
// SyncRequestProcessor, a snapshot still running when the next is due
// means that one is skipped, not delayed: the count starts over and the
// log is rolled either way. Taking it as soon as the running one ends
// (what zkd did first) wrote more, and larger, snapshots than ZooKeeper
// under a sustained write load.
func (s *Store) AfterSync() {
	if s.sinceSnap <= s.trigger {
		return
	}
	if err := s.log.Roll(); err != nil {
		s.lg.Warn("rolling the transaction log failed; will retry", zap.Error(err))
		return
	}
	s.resetTrigger()
	if !s.gate.mu.TryLock() {
		s.lg.Warn("too busy to snapshot (the previous one is still being written), skipping")
		return
	}
	s.snapshotInBackgroundLocked()
}

// NoteReplayed counts n txns that recovery replayed from the log onto the
// last snapshot as logged since it: the usual snapCount policy then takes
// the next snapshot when the log since the last one is long enough,
// whether its txns came before the restart or after.
func (s *Store) NoteReplayed(n int) { s.sinceSnap += n }

// SnapshotInBackground starts writing a snapshot and returns; one
// already running makes it a no-op. Close waits for it. A failure is
// logged: the previous snapshot and the logs still cover everything.
func (s *Store) SnapshotInBackground() {
	if !s.gate.mu.TryLock() {
		return
	}
	s.resetTrigger()
	s.snapshotInBackgroundLocked()
}

// snapshotInBackgroundLocked writes a snapshot on its own goroutine. The
// caller holds the gate; the goroutine releases it when done, and the
// gate's Wait covers it.
func (s *Store) snapshotInBackgroundLocked() {
	s.gate.wg.Add(1)
	go func() {
		defer s.gate.wg.Done()
		defer s.gate.mu.Unlock()
		if _, err := s.snapshotLocked(); err != nil {
			s.lg.Error("background snapshot failed", zap.Error(err))
		}
	}()
}

// Snapshot writes a snapshot now and waits for it (admin, tests).
func (s *Store) Snapshot() (string, error) {
	s.gate.mu.Lock()
	defer s.gate.mu.Unlock()
	return s.snapshotLocked()
}

// snapshotLocked writes a fuzzy snapshot named after the last applied
// zxid at its start: everything up to that zxid is in it, later txns
// maybe, and the log replay from there makes it exact.
func (s *Store) snapshotLocked() (string, error) {
	start := time.Now()
	zxid := s.tree.LastZxid()
	path, err := snapshot.Write(s.opts.SnapDir, zxid, s.tree, s.sessions(), true)
	if err != nil {
		return "", fmt.Errorf("storage: snapshot at %s: %w", wire.Zxid(zxid), err)
	}
	took := time.Since(start)
	if s.opts.OnSnapshot != nil {
		s.opts.OnSnapshot(took)
	}
	s.lastSnapM.Lock()
	s.lastSnap = snapshotInfo{Zxid: zxid, Path: path, At: start, Took: took}
	s.lastSnapM.Unlock()
	s.lg.Info("snapshot written", zap.String("file", filepath.Base(path)), zap.Duration("took", took))
	return path, nil
}

// LastSnapshot reports the newest snapshot this store wrote.
func (s *Store) LastSnapshot() (zxid int64, path string, at time.Time) {
	s.lastSnapM.Lock()
	defer s.lastSnapM.Unlock()
	return s.lastSnap.Zxid, s.lastSnap.Path, s.lastSnap.At
}

// Close waits for a running snapshot and closes the log.
func (s *Store) Close() error {
	s.gate.Wait()
	return s.log.Close()
}

// CloseLog closes the log and leaves a running snapshot to finish on its
// own (the gate tracks it). A role change only moves the tree forward,
// which a fuzzy snapshot allows, so it need not wait: a member that had
// just started writing the snapshot of a million-node tree spent its
// ~2.5 s in every failover otherwise.
func (s *Store) CloseLog() error {
	return s.log.Close()
}
