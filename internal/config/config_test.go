package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func parse(t *testing.T, text string) *Config {
	t.Helper()
	c, err := Parse(strings.NewReader(text), "zoo.cfg")
	require.NoError(t, err)
	return c
}

func TestParseDefaults(t *testing.T) {
	c := parse(t, "dataDir=/var/lib/zk\n")
	want := &Config{
		TickTime:                        3000,
		DataDir:                         "/var/lib/zk",
		DataLogDir:                      "/var/lib/zk",
		MaxClientCnxns:                  60,
		MinSessionTimeout:               6000,
		MaxSessionTimeout:               60000,
		FourLetterWhitelist:             map[string]bool{"srvr": true},
		ContainerCheckIntervalMs:        60000,
		ContainerMaxPerMinute:           10000,
		ContainerMaxNeverUsedIntervalMs: 0,
		JuteMaxBuffer:                   0xfffff,
		JuteMaxBufferExtraSize:          0xfffff,
		DigestAuthEnabled:               true,
		GlobalOutstandingLimit:          1000,
		SnapCount:                       100000,
		PreAllocSizeKB:                  65536,
		ForceSync:                       true,
		FsyncWarningThresholdMs:         1000,
		AutopurgeSnapRetainCount:        3,
		StandaloneEnabled:               true,
		GCAdaptive:                      true,
		SysmonAwake:                     true,
		AdminEnableServer:               true,
		AdminServerAddress:              "0.0.0.0",
		AdminServerPort:                 8080,
		AdminCommandURL:                 "/commands",
		AdminIdleTimeout:                30000,
		MetricsProviderClassName:        "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider",
		MetricsHTTPHost:                 "0.0.0.0",
		MetricsHTTPPort:                 7000,
		PeerType:                        "participant",
		LogLevel:                        "info",
		LogFormat:                       "console",
		Raw:                             map[string]string{"dataDir": "/var/lib/zk"},
	}
	require.Equal(t, want, c)
	require.False(t, c.Quorum())
	require.True(t, c.FourLetterAllowed("srvr"))
	require.False(t, c.FourLetterAllowed("ruok"))
	require.False(t, c.FourLetterAllowed("isro"))
}

