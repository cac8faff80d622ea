package cli

// Quotas are kept by clients, as in ZooKeeper: setquota writes the limits
// of a subtree to /zookeeper/quota/<path>/zookeeper_limits and creates
// zookeeper_stats next to it; the server keeps the stats node's counts up
// to date and enforces the hard limits. The three commands below follow
// SetQuotaCommand, ListQuotaCommand and DelQuotaCommand of ZooKeeper 3.8,
// including their order of requests, checks and messages.

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/zkd/zkd/internal/wire"
)

// Quota node names (Quotas.java).
const (
	quotaRoot = "/zookeeper/quota"
	limitNode = "zookeeper_limits"
	statNode  = "zookeeper_stats"
)

func quotaPath(path string) string { return quotaRoot + path }
func limitPath(path string) string { return quotaRoot + path + "/" + limitNode }
func statPath(path string) string  { return quotaRoot + path + "/" + statNode }

// statsTrack is ZooKeeper's StatsTrack: "count=N,bytes=N" with the newer
// keys after a ';' (see String).
type statsTrack map[string]int64

// Keys of a statsTrack.
const (
	stCount          = "count"
	stBytes          = "bytes"
	stCountHardLimit = "countHardLimit"
	stByteHardLimit  = "byteHardLimit"
)

var statsSeparators = regexp.MustCompile(`[,;]+`)

// parseStatsTrack reads "key=value" pairs separated by ',' or ';'; an
// empty value is -1 (StatsTrack(String)).
func parseStatsTrack(s string) (statsTrack, error) {
	t := statsTrack{}
	if s == "" {
		return t, nil
	}
	for _, pair := range statsSeparators.Split(s, -1) {
		kv := strings.Split(pair, "=")
		// Java's split drops trailing empty strings: "bytes=5=" is bytes=5.
		for len(kv) > 0 && kv[len(kv)-1] == "" {
			kv = kv[:len(kv)-1]
		}
		if len(kv) < 2 {
			return nil, fmt.Errorf("malformed quota stats %q", s)
		}
		v, err := strconv.ParseInt(kv[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("malformed quota stats %q", s)
		}
		t[kv[0]] = v
	}
	return t, nil
}

func (t statsTrack) get(key string) int64 {
	if v, ok := t[key]; ok {
		return v
	}
	return -1
}

// String is StatsTrack.toString: count and bytes first (old parsers read
// only those), then, after a stray '=' that old parsers ignore, the other
// keys in sorted order separated by ';'.
func (t statsTrack) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "count=%d,bytes=%d", t.get(stCount), t.get(stBytes))
	var keys []string
	for k := range t {
		if k != stCount && k != stBytes {
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		b.WriteString("=")
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, ";%s=%d", k, t[k])
		}
	}
	return b.String()
}

// keeperErr is a server error on a given path (a KeeperException).
type keeperErr struct {
	err  error
	path string
}

func (e *keeperErr) Error() string { return keeperMessage(e.err, e.path) }
func (e *keeperErr) Unwrap() error { return e.err }

// pathErr is a client-side refusal (zkCli's IllegalArgumentException,
// printed as its message).
type pathErr struct{ msg string }

func (e *pathErr) Error() string { return e.msg }

// quotaOps wraps the session calls the quota commands make, validating
// paths as ZooKeeper's client does and tagging errors with their path.
type quotaOps struct{ s *Shell }

func (q quotaOps) check(path string) error {
	if err := validatePath(path); err != nil {
		return &pathErr{err.Error()}
	}
	return nil
}

func (q quotaOps) wrap(err error, path string) error {
	if err != nil {
		return &keeperErr{err, path}
	}
	return nil
}

func (q quotaOps) exists(path string) (*wire.Stat, error) {
	if err := q.check(path); err != nil {
		return nil, err
	}
	st, err := q.s.conn.Exists(path, false)
	return st, q.wrap(err, path)
}

func (q quotaOps) get(path string) (statsTrack, error) {
	if err := q.check(path); err != nil {
		return nil, err
	}
	data, _, err := q.s.conn.Get(path, false)
	if err != nil {
		return nil, q.wrap(err, path)
	}
	t, err := parseStatsTrack(string(data))
	if err != nil {
		return nil, &pathErr{err.Error()}
	}
	return t, nil
}

func (q quotaOps) children(path string) ([]string, error) {
	if err := q.check(path); err != nil {
		return nil, err
	}
	c, _, err := q.s.conn.Children(path, false)
	return c, q.wrap(err, path)
}

func (q quotaOps) create(path string, data []byte) error {
	_, err := q.s.conn.Create(path, data, wire.FlagPersistent, wire.OpenACLUnsafe)
	return q.wrap(err, path)
}

func (q quotaOps) set(path string, t statsTrack) error {
	_, err := q.s.conn.Set(path, []byte(t.String()), -1)
	return q.wrap(err, path)
}

