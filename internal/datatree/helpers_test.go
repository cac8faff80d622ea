package datatree

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/watch"
	"github.com/zkd/zkd/internal/wire"
)

// event is one notification a recorder received.
type event struct {
	Path string
	Type wire.EventType
	Zxid int64
}

func (e event) String() string { return fmt.Sprintf("%v %s @%d", e.Type, e.Path, e.Zxid) }

// recorder is a watch.Watcher that keeps what it is told, for checking
// which events a txn fires and that they arrive before a reader sees the
// change.
type recorder struct {
	id     wire.SessionID
	mu     sync.Mutex
	events []event
}

var _ watch.Watcher = (*recorder)(nil)

func newRecorder(id int64) *recorder { return &recorder{id: wire.SessionID(id)} }

func (r *recorder) Notify(path string, ev wire.EventType, zxid int64) {
	r.mu.Lock()
	r.events = append(r.events, event{Path: path, Type: ev, Zxid: zxid})
	r.mu.Unlock()
}

func (r *recorder) SessionID() wire.SessionID { return r.id }

// got returns a copy of the events so far.
func (r *recorder) got() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event(nil), r.events...)
}

// has reports whether the recorder holds the event (any zxid).
func (r *recorder) has(path string, ev wire.EventType) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.Path == path && e.Type == ev {
			return true
		}
	}
	return false
}

// Time stamps used by tests: the leader's clock is part of the txn header,
// so giving each zxid its own time shows which txn set ctime/mtime.
func timeOf(zxid int64) int64 { return 1_700_000_000_000 + zxid*1000 }

// hdrFor builds the header of txn typ at zxid from session.
func hdrFor(typ wire.OpCode, zxid, session int64) *wire.TxnHeader {
	return &wire.TxnHeader{ClientID: session, Cxid: int32(zxid), Zxid: zxid, Time: timeOf(zxid), Type: typ}
}

// applyAt applies rec as a txn of type typ at zxid for session 0x42.
func applyAt(tr *Tree, typ wire.OpCode, zxid int64, rec wire.Record) Result {
	return tr.Apply(hdrFor(typ, zxid, 0x42), rec)
}

func createTxn(path, data string, parentCVersion int32) *wire.CreateTxn {
	return &wire.CreateTxn{Path: path, Data: []byte(data), ACL: wire.OpenACLUnsafe, ParentCVersion: parentCVersion}
}

// mustCreate creates a persistent node whose parent cversion is bumped by
// one, as the prepare step would write it.
func mustCreate(t testing.TB, tr *Tree, zxid int64, path, data string) {
	t.Helper()
	r := applyAt(tr, wire.OpCreate, zxid, createTxn(path, data, -1))
	require.Equal(t, wire.OK, r.Err, "create %s", path)
}

// stored returns the on-disk stat of path.
func stored(t testing.TB, tr *Tree, path string) wire.StatPersisted {
	t.Helper()
	info, ok := tr.Info(path)
	require.True(t, ok, "node %s missing", path)
	return info.Stat
}

// client returns the client stat of path.
func client(t testing.TB, tr *Tree, path string) wire.Stat {
	t.Helper()
	_, st, err := tr.GetData(path, nil)
	require.NoError(t, err, "getData %s", path)
	return st
}

// walkPaths lists the tree in Walk order.
func walkPaths(t testing.TB, tr *Tree) []string {
	t.Helper()
	var out []string
	require.NoError(t, tr.Walk(func(path string, _ []byte, _ []wire.ACL, _ wire.StatPersisted) error {
		out = append(out, path)
		return nil
	}))
	return out
}

// multi wraps typed sub-txns as the log stores them.
func multi(subs ...wire.SubTxn) *wire.MultiTxn { return wire.WrapMultiTxn(subs) }

func sub(typ wire.OpCode, rec wire.Record) wire.SubTxn { return wire.SubTxn{Type: typ, Rec: rec} }