func TestParseAllKeys(t *testing.T) {
	text := `
# a full file
tickTime=2000
initLimit=10
syncLimit=5
dataDir=/data
dataLogDir=/log
clientPort=2181
clientPortAddress=127.0.0.1
maxClientCnxns=0
minSessionTimeout=1000
maxSessionTimeout=90000
4lw.commands.whitelist=conf, ruok ,  stat,,
extendedTypesEnabled=TRUE
znode.container.checkIntervalMs=100
znode.container.maxPerMinute=5
znode.container.maxNeverUsedIntervalMs=7
jute.maxbuffer=4096
jute.maxbuffer.extrasize=2048
skipACL=yes
DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=
DigestAuthenticationProvider.enabled=false
readonlymode.enabled=true
globalOutstandingLimit=50
snapCount=1000
preAllocSize=1024
forceSync=no
fsync.warningthresholdms=20
autopurge.snapRetainCount=5
autopurge.purgeInterval=24
standaloneEnabled=false
reconfigEnabled=true
quorumListenOnAllIPs=true
electionAlg=3
admin.enableServer=false
admin.serverAddress=127.0.0.1
admin.serverPort=9090
metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider
metricsProvider.httpHost=127.0.0.2
metricsProvider.httpPort=7001
peerType=observer
zkd.log.level=DEBUG
zkd.log.format=json
server.2=zk2:2888:3888
server.1=zk1:2888:3888;2181
server.3=zk3:2888:3888:observer
`
	c := parse(t, text)
	require.Equal(t, 2000, c.TickTime)
	require.Equal(t, 10, c.InitLimit)
	require.Equal(t, 5, c.SyncLimit)
	require.Equal(t, "/data", c.DataDir)
	require.Equal(t, "/log", c.DataLogDir)
	require.Equal(t, 2181, c.ClientPort)
	require.Equal(t, "127.0.0.1", c.ClientPortAddress)
	require.Equal(t, 0, c.MaxClientCnxns)
	require.Equal(t, 1000, c.MinSessionTimeout)
	require.Equal(t, 90000, c.MaxSessionTimeout)
	require.Equal(t, map[string]bool{"conf": true, "ruok": true, "stat": true, "srvr": true}, c.FourLetterWhitelist)
	require.True(t, c.ExtendedTypesEnabled)
	require.Equal(t, 100, c.ContainerCheckIntervalMs)
	require.Equal(t, 5, c.ContainerMaxPerMinute)
	require.Equal(t, 7, c.ContainerMaxNeverUsedIntervalMs)
	require.Equal(t, 4096, c.JuteMaxBuffer)
	require.Equal(t, 2048, c.JuteMaxBufferExtraSize)
	require.True(t, c.SkipACL)
	require.Equal(t, "super:D/InIHSb7yEEbrWz8b9l71RjZJU=", c.SuperDigest)
	require.False(t, c.DigestAuthEnabled)
	require.True(t, c.ReadOnlyModeEnabled)
	require.Equal(t, 50, c.GlobalOutstandingLimit)
	require.Equal(t, 1000, c.SnapCount)
	require.Equal(t, 1024, c.PreAllocSizeKB)
	require.False(t, c.ForceSync)
	require.Equal(t, 20, c.FsyncWarningThresholdMs)
	require.Equal(t, 5, c.AutopurgeSnapRetainCount)
	require.Equal(t, 24, c.AutopurgePurgeInterval)
	require.False(t, c.StandaloneEnabled)
	require.True(t, c.ReconfigEnabled)
	require.True(t, c.QuorumListenOnAllIPs)
	require.False(t, c.AdminEnableServer)
	require.Equal(t, "127.0.0.1", c.AdminServerAddress)
	require.Equal(t, 9090, c.AdminServerPort)
	require.Equal(t, "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider", c.MetricsProviderClassName)
	require.Equal(t, "127.0.0.2", c.MetricsHTTPHost)
	require.Equal(t, 7001, c.MetricsHTTPPort)
	require.Equal(t, "observer", c.PeerType)
	require.Equal(t, "debug", c.LogLevel)
	require.Equal(t, "json", c.LogFormat)
	require.Equal(t, []Server{
		{ID: 1, Host: "zk1", QuorumPort: 2888, ElectionPort: 3888, ClientHost: "0.0.0.0", ClientPort: 2181},
		{ID: 2, Host: "zk2", QuorumPort: 2888, ElectionPort: 3888},
		{ID: 3, Host: "zk3", QuorumPort: 2888, ElectionPort: 3888, Observer: true},
	}, c.Servers)
	require.True(t, c.Quorum())
	require.Empty(t, c.Unknown)
	require.Equal(t, "conf, ruok ,  stat,,", c.Raw["4lw.commands.whitelist"])
	require.True(t, c.FourLetterAllowed("isro"), "readonly mode enables isro")
	require.True(t, c.FourLetterAllowed("stat"))
	require.False(t, c.FourLetterAllowed("mntr"))
}

