// Package admin is zkd's AdminServer: ZooKeeper's JettyAdminServer and
// admin.Commands over net/http (wire.md §17). GET <commandURL> lists the
// commands with links; GET <commandURL>/<name> runs one and answers a
// pretty-printed JSON object holding the command's fields plus "command"
// and "error". The four-letter-word whitelist does not apply here.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// KV is one ordered key/value pair (mntr lines, conf, environment).
type KV struct {
	Key   string
	Value any
}

// ServerStats is ZooKeeper's ServerStats as Jackson renders it.
type ServerStats struct {
	PacketsSent               int64         `json:"packets_sent"`
	PacketsReceived           int64         `json:"packets_received"`
	FsyncThresholdExceedCount int64         `json:"fsync_threshold_exceed_count"`
	ClientResponseStats       ResponseStats `json:"client_response_stats"`
	DataDirSize               int64         `json:"data_dir_size"`
	LogDirSize                int64         `json:"log_dir_size"`
	LastProcessedZxid         int64         `json:"last_processed_zxid"`
	OutstandingRequests       int64         `json:"outstanding_requests"`
	ServerState               string        `json:"server_state"`
	AvgLatency                float64       `json:"avg_latency"`
	MaxLatency                int64         `json:"max_latency"`
	MinLatency                int64         `json:"min_latency"`
	NumAliveClientConnections int           `json:"num_alive_client_connections"`
	ProviderNull              bool          `json:"provider_null"`
	Uptime                    int64         `json:"uptime"`
	AuthFailedCount           int64         `json:"auth_failed_count"`
	NonMTLSRemoteConnCount    int64         `json:"non_mtlsremote_conn_count"`
	NonMTLSLocalConnCount     int64         `json:"non_mtlslocal_conn_count"`
}

// ResponseStats is BufferStats: reply sizes, -1 before the first reply.
type ResponseStats struct {
	LastBufferSize int64 `json:"last_buffer_size"`
	MinBufferSize  int64 `json:"min_buffer_size"`
	MaxBufferSize  int64 `json:"max_buffer_size"`
}

// ProposalStats is the leader's proposal size statistics.
type ProposalStats struct {
	LastBufferSize int64 `json:"last_buffer_size"`
	MinBufferSize  int64 `json:"min_buffer_size"`
	MaxBufferSize  int64 `json:"max_buffer_size"`
}

// LeaderInfo answers the leader command.
type LeaderInfo struct {
	Quorum   bool
	IsLeader bool
	LeaderID int64
	LeaderIP string
}

// ZabInfo answers the zabstate command.
type ZabInfo struct {
	Quorum          bool
	MyID            int64
	IsLeader        bool
	QuorumAddress   string
	ElectionAddress string
	Voting          bool
	ZabState        string
}

// Digest is one line of the hash command.
type Digest struct {
	Zxid          int64 `json:"zxid"`
	DigestVersion int   `json:"digest_version"`
	Digest        int64 `json:"digest"`
}

// Backend is what the AdminServer needs from the server.
type Backend interface {
	// Serving is false while the server cannot serve clients; commands
	// that need a running server then answer an error.
	Serving() bool
	// MonitorValues are the mntr keys without zk_, in mntr's order.
	MonitorValues() []KV
	AdminServerStats() (ServerStats, ResponseStats, *ProposalStats)
	NodeCount() int
	ReadOnly() bool
	// Connections lists the client connections (ServerCnxn.getConnectionInfo).
	Connections(brief bool) []map[string]any
	ResetConnectionStats()
	ResetServerStats()
	ResetObserverStats()
	Conf() []KV
	Environment() []KV
	DirSizes() (dataDir, logDir int64)
	// SessionExpiry maps expiry times (ms) to session ids; Ephemerals maps
	// session ids to their ephemeral paths.
	SessionExpiry() map[int64][]int64
	Ephemerals() map[int64][]string
	TraceMask() int64
	SetTraceMask(int64)
	Digests() []Digest
	InitialConfig() string
	// LastSnapshot is the newest snapshot's zxid and time (ms), ok false
	// when there is none (an in-memory server).
	LastSnapshot() (zxid, timestamp int64, ok bool)
	Leader() LeaderInfo
	Observers() (synced int, infos []map[string]any)
	VotingView() map[int64]string
	WatchesBySession() map[int64][]string
	WatchesByPath() map[string][]int64
	WatchSummary() (connections, paths, watches int)
	ZabState() ZabInfo
	// TakeSnapshot writes a snapshot now.
	TakeSnapshot() (zxid int64, path string, err error)
}

// Options configure the AdminServer.
type Options struct {
	// CommandURL is the command prefix (admin.commandURL, "/commands").
	CommandURL string
	// IdleTimeout is the HTTP idle timeout (admin.idleTimeout).
	IdleTimeout time.Duration
	Log         *zap.Logger
	// Pprof adds Go's profiling endpoints under /debug/pprof/.
	Pprof bool
}

