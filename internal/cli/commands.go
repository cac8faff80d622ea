package cli

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

func childPath(parent, child string) string {
	if parent == "/" {
		return "/" + child
	}
	return parent + "/" + child
}

func formatList(items []string) string {
	return "[" + strings.Join(items, ", ") + "]"
}

// usageErr prints the command's usage (zkCli does this on bad arguments).
func (s *Shell) usageErr(f *flags, err error) error {
	if err != nil && err.Error() != f.usage {
		return s.errorf("%v", err)
	}
	return s.errorf("%s", f.usage)
}

// visitDFS calls fn for path and every descendant, parents first, children
// in sorted order (ZKUtil.visitSubTreeDFS).
func (s *Shell) visitDFS(path string, fn func(p string) error) error {
	return s.walk(path, false, fn)
}

// walk is visitDFS; lenient skips subtrees this session may not list.
func (s *Shell) walk(path string, lenient bool, fn func(p string) error) error {
	if err := fn(path); err != nil {
		return err
	}
	children, _, err := s.conn.Children(path)
	if err != nil {
		if errors.Is(err, zk.ErrNoNode) || lenient && errors.Is(err, zk.ErrNoAuth) {
			return nil
		}
		return err
	}
	sort.Strings(children)
	for _, c := range children {
		if err := s.walk(childPath(path, c), lenient, fn); err != nil {
			return err
		}
	}
	return nil
}

func (s *Shell) cmdLs(f *flags) error {
	path, err := f.path(0)
	if err != nil {
		return s.usageErr(f, err)
	}
	if f.has("R") {
		// Check the root exists, so a missing node is an error.
		if ok, _, err := s.conn.Exists(path); err != nil {
			return s.keeperError(err, path)
		} else if !ok {
			return s.keeperError(zk.ErrNoNode, path)
		}
		err := s.visitDFS(path, func(p string) error { s.printf("%s\n", p); return nil })
		if err != nil {
			return s.keeperError(err, path)
		}
		return nil
	}
	var (
		children []string
		st       *zk.Stat
	)
	if f.has("w") {
		var ch <-chan zk.Event
		children, st, ch, err = s.conn.ChildrenW(path)
		if err == nil {
			s.watch(ch)
		}
	} else {
		children, st, err = s.conn.Children(path)
	}
	if err != nil {
		return s.keeperError(err, path)
	}
	sort.Strings(children)
	out := formatList(children) + "\n"
	if f.has("s") {
		out += FormatStat(st)
	}
	s.printf("%s", out)
	return nil
}

func (s *Shell) cmdGet(f *flags) error {
	path, err := f.path(0)
	if err != nil {
		return s.usageErr(f, err)
	}
	var (
		data []byte
		st   *zk.Stat
	)
	if f.has("w") {
		var ch <-chan zk.Event
		data, st, ch, err = s.conn.GetW(path)
		if err == nil {
			s.watch(ch)
		}
	} else {
		data, st, err = s.conn.Get(path)
	}
	if err != nil {
		return s.keeperError(err, path)
	}
	out := "null"
	if data != nil {
		out = string(data)
	}
	out += "\n"
	if f.has("s") {
		out += FormatStat(st)
	}
	s.printf("%s", out)
	return nil
}

func (s *Shell) cmdSet(f *flags) error {
	path, err := f.path(0)
	if err != nil || len(f.args) < 2 {
		return s.usageErr(f, err)
	}
	v, err := f.version()
	if err != nil {
		return s.errorf("%v", err)
	}
	st, err := s.conn.Set(path, []byte(f.args[1]), v)
	if err != nil {
		return s.keeperError(err, path)
	}
	if f.has("s") {
		s.printf("%s", FormatStat(st))
	}
	return nil
}

func (s *Shell) cmdCreate(f *flags) error {
	path, err := f.path(0)
	if err != nil {
		return s.usageErr(f, err)
	}
	seq, eph, cont := f.has("s"), f.has("e"), f.has("c")
	ttlStr, hasTTL := f.values["t"]
	if eph && cont {
		return s.errorf("-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.")
	}
	if cont && seq {
		return s.errorf("-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.")
	}
	if hasTTL && (eph || cont) {
		return s.errorf("TTLs cannot be used with Ephemeral or Container nodes.")
	}
	var data []byte
	if len(f.args) > 1 {
		data = []byte(f.args[1])
	}
	acl := zk.WorldACL(zk.PermAll)
	if len(f.args) > 2 {
		if acl, err = parseACL(f.args[2]); err != nil {
			return s.errorf("%v", err)
		}
	}
	var flag int32
	if seq {
		flag |= zk.FlagSequence
	}
	if eph {
		flag |= zk.FlagEphemeral
	}
	var created string
	switch {
	case cont:
		created, err = s.conn.CreateContainer(path, data, zk.FlagContainer, acl)
	case hasTTL:
		ms, perr := strconv.ParseInt(ttlStr, 10, 64)
		if perr != nil || ms <= 0 {
			return s.errorf("ttl must be a positive number: %s", ttlStr)
		}
		ttlFlag := int32(zk.FlagTTL)
		if seq {
			ttlFlag = zk.FlagPersistentSequentialWithTTL
		}
		created, err = s.conn.CreateTTL(path, data, ttlFlag, acl, time.Duration(ms)*time.Millisecond)
	default:
		created, err = s.conn.Create(path, data, flag, acl)
	}
	if err != nil {
		return s.keeperError(err, path)
	}
	// zkCli prints this on stderr.
	s.mu.Lock()
	fmt.Fprintf(s.err, "Created %s\n", created)
	s.mu.Unlock()
	return nil
}

