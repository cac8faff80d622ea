// Package cli is a ZooKeeper shell compatible with zkCli.sh: it parses
// zkCli.sh commands, runs them against a go-zookeeper session and prints
// their results in zkCli.sh's formats. It needs no terminal; the
// interactive line editor lives in interactive.go.
package cli

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// Options configure a Shell.
type Options struct {
	Server  string        // host:port[,host:port...]
	Timeout time.Duration // session timeout; 30s when zero
	Out     io.Writer     // command output
	Err     io.Writer     // error messages (zkCli prints these on stderr)
}

// Shell holds one client session and the shell's state.
type Shell struct {
	opts Options

	mu  sync.Mutex // serializes writes to Out/Err (watch events arrive concurrently)
	out io.Writer
	err io.Writer

	conn         *zk.Conn
	server       string
	printWatches bool
	history      []string
	quit         bool
}

// ErrCommand marks a command that failed; its message was already printed.
var ErrCommand = errors.New("command failed")

// New returns a shell that is not connected yet.
func New(opts Options) *Shell {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Err == nil {
		opts.Err = opts.Out
	}
	return &Shell{opts: opts, out: opts.Out, err: opts.Err, printWatches: true}
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...interface{}) {}

// Connect opens a session to server (or the configured one when empty) and
// waits until it is established or the timeout passes.
func (s *Shell) Connect(server string) error {
	if server == "" {
		server = s.opts.Server
	}
	if server == "" {
		server = "localhost:2181"
	}
	s.Close()
	hosts := strings.Split(server, ",")
	conn, events, err := zk.Connect(hosts, s.opts.Timeout,
		zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
	if err != nil {
		return err
	}
	deadline := time.NewTimer(s.opts.Timeout)
	defer deadline.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				conn.Close()
				return fmt.Errorf("connection to %s closed", server)
			}
			if ev.Type == zk.EventSession && ev.State == zk.StateHasSession {
				s.conn = conn
				s.server = server
				go s.drainSession(events)
				return nil
			}
			if ev.State == zk.StateAuthFailed || ev.State == zk.StateExpired {
				conn.Close()
				return fmt.Errorf("connect to %s: %v", server, ev.State)
			}
		case <-deadline.C:
			conn.Close()
			return fmt.Errorf("unable to connect to %s within %v", server, s.opts.Timeout)
		}
	}
}

// drainSession consumes session events so go-zookeeper never blocks.
func (s *Shell) drainSession(events <-chan zk.Event) {
	for range events {
	}
}

// Close ends the session, if any.
func (s *Shell) Close() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// Quit reports whether quit was requested.
func (s *Shell) Quit() bool { return s.quit }

// Conn returns the current session, or nil.
func (s *Shell) Conn() *zk.Conn { return s.conn }

// State is the connection state as zkCli's prompt shows it.
func (s *Shell) State() string {
	if s.conn == nil {
		return "CLOSED"
	}
	switch s.conn.State() {
	case zk.StateHasSession, zk.StateConnected:
		return "CONNECTED"
	case zk.StateConnecting:
		return "CONNECTING"
	case zk.StateDisconnected:
		return "CLOSED"
	}
	return "CONNECTING"
}

// Prompt is zkCli's prompt, e.g. "[zk: 127.0.0.1:2181(CONNECTED) 3] ".
func (s *Shell) Prompt() string {
	srv := s.server
	if srv == "" {
		srv = s.opts.Server
	}
	return fmt.Sprintf("[zk: %s(%s) %d] ", srv, s.State(), len(s.history))
}

func (s *Shell) printf(format string, a ...interface{}) {
	s.mu.Lock()
	fmt.Fprintf(s.out, format, a...)
	s.mu.Unlock()
}

func (s *Shell) errorf(format string, a ...interface{}) error {
	s.mu.Lock()
	fmt.Fprintf(s.err, format+"\n", a...)
	s.mu.Unlock()
	return ErrCommand
}