func (q quotaOps) delete(path string) error {
	return q.wrap(q.s.conn.Delete(path, -1), path)
}

// quotaFailure prints err as zkCli does and reports the command failed.
func (s *Shell) quotaFailure(err error) error {
	return s.errorf("%s", err.Error())
}

func isNoNode(err error) bool { return errors.Is(err, wire.ErrNoNode) }

func (s *Shell) cmdSetQuota(f *flags) error {
	if len(f.args) < 1 {
		return s.errorf("%s", f.usage)
	}
	path := f.args[0]
	if strings.HasPrefix(path, quotaRoot) {
		s.errPrintln("cannot set a quota under the path: " + quotaRoot)
		return nil
	}
	quota := statsTrack{stCount: -1, stBytes: -1, stCountHardLimit: -1, stByteHardLimit: -1}
	for _, o := range []struct {
		flag, key string
		bits      int
		min       int64
		msg       string
	}{
		{"n", stCount, 32, 1, "the num quota must be greater than zero"},
		{"b", stBytes, 64, 0, "the bytes quota must be greater than or equal to zero"},
		{"N", stCountHardLimit, 32, 1, "the num quota must be greater than zero"},
		{"B", stByteHardLimit, 64, 0, "the bytes quota must be greater than or equal to zero"},
	} {
		v, ok := f.values[o.flag]
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, o.bits) // as Integer/Long.parseLong
		if err != nil {
			s.errPrintln("NumberFormatException happens when parsing the option value")
			return nil
		}
		if n < o.min {
			s.errPrintln(o.msg)
			return nil
		}
		quota[o.key] = n
	}
	if err := s.createQuota(path, quota); err != nil {
		return s.quotaFailure(err)
	}
	return nil
}

// createQuota is SetQuotaCommand.createQuota.
func (s *Shell) createQuota(path string, quota statsTrack) error {
	q := quotaOps{s}
	st, err := q.exists(path)
	if err != nil {
		return err
	}
	if st == nil {
		return &pathErr{path + " does not exist."}
	}
	if err := s.checkIfChildQuota(path); err != nil {
		return err
	}
	if err := s.checkIfParentQuota(path); err != nil {
		return err
	}
	if st, err := q.exists(quotaRoot); err != nil {
		return err
	} else if st == nil {
		// As in Java, one NodeExists skips the rest of this block.
		err := q.create("/zookeeper", nil)
		if err == nil {
			err = q.create(quotaRoot, nil)
		}
		if err != nil && !errors.Is(err, wire.ErrNodeExists) {
			return err
		}
	}
	qp := quotaRoot
	for _, part := range javaSplit(path) {
		qp += "/" + part
		st, err := q.exists(qp)
		if err != nil {
			return err
		}
		if st == nil {
			if err := q.create(qp, nil); err != nil && !errors.Is(err, wire.ErrNodeExists) {
				return err
			}
		}
	}
	sp, lp := qp+"/"+statNode, qp+"/"+limitNode
	st, err = q.exists(lp)
	if err != nil {
		return err
	}
	if st == nil {
		if err := q.create(lp, []byte(quota.String())); err != nil {
			return err
		}
		if err := q.create(sp, []byte(statsTrack{stCount: 0, stBytes: 0}.String())); err != nil {
			return err
		}
		limits, err := q.get(lp)
		if err != nil {
			return err
		}
		stats, err := q.get(sp)
		if err != nil {
			return err
		}
		s.checkQuota(limits, stats)
		return nil
	}
	limits, err := q.get(lp)
	if err != nil {
		return err
	}
	for _, k := range []string{stCount, stBytes, stCountHardLimit, stByteHardLimit} {
		if quota.get(k) > -1 {
			limits[k] = quota[k]
		}
	}
	stats, err := q.get(sp)
	if err != nil {
		return err
	}
	s.checkQuota(limits, stats)
	return q.set(lp, limits)
}

// javaSplit is path.split("/") without its leading empty element.
func javaSplit(path string) []string {
	parts := strings.Split(path, "/")
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	if len(parts) > 0 {
		parts = parts[1:]
	}
	return parts
}

// checkQuota warns (on stdout, as zkCli) when the new limits are already
// exceeded by the stats the server keeps.
func (s *Shell) checkQuota(limits, stats statsTrack) {
	lc, lb := limits.get(stCount), limits.get(stBytes)
	hc, hb := limits.get(stCountHardLimit), limits.get(stByteHardLimit)
	sc, sb := stats.get(stCount), stats.get(stBytes)
	if (lc > -1 && lc < sc) || (hc > -1 && hc < sc) {
		s.printf("[Warning]: the count quota you create is less than the existing count:%d\n", sc)
	}
	if (lb > -1 && lb < sb) || (hb > -1 && hb < sb) {
		s.printf("[Warning]: the bytes quota you create is less than the existing bytes:%d\n", sb)
	}
}

