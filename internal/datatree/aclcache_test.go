package datatree

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

func TestACLCacheShares(t *testing.T) {
	digest := func(id string) []wire.ACL {
		return []wire.ACL{{Perms: wire.PermAll, ID: wire.Id{Scheme: "digest", ID: id}}}
	}
	same := func(a, b []wire.ACL) bool { return len(a) > 0 && len(b) > 0 && &a[0] == &b[0] }

	var c aclCache
	open := append([]wire.ACL(nil), wire.OpenACLUnsafe...)
	require.True(t, same(c.share(open), wire.OpenACLUnsafe), "the open ACL is the package's one copy")

	a1 := c.share(digest("u:x"))
	a2 := c.share(digest("u:x"))
	require.True(t, same(a1, a2), "equal lists share one copy")
	require.Equal(t, digest("u:x"), a1)

	mine := digest("u:y")
	got := c.share(mine)
	require.False(t, same(mine, got), "the cache keeps its own copy, not the caller's slice")
	mine[0].Perms = 0
	require.Equal(t, digest("u:y"), c.share(digest("u:y")), "changing the caller's slice does not change the cached list")

	// Keys cannot collide across field boundaries.
	x := c.share([]wire.ACL{{Perms: 1, ID: wire.Id{Scheme: "ab", ID: "c"}}})
	y := c.share([]wire.ACL{{Perms: 1, ID: wire.Id{Scheme: "a", ID: "bc"}}})
	require.False(t, same(x, y))
	require.Equal(t, "ab", x[0].ID.Scheme)
	require.Equal(t, "a", y[0].ID.Scheme)

	require.Empty(t, c.share(nil))
}

func TestACLCacheIsBounded(t *testing.T) {
	var c aclCache
	for i := 0; i < maxSharedACLs+100; i++ {
		l := []wire.ACL{{Perms: wire.PermAll, ID: wire.Id{Scheme: "digest", ID: fmt.Sprint("u", i)}}}
		require.Equal(t, l, c.share(l))
	}
	require.Len(t, c.lists, maxSharedACLs)
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
	require.True(t, &la[0] == &lb[0])

	_, code := tr.setACL("/a", wire.OpenACLUnsafe, 1)
	require.Equal(t, wire.OK, code)
	lb2, _, _ := tr.GetACL("/b")
	require.Equal(t, acl(), lb2)
}
