package datatree

import (
	"strconv"
	"strings"
	"sync"

	"github.com/zkd/zkd/internal/wire"
)

// maxSharedACLs bounds the distinct ACL lists the cache keeps. Trees have
// a handful (open, creator-all, a few digest ids); a workload giving every
// node its own list gets per-node copies past the bound instead of a cache
// that only grows.
const maxSharedACLs = 4096

// aclCache lets nodes with equal ACL lists share one copy, as ZooKeeper's
// ReferenceCountedACLCache does: a decoded create carries its own list
// (a slice and two strings, ~70 bytes), which for a million nodes with
// the same ACL is ~70 MB of duplicates. Shared lists are never mutated:
// setACL replaces a node's list, it does not edit it.
type aclCache struct {
	mu    sync.Mutex
	lists map[string][]wire.ACL
}

// share returns the cached list equal to acl, adding acl when there is
// room.
func (c *aclCache) share(acl []wire.ACL) []wire.ACL {
	switch {
	case len(acl) == 0:
		return acl
	case equalACL(acl, wire.OpenACLUnsafe):
		return wire.OpenACLUnsafe
	}
	key := aclKey(acl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.lists[key]; ok {
		return l
	}
	if len(c.lists) >= maxSharedACLs {
		return acl
	}
	if c.lists == nil {
		c.lists = map[string][]wire.ACL{}
	}
	l := append([]wire.ACL(nil), acl...) // the caller's slice stays the caller's
	c.lists[key] = l
	return l
}

func equalACL(a, b []wire.ACL) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// aclKey encodes a list unambiguously: lengths before strings.
func aclKey(acl []wire.ACL) string {
	var b strings.Builder
	for _, a := range acl {
		b.WriteString(strconv.Itoa(int(a.Perms)))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(len(a.ID.Scheme)))
		b.WriteByte(':')
		b.WriteString(a.ID.Scheme)
		b.WriteString(strconv.Itoa(len(a.ID.ID)))
		b.WriteByte(':')
		b.WriteString(a.ID.ID)
		b.WriteByte(';')
	}
	return b.String()
}
