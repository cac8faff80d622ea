// Package cli is a ZooKeeper shell compatible with zkCli.sh: it parses
// zkCli.sh commands, runs them against one zkclient session and prints
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
	"unicode/utf16"

	"github.com/zkd/zkd/internal/wire"
	"github.com/zkd/zkd/internal/zkclient"
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
	// printWatches is read by the event goroutine: guarded by mu.
	printWatches bool

	conn    *zkclient.Client
	server  string
	history []string
	quit    bool
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
	first := true
	conn, err := zkclient.Connect(zkclient.Config{
		Servers:        strings.Split(server, ","),
		SessionTimeout: s.opts.Timeout,
		OnEvent: func(ev zkclient.Event) {
			// The session's first SyncConnected is zkCli's connection
			// banner, which the caller prints (or not) itself.
			if first && ev.Type == wire.EventNone && ev.State == zkclient.KeeperSyncConnected {
				first = false
				return
			}
			s.printEvent(ev)
		},
	}, s.opts.Timeout)
	if err != nil {
		return err
	}
	s.conn = conn
	s.server = server
	return nil
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
func (s *Shell) Conn() *zkclient.Client { return s.conn }

// State is the connection state as zkCli's prompt shows it
// (ZooKeeper.States: an expired session is CLOSED).
func (s *Shell) State() string {
	if s.conn == nil {
		return "CLOSED"
	}
	switch st := s.conn.State(); st {
	case zkclient.StateExpired:
		return "CLOSED"
	default:
		return st.String()
	}
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
	// noConn marks commands that work without a session.
	noConn bool
	// strict, when set, parses options as commons-cli does for zkCli
	// (unknown options and option groups are errors, with its messages);
	// commands without it take any option letter.
	strict *optionSpec
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
		"getEphemerals":        {usage: "getEphemerals path", run: (*Shell).cmdGetEphemerals, strict: &optionSpec{}},
		"getAllChildrenNumber": {usage: "getAllChildrenNumber path", run: (*Shell).cmdAllChildren, strict: &optionSpec{}},
		"whoami":               {usage: "whoami ", run: (*Shell).cmdWhoAmI, strict: &optionSpec{}},
		"config":               {usage: "config [-c] [-w] [-s]", run: (*Shell).cmdConfig},
		"addWatch":             {usage: "addWatch [-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE", run: (*Shell).cmdAddWatch, strict: addWatchOptions},
		"removewatches":        {usage: "removewatches path [-c|-d|-a] [-l]", run: (*Shell).cmdRemoveWatches, strict: removeWatchesOptions},
		"setquota":             {usage: "setquota -n|-b|-N|-B val path", run: (*Shell).cmdSetQuota, strict: setQuotaOptions},
		"listquota":            {usage: "listquota path", run: (*Shell).cmdListQuota, strict: &optionSpec{}},
		"delquota":             {usage: "delquota [-n|-b|-N|-B] path", run: (*Shell).cmdDelQuota, strict: delQuotaOptions},
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
	var (
		f   *flags
		err error
	)
	if c.strict != nil {
		f, err = c.strict.parse(args[1:])
	} else {
		f, err = parseFlags(args[0], args[1:])
	}
	if err != nil {
		if c.strict != nil {
			return s.errorf("%v", err)
		}
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
		// "\tname options", with the blank even when there are none.
		opts := strings.TrimPrefix(strings.TrimPrefix(commands[n].usage, n), " ")
		fmt.Fprintf(s.err, "\t%s %s\n", n, opts)
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

// validatePath is PathUtils.validatePath, messages included. Positions
// count UTF-16 units, as Java's chars do.
func validatePath(p string) error {
	if p == "" {
		return errors.New("Path length must be > 0")
	}
	if p[0] != '/' {
		return errors.New("Path must start with / character")
	}
	if len(p) == 1 {
		return nil
	}
	if strings.HasSuffix(p, "/") {
		return errors.New("Path must not end with / character")
	}
	chars := utf16.Encode([]rune(p))
	reason := ""
	last := uint16('/')
	for i := 1; i < len(chars); last, i = chars[i], i+1 {
		c := chars[i]
		endsName := i+1 == len(chars) || chars[i+1] == '/'
		switch {
		case c == 0:
			reason = fmt.Sprintf("null character not allowed @%d", i)
		case c == '/' && last == '/':
			reason = fmt.Sprintf("empty node name specified @%d", i)
		case c == '.' && last == '.':
			if chars[i-2] == '/' && endsName {
				reason = fmt.Sprintf("relative paths not allowed @%d", i)
			}
		case c == '.':
			if chars[i-1] == '/' && endsName {
				reason = fmt.Sprintf("relative paths not allowed @%d", i)
			}
		case c > 0 && c <= 0x1f, c >= 0x7f && c <= 0x9f, c >= 0xd800 && c <= 0xf8ff, c >= 0xfff0:
			reason = fmt.Sprintf("invalid character @%d", i)
		}
		if reason != "" {
			return fmt.Errorf("Invalid path string \"%s\" caused by %s", p, reason)
		}
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
func FormatStat(st *wire.Stat) string {
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
	}{{wire.PermCreate, 'c'}, {wire.PermDelete, 'd'}, {wire.PermRead, 'r'}, {wire.PermWrite, 'w'}, {wire.PermAdmin, 'a'}} {
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
			p |= wire.PermCreate
		case 'd', 'D':
			p |= wire.PermDelete
		case 'r', 'R':
			p |= wire.PermRead
		case 'w', 'W':
			p |= wire.PermWrite
		case 'a', 'A':
			p |= wire.PermAdmin
		default:
			return 0, fmt.Errorf("Unknown perm type: %c", c)
		}
	}
	return p, nil
}

// parseACL parses zkCli's "scheme:id:perm,scheme:id:perm" syntax. The id may
// itself contain ':' (digest, ip with IPv6), so the perm is after the last
// colon and the scheme before the first.
func parseACL(s string) ([]wire.ACL, error) {
	var acls []wire.ACL
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
		acls = append(acls, wire.ACL{ID: wire.Id{Scheme: a[:first], ID: a[first+1 : last]}, Perms: perms})
	}
	return acls, nil
}

// keeperError prints err in zkCli's words and returns ErrCommand.
func (s *Shell) keeperError(err error, path string) error {
	return s.errorf("%s", keeperMessage(err, path))
}

// keeperMessage is CliWrapperException.getMessage: a few codes have their
// own sentence, the others print as KeeperException.getMessage.
func keeperMessage(err error, path string) string {
	var code wire.Code
	if !errors.As(err, &code) {
		return err.Error()
	}
	switch code {
	case wire.ErrNoNode:
		return "Node does not exist: " + path
	case wire.ErrNoChildrenForEphemerals:
		return "Ephemerals cannot have children: " + path
	case wire.ErrNodeExists:
		return "Node already exists: " + path
	case wire.ErrNotEmpty:
		return "Node not empty: " + path
	case wire.ErrNotReadOnly:
		return "Not a read-only call: " + path
	case wire.ErrInvalidACL:
		return "Acl is not valid : " + path
	case wire.ErrNoAuth:
		return "Insufficient permission : " + path
	case wire.ErrBadArguments:
		return "Arguments are not valid : " + path
	case wire.ErrBadVersion:
		return "version No is not valid : " + path
	case wire.ErrReconfigInProgress:
		return "Another reconfiguration is in progress -- concurrent reconfigs not supported (yet)"
	case wire.ErrNewConfigNoQuorum:
		return "No quorum of new config is connected and up-to-date with the leader of last commmitted config - try invoking reconfiguration after new servers are connected and synced"
	case wire.ErrQuotaExceeded:
		return "Quota has exceeded : " + path
	}
	msg := "KeeperErrorCode = " + codeMessage(code)
	if path != "" {
		msg += " for " + path
	}
	return msg
}

// codeMessage is KeeperException.getCodeMessage.
func codeMessage(code wire.Code) string {
	switch code {
	case wire.OK:
		return "ok"
	case wire.ErrNotEmpty:
		return "Directory not empty"
	case wire.ErrSessionExpired:
		return "Session expired"
	case wire.ErrInvalidCallback:
		return "Invalid callback"
	case wire.ErrSessionMoved:
		return "Session moved"
	case wire.ErrNotReadOnly:
		return "Not a read-only call"
	case wire.ErrEphemeralOnLocalSession:
		return "Ephemeral node on local session"
	case wire.ErrNoWatcher:
		return "No such watcher"
	case wire.ErrReconfigDisabled:
		return "Reconfig is disabled"
	case wire.ErrSessionClosedRequireSASL:
		return "Session closed because client failed to authenticate"
	case wire.ErrQuotaExceeded:
		return "Quota has exceeded"
	case wire.ErrThrottledOp:
		return "Op throttled due to high load"
	case wire.ErrRequestTimeout:
		return "Unknown error REQUESTTIMEOUT" // not in Java's table
	case wire.ErrUnknownSession:
		return "Unknown error UNKNOWNSESSION"
	}
	if _, known := codeNames[code]; known {
		return code.String()
	}
	return fmt.Sprintf("Unknown error %d", int32(code))
}

// codeNames are the codes whose Java message is their name.
var codeNames = map[wire.Code]bool{
	wire.ErrSystemError: true, wire.ErrRuntimeInconsistency: true, wire.ErrDataInconsistency: true,
	wire.ErrConnectionLoss: true, wire.ErrMarshallingError: true, wire.ErrNewConfigNoQuorum: true,
	wire.ErrReconfigInProgress: true, wire.ErrUnimplemented: true, wire.ErrOperationTimeout: true,
	wire.ErrBadArguments: true, wire.ErrAPIError: true, wire.ErrNoNode: true, wire.ErrNoAuth: true,
	wire.ErrBadVersion: true, wire.ErrNoChildrenForEphemerals: true, wire.ErrNodeExists: true,
	wire.ErrInvalidACL: true, wire.ErrAuthFailed: true,
}

// ---------------------------------------------------------------------
// watches

// printEvent is zkCli's MyWatcher: every event of the session, one-shot
// or persistent, printed the same way while printwatches is on.
func (s *Shell) printEvent(ev zkclient.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.printWatches {
		fmt.Fprintf(s.out, "\nWATCHER::\n\n%s\n", ev)
	}
}
