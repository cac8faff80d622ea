package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Defaults of ZooKeeper 3.8 (config.md §2) used when a key is absent.
const (
	DefaultTickTime                = 3000
	DefaultMaxClientCnxns          = 60
	DefaultContainerCheckInterval  = 60000
	DefaultContainerMaxPerMinute   = 10000
	DefaultJuteMaxBuffer           = 0xfffff
	MinJuteMaxBufferExtraSize      = 1024
	DefaultGlobalOutstandingLimit  = 1000
	DefaultSnapCount               = 100000
	DefaultPreAllocSizeKB          = 65536
	DefaultFsyncWarningThresholdMs = 1000
	DefaultAutopurgeSnapRetain     = 3
	DefaultAdminServerPort         = 8080
	DefaultMetricsHTTPPort         = 7000
	DefaultMetricsProviderClass    = "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider"
	// PrometheusMetricsProviderClass is the metricsProvider.className that
	// turns on the Prometheus exporter.
	PrometheusMetricsProviderClass = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
)

// Config is a resolved zoo.cfg: every field holds the effective value,
// defaults and derived values applied.
type Config struct {
	// TickTime is the base time unit in milliseconds.
	TickTime int
	// InitLimit and SyncLimit are in ticks; both are required in quorum mode.
	InitLimit int
	SyncLimit int
	// DataDir holds snapshots and myid; always absolute after Parse.
	DataDir string
	// DataLogDir holds transaction logs; defaults to DataDir.
	DataLogDir string
	// ClientPort is the plaintext client port; 0 means no client listener
	// from this key (a server.N ";port" may still provide one).
	ClientPort int
	// ClientPortAddress is the client bind address; "" means all interfaces.
	ClientPortAddress string
	// MaxClientCnxns limits concurrent connections per client IP; 0 is unlimited.
	MaxClientCnxns int
	// MinSessionTimeout and MaxSessionTimeout bound negotiated session
	// timeouts in milliseconds (2·tick and 20·tick unless set).
	MinSessionTimeout int
	MaxSessionTimeout int
	// FourLetterWhitelist is the set of enabled four-letter words; use
	// FourLetterAllowed rather than reading it directly.
	FourLetterWhitelist map[string]bool
	// ExtendedTypesEnabled enables TTL nodes.
	ExtendedTypesEnabled bool
	// EnforceQuota (zookeeper.enforceQuota) turns on quota checks when
	// writes are prepared: hard limits fail creates and setData with
	// QuotaExceeded, soft limits are logged. Off, ZooKeeper 3.8 checks
	// nothing and logs nothing; the stats nodes are kept up to date either way.
	EnforceQuota bool
	// ClientTCPKeepAlive (zookeeper.clientTcpKeepAlive) turns on TCP
	// keepalive on client connections; off by default, as in ZooKeeper.
	ClientTCPKeepAlive bool
	// ContainerCheckIntervalMs, ContainerMaxPerMinute and
	// ContainerMaxNeverUsedIntervalMs drive container/TTL cleanup.
	ContainerCheckIntervalMs        int
	ContainerMaxPerMinute           int
	ContainerMaxNeverUsedIntervalMs int
	// JuteMaxBuffer is the largest accepted frame / znode payload in bytes.
	JuteMaxBuffer int
	// JuteMaxBufferExtraSize is the slack for nested lengths (default
	// JuteMaxBuffer, at least 1024).
	JuteMaxBufferExtraSize int
	// SkipACL disables all ACL checks.
	SkipACL bool
	// SuperDigest is "super:<base64 sha1>" from
	// DigestAuthenticationProvider.superDigest, or "".
	SuperDigest string
	// DigestAuthEnabled keeps the digest auth provider registered.
	DigestAuthEnabled bool
	// ReadOnlyModeEnabled allows read-only mode when partitioned.
	ReadOnlyModeEnabled bool
	// GlobalOutstandingLimit is the number of outstanding requests before
	// the server stops reading client sockets.
	GlobalOutstandingLimit int
	// SnapCount is the number of transactions between snapshots.
	SnapCount int
	// PreAllocSizeKB is the txn log preallocation block in KiB.
	PreAllocSizeKB int
	// ForceSync fsyncs the txn log; false only when set to "no".
	ForceSync bool
	// FsyncWarningThresholdMs is the fsync duration that triggers a warning.
	FsyncWarningThresholdMs int
	// AutopurgeSnapRetainCount is the number of snapshots kept (at least 3).
	AutopurgeSnapRetainCount int
	// AutopurgePurgeInterval is the purge period in hours; 0 disables it.
	AutopurgePurgeInterval int
	// StandaloneEnabled lets a single server run standalone.
	StandaloneEnabled bool
	// ReconfigEnabled allows the reconfig operation.
	ReconfigEnabled bool
	// QuorumListenOnAllIPs binds quorum/election ports on all interfaces.
	QuorumListenOnAllIPs bool
	// AdminEnableServer, AdminServerAddress and AdminServerPort configure
	// the HTTP admin server.
	AdminEnableServer  bool
	AdminServerAddress string
	AdminServerPort    int
	// AdminCommandURL is the command prefix (admin.commandURL) and
	// AdminIdleTimeout the HTTP idle timeout in ms (admin.idleTimeout).
	AdminCommandURL  string
	AdminIdleTimeout int
	// MetricsProviderClassName, MetricsHTTPHost and MetricsHTTPPort
	// configure metrics export.
	MetricsProviderClassName string
	MetricsHTTPHost          string
	MetricsHTTPPort          int
	// MetricsEnabled (zkd.metrics.enabled) turns on the Prometheus
	// exporter whatever metricsProvider.className says.
	MetricsEnabled bool
	// AdminPprof (zkd.admin.pprof) serves Go's profiling endpoints under
	// /debug/pprof/ on the AdminServer port. Off by default: profiles
	// reveal internals and a CPU profile costs CPU while it runs.
	AdminPprof bool
	// GCAdaptive (zkd.gc.adaptive, default true) lets `zkd server` size the
	// garbage collector's headroom to the live heap (internal/gctune).
	GCAdaptive bool
	// SysmonAwake (zkd.sysmon.awake, default true) lets `zkd server`
	// re-execute itself so that the Go runtime's monitor thread never parks
	// (internal/sysmon).
	SysmonAwake bool
	// Servers are the server.N members, sorted by ID.
	Servers []Server
	// PeerType is "participant" or "observer".
	PeerType string
	// LogLevel (zkd.log.level) is debug, info, warn or error.
	LogLevel string
	// LogFormat (zkd.log.format) is console or json.
	LogFormat string
	// Raw holds every key exactly as written, with its last value.
	Raw map[string]string
	// Unknown lists, in file order, keys zkd does not act on. They are
	// not errors; the caller should log them.
	Unknown []string
}