// Exec runs one command line. It returns nil on success, or ErrCommand (or
// another error) after printing the failure the way zkCli does.
func (s *Shell) Exec(line string) error {
	args := splitArgs(line)
	if len(args) == 0 {
		return nil
	}
	s.history = append(s.history, strings.TrimSpace(line))
	return s.run(args)
}

// History returns the command lines run so far, oldest first.
func (s *Shell) History() []string { return append([]string(nil), s.history...) }

type command struct {
	usage string
	run   func(s *Shell, f *flags) error
	// needConn is false for commands that work without a session.
	noConn bool
}

var commands map[string]*command

// CommandNames lists the commands, sorted (for completion and help).
func CommandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func init() {
	commands = map[string]*command{
		"ls":                   {usage: "ls [-s] [-w] [-R] path", run: (*Shell).cmdLs},
		"get":                  {usage: "get [-s] [-w] path", run: (*Shell).cmdGet},
		"set":                  {usage: "set [-s] [-v version] path data", run: (*Shell).cmdSet},
		"create":               {usage: "create [-s] [-e] [-c] [-t ttl] path [data] [acl]", run: (*Shell).cmdCreate},
		"delete":               {usage: "delete [-v version] path", run: (*Shell).cmdDelete},
		"deleteall":            {usage: "deleteall path [-b batch size]", run: (*Shell).cmdDeleteAll},
		"stat":                 {usage: "stat [-w] path", run: (*Shell).cmdStat},
		"getAcl":               {usage: "getAcl [-s] path", run: (*Shell).cmdGetACL},
		"setAcl":               {usage: "setAcl [-s] [-v version] [-R] path acl", run: (*Shell).cmdSetACL},
		"addauth":              {usage: "addauth scheme auth", run: (*Shell).cmdAddAuth},
		"sync":                 {usage: "sync path", run: (*Shell).cmdSync},
		"getEphemerals":        {usage: "getEphemerals path", run: (*Shell).cmdGetEphemerals},
		"getAllChildrenNumber": {usage: "getAllChildrenNumber path", run: (*Shell).cmdAllChildren},
		"whoami":               {usage: "whoami", run: (*Shell).cmdUnsupported},
		"config":               {usage: "config [-c] [-w] [-s]", run: (*Shell).cmdConfig},
		"addWatch":             {usage: "addWatch [-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE", run: (*Shell).cmdUnsupported},
		"removewatches":        {usage: "removewatches path [-c|-d|-a] [-l]", run: (*Shell).cmdUnsupported},
		"history":              {usage: "history", run: (*Shell).cmdHistory, noConn: true},
		"redo":                 {usage: "redo cmdno", run: (*Shell).cmdRedo, noConn: true},
		"quit":                 {usage: "quit", run: (*Shell).cmdQuit, noConn: true},
		"close":                {usage: "close", run: (*Shell).cmdClose, noConn: true},
		"connect":              {usage: "connect host:port", run: (*Shell).cmdConnect, noConn: true},
		"printwatches":         {usage: "printwatches on|off", run: (*Shell).cmdPrintWatches, noConn: true},
		"help":                 {usage: "help", run: (*Shell).cmdHelp, noConn: true},
	}
}

func (s *Shell) run(args []string) error {
	c, ok := commands[args[0]]
	if !ok {
		s.usage()
		return ErrCommand
	}
	f, err := parseFlags(args[0], args[1:])
	if err != nil {
		return s.errorf("%v\n%s", err, c.usage)
	}
	f.usage = c.usage
	if !c.noConn && (s.conn == nil || s.State() != "CONNECTED") {
		return s.errorf("Not connected")
	}
	return c.run(s, f)
}

func (s *Shell) usage() {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintln(s.err, "ZooKeeper -server host:port -client-configuration properties-file cmd args")
	for _, n := range CommandNames() {
		if n == "help" {
			continue
		}
		fmt.Fprintf(s.err, "\t%s\n", commands[n].usage)
	}
}

func (s *Shell) cmdHelp(*flags) error { s.usage(); return nil }

// ---------------------------------------------------------------------
// argument parsing

