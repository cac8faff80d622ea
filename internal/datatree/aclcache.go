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
	lists map[string]*aclList
}

// aclList is a node's ACL. Nodes hold a pointer (8 bytes, not a 24-byte
// slice header): with the smaller lock it keeps a node in a 128-byte
// allocation. Never mutated once a node holds it.
type aclList struct{ acl []wire.ACL }

// get is nil-safe: a node without a list has an empty ACL.
func (l *aclList) get() []wire.ACL {
	if l == nil {
		return nil
	}
	return l.acl
}

// The lists of the nodes New creates.
var (
	openACL = &aclList{wire.OpenACLUnsafe}
	readACL = &aclList{wire.ReadACLUnsafe}
)

// share returns the cached list equal to acl, adding a copy of acl when
// there is room.
func (c *aclCache) share(acl []wire.ACL) *aclList {
	if equalACL(acl, wire.OpenACLUnsafe) {
		return openACL
	}
	key := aclKey(acl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.lists[key]; ok {
		return l
	}
	// The caller's slice stays the caller's.
	l := &aclList{append([]wire.ACL(nil), acl...)}
	if len(c.lists) >= maxSharedACLs {
		return l
	}
	if c.lists == nil {
		c.lists = map[string]*aclList{}
	}
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