// Error is a configuration problem. Line is 0 when the problem is not
// tied to one line (a missing key, say); Key is "" for syntax errors.
type Error struct {
	File string
	Line int
	Key  string
	Err  error
}

// Error formats as `config: <file> line <n>: <key>: <problem>`.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(" line ")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the underlying problem.
func (e *Error) Unwrap() error { return e.Err }

// ErrDataDirNotSet is wrapped by the error returned when dataDir is absent.
var ErrDataDirNotSet = errors.New("dataDir is not set")

// newConfig returns a Config holding the defaults, with -1 in the fields
// whose defaults depend on other keys.
func newConfig() *Config {
	return &Config{
		TickTime:                 DefaultTickTime,
		MaxClientCnxns:           DefaultMaxClientCnxns,
		MinSessionTimeout:        -1,
		MaxSessionTimeout:        -1,
		ContainerCheckIntervalMs: DefaultContainerCheckInterval,
		ContainerMaxPerMinute:    DefaultContainerMaxPerMinute,
		JuteMaxBuffer:            DefaultJuteMaxBuffer,
		JuteMaxBufferExtraSize:   -1,
		DigestAuthEnabled:        true,
		GlobalOutstandingLimit:   DefaultGlobalOutstandingLimit,
		SnapCount:                DefaultSnapCount,
		PreAllocSizeKB:           DefaultPreAllocSizeKB,
		ForceSync:                true,
		GCAdaptive:               true,
		SysmonAwake:              true,
		FsyncWarningThresholdMs:  DefaultFsyncWarningThresholdMs,
		AutopurgeSnapRetainCount: DefaultAutopurgeSnapRetain,
		StandaloneEnabled:        true,
		AdminEnableServer:        true,
		AdminServerAddress:       "0.0.0.0",
		AdminServerPort:          DefaultAdminServerPort,
		AdminCommandURL:          "/commands",
		AdminIdleTimeout:         30000,
		MetricsProviderClassName: DefaultMetricsProviderClass,
		MetricsHTTPHost:          "0.0.0.0",
		MetricsHTTPPort:          DefaultMetricsHTTPPort,
		PeerType:                 "participant",
		LogLevel:                 "info",
		LogFormat:                "console",
		Raw:                      map[string]string{},
	}
}