func TestParsePrefixedKeys(t *testing.T) {
	tests := []struct {
		key   string
		value string
		check func(*Config) any
		want  any
	}{
		{"extendedTypesEnabled", "true", func(c *Config) any { return c.ExtendedTypesEnabled }, true},
		{"skipACL", "yes", func(c *Config) any { return c.SkipACL }, true},
		{"jute.maxbuffer", "100", func(c *Config) any { return c.JuteMaxBuffer }, 100},
		{"jute.maxbuffer.extrasize", "5000", func(c *Config) any { return c.JuteMaxBufferExtraSize }, 5000},
		{"znode.container.checkIntervalMs", "5", func(c *Config) any { return c.ContainerCheckIntervalMs }, 5},
		{"znode.container.maxPerMinute", "6", func(c *Config) any { return c.ContainerMaxPerMinute }, 6},
		{"znode.container.maxNeverUsedIntervalMs", "7", func(c *Config) any { return c.ContainerMaxNeverUsedIntervalMs }, 7},
		{"4lw.commands.whitelist", "ruok", func(c *Config) any { return c.FourLetterAllowed("ruok") }, true},
		{"DigestAuthenticationProvider.superDigest", "super:x", func(c *Config) any { return c.SuperDigest }, "super:x"},
		{"DigestAuthenticationProvider.enabled", "false", func(c *Config) any { return c.DigestAuthEnabled }, false},
		{"readonlymode.enabled", "true", func(c *Config) any { return c.ReadOnlyModeEnabled }, true},
		{"globalOutstandingLimit", "9", func(c *Config) any { return c.GlobalOutstandingLimit }, 9},
		{"snapCount", "10", func(c *Config) any { return c.SnapCount }, 10},
		{"preAllocSize", "8", func(c *Config) any { return c.PreAllocSizeKB }, 8},
		{"forceSync", "no", func(c *Config) any { return c.ForceSync }, false},
		{"fsync.warningthresholdms", "3", func(c *Config) any { return c.FsyncWarningThresholdMs }, 3},
		{"admin.enableServer", "false", func(c *Config) any { return c.AdminEnableServer }, false},
		{"admin.serverAddress", "::1", func(c *Config) any { return c.AdminServerAddress }, "::1"},
		{"admin.serverPort", "1", func(c *Config) any { return c.AdminServerPort }, 1},
		{"admin.commandURL", "/cmds", func(c *Config) any { return c.AdminCommandURL }, "/cmds"},
		{"admin.idleTimeout", "5000", func(c *Config) any { return c.AdminIdleTimeout }, 5000},
	}
	for _, tc := range tests {
		for _, key := range []string{tc.key, "zookeeper." + tc.key} {
			t.Run(key, func(t *testing.T) {
				c := parse(t, "dataDir=/d\n"+key+"="+tc.value+"\n")
				require.Equal(t, tc.want, tc.check(c))
				require.Empty(t, c.Unknown)
				require.Equal(t, tc.value, c.Raw[key])
			})
		}
	}
}

func TestParseUnknownKeys(t *testing.T) {
	c := parse(t, strings.Join([]string{
		"dataDir=/d",
		"zookeeper.tickTime=5", // QuorumPeerConfig keys take no prefix
		"secureClientPort=2281",
		"authProvider.1=org.example.Foo",
		"secureClientPort=2282",
		"zookeeper.zookeeper.skipACL=yes",
		"zookeeper.serverX=1",
	}, "\n"))
	require.Equal(t, []string{"zookeeper.tickTime", "secureClientPort", "authProvider.1", "zookeeper.zookeeper.skipACL", "zookeeper.serverX"}, c.Unknown)
	require.Equal(t, 3000, c.TickTime)
	require.False(t, c.SkipACL)
	require.Equal(t, "2282", c.Raw["secureClientPort"])
}

func TestParseLastDuplicateWins(t *testing.T) {
	tests := []struct {
		name string
		text string
		want int
	}{
		{"same spelling", "jute.maxbuffer=10\njute.maxbuffer=20", 20},
		{"prefixed last", "jute.maxbuffer=10\nzookeeper.jute.maxbuffer=20", 20},
		{"plain last", "zookeeper.jute.maxbuffer=20\njute.maxbuffer=10", 10},
		{"earlier bad value is ignored", "jute.maxbuffer=abc\njute.maxbuffer=30", 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := parse(t, "dataDir=/d\n"+tc.text)
			require.Equal(t, tc.want, c.JuteMaxBuffer)
		})
	}
}