func (s *Shell) cmdDelete(f *flags) error {
	path, err := f.path(0)
	if err != nil {
		return s.usageErr(f, err)
	}
	v, err := f.version()
	if err != nil {
		return s.errorf("%v", err)
	}
	if err := s.conn.Delete(path, v); err != nil {
		return s.keeperError(err, path)
	}
	return nil
}

func (s *Shell) cmdDeleteAll(f *flags) error {
	path, err := f.path(0)
	if err != nil {
		return s.usageErr(f, err)
	}
	if path == "/" {
		return s.errorf("Path must not be /")
	}
	var order []string
	err = s.visitDFS(path, func(p string) error { order = append(order, p); return nil })
	if err != nil {
		return s.keeperError(err, path)
	}
	for i := len(order) - 1; i >= 0; i-- {
		if err := s.conn.Delete(order[i], -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return s.keeperError(err, order[i])
		} else if err != nil && i == 0 {
			return s.keeperError(err, path)
		}
	}
	return nil
}

func (s *Shell) cmdStat(f *flags) error {
	path, err := f.path(0)
	if err != nil {
		return s.usageErr(f, err)
	}
	var (
		ok bool
		st *zk.Stat
	)
	if f.has("w") {
		var ch <-chan zk.Event
		ok, st, ch, err = s.conn.ExistsW(path)
		if err == nil {
			s.watch(ch)
		}
	} else {
		ok, st, err = s.conn.Exists(path)
	}
	if err != nil {
		return s.keeperError(err, path)
	}
	if !ok {
		return s.keeperError(zk.ErrNoNode, path)
	}
	s.printf("%s", FormatStat(st))
	return nil
}

func (s *Shell) cmdGetACL(f *flags) error {
	path, err := f.path(0)
	if err != nil {
		return s.usageErr(f, err)
	}
	acls, st, err := s.conn.GetACL(path)
	if err != nil {
		return s.keeperError(err, path)
	}
	var b strings.Builder
	for _, a := range acls {
		fmt.Fprintf(&b, "'%s,'%s\n: %s\n", a.Scheme, a.ID, permString(a.Perms))
	}
	if f.has("s") {
		b.WriteString(FormatStat(st))
	}
	s.printf("%s", b.String())
	return nil
}

func (s *Shell) cmdSetACL(f *flags) error {
	path, err := f.path(0)
	if err != nil || len(f.args) < 2 {
		return s.usageErr(f, err)
	}
	acl, err := parseACL(f.args[1])
	if err != nil {
		return s.errorf("%v", err)
	}
	v, err := f.version()
	if err != nil {
		return s.errorf("%v", err)
	}
	if f.has("R") {
		failed := ""
		err := s.visitDFS(path, func(p string) error {
			_, err := s.conn.SetACL(p, acl, -1)
			if err != nil {
				failed = p
			}
			return err
		})
		if err != nil {
			if failed == "" {
				failed = path
			}
			return s.keeperError(err, failed)
		}
		return nil
	}
	st, err := s.conn.SetACL(path, acl, v)
	if err != nil {
		return s.keeperError(err, path)
	}
	if f.has("s") {
		s.printf("%s", FormatStat(st))
	}
	return nil
}

func (s *Shell) cmdAddAuth(f *flags) error {
	if len(f.args) < 1 {
		return s.usageErr(f, nil)
	}
	var auth []byte
	if len(f.args) > 1 {
		auth = []byte(f.args[1])
	}
	if err := s.conn.AddAuth(f.args[0], auth); err != nil {
		return s.errorf("%v", err)
	}
	return nil
}

func (s *Shell) cmdSync(f *flags) error {
	path, err := f.path(0)
	if err != nil {
		return s.usageErr(f, err)
	}
	if _, err := s.conn.Sync(path); err != nil {
		if errors.Is(err, zk.ErrNoNode) {
			return s.keeperError(err, path)
		}
		return s.errorf("Sync has failed rc=%v", err)
	}
	s.printf("Sync is OK\n")
	return nil
}