// resolveDerived fills the fields whose defaults depend on other fields.
func (c *Config) resolveDerived() {
	if c.MinSessionTimeout < 0 {
		c.MinSessionTimeout = 2 * c.TickTime
	}
	if c.MaxSessionTimeout < 0 {
		c.MaxSessionTimeout = 20 * c.TickTime
	}
	if c.JuteMaxBufferExtraSize < 0 {
		c.JuteMaxBufferExtraSize = c.JuteMaxBuffer
	}
	c.JuteMaxBufferExtraSize = max(c.JuteMaxBufferExtraSize, MinJuteMaxBufferExtraSize)
	if c.DataLogDir == "" {
		c.DataLogDir = c.DataDir
	}
	if c.FourLetterWhitelist == nil {
		c.FourLetterWhitelist = map[string]bool{"srvr": true}
	}
}

// Default is the configuration `zkd server` runs with when no --config is
// given: a standalone server on 127.0.0.1:2181 with data in
// <workDir>/zkd-data and tickTime 2000. Unlike ZooKeeper's default (srvr
// only) every four-letter word is enabled, since this server is local to
// the operator's machine.
func Default(workDir string) *Config {
	c := newConfig()
	c.TickTime = 2000
	c.ClientPort = 2181
	c.ClientPortAddress = "127.0.0.1"
	// A local default: the AdminServer on loopback only.
	c.AdminServerAddress = "127.0.0.1"
	c.DataDir = filepath.Join(workDir, "zkd-data")
	c.FourLetterWhitelist = parseWhitelist("*")
	c.resolveDerived()
	return c
}