func TestParseDerivedValues(t *testing.T) {
	tests := []struct {
		name       string
		text       string
		min, max   int
		extra      int
		retain     int
		snap       int
		purge      int
		whitelist  []string
		notAllowed []string
	}{
		{name: "tick 2000", text: "tickTime=2000", min: 4000, max: 40000, extra: 0xfffff, retain: 3, snap: 100000},
		{name: "explicit -1", text: "tickTime=2000\nminSessionTimeout=-1\nmaxSessionTimeout=-1", min: 4000, max: 40000, extra: 0xfffff, retain: 3, snap: 100000},
		{name: "other negative means default", text: "tickTime=1000\nminSessionTimeout=-7", min: 2000, max: 20000, extra: 0xfffff, retain: 3, snap: 100000},
		{name: "only min", text: "minSessionTimeout=100", min: 100, max: 60000, extra: 0xfffff, retain: 3, snap: 100000},
		{name: "min equals max", text: "minSessionTimeout=5000\nmaxSessionTimeout=5000", min: 5000, max: 5000, extra: 0xfffff, retain: 3, snap: 100000},
		{name: "extrasize follows maxbuffer", text: "jute.maxbuffer=4000", min: 6000, max: 60000, extra: 4000, retain: 3, snap: 100000},
		{name: "extrasize floor from maxbuffer", text: "jute.maxbuffer=100", min: 6000, max: 60000, extra: 1024, retain: 3, snap: 100000},
		{name: "extrasize floor explicit", text: "jute.maxbuffer.extrasize=10", min: 6000, max: 60000, extra: 1024, retain: 3, snap: 100000},
		{name: "retain raised to 3", text: "autopurge.snapRetainCount=1", min: 6000, max: 60000, extra: 0xfffff, retain: 3, snap: 100000},
		{name: "snapCount raised to 2", text: "snapCount=1", min: 6000, max: 60000, extra: 0xfffff, retain: 3, snap: 2},
		{name: "negative purge disables", text: "autopurge.purgeInterval=-5", min: 6000, max: 60000, extra: 0xfffff, retain: 3, snap: 100000},
		{name: "star whitelist", text: "4lw.commands.whitelist=*", min: 6000, max: 60000, extra: 0xfffff, retain: 3, snap: 100000,
			whitelist: FourLetterCommands},
		{name: "star among items", text: "4lw.commands.whitelist=ruok, * ", min: 6000, max: 60000, extra: 0xfffff, retain: 3, snap: 100000,
			whitelist: FourLetterCommands},
		{name: "empty whitelist keeps srvr", text: "4lw.commands.whitelist=", min: 6000, max: 60000, extra: 0xfffff, retain: 3, snap: 100000,
			whitelist: []string{"srvr"}, notAllowed: []string{"ruok", "isro"}},
		{name: "whitelist items trimmed", text: "4lw.commands.whitelist=conf, ruok ,  stat", min: 6000, max: 60000, extra: 0xfffff, retain: 3, snap: 100000,
			whitelist: []string{"conf", "ruok", "stat", "srvr"}, notAllowed: []string{"mntr", " ruok", "isro"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := parse(t, "dataDir=/d\n"+tc.text)
			require.Equal(t, tc.min, c.MinSessionTimeout)
			require.Equal(t, tc.max, c.MaxSessionTimeout)
			require.Equal(t, tc.extra, c.JuteMaxBufferExtraSize)
			require.Equal(t, tc.retain, c.AutopurgeSnapRetainCount)
			require.Equal(t, tc.snap, c.SnapCount)
			require.Equal(t, tc.purge, c.AutopurgePurgeInterval)
			for _, cmd := range tc.whitelist {
				require.True(t, c.FourLetterAllowed(cmd), cmd)
			}
			for _, cmd := range tc.notAllowed {
				require.False(t, c.FourLetterAllowed(cmd), cmd)
			}
		})
	}
}

