package datatree

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

// TestReplayOfACreateThatFindsItsNodeRaisesTheParent is storage.md §5
// step 4: a fuzzy snapshot may already hold a node whose create is then
// replayed; for a type-1 create the parent's cversion and pzxid still move
// to the txn's parentCVersion and zxid (DataTree.processTxn, NODEEXISTS).
func TestReplayOfACreateThatFindsItsNodeRaisesTheParent(t *testing.T) {
	setup := func(t *testing.T) *Tree {
		// The snapshot caught /p/a (created at zxid 12 with parentCVersion 2)
		// but serialized /p before that, with cversion 1 and pzxid 5.
		tr := New(nil)
		l := NewLoader(tr)
		require.NoError(t, l.Add("/p", nil, wire.OpenACLUnsafe, wire.StatPersisted{Czxid: 3, Mzxid: 3, Cversion: 1, Pzxid: 5}))
		require.NoError(t, l.Add("/p/x", nil, wire.OpenACLUnsafe, wire.StatPersisted{Czxid: 5, Mzxid: 5, Pzxid: 5}))
		require.NoError(t, l.Add("/p/a", []byte("a"), wire.OpenACLUnsafe, wire.StatPersisted{Czxid: 12, Mzxid: 12, Pzxid: 12}))
		tr.SetLastZxid(10)
		return tr
	}
	t.Run("a create (type 1) meeting NodeExists raises the parent's cversion and pzxid", func(t *testing.T) {
		tr := setup(t)
		r := tr.Replay(hdrFor(wire.OpCreate, 12, sessA), createTxn("/p/a", "a", 2))
		require.Equal(t, wire.ErrNodeExists, r.Err)
		p := stored(t, tr, "/p")
		require.Equal(t, int32(2), p.Cversion)
		require.Equal(t, int64(12), p.Pzxid)
		require.Equal(t, int64(12), tr.LastZxid())
	})
	t.Run("a create meeting NodeExists with a parentCVersion not above the parent's leaves it alone", func(t *testing.T) {
		tr := setup(t)
		tr.Replay(hdrFor(wire.OpCreate, 12, sessA), createTxn("/p/a", "a", 1))
		p := stored(t, tr, "/p")
		require.Equal(t, int32(1), p.Cversion)
		require.Equal(t, int64(5), p.Pzxid)
	})
	t.Run("a create2 (type 15) meeting NodeExists does not touch the parent (3.8 checks type 1 only)", func(t *testing.T) {
		tr := setup(t)
		r := tr.Replay(hdrFor(wire.OpCreate2, 12, sessA), createTxn("/p/a", "a", 2))
		require.Equal(t, wire.ErrNodeExists, r.Err)
		p := stored(t, tr, "/p")
		require.Equal(t, int32(1), p.Cversion)
		require.Equal(t, int64(5), p.Pzxid)
	})
	t.Run("other txns replay as Apply applies them, their errors ignored", func(t *testing.T) {
		tr := setup(t)
		require.Equal(t, wire.ErrNoNode, tr.Replay(hdrFor(wire.OpDelete, 13, sessA), &wire.DeleteTxn{Path: "/p/nope"}).Err)
		require.Equal(t, wire.OK, tr.Replay(hdrFor(wire.OpCreate, 14, sessA), createTxn("/p/b", "", 3)).Err)
		p := stored(t, tr, "/p")
		require.Equal(t, int32(3), p.Cversion)
		require.Equal(t, int64(14), p.Pzxid)
	})
}