// Load reads and parses the zoo.cfg at path. Errors name the path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse reads a zoo.cfg from r; name is used in error messages. dataDir is
// required; relative dataDir/dataLogDir are made absolute against the
// current working directory. In quorum mode (see Quorum) initLimit and
// syncLimit are required too.
func Parse(r io.Reader, name string) (*Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", name, err)
	}
	props, err := parseProperties(string(data))
	if err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			ce.File = name
		}
		return nil, err
	}

	c := newConfig()
	// Last occurrence of each key wins, across spellings ("zookeeper.x"
	// and "x" are the same key).
	winners := map[string]property{}
	for _, p := range props {
		p.Key = strings.TrimSpace(p.Key)
		p.Value = strings.TrimSpace(p.Value)
		if _, seen := c.Raw[p.Key]; !seen {
			if _, _, known := canonicalKey(p.Key); !known && !isServerKey(p.Key) {
				c.Unknown = append(c.Unknown, p.Key)
			}
		}
		c.Raw[p.Key] = p.Value
		canon := p.Key
		if k, _, ok := canonicalKey(p.Key); ok {
			canon = k
		}
		winners[canon] = p
	}
	ordered := make([]property, 0, len(winners))
	for _, p := range winners {
		ordered = append(ordered, p)
	}
	sort.Slice(ordered, func(i, j int) bool { return ordered[i].Line < ordered[j].Line })

	fail := func(p property, err error) error {
		return &Error{File: name, Line: p.Line, Key: p.Key, Err: err}
	}
	servers := map[int64]Server{}
	for _, p := range ordered {
		if isServerKey(p.Key) {
			s, err := ParseServer(strings.TrimPrefix(p.Key, "server."), p.Value)
			if err != nil {
				return nil, fail(p, err)
			}
			servers[s.ID] = s
			continue
		}
		_, def, ok := canonicalKey(p.Key)
		if !ok {
			continue
		}
		if err := def.set(c, p.Value); err != nil {
			return nil, fail(p, err)
		}
	}
	for _, s := range servers {
		c.Servers = append(c.Servers, s)
	}
	slices.SortFunc(c.Servers, func(a, b Server) int { return cmpInt64(a.ID, b.ID) })

	at := func(key string) property { return winners[key] }
	c.resolveDerived()
	if c.MinSessionTimeout > c.MaxSessionTimeout {
		p := at("maxSessionTimeout")
		if p.Key == "" {
			p = at("minSessionTimeout")
		}
		return nil, fail(p, fmt.Errorf("minSessionTimeout %d is larger than maxSessionTimeout %d",
			c.MinSessionTimeout, c.MaxSessionTimeout))
	}
	if c.ClientPortAddress != "" && c.ClientPort == 0 {
		return nil, fail(at("clientPortAddress"), errors.New("clientPortAddress is set but clientPort is not set"))
	}
	if c.DataDir == "" {
		return nil, &Error{File: name, Err: ErrDataDirNotSet}
	}
	if c.DataDir, err = filepath.Abs(c.DataDir); err != nil {
		return nil, fail(at("dataDir"), err)
	}
	if c.DataLogDir, err = filepath.Abs(c.DataLogDir); err != nil {
		return nil, fail(at("dataLogDir"), err)
	}
	if c.Quorum() {
		if c.InitLimit == 0 {
			return nil, &Error{File: name, Err: errors.New("initLimit is not set (required with server.N members)")}
		}
		if c.SyncLimit == 0 {
			return nil, &Error{File: name, Err: errors.New("syncLimit is not set (required with server.N members)")}
		}
	}
	return c, nil
}

func isServerKey(key string) bool { return strings.HasPrefix(key, "server.") }

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// PrometheusEnabled says whether the Prometheus exporter runs: the
// className is ZooKeeper's Prometheus provider, or zkd.metrics.enabled.
func (c *Config) PrometheusEnabled() bool {
	return c.MetricsEnabled || c.MetricsProviderClassName == PrometheusMetricsProviderClass
}

// Quorum reports whether the file describes an ensemble: more than one
// voting server, or at least one server.N with standaloneEnabled=false.
// Otherwise ZooKeeper runs it standalone (a single server.1 is ignored).
func (c *Config) Quorum() bool {
	voting := 0
	for _, s := range c.Servers {
		if !s.Observer {
			voting++
		}
	}
	return voting > 1 || (len(c.Servers) > 0 && !c.StandaloneEnabled)
}

// FourLetterAllowed reports whether the four-letter word cmd may run:
// srvr always, isro when read-only mode is enabled, otherwise as listed
// in 4lw.commands.whitelist.
func (c *Config) FourLetterAllowed(cmd string) bool {
	if cmd == "srvr" || (cmd == "isro" && c.ReadOnlyModeEnabled) {
		return true
	}
	return c.FourLetterWhitelist[cmd]
}