func TestParseSwitches(t *testing.T) {
	tests := []struct {
		text    string
		skipACL bool
		force   bool
		ext     bool
	}{
		{"skipACL=yes", true, true, false},
		{"skipACL=YES", true, true, false},
		{"skipACL=true", true, true, false},
		{"skipACL=no", false, true, false},
		{"skipACL=false", false, true, false},
		{"forceSync=no", false, false, false},
		{"forceSync=yes", false, true, false},
		{"forceSync=false", false, false, false},
		{"extendedTypesEnabled=True", false, true, true},
		{"extendedTypesEnabled=false", false, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			c := parse(t, "dataDir=/d\n"+tc.text)
			require.Equal(t, tc.skipACL, c.SkipACL)
			require.Equal(t, tc.force, c.ForceSync)
			require.Equal(t, tc.ext, c.ExtendedTypesEnabled)
		})
	}
}

func TestQuorum(t *testing.T) {
	tests := []struct {
		name string
		text string
		want bool
	}{
		{"no servers", "", false},
		{"single server is standalone", "server.1=a:1:2", false},
		{"single server standalone disabled", "server.1=a:1:2\nstandaloneEnabled=false\ninitLimit=5\nsyncLimit=2", true},
		{"participant and observer", "server.1=a:1:2\nserver.2=b:1:2:observer", false},
		{"only observer standalone disabled", "server.2=b:1:2:observer\nstandaloneEnabled=false\ninitLimit=5\nsyncLimit=2", true},
		{"two participants", "server.1=a:1:2\nserver.2=b:1:2\ninitLimit=5\nsyncLimit=2", true},
		{"duplicate sid spelled twice counts once", "server.1=a:1:2\nserver.01=b:1:2", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := parse(t, "dataDir=/d\n"+tc.text)
			require.Equal(t, tc.want, c.Quorum())
		})
	}
	c := parse(t, "dataDir=/d\nserver.1=a:1:2\nserver.01=b:1:2")
	require.Equal(t, []Server{{ID: 1, Host: "b", QuorumPort: 1, ElectionPort: 2}}, c.Servers)
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		line    int
		key     string
		wantErr string
	}{
		{"example message", "# c\ndataDir=/d\n\ntickTime=abc", 4, "tickTime", `config: zoo.cfg line 4: tickTime: "abc" is not an integer`},
		{"negative tickTime", "dataDir=/d\ntickTime=-1", 2, "tickTime", "tickTime: -1 is below the minimum 1"},
		{"zero tickTime", "dataDir=/d\ntickTime=0", 2, "tickTime", "below the minimum 1"},
		{"int overflow", "dataDir=/d\ntickTime=99999999999", 2, "tickTime", `"99999999999" is out of range`},
		{"float", "dataDir=/d\ninitLimit=1.5", 2, "initLimit", `"1.5" is not an integer`},
		{"negative maxClientCnxns", "dataDir=/d\nmaxClientCnxns=-1", 2, "maxClientCnxns", "below the minimum 0"},
		{"bad clientPort", "dataDir=/d\nclientPort=x", 2, "clientPort", `clientPort: "x" is not an integer`},
		{"clientPort out of range", "dataDir=/d\nclientPort=65536", 2, "clientPort", "65536 is not a valid port"},
		{"bad admin port prefixed", "dataDir=/d\nzookeeper.admin.serverPort=http", 2, "zookeeper.admin.serverPort", `zookeeper.admin.serverPort: "http" is not an integer`},
		{"bad metrics port", "dataDir=/d\nmetricsProvider.httpPort=-2", 2, "metricsProvider.httpPort", "not a valid port"},
		{"bad boolean", "dataDir=/d\nstandaloneEnabled=yes", 2, "standaloneEnabled", `"yes" is not a boolean`},
		{"bad sysprop boolean", "dataDir=/d\nzookeeper.extendedTypesEnabled=1", 2, "zookeeper.extendedTypesEnabled", `"1" is not a boolean`},
		{"bad reconfig boolean", "dataDir=/d\nreconfigEnabled=on", 2, "reconfigEnabled", "not a boolean"},
		{"bad skipACL", "dataDir=/d\nskipACL=maybe", 2, "skipACL", `"maybe" is not a switch`},
		{"bad forceSync", "dataDir=/d\nforceSync=", 2, "forceSync", `"" is not a switch`},
		{"bad server line", "dataDir=/d\nserver.1=a:1", 2, "server.1", "expected host:quorumPort:electionPort"},
		{"bad server id", "dataDir=/d\nserver.x=a:1:2", 2, "server.x", `server id "x" is not an integer`},
		{"bad peerType", "dataDir=/d\npeerType=leader", 2, "peerType", `"leader" is not a peer type`},
		{"bad electionAlg", "dataDir=/d\nelectionAlg=1", 2, "electionAlg", "1 is not supported"},
		{"non-numeric electionAlg", "dataDir=/d\nelectionAlg=fast", 2, "electionAlg", "not an integer"},
		{"bad snapCount", "dataDir=/d\nsnapCount=many", 2, "snapCount", "not an integer"},
		{"bad retain", "dataDir=/d\nautopurge.snapRetainCount=x", 2, "autopurge.snapRetainCount", "not an integer"},
		{"bad purge", "dataDir=/d\nautopurge.purgeInterval=x", 2, "autopurge.purgeInterval", "not an integer"},
		{"bad session timeout", "dataDir=/d\nminSessionTimeout=x", 2, "minSessionTimeout", "not an integer"},
		{"bad maxbuffer", "dataDir=/d\njute.maxbuffer=0", 2, "jute.maxbuffer", "below the minimum 1"},
		{"bad log level", "dataDir=/d\nzkd.log.level=trace", 2, "zkd.log.level", `"trace" is not a log level`},
		{"bad log format", "dataDir=/d\nzkd.log.format=xml", 2, "zkd.log.format", `"xml" is not a log format`},
		{"min greater than max", "dataDir=/d\ntickTime=2000\nminSessionTimeout=50000\nmaxSessionTimeout=10000", 4, "maxSessionTimeout",
			"config: zoo.cfg line 4: maxSessionTimeout: minSessionTimeout 50000 is larger than maxSessionTimeout 10000"},
		{"min greater than derived max", "dataDir=/d\nminSessionTimeout=70000", 2, "minSessionTimeout",
			"minSessionTimeout 70000 is larger than maxSessionTimeout 60000"},
		{"clientPortAddress without clientPort", "dataDir=/d\nclientPortAddress=127.0.0.1", 2, "clientPortAddress",
			"clientPortAddress is set but clientPort is not set"},
		{"missing dataDir", "tickTime=2000", 0, "", "config: zoo.cfg: dataDir is not set"},
		{"empty dataDir", "dataDir=", 0, "", "dataDir is not set"},
		{"quorum without initLimit", "dataDir=/d\nsyncLimit=2\nserver.1=a:1:2\nserver.2=b:1:2", 0, "", "initLimit is not set"},
		{"quorum without syncLimit", "dataDir=/d\ninitLimit=2\nserver.1=a:1:2\nserver.2=b:1:2", 0, "", "syncLimit is not set"},
		{"syntax error", "dataDir=/d\na=\\u00", 2, "", `config: zoo.cfg line 2: value of "a": malformed \uxxxx escape`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.text), "zoo.cfg")
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.wantErr)
			var ce *Error
			require.ErrorAs(t, err, &ce)
			require.Equal(t, "zoo.cfg", ce.File)
			require.Equal(t, tc.line, ce.Line)
			require.Equal(t, tc.key, ce.Key)
		})
	}
}