// splitArgs splits a command line on blanks, keeping single- or
// double-quoted strings together (zkCli's MyCommandOptions does the same).
func splitArgs(line string) []string {
	var (
		args  []string
		cur   strings.Builder
		quote rune
		in    bool
	)
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if in {
				args = append(args, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		args = append(args, cur.String())
	}
	return args
}

// flags is a parsed command: boolean options, valued options, positionals.
type flags struct {
	bools  map[string]bool
	values map[string]string
	args   []string
	usage  string
}

// valued lists the options that take a value, per command.
var valued = map[string]map[string]bool{
	"set":       {"v": true},
	"create":    {"t": true},
	"delete":    {"v": true},
	"setAcl":    {"v": true},
	"deleteall": {"b": true},
	"addWatch":  {"m": true},
}

func parseFlags(cmd string, in []string) (*flags, error) {
	f := &flags{bools: map[string]bool{}, values: map[string]string{}}
	for i := 0; i < len(in); i++ {
		a := in[i]
		if len(a) > 1 && a[0] == '-' && !strings.HasPrefix(a, "/") {
			name := a[1:]
			if valued[cmd][name] {
				if i+1 >= len(in) {
					return nil, fmt.Errorf("Missing argument for option: %s", name)
				}
				f.values[name] = in[i+1]
				i++
				continue
			}
			f.bools[name] = true
			continue
		}
		f.args = append(f.args, a)
	}
	return f, nil
}

func (f *flags) has(name string) bool { return f.bools[name] }

// path returns positional i, validated as a znode path.
func (f *flags) path(i int) (string, error) {
	if i >= len(f.args) {
		return "", fmt.Errorf("%s", f.usage)
	}
	p := f.args[i]
	if err := validatePath(p); err != nil {
		return "", err
	}
	return p, nil
}

func validatePath(p string) error {
	if p == "" {
		return errors.New("Path length must be > 0")
	}
	if p[0] != '/' {
		return errors.New("Path must start with / character")
	}
	if len(p) > 1 && strings.HasSuffix(p, "/") {
		return errors.New("Path must not end with / character")
	}
	if strings.Contains(p, "//") {
		return errors.New("Path must not contain empty node name")
	}
	return nil
}

func (f *flags) version() (int32, error) {
	v, ok := f.values["v"]
	if !ok {
		return -1, nil
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("-v argument must be an int value")
	}
	return int32(n), nil
}

// ---------------------------------------------------------------------
// output formats

// javaDate formats epoch milliseconds like java.util.Date.toString.
func javaDate(ms int64) string {
	return time.UnixMilli(ms).Format("Mon Jan 02 15:04:05 MST 2006")
}

// FormatStat renders a Stat the way zkCli's StatPrinter does.
func FormatStat(st *zk.Stat) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cZxid = 0x%x\n", st.Czxid)
	fmt.Fprintf(&b, "ctime = %s\n", javaDate(st.Ctime))
	fmt.Fprintf(&b, "mZxid = 0x%x\n", st.Mzxid)
	fmt.Fprintf(&b, "mtime = %s\n", javaDate(st.Mtime))
	fmt.Fprintf(&b, "pZxid = 0x%x\n", st.Pzxid)
	fmt.Fprintf(&b, "cversion = %d\n", st.Cversion)
	fmt.Fprintf(&b, "dataVersion = %d\n", st.Version)
	fmt.Fprintf(&b, "aclVersion = %d\n", st.Aversion)
	fmt.Fprintf(&b, "ephemeralOwner = 0x%x\n", st.EphemeralOwner)
	fmt.Fprintf(&b, "dataLength = %d\n", st.DataLength)
	fmt.Fprintf(&b, "numChildren = %d\n", st.NumChildren)
	return b.String()
}

// permString renders ACL permissions as zkCli does ("cdrwa").
func permString(p int32) string {
	var b strings.Builder
	for _, x := range []struct {
		bit int32
		c   byte
	}{{zk.PermCreate, 'c'}, {zk.PermDelete, 'd'}, {zk.PermRead, 'r'}, {zk.PermWrite, 'w'}, {zk.PermAdmin, 'a'}} {
		if p&x.bit != 0 {
			b.WriteByte(x.c)
		}
	}
	return b.String()
}

