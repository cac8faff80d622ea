package cli

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zkd/zkd/internal/wire"
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
	children, _, err := s.conn.Children(path, false)
	if err != nil {
		if errors.Is(err, wire.ErrNoNode) || lenient && errors.Is(err, wire.ErrNoAuth) {
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
		if st, err := s.conn.Exists(path, false); err != nil {
			return s.keeperError(err, path)
		} else if st == nil {
			return s.keeperError(wire.ErrNoNode, path)
		}
		err := s.visitDFS(path, func(p string) error { s.printf("%s\n", p); return nil })
		if err != nil {
			return s.keeperError(err, path)
		}
		return nil
	}
	children, st, err := s.conn.Children(path, f.has("w"))
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
	data, st, err := s.conn.Get(path, f.has("w"))
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
	acl := wire.OpenACLUnsafe
	if len(f.args) > 2 {
		if acl, err = parseACL(f.args[2]); err != nil {
			return s.errorf("%v", err)
		}
	}
	var flag int32
	if seq {
		flag |= wire.FlagPersistentSequential
	}
	if eph {
		flag |= wire.FlagEphemeral
	}
	var created string
	switch {
	case cont:
		created, err = s.conn.CreateContainer(path, data, acl)
	case hasTTL:
		ms, perr := strconv.ParseInt(ttlStr, 10, 64)
		if perr != nil || ms <= 0 {
			return s.errorf("ttl must be a positive number: %s", ttlStr)
		}
		ttlFlag := wire.FlagPersistentWithTTL
		if seq {
			ttlFlag = wire.FlagPersistentSequentialWithTTL
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
		if err := s.conn.Delete(order[i], -1); err != nil && !errors.Is(err, wire.ErrNoNode) {
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
	st, err := s.conn.Exists(path, f.has("w"))
	if err != nil {
		return s.keeperError(err, path)
	}
	if st == nil {
		return s.keeperError(wire.ErrNoNode, path)
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
		fmt.Fprintf(&b, "'%s,'%s\n: %s\n", a.ID.Scheme, a.ID.ID, permString(a.Perms))
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
	if err := s.conn.Sync(path); err != nil {
		if errors.Is(err, wire.ErrNoNode) {
			return s.keeperError(err, path)
		}
		return s.errorf("Sync has failed rc=%v", err)
	}
	s.printf("Sync is OK\n")
	return nil
}

func (s *Shell) cmdConfig(f *flags) error {
	const cfgPath = "/zookeeper/config"
	data, st, err := s.conn.Get(cfgPath, f.has("w"))
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

// cmdGetEphemerals lists the session's ephemeral nodes under path ("/"
// when none), in the server's order (getEphemerals, opcode 103).
func (s *Shell) cmdGetEphemerals(f *flags) error {
	path := "/"
	if len(f.args) > 0 {
		path = f.args[0]
	}
	if err := validatePath(path); err != nil {
		return s.errorf("%v", err)
	}
	list, err := s.conn.GetEphemerals(path)
	if err != nil {
		return s.keeperError(err, path)
	}
	s.printf("%s\n", formatList(list))
	return nil
}

// cmdAllChildren prints the number of path's descendants
// (getAllChildrenNumber, opcode 104).
func (s *Shell) cmdAllChildren(f *flags) error {
	path, err := f.path(0)
	if err != nil {
		return s.usageErr(f, err)
	}
	n, err := s.conn.GetAllChildrenNumber(path)
	if err != nil {
		return s.keeperError(err, path)
	}
	s.printf("%d\n", n)
	return nil
}

// cmdWhoAmI prints the identities the server holds for this connection
// (whoAmI, opcode 107).
func (s *Shell) cmdWhoAmI(*flags) error {
	infos, err := s.conn.WhoAmI()
	if err != nil {
		return s.keeperError(err, "")
	}
	var b strings.Builder
	b.WriteString("Auth scheme: User\n")
	for _, ci := range infos {
		fmt.Fprintf(&b, "%s: %s\n", ci.AuthScheme, ci.User)
	}
	s.printf("%s", b.String())
	return nil
}

// cmdAddWatch adds a persistent or persistent recursive watch (addWatch,
// opcode 106); its events are printed like every other watch's.
func (s *Shell) cmdAddWatch(f *flags) error {
	if len(f.args) != 1 {
		return s.errorf("%s", f.usage)
	}
	mode := wire.AddWatchPersistentRecursive
	if m, ok := f.values["m"]; ok {
		switch strings.ToUpper(m) {
		case "PERSISTENT":
			mode = wire.AddWatchPersistent
		case "PERSISTENT_RECURSIVE":
		default:
			return s.errorf("%s", f.usage)
		}
	}
	path := f.args[0]
	if err := validatePath(path); err != nil {
		return s.errorf("%v", err)
	}
	if err := s.conn.AddWatch(path, mode); err != nil {
		return s.keeperError(err, path)
	}
	return nil
}

// cmdRemoveWatches removes watches on path (removeWatches, opcode 18):
// -c child, -d data, -a (default) any; -l also when the server cannot be
// reached.
func (s *Shell) cmdRemoveWatches(f *flags) error {
	if len(f.args) < 1 {
		return s.errorf("%s", f.usage)
	}
	wtype := wire.WatcherAny
	switch {
	case f.has("c"):
		wtype = wire.WatcherChildren
	case f.has("d"):
		wtype = wire.WatcherData
	}
	path := f.args[0]
	if err := validatePath(path); err != nil {
		return s.errorf("%v", err)
	}
	if err := s.conn.RemoveWatches(path, wtype, f.has("l")); err != nil {
		return s.keeperError(err, path)
	}
	return nil
}