// checkIfChildQuota refuses a quota on path when a node below it has one,
// visiting the quota tree in ZKUtil.visitSubTreeDFS's order: a node, then
// its sorted children, then each child's subtree.
func (s *Shell) checkIfChildQuota(path string) error {
	q := quotaOps{s}
	root := quotaPath(path)
	if err := q.check(root); err != nil {
		return err
	}
	if _, _, err := s.conn.Get(root, false); err != nil {
		if isNoNode(err) {
			return nil
		}
		return q.wrap(err, root)
	}
	visit := func(node string) error {
		children, err := q.children(node)
		if err != nil {
			if isNoNode(err) {
				return nil
			}
			return err
		}
		for _, c := range children {
			if node != root && c == limitNode {
				return &pathErr{path + " has a child " + strings.TrimPrefix(node, quotaRoot) + " which has a quota"}
			}
		}
		return nil
	}
	if err := visit(root); err != nil {
		return err
	}
	var helper func(node string) error
	helper = func(node string) error {
		children, err := q.children(node)
		if isNoNode(err) {
			return nil
		}
		if err != nil {
			return err
		}
		sort.Strings(children)
		for _, c := range children {
			if err := visit(childPath(node, c)); err != nil {
				return err
			}
		}
		for _, c := range children {
			if err := helper(childPath(node, c)); err != nil {
				return err
			}
		}
		return nil
	}
	return helper(root)
}

// checkIfParentQuota refuses a quota on path when an ancestor has one.
func (s *Shell) checkIfParentQuota(path string) error {
	q := quotaOps{s}
	parts := javaSplit(path)
	qp := quotaRoot
	for i := 0; i < len(parts)-1; i++ {
		qp += "/" + parts[i]
		children, err := q.children(qp)
		if isNoNode(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(children) == 0 {
			return nil
		}
		for _, c := range children {
			if qp != quotaPath(path) && c == limitNode {
				return &pathErr{path + " has a parent " + strings.TrimPrefix(qp, quotaRoot) + " which has a quota"}
			}
		}
	}
	return nil
}

func (s *Shell) cmdListQuota(f *flags) error {
	if len(f.args) < 1 {
		return s.errorf("%s", f.usage)
	}
	path := f.args[0]
	q := quotaOps{s}
	s.errPrintln("absolute path is " + limitPath(path))
	limits, err := q.get(limitPath(path))
	var stats statsTrack
	if err == nil {
		stats, err = q.get(statPath(path))
	}
	switch {
	case isNoNode(err):
		s.errPrintln("quota for " + path + " does not exist.")
		return nil
	case err != nil:
		return s.quotaFailure(err)
	}
	s.printf("Output quota for %s %s\n", path, limits)
	s.printf("Output stat for %s %s\n", path, stats)
	return nil
}

func (s *Shell) cmdDelQuota(f *flags) error {
	if len(f.args) < 1 {
		return s.errorf("%s", f.usage)
	}
	path := f.args[0]
	var which []string // keys to drop; none means the whole quota
	for flag, key := range map[string]string{"n": stCount, "b": stBytes, "N": stCountHardLimit, "B": stByteHardLimit} {
		if f.has(flag) {
			which = append(which, key)
		}
	}
	err := s.delQuota(path, which)
	switch {
	case isNoNode(err):
		s.errPrintln("quota for " + path + " does not exist.")
		return nil
	case err != nil:
		return s.quotaFailure(err)
	}
	return nil
}

// delQuota is DelQuotaCommand.delQuota.
func (s *Shell) delQuota(path string, which []string) error {
	q := quotaOps{s}
	parent, lp := quotaPath(path), limitPath(path)
	st, err := q.exists(lp)
	if err != nil {
		return err
	}
	if st == nil {
		s.printf("Quota does not exist for %s\n", path)
		return nil
	}
	limits, err := q.get(lp)
	if err != nil {
		return err
	}
	if len(which) > 0 {
		for _, k := range which {
			limits[k] = -1
		}
		return q.set(lp, limits)
	}
	children, err := q.children(parent)
	if err != nil {
		return err
	}
	for _, c := range children {
		if err := q.delete(parent + "/" + c); err != nil {
			return err
		}
	}
	// Trim the now empty quota nodes upwards (trimProcQuotas).
	for p := parent; p != quotaRoot; p = p[:strings.LastIndexByte(p, '/')] {
		children, err := q.children(p)
		if err != nil {
			return err
		}
		if len(children) > 0 {
			break
		}
		if err := q.delete(p); err != nil {
			return err
		}
	}
	return nil
}

// errPrintln writes a line to the error stream without failing the
// command (zkCli's err.println followed by a normal return).
func (s *Shell) errPrintln(line string) {
	s.mu.Lock()
	fmt.Fprintln(s.err, line)
	s.mu.Unlock()
}
