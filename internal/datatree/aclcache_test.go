package datatree

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

func TestACLCacheShares(t *testing.T) {
	digest := func(id string) []wire.ACL {
		return []wire.ACL{{Perms: wire.PermAll, ID: wire.Id{Scheme: "digest", ID: id}}}
	}

	var c aclCache
	open := append([]wire.ACL(nil), wire.OpenACLUnsafe...)
	require.Same(t, openACL, c.share(open), "the open ACL is the package's one list")

	a1 := c.share(digest("u:x"))
	a2 := c.share(digest("u:x"))
	require.Same(t, a1, a2, "equal lists share one copy")
	require.Equal(t, digest("u:x"), a1.get())

	mine := digest("u:y")
	got := c.share(mine)
	require.False(t, &mine[0] == &got.get()[0], "the cache keeps its own copy, not the caller's slice")
	mine[0].Perms = 0
	require.Equal(t, digest("u:y"), c.share(digest("u:y")).get(), "changing the caller's slice does not change the cached list")

	// Keys cannot collide across field boundaries.
	x := c.share([]wire.ACL{{Perms: 1, ID: wire.Id{Scheme: "ab", ID: "c"}}})
	y := c.share([]wire.ACL{{Perms: 1, ID: wire.Id{Scheme: "a", ID: "bc"}}})
	require.NotSame(t, x, y)
	require.Equal(t, "ab", x.get()[0].ID.Scheme)
	require.Equal(t, "a", y.get()[0].ID.Scheme)

	require.Empty(t, c.share(nil).get())
	require.Empty(t, (*aclList)(nil).get())
}

func TestACLCacheIsBounded(t *testing.T) {
	var c aclCache
	for i := 0; i < maxSharedACLs+100; i++ {
		l := []wire.ACL{{Perms: wire.PermAll, ID: wire.Id{Scheme: "digest", ID: fmt.Sprint("u", i)}}}
		require.Equal(t, l, c.share(l).get())
	}
	require.Len(t, c.lists, maxSharedACLs)
}

// A node stays in a 128-byte allocation (size class): a million nodes
// per member make every 16 bytes ~16 MB.
func TestNodeFitsSizeClass(t *testing.T) {
	require.LessOrEqual(t, unsafe.Sizeof(node{}), uintptr(128))
}

// Nodes created with equal ACLs share the list; setACL swaps in another
// shared list and leaves the other nodes' alone.
func TestCreatedNodesShareACLs(t *testing.T) {
	tr := New(nil)
	acl := func() []wire.ACL {
		return []wire.ACL{{Perms: wire.PermRead, ID: wire.Id{Scheme: "world", ID: "anyone"}}}
	}
	for i, p := range []string{"/a", "/b"} {
		_, _, code := tr.create(p, nil, acl(), 0, -1, int64(i+1), 0)
		require.Equal(t, wire.OK, code)
	}
	la, _, err := tr.GetACL("/a")
	require.NoError(t, err)
	lb, _, err := tr.GetACL("/b")
	require.NoError(t, err)
	require.True(t, &la[0] == &lb[0], "one list for both nodes")

	_, code := tr.setACL("/a", wire.OpenACLUnsafe, 1)
	require.Equal(t, wire.OK, code)
	lb2, _, _ := tr.GetACL("/b")
	require.Equal(t, acl(), lb2)
}

// Nodes loaded from a snapshot share their ACL id's list, and a list equal
// to one created by a txn is the same list.
func TestLoadedNodesShareACLs(t *testing.T) {
	tr := New(nil)
	l := NewLoader(tr)
	read := []wire.ACL{{Perms: wire.PermRead, ID: wire.Id{Scheme: "world", ID: "anyone"}}} // one ACL id
	for _, p := range []string{"/", "/a", "/a/b", "/c"} {
		require.NoError(t, l.Add(p, nil, read, wire.StatPersisted{}))
	}
	l.Finish()
	require.Len(t, l.acls, 1, "one lookup entry per ACL id, not per node")
	first, _, err := tr.GetACL("/a")
	require.NoError(t, err)
	for _, p := range []string{"/a/b", "/c"} {
		got, _, err := tr.GetACL(p)
		require.NoError(t, err)
		require.True(t, &got[0] == &first[0], p)
	}
	_, _, code := tr.create("/d", nil, []wire.ACL{read[0]}, 0, -1, 10, 0)
	require.Equal(t, wire.OK, code)
	got, _, _ := tr.GetACL("/d")
	require.True(t, &got[0] == &first[0], "a create with an equal ACL shares the loaded list")
}