type command struct {
	names []string
	// needServer commands answer an error while the server is not serving.
	needServer bool
	run        func(b Backend, args map[string]string, r response)
}

type response map[string]any

var (
	commands = map[string]*command{}
	primary  []string
)

func register(c *command) {
	for _, n := range c.names {
		commands[n] = c
	}
	primary = append(primary, c.names[0])
}

func init() {
	reg := func(names string, needServer bool, run func(Backend, map[string]string, response)) {
		register(&command{names: strings.Split(names, ","), needServer: needServer, run: run})
	}
	reg("connection_stat_reset,crst", true, func(b Backend, _ map[string]string, r response) { b.ResetConnectionStats() })
	reg("configuration,conf,config", true, func(b Backend, _ map[string]string, r response) { putAll(r, b.Conf()) })
	reg("connections,cons", true, func(b Backend, _ map[string]string, r response) {
		r["connections"] = nonNil(b.Connections(false))
		r["secure_connections"] = []any{}
	})
	reg("dirs", true, func(b Backend, _ map[string]string, r response) {
		r["datadir_size"], r["logdir_size"] = b.DirSizes()
	})
	reg("dump", true, func(b Backend, _ map[string]string, r response) {
		r["expiry_time_to_session_ids"] = b.SessionExpiry()
		r["session_id_to_ephemeral_paths"] = b.Ephemerals()
	})
	reg("environment,env,envi", false, func(b Backend, _ map[string]string, r response) { putAll(r, b.Environment()) })
	reg("get_trace_mask,gtmk", false, func(b Backend, _ map[string]string, r response) { r["tracemask"] = b.TraceMask() })
	reg("hash", true, func(b Backend, _ map[string]string, r response) {
		d := b.Digests()
		if d == nil {
			d = []Digest{}
		}
		r["digests"] = d
	})
	reg("initial_configuration,icfg", true, func(b Backend, _ map[string]string, r response) {
		r["initial_configuration"] = b.InitialConfig()
	})
	reg("is_read_only,isro", true, func(b Backend, _ map[string]string, r response) { r["read_only"] = b.ReadOnly() })
	reg("last_snapshot,lsnp", true, func(b Backend, _ map[string]string, r response) {
		zxid, ts, ok := b.LastSnapshot()
		if !ok {
			zxid, ts = -1, -1
		}
		r["zxid"] = strconv.FormatUint(uint64(zxid), 16)
		r["timestamp"] = ts
	})
	reg("leader,lead", true, func(b Backend, _ map[string]string, r response) {
		l := b.Leader()
		if !l.Quorum {
			r["error"] = "server is not initialized"
			return
		}
		r["is_leader"], r["leader_id"], r["leader_ip"] = l.IsLeader, l.LeaderID, l.LeaderIP
	})
	reg("monitor,mntr", false, func(b Backend, _ map[string]string, r response) { putAll(r, b.MonitorValues()) })
	reg("observer_connection_stat_reset,orst", true, func(b Backend, _ map[string]string, r response) { b.ResetObserverStats() })
	reg("observers,obsr", true, func(b Backend, _ map[string]string, r response) {
		n, infos := b.Observers()
		r["synced_observers"] = n
		r["observers"] = nonNil(infos)
	})
	reg("ruok", true, func(Backend, map[string]string, response) {})
	reg("set_trace_mask,stmk", false, func(b Backend, args map[string]string, r response) {
		v, ok := args["traceMask"]
		if !ok {
			r["error"] = "setTraceMask requires long traceMask argument"
			return
		}
		m, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			r["error"] = "setTraceMask requires long traceMask argument, got " + v
			return
		}
		b.SetTraceMask(m)
		r["tracemask"] = m
	})
	reg("server_stats,srvr", true, serverStats)
	reg("stats,stat", true, func(b Backend, args map[string]string, r response) {
		serverStats(b, args, r)
		r["connections"] = nonNil(b.Connections(true))
	})
	reg("stat_reset,srst", true, func(b Backend, _ map[string]string, r response) { b.ResetServerStats() })
	reg("system_properties,sysp", false, func(b Backend, _ map[string]string, r response) {
		// The JVM's system properties; zkd's nearest equivalent is its
		// environment summary (the same java.* / os.* style keys).
		putAll(r, b.Environment())
	})
	reg("voting_view", true, func(b Backend, _ map[string]string, r response) {
		v := b.VotingView()
		if v == nil {
			v = map[int64]string{}
		}
		r["current_config"] = v
	})
	reg("watches,wchc", true, func(b Backend, _ map[string]string, r response) {
		r["session_id_to_watched_paths"] = b.WatchesBySession()
	})
	reg("watches_by_path,wchp", true, func(b Backend, _ map[string]string, r response) {
		r["path_to_session_ids"] = b.WatchesByPath()
	})
	reg("watch_summary,wchs", true, func(b Backend, _ map[string]string, r response) {
		r["num_connections"], r["num_paths"], r["num_total_watches"] = b.WatchSummary()
	})
	reg("zabstate", false, func(b Backend, _ map[string]string, r response) {
		z := b.ZabState()
		if !z.Quorum {
			r["voting"], r["zabstate"] = false, ""
			return
		}
		r["myid"], r["is_leader"], r["quorum_address"], r["election_address"] = z.MyID, z.IsLeader, z.QuorumAddress, z.ElectionAddress
		r["voting"], r["zabstate"] = z.Voting, z.ZabState
	})
	reg("snapshot,snap", true, func(b Backend, _ map[string]string, r response) {
		zxid, path, err := b.TakeSnapshot()
		if err != nil {
			r["error"] = err.Error()
			return
		}
		r["last_zxid"] = zxid
		r["snapshot_file_name"] = path
	})
	sort.Strings(primary)
}