func TestParseMissingDataDirIs(t *testing.T) {
	_, err := Parse(strings.NewReader("clientPort=2181"), "x.cfg")
	require.ErrorIs(t, err, ErrDataDirNotSet)
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("boom") }

func TestParseReadError(t *testing.T) {
	_, err := Parse(failingReader{}, "zoo.cfg")
	require.EqualError(t, err, "config: read zoo.cfg: boom")
}

func TestParseRelativeDirs(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	c := parse(t, "dataDir=data\ndataLogDir=./logs/../txn")
	require.Equal(t, filepath.Join(wd, "data"), c.DataDir)
	require.Equal(t, filepath.Join(wd, "txn"), c.DataLogDir)
	c = parse(t, "dataDir=data")
	require.Equal(t, filepath.Join(wd, "data"), c.DataLogDir)
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "zoo.cfg")
	require.NoError(t, os.WriteFile(path, []byte("tickTime=2000\ndataDir="+dir+"\nclientPort=2181\n"), 0o600))
	c, err := Load(path)
	require.NoError(t, err)
	require.Equal(t, 2000, c.TickTime)
	require.Equal(t, dir, c.DataDir)
	require.Equal(t, 2181, c.ClientPort)

	bad := filepath.Join(dir, "bad.cfg")
	require.NoError(t, os.WriteFile(bad, []byte("dataDir=/d\nclientPort=abc\n"), 0o600))
	_, err = Load(bad)
	require.EqualError(t, err, "config: "+bad+` line 2: clientPort: "abc" is not an integer`)

	noData := filepath.Join(dir, "nodata.cfg")
	require.NoError(t, os.WriteFile(noData, []byte("clientPort=2181\n"), 0o600))
	_, err = Load(noData)
	require.ErrorIs(t, err, ErrDataDirNotSet)

	_, err = Load(filepath.Join(dir, "missing.cfg"))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, "config: open ")
}