// String renders the effective configuration in zoo.cfg syntax, one key per
// line in a fixed order, followed by the unknown keys with their raw
// values. Parsing the result yields an equivalent Config.
func (c *Config) String() string {
	var b strings.Builder
	put := func(key string, v any) {
		b.WriteString(key)
		b.WriteByte('=')
		b.WriteString(escapeValue(fmt.Sprint(v)))
		b.WriteByte('\n')
	}
	yesNo := func(v bool) string {
		if v {
			return "yes"
		}
		return "no"
	}
	put("tickTime", c.TickTime)
	put("initLimit", c.InitLimit)
	put("syncLimit", c.SyncLimit)
	put("dataDir", c.DataDir)
	put("dataLogDir", c.DataLogDir)
	if c.ClientPort != 0 {
		put("clientPort", c.ClientPort)
		if c.ClientPortAddress != "" {
			put("clientPortAddress", c.ClientPortAddress)
		}
	}
	put("maxClientCnxns", c.MaxClientCnxns)
	put("minSessionTimeout", c.MinSessionTimeout)
	put("maxSessionTimeout", c.MaxSessionTimeout)
	wl := make([]string, 0, len(c.FourLetterWhitelist))
	for cmd, on := range c.FourLetterWhitelist {
		if on {
			wl = append(wl, cmd)
		}
	}
	sort.Strings(wl)
	put("4lw.commands.whitelist", strings.Join(wl, ","))
	put("extendedTypesEnabled", c.ExtendedTypesEnabled)
	put("enforceQuota", c.EnforceQuota)
	put("clientTcpKeepAlive", c.ClientTCPKeepAlive)
	put("znode.container.checkIntervalMs", c.ContainerCheckIntervalMs)
	put("znode.container.maxPerMinute", c.ContainerMaxPerMinute)
	put("znode.container.maxNeverUsedIntervalMs", c.ContainerMaxNeverUsedIntervalMs)
	put("jute.maxbuffer", c.JuteMaxBuffer)
	put("jute.maxbuffer.extrasize", c.JuteMaxBufferExtraSize)
	put("skipACL", yesNo(c.SkipACL))
	if c.SuperDigest != "" {
		put("DigestAuthenticationProvider.superDigest", c.SuperDigest)
	}
	put("DigestAuthenticationProvider.enabled", c.DigestAuthEnabled)
	put("readonlymode.enabled", c.ReadOnlyModeEnabled)
	put("globalOutstandingLimit", c.GlobalOutstandingLimit)
	put("snapCount", c.SnapCount)
	put("preAllocSize", c.PreAllocSizeKB)
	put("forceSync", yesNo(c.ForceSync))
	put("fsync.warningthresholdms", c.FsyncWarningThresholdMs)
	put("autopurge.snapRetainCount", c.AutopurgeSnapRetainCount)
	put("autopurge.purgeInterval", c.AutopurgePurgeInterval)
	put("standaloneEnabled", c.StandaloneEnabled)
	put("reconfigEnabled", c.ReconfigEnabled)
	put("quorumListenOnAllIPs", c.QuorumListenOnAllIPs)
	put("admin.enableServer", c.AdminEnableServer)
	put("admin.serverAddress", c.AdminServerAddress)
	put("admin.serverPort", c.AdminServerPort)
	put("admin.commandURL", c.AdminCommandURL)
	put("admin.idleTimeout", c.AdminIdleTimeout)
	put("metricsProvider.className", c.MetricsProviderClassName)
	put("metricsProvider.httpHost", c.MetricsHTTPHost)
	put("metricsProvider.httpPort", c.MetricsHTTPPort)
	if c.MetricsEnabled {
		put("zkd.metrics.enabled", c.MetricsEnabled)
	}
	if c.AdminPprof {
		put("zkd.admin.pprof", c.AdminPprof)
	}
	if !c.GCAdaptive {
		put("zkd.gc.adaptive", c.GCAdaptive)
	}
	if !c.SysmonAwake {
		put("zkd.sysmon.awake", c.SysmonAwake)
	}
	put("peerType", c.PeerType)
	put("zkd.log.level", c.LogLevel)
	put("zkd.log.format", c.LogFormat)
	for _, s := range c.Servers {
		put("server."+strconv.FormatInt(s.ID, 10), s.String())
	}
	for _, k := range c.Unknown {
		b.WriteString(escapeKey(k))
		b.WriteByte('=')
		b.WriteString(escapeValue(c.Raw[k]))
		b.WriteByte('\n')
	}
	return b.String()
}

// escapeValue escapes a value so parseProperties returns it unchanged.
func escapeValue(v string) string {
	var b strings.Builder
	for i, r := range v {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\f':
			b.WriteString(`\f`)
		case ' ':
			if i == 0 {
				b.WriteString(`\ `)
			} else {
				b.WriteRune(r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// escapeKey escapes a key so parseProperties returns it unchanged.
func escapeKey(k string) string {
	var b strings.Builder
	for _, r := range k {
		switch r {
		case '=', ':', ' ', '#', '!':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteString(escapeValue(string(r)))
		}
	}
	return b.String()
}