func serverStats(b Backend, _ map[string]string, r response) {
	st, cr, ps := b.AdminServerStats()
	r["version"] = versionOf(b)
	r["read_only"] = b.ReadOnly()
	r["server_stats"] = st
	r["client_response"] = cr
	if ps != nil {
		r["proposal_stats"] = *ps
	}
	r["node_count"] = b.NodeCount()
}

func versionOf(b Backend) any {
	for _, kv := range b.MonitorValues() {
		if kv.Key == "version" {
			return kv.Value
		}
	}
	return ""
}

func putAll(r response, kvs []KV) {
	for _, kv := range kvs {
		r[kv.Key] = kv.Value
	}
}

func nonNil(m []map[string]any) []map[string]any {
	if m == nil {
		return []map[string]any{}
	}
	return m
}

// Names lists every command name and alias, sorted.
func Names() []string {
	out := make([]string, 0, len(commands))
	for n := range commands {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Run runs one command and returns its response object and whether the
// command exists.
func Run(b Backend, name string, args map[string]string) (map[string]any, bool) {
	c, ok := commands[name]
	r := response{"command": name, "error": nil}
	if !ok {
		r["error"] = "Unknown command: " + name
		return r, false
	}
	if c.needServer && !b.Serving() {
		r["error"] = "This ZooKeeper instance is not currently serving requests"
		return r, true
	}
	c.run(b, args, r)
	return r, true
}

// Server is a running AdminServer.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
	once sync.Once
}

// Handler is the AdminServer's HTTP handler.
func Handler(b Backend, commandURL string) http.Handler {
	prefix := "/" + strings.Trim(commandURL, "/")
	mux := http.NewServeMux()
	list := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		var sb strings.Builder
		sb.WriteString("<h1>ZooKeeper AdminServer</h1>\n")
		for _, n := range primary {
			fmt.Fprintf(&sb, "<a href=\"%s/%s\">%s</a><br/>\n", prefix, n, n)
		}
		_, _ = w.Write([]byte(sb.String()))
	}
	mux.HandleFunc(prefix, list)
	mux.HandleFunc(prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		name := strings.Trim(strings.TrimPrefix(r.URL.Path, prefix+"/"), "/")
		if name == "" {
			list(w, r)
			return
		}
		args := map[string]string{}
		for k, v := range r.URL.Query() {
			if len(v) > 0 {
				args[k] = v[0]
			}
		}
		resp, ok := Run(b, name, args)
		body, err := json.MarshalIndent(resp, "", "  ")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if !ok {
			w.WriteHeader(http.StatusNotFound)
		}
		_, _ = w.Write(append(body, '\n'))
	})
	return mux
}

// withPprof serves net/http/pprof's endpoints under /debug/pprof/ next to
// h when on.
func withPprof(h http.Handler, on bool) http.Handler {
	if !on {
		return h
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// Start listens on addr and serves in its own goroutine until Close.
func Start(addr string, b Backend, opts Options) (*Server, error) {
	if opts.CommandURL == "" {
		opts.CommandURL = "/commands"
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 30 * time.Second
	}
	lg := opts.Log
	if lg == nil {
		lg = zap.NewNop()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listen on %s: %w", addr, err)
	}
	s := &Server{
		srv: &http.Server{
			Handler:           withPprof(Handler(b, opts.CommandURL), opts.Pprof),
			IdleTimeout:       opts.IdleTimeout,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          zap.NewStdLog(lg),
		},
		ln:   ln,
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			lg.Warn("admin server stopped", zap.Error(err))
		}
	}()
	lg.Info("admin server started", zap.Stringer("addr", ln.Addr()), zap.String("commandURL", opts.CommandURL))
	return s, nil
}

// Addr is the listening address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the server and waits for its goroutine.
func (s *Server) Close() {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			_ = s.srv.Close()
		}
		<-s.done
	})
}