func TestDefault(t *testing.T) {
	c := Default("/work")
	require.Equal(t, 2000, c.TickTime)
	require.Equal(t, 2181, c.ClientPort)
	require.Equal(t, "127.0.0.1", c.ClientPortAddress)
	require.Equal(t, filepath.Join("/work", "zkd-data"), c.DataDir)
	require.Equal(t, c.DataDir, c.DataLogDir)
	require.Equal(t, 4000, c.MinSessionTimeout)
	require.Equal(t, 40000, c.MaxSessionTimeout)
	require.Equal(t, 0xfffff, c.JuteMaxBufferExtraSize)
	require.False(t, c.Quorum())
	for _, cmd := range FourLetterCommands {
		require.True(t, c.FourLetterAllowed(cmd), cmd)
	}
}

func TestStringRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		cfg  *Config
	}{
		{"default", Default("/srv/zk")},
		{"parsed defaults", parse(t, "dataDir=/d")},
		{"full", parse(t, strings.Join([]string{
			"dataDir=/d/with space",
			"dataLogDir=C:\\\\logs",
			"clientPort=2181",
			"clientPortAddress=::1",
			"initLimit=10",
			"syncLimit=5",
			"skipACL=yes",
			"forceSync=no",
			"DigestAuthenticationProvider.superDigest=super:abc=",
			"4lw.commands.whitelist=ruok,stat",
			"server.1=a:1:2;2181",
			"server.2=[::1]:3:4:observer",
			"server.3=c:5:6",
			"weird\\ key\\=x=  leading spaces",
			"authProvider.1=x",
		}, "\n"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := tc.cfg.String()
			again := parse(t, text)
			again.Raw = tc.cfg.Raw
			require.Equal(t, tc.cfg.Unknown, again.Unknown)
			if len(tc.cfg.Unknown) == 0 {
				again.Unknown = tc.cfg.Unknown
			}
			require.Equal(t, tc.cfg, again, text)
		})
	}
	c := parse(t, "dataDir=/d\nweird\\ key\\=x=  leading spaces")
	require.Equal(t, "leading spaces", c.Raw["weird key=x"])
}