// cmdGetEphemerals lists this session's ephemeral nodes under path. The
// getEphemerals request is not spoken by go-zookeeper, so the shell walks
// the tree and picks the nodes whose ephemeralOwner is this session; the
// result is the same for nodes the session can read.
func (s *Shell) cmdGetEphemerals(f *flags) error {
	path := "/"
	if len(f.args) > 0 {
		var err error
		if path, err = f.path(0); err != nil {
			return s.usageErr(f, err)
		}
	}
	sid := s.conn.SessionID()
	var found []string
	err := s.walk(path, true, func(p string) error {
		ok, st, err := s.conn.Exists(p)
		if err != nil {
			return err
		}
		if ok && st.EphemeralOwner == sid {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		return s.keeperError(err, path)
	}
	sort.Strings(found)
	s.printf("%s\n", formatList(found))
	return nil
}

// cmdAllChildren counts path's descendants by walking the tree (the
// getAllChildrenNumber request is not spoken by go-zookeeper).
func (s *Shell) cmdAllChildren(f *flags) error {
	path, err := f.path(0)
	if err != nil {
		return s.usageErr(f, err)
	}
	if ok, _, err := s.conn.Exists(path); err != nil {
		return s.keeperError(err, path)
	} else if !ok {
		return s.keeperError(zk.ErrNoNode, path)
	}
	n := -1 // the node itself is not counted
	err = s.walk(path, true, func(string) error { n++; return nil })
	if err != nil {
		return s.keeperError(err, path)
	}
	s.printf("%d\n", n)
	return nil
}

func (s *Shell) cmdConfig(f *flags) error {
	const cfgPath = "/zookeeper/config"
	var (
		data []byte
		st   *zk.Stat
		err  error
	)
	if f.has("w") {
		var ch <-chan zk.Event
		data, st, ch, err = s.conn.GetW(cfgPath)
		if err == nil {
			s.watch(ch)
		}
	} else {
		data, st, err = s.conn.Get(cfgPath)
	}
	if err != nil {
		return s.keeperError(err, cfgPath)
	}
	cfg := string(data)
	if f.has("c") {
		cfg = clientConfig(cfg)
	}
	out := cfg + "\n"
	if f.has("s") {
		out += FormatStat(st)
	}
	s.printf("%s", out)
	return nil
}

// clientConfig renders a dynamic config as "host:port,host:port version"
// (ConfigUtils.getClientConfigStr).
func clientConfig(cfg string) string {
	var hosts []string
	version := ""
	for _, line := range strings.Split(cfg, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		if k == "version" {
			version = v
			continue
		}
		if !strings.HasPrefix(k, "server.") {
			continue
		}
		if _, client, ok := strings.Cut(v, ";"); ok {
			if !strings.Contains(client, ":") {
				client = "0.0.0.0:" + client
			}
			hosts = append(hosts, client)
		}
	}
	return version + " " + strings.Join(hosts, ",")
}

func (s *Shell) cmdUnsupported(f *flags) error {
	name := strings.Fields(f.usage)[0]
	return s.errorf("%s: not supported by this client (go-zookeeper does not implement the request)", name)
}

func (s *Shell) cmdHistory(*flags) error {
	n := len(s.history)
	for i := n - 11; i < n; i++ {
		if i < 0 {
			continue
		}
		s.printf("%d - %s\n", i, s.history[i])
	}
	return nil
}

func (s *Shell) cmdRedo(f *flags) error {
	if len(f.args) < 1 {
		return s.usageErr(f, nil)
	}
	i, err := strconv.Atoi(f.args[0])
	// The redo line itself is the last history entry.
	if err != nil || i < 0 || i >= len(s.history)-1 {
		return s.errorf("Command index out of range")
	}
	line := s.history[i]
	args := splitArgs(line)
	if len(args) > 0 && args[0] == "redo" {
		return s.errorf("No redoing redos")
	}
	s.history[len(s.history)-1] = line
	return s.run(args)
}

func (s *Shell) cmdQuit(*flags) error {
	s.Close()
	s.quit = true
	return nil
}

func (s *Shell) cmdClose(*flags) error {
	s.Close()
	return nil
}

func (s *Shell) cmdConnect(f *flags) error {
	server := s.opts.Server
	if len(f.args) > 0 {
		server = f.args[0]
	}
	if err := s.Connect(server); err != nil {
		return s.errorf("%v", err)
	}
	return nil
}

func (s *Shell) cmdPrintWatches(f *flags) error {
	if len(f.args) == 0 {
		s.printf("printwatches is %s\n", onOff(s.printWatches))
		return nil
	}
	s.printWatches = f.args[0] == "on"
	return nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