// parsePerms is the inverse of permString.
func parsePerms(s string) (int32, error) {
	var p int32
	for _, c := range s {
		switch c {
		case 'c', 'C':
			p |= zk.PermCreate
		case 'd', 'D':
			p |= zk.PermDelete
		case 'r', 'R':
			p |= zk.PermRead
		case 'w', 'W':
			p |= zk.PermWrite
		case 'a', 'A':
			p |= zk.PermAdmin
		default:
			return 0, fmt.Errorf("Unknown perm type: %c", c)
		}
	}
	return p, nil
}

// parseACL parses zkCli's "scheme:id:perm,scheme:id:perm" syntax. The id may
// itself contain ':' (digest, ip with IPv6), so the perm is after the last
// colon and the scheme before the first.
func parseACL(s string) ([]zk.ACL, error) {
	var acls []zk.ACL
	for _, a := range strings.Split(s, ",") {
		first := strings.Index(a, ":")
		last := strings.LastIndex(a, ":")
		if first < 0 || first == last {
			return nil, fmt.Errorf("%s does not have the form scheme:id:perm", a)
		}
		perms, err := parsePerms(a[last+1:])
		if err != nil {
			return nil, err
		}
		acls = append(acls, zk.ACL{Scheme: a[:first], ID: a[first+1 : last], Perms: perms})
	}
	return acls, nil
}

// keeperError prints err in zkCli's words and returns ErrCommand.
func (s *Shell) keeperError(err error, path string) error {
	var msg string
	switch {
	case errors.Is(err, zk.ErrNoNode):
		msg = "Node does not exist: " + path
	case errors.Is(err, zk.ErrNodeExists):
		msg = "Node already exists: " + path
	case errors.Is(err, zk.ErrNoAuth):
		msg = "Insufficient permission : " + path
	case errors.Is(err, zk.ErrBadVersion):
		msg = "version No is not valid : " + path
	case errors.Is(err, zk.ErrNotEmpty):
		msg = "Node not empty: " + path
	case errors.Is(err, zk.ErrNoChildrenForEphemerals):
		msg = "Ephemerals cannot have children: " + path
	case errors.Is(err, zk.ErrInvalidACL):
		msg = "Acl is not valid : " + path
	case errors.Is(err, zk.ErrBadArguments):
		msg = "Arguments are not valid : " + path
	default:
		msg = err.Error()
	}
	return s.errorf("%s", msg)
}

// ---------------------------------------------------------------------
// watches

func (s *Shell) watch(ch <-chan zk.Event) {
	go func() {
		ev, ok := <-ch
		if !ok || !s.printWatches {
			return
		}
		s.printf("\nWATCHER::\n\n%s\n", FormatEvent(ev))
	}()
}

// FormatEvent renders a watch event like zkCli's WatchedEvent.toString.
func FormatEvent(ev zk.Event) string {
	state := "SyncConnected"
	switch ev.State {
	case zk.StateDisconnected:
		state = "Disconnected"
	case zk.StateExpired:
		state = "Expired"
	case zk.StateAuthFailed:
		state = "AuthFailed"
	}
	typ := map[zk.EventType]string{
		zk.EventNodeCreated:         "NodeCreated",
		zk.EventNodeDeleted:         "NodeDeleted",
		zk.EventNodeDataChanged:     "NodeDataChanged",
		zk.EventNodeChildrenChanged: "NodeChildrenChanged",
		zk.EventNotWatching:         "None",
		zk.EventSession:             "None",
	}[ev.Type]
	if typ == "" {
		typ = fmt.Sprint(ev.Type)
	}
	path := ev.Path
	if path == "" {
		path = "null"
	}
	return fmt.Sprintf("WatchedEvent state:%s type:%s path:%s", state, typ, path)
}
