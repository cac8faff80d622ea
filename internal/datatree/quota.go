package datatree

import (
	"errors"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Quota bookkeeping, as ZooKeeper 3.8's DataTree does it.
//
// A quota on path P is the pair of nodes /zookeeper/quota/P/zookeeper_limits
// and /zookeeper/quota/P/zookeeper_stats, written by clients (zkCli's
// setquota). The tree keeps the set of quota'd paths (DataTree.pTrie) and,
// whenever Apply creates, deletes or changes a node under one of them,
// rewrites the covering stats node's count and bytes in place: no txn, no
// watch, no version change. Every member applies the same txns, so every
// member computes the same stats. Loading a snapshot recounts them
// (Loader.Finish, DataTree.setupQuota).
//
// The quirks below (string-prefix tests on parent paths, blank path
// components ignored) are ZooKeeper's; they are kept so a mixed ensemble
// and a takeover of ZooKeeper's data agree node for node.

// Names of the quota nodes (Quotas.java).
const (
	QuotaLimitNode = "zookeeper_limits"
	QuotaStatNode  = "zookeeper_stats"
)

// QuotaLimitPath and QuotaStatPath are where the quota of path lives.
func QuotaLimitPath(path string) string { return QuotaPath + path + "/" + QuotaLimitNode }

// QuotaStatPath is the stats node of the quota on path.
func QuotaStatPath(path string) string { return QuotaPath + path + "/" + QuotaStatNode }

// StatsTrack is the data of a limits or stats node: "key=long" pairs
// (StatsTrack.java). count and bytes are the soft limits (or, in a stats
// node, the usage); countHardLimit and byteHardLimit the hard ones. A
// missing key reads as -1, meaning "no limit".
type StatsTrack struct {
	vals map[string]int64
}

// StatsTrack keys.
const (
	StatCount          = "count"
	StatBytes          = "bytes"
	StatCountHardLimit = "countHardLimit"
	StatByteHardLimit  = "byteHardLimit"
)

// ErrBadStatsTrack is returned for data Java's StatsTrack constructor
// would throw on.
var ErrBadStatsTrack = errors.New("malformed quota stats")

var statsSeparators = regexp.MustCompile(`[,;]+`)

// ParseStatsTrack parses limits or stats data. Pairs are separated by
// runs of ',' or ';'; a pair is split at '=' with Java's String.split
// rules (trailing empty pieces dropped), so "bytes=5=" reads bytes=5 and
// an empty value reads -1. Where Java would throw (a pair without a value,
// a value that is not a long) it returns ErrBadStatsTrack with the pairs
// read before the bad one.
func ParseStatsTrack(data []byte) (StatsTrack, error) {
	st := StatsTrack{vals: map[string]int64{}}
	if len(data) == 0 {
		return st, nil
	}
	for _, pair := range javaSplit(statsSeparators.Split(string(data), -1)) {
		kv := javaSplit(strings.Split(pair, "="))
		if len(kv) < 2 {
			return st, ErrBadStatsTrack
		}
		if kv[1] == "" {
			st.vals[kv[0]] = -1
			continue
		}
		v, err := strconv.ParseInt(kv[1], 10, 64)
		if err != nil {
			return st, ErrBadStatsTrack
		}
		st.vals[kv[0]] = v
	}
	return st, nil
}

// javaSplit drops the trailing empty strings Java's String.split drops.
func javaSplit(parts []string) []string {
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// Get returns the value of key, -1 if absent.
func (s StatsTrack) Get(key string) int64 {
	if v, ok := s.vals[key]; ok {
		return v
	}
	return -1
}

// Set sets key to v.
func (s *StatsTrack) Set(key string, v int64) {
	if s.vals == nil {
		s.vals = map[string]int64{}
	}
	s.vals[key] = v
}

// Count, Bytes, CountHardLimit and ByteHardLimit read the usual keys.
func (s StatsTrack) Count() int64 { return s.Get(StatCount) }

// Bytes is the bytes value (soft limit, or usage in a stats node).
func (s StatsTrack) Bytes() int64 { return s.Get(StatBytes) }

// CountHardLimit is the countHardLimit value.
func (s StatsTrack) CountHardLimit() int64 { return s.Get(StatCountHardLimit) }

// ByteHardLimit is the byteHardLimit value.
func (s StatsTrack) ByteHardLimit() int64 { return s.Get(StatByteHardLimit) }

// String renders the track as StatsTrack.toString does: count and bytes
// first, separated by ','; then, if there are other keys, a '=' (which
// makes pre-3.7 parsers ignore the rest) and ";key=value" for each in
// sorted order. Example: "count=10,bytes=-1=;byteHardLimit=-1;countHardLimit=5".
func (s StatsTrack) String() string {
	var b strings.Builder
	b.WriteString("count=")
	b.WriteString(strconv.FormatInt(s.Count(), 10))
	b.WriteString(",bytes=")
	b.WriteString(strconv.FormatInt(s.Bytes(), 10))
	var rest []string
	for k := range s.vals {
		if k != StatCount && k != StatBytes {
			rest = append(rest, k)
		}
	}
	if len(rest) > 0 {
		b.WriteByte('=')
		sort.Strings(rest)
		for _, k := range rest {
			b.WriteByte(';')
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(strconv.FormatInt(s.vals[k], 10))
		}
	}
	return b.String()
}

// quotaKey is the key of path in the quota set: its components, blank
// ones (Java's trim() leaves nothing) dropped, as PathTrie splits paths.
// It is "" for a path with no components (the root), which never has a
// quota of its own (DataTree.getMaxPrefixWithQuota ignores "/").
func quotaKey(path string) string {
	var b strings.Builder
	for c := range strings.SplitSeq(path, "/") {
		if strings.TrimLeft(c, javaBlank) == "" {
			continue
		}
		b.WriteByte('/')
		b.WriteString(c)
	}
	return b.String()
}

// javaBlank is what String.trim() removes: every char up to ' '.
const javaBlank = "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f" +
	"\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f "

// addQuota records a quota on path (PathTrie.addPath).
func (t *Tree) addQuota(path string) {
	k := quotaKey(path)
	if k == "" {
		// ZooKeeper throws here (PathTrie refuses an empty path); a limits
		// node directly under /zookeeper/quota simply sets no quota.
		return
	}
	t.quotaMu.Lock()
	t.quotas[k] = struct{}{}
	t.quotaMu.Unlock()
}

// removeQuota forgets the quota on path (PathTrie.deletePath).
func (t *Tree) removeQuota(path string) {
	k := quotaKey(path)
	t.quotaMu.Lock()
	delete(t.quotas, k)
	t.quotaMu.Unlock()
}

// MaxQuotaPrefix returns the deepest quota'd path that is path or one of
// its ancestors, or "" if none (DataTree.getMaxPrefixWithQuota).
func (t *Tree) MaxQuotaPrefix(path string) string {
	t.quotaMu.RLock()
	defer t.quotaMu.RUnlock()
	if len(t.quotas) == 0 {
		return ""
	}
	k := quotaKey(path)
	for k != "" {
		if _, ok := t.quotas[k]; ok {
			return k
		}
		k = k[:strings.LastIndexByte(k, '/')]
	}
	return ""
}

// QuotaPaths returns the quota'd paths, sorted.
func (t *Tree) QuotaPaths() []string {
	t.quotaMu.RLock()
	defer t.quotaMu.RUnlock()
	out := make([]string, 0, len(t.quotas))
	for k := range t.quotas {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// trimQuotaPath is Quotas.trimQuotaPath: what follows "/zookeeper/quota",
// whatever it is ("/zookeeper/quotaX/a" gives "X/a", which quotaKey reads
// as "/X/a", as PathTrie does).
func trimQuotaPath(p string) string { return p[len(QuotaPath):] }

// quotaCounts counts path and every node under it, and their data bytes
// (DataTree.getCounts). "" is the root, as Java stores it. held are nodes
// the caller has write-locked; they are read without locking.
func (t *Tree) quotaCounts(path string, held ...*node) (count, bytes int64) {
	if path == "" {
		path = RootPath
	}
	n := t.nodes.get(path)
	if n == nil {
		return 0, 0
	}
	own := slices.Contains(held, n)
	if !own {
		n.mu.Lock()
	}
	if n.deleted {
		if !own {
			n.mu.Unlock()
		}
		return 0, 0
	}
	kids, size := n.childList(), len(n.data)
	if !own {
		n.mu.Unlock()
	}
	count, bytes = 1, int64(size)
	for _, c := range kids {
		c, b := t.quotaCounts(join(path, c), held...)
		count += c
		bytes += b
	}
	return count, bytes
}

// recountQuota rewrites the stats node of path from a full count
// (DataTree.updateQuotaForPath). The result holds count and bytes only.
func (t *Tree) recountQuota(path string, held ...*node) {
	count, bytes := t.quotaCounts(path, held...)
	var st StatsTrack
	st.Set(StatCount, count)
	st.Set(StatBytes, bytes)
	t.withStatsNode(QuotaStatPath(path), held, func(sn *node) {
		sn.data = []byte(st.String())
	})
}

// bumpQuota adds to the stats of the quota covering path, if any
// (DataTree.updateQuotaStat).
func (t *Tree) bumpQuota(path string, bytesDiff, countDiff int64, held ...*node) {
	prefix := t.MaxQuotaPrefix(path)
	if prefix == "" {
		return
	}
	t.withStatsNode(QuotaStatPath(prefix), held, func(sn *node) {
		st, err := ParseStatsTrack(sn.data)
		if err != nil {
			// ZooKeeper's apply throws here, which stops that server; the
			// stats node is left as it is instead, on every member alike.
			return
		}
		st.Set(StatCount, st.Count()+countDiff)
		st.Set(StatBytes, st.Bytes()+bytesDiff)
		sn.data = []byte(st.String())
	})
}

// withStatsNode runs fn on the live node at path under its write lock,
// taken unless the caller holds it already. The data is replaced, never
// changed in place: readers may hold the old slice. ApproximateDataSize
// is not adjusted, as in ZooKeeper, whose nodeDataSize also counts a stats
// node at the size it was created or loaded with.
func (t *Tree) withStatsNode(path string, held []*node, fn func(*node)) {
	sn := t.nodes.get(path)
	if sn == nil {
		return
	}
	if !slices.Contains(held, sn) {
		sn.mu.Lock()
		defer sn.mu.Unlock()
	}
	if sn.deleted {
		return
	}
	fn(sn)
}

// quotaCreated is the quota side of creating path with data
// (DataTree.createNode, after the node is in). parent and n are held.
func (t *Tree) quotaCreated(parentPath, name, path string, dataLen int, parent, n *node) {
	if strings.HasPrefix(parentPath, QuotaPath) {
		switch name {
		case QuotaLimitNode:
			t.addQuota(trimQuotaPath(parentPath))
		case QuotaStatNode:
			t.recountQuota(trimQuotaPath(parentPath), parent, n)
		}
	}
	t.bumpQuota(path, int64(dataLen), 1, parent, n)
}

// quotaDeleted is the quota side of deleting path, whose data was
// dataLen bytes (DataTree.deleteNode). parent and n are held; n is
// already marked deleted.
func (t *Tree) quotaDeleted(parentPath, name, path string, dataLen int, parent, n *node) {
	// ZooKeeper tests the parent against "/zookeeper", then cuts
	// "/zookeeper/quota".length characters off it; a shorter parent makes
	// it throw, so nothing is removed here.
	if strings.HasPrefix(parentPath, ZooKeeperPath) && name == QuotaLimitNode && len(parentPath) >= len(QuotaPath) {
		t.removeQuota(trimQuotaPath(parentPath))
	}
	t.bumpQuota(path, -int64(dataLen), -1, parent, n)
}

// SetupQuota rebuilds the quota set from the limits nodes under
// /zookeeper/quota and recounts each quota's stats (DataTree.setupQuota).
// A limits node counts only if it is a leaf; the quota'd path is what lies
// between /zookeeper/quota and the first "/zookeeper_limits" in its path.
// Loader.Finish calls it; it must not run concurrently with Apply.
func (t *Tree) SetupQuota() {
	t.quotaMu.Lock()
	t.quotas = map[string]struct{}{}
	t.quotaMu.Unlock()
	const end = "/" + QuotaLimitNode
	t.quotaLeaves(func(path string, _ []byte) {
		if strings.HasSuffix(path, end) {
			real := path[len(QuotaPath):strings.Index(path, end)]
			t.recountQuota(real)
			t.addQuota(real)
		}
	})
}

// quotaLeaves calls visit with the path and data of every leaf of the
// /zookeeper/quota subtree, depth first: ZooKeeper's setupQuota and
// QuotaMetricsUtils both look at leaves only. No node lock is held during
// visit; data is the node's current slice, which writes replace, never edit.
func (t *Tree) quotaLeaves(visit func(path string, data []byte)) {
	var walk func(path string)
	walk = func(path string) {
		n := t.lookup(path)
		if n == nil {
			return
		}
		kids, data := n.childList(), n.data
		n.mu.Unlock()
		if len(kids) == 0 {
			visit(path, data)
			return
		}
		for _, c := range kids {
			walk(join(path, c))
		}
	}
	walk(QuotaPath)
}

// NamespaceQuota is what the quotas of one top namespace (the first
// component of the quota'd paths: "a" for /a and /a/b) add up to, as
// ZooKeeper 3.8's QuotaMetricsUtils reports them in the gauge sets
// quota_{count,bytes}_{limit,usage}_per_namespace.
//
// A limit is the hard one when set (> -1), else the soft one, so a quota
// without a byte limit adds -1 to BytesLimit: ZooKeeper sums it that way.
type NamespaceQuota struct {
	// Limits is set when a limits node of the namespace was counted;
	// without one ZooKeeper has no limit entry for it.
	Limits                 bool
	CountLimit, BytesLimit int64
	// Usage is set when a stats node of the namespace was counted.
	Usage                  bool
	CountUsage, BytesUsage int64
}

// TopNamespace is the first component of path, as PathUtils.getTopNamespace
// finds it: "a" for "/a/b". ok is false for "/", which has none.
func TopNamespace(path string) (ns string, ok bool) {
	parts := javaSplit(strings.Split(path, "/"))
	if len(parts) < 2 {
		return "", false
	}
	return parts[1], true
}

// QuotaByNamespace walks /zookeeper/quota and sums, per top namespace, the
// limits and stats nodes it finds, as QuotaMetricsUtils does: only leaves
// count, a leaf named zookeeper_limits gives limits and one named
// zookeeper_stats usage, and the namespace is the top namespace of the
// leaf's path below /zookeeper/quota. Like ZooKeeper it follows the nodes,
// not the quota set, and skips a node whose data is null.
//
// Where ZooKeeper's StatsTrack throws on data it cannot parse, which makes
// its mntr stop before the first metric, the node is skipped here
// (docs/divergence.md).
//
// It holds the tree's read locks for the walk, as GetData does, so a multi
// that sets a quota is seen whole or not at all; it does no I/O. The
// subtree is small: two nodes per quota plus their parents.
func (t *Tree) QuotaByNamespace() map[string]NamespaceQuota {
	t.multiMu.RLock()
	defer t.multiMu.RUnlock()
	out := map[string]NamespaceQuota{}
	t.quotaLeaves(func(path string, data []byte) {
		limits := strings.HasSuffix(path, "/"+QuotaLimitNode)
		if !limits && !strings.HasSuffix(path, "/"+QuotaStatNode) {
			return
		}
		ns, ok := TopNamespace(trimQuotaPath(path))
		if !ok || data == nil {
			return
		}
		st, err := ParseStatsTrack(data)
		if err != nil {
			return
		}
		q := out[ns]
		if limits {
			q.Limits = true
			q.CountLimit += hardOrSoft(st.CountHardLimit(), st.Count())
			q.BytesLimit += hardOrSoft(st.ByteHardLimit(), st.Bytes())
		} else {
			q.Usage = true
			q.CountUsage += st.Count()
			q.BytesUsage += st.Bytes()
		}
		out[ns] = q
	})
	return out
}

// hardOrSoft is the limit that counts: the hard one when set.
func hardOrSoft(hard, soft int64) int64 {
	if hard > -1 {
		return hard
	}
	return soft
}
