package config

import (
	"fmt"
	"strconv"
	"strings"
)

// keyDef describes one zoo.cfg key zkd honours.
type keyDef struct {
	// sysprop marks keys ZooKeeper reads as JVM system properties; they are
	// accepted with or without the "zookeeper." prefix.
	sysprop bool
	// set parses v into c. Errors describe the value only; the caller adds
	// file, line and key.
	set func(c *Config, v string) error
}

// FourLetterCommands lists every four-letter word ZooKeeper 3.8 knows
// (wire.md §16). "*" in 4lw.commands.whitelist enables all of them.
var FourLetterCommands = []string{
	"conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro",
	"mntr", "ruok", "srst", "srvr", "stat", "stmk", "wchc", "wchp", "wchs",
}

// keys maps the canonical spelling (without "zookeeper.") of each
// recognised key to its definition. server.N is handled separately.
var keys = map[string]keyDef{
	"tickTime":          {set: intKey(func(c *Config) *int { return &c.TickTime }, 1)},
	"initLimit":         {set: intKey(func(c *Config) *int { return &c.InitLimit }, 0)},
	"syncLimit":         {set: intKey(func(c *Config) *int { return &c.SyncLimit }, 0)},
	"dataDir":           {set: stringKey(func(c *Config) *string { return &c.DataDir })},
	"dataLogDir":        {set: stringKey(func(c *Config) *string { return &c.DataLogDir })},
	"clientPort":        {set: portKey(func(c *Config) *int { return &c.ClientPort })},
	"clientPortAddress": {set: stringKey(func(c *Config) *string { return &c.ClientPortAddress })},
	"maxClientCnxns":    {set: intKey(func(c *Config) *int { return &c.MaxClientCnxns }, 0)},
	"minSessionTimeout": {set: sessionTimeoutKey(func(c *Config) *int { return &c.MinSessionTimeout })},
	"maxSessionTimeout": {set: sessionTimeoutKey(func(c *Config) *int { return &c.MaxSessionTimeout })},
	"electionAlg": {set: func(c *Config, v string) error {
		n, err := parseInt(v)
		if err != nil {
			return err
		}
		if n != 3 {
			return fmt.Errorf("%d is not supported (only 3, fast leader election)", n)
		}
		return nil
	}},
	"quorumListenOnAllIPs": {set: boolKey(func(c *Config) *bool { return &c.QuorumListenOnAllIPs })},
	"standaloneEnabled":    {set: boolKey(func(c *Config) *bool { return &c.StandaloneEnabled })},
	"reconfigEnabled":      {set: boolKey(func(c *Config) *bool { return &c.ReconfigEnabled })},
	"peerType": {set: func(c *Config, v string) error {
		switch strings.ToLower(v) {
		case "participant", "observer":
			c.PeerType = strings.ToLower(v)
			return nil
		}
		return fmt.Errorf("%q is not a peer type (want participant or observer)", v)
	}},
	"autopurge.snapRetainCount": {set: func(c *Config, v string) error {
		n, err := parseInt(v)
		if err != nil {
			return err
		}
		c.AutopurgeSnapRetainCount = max(n, 3)
		return nil
	}},
	"autopurge.purgeInterval": {set: func(c *Config, v string) error {
		n, err := parseInt(v)
		if err != nil {
			return err
		}
		c.AutopurgePurgeInterval = max(n, 0)
		return nil
	}},
	"metricsProvider.className": {set: stringKey(func(c *Config) *string { return &c.MetricsProviderClassName })},
	"metricsProvider.httpHost":  {set: stringKey(func(c *Config) *string { return &c.MetricsHTTPHost })},
	"metricsProvider.httpPort":  {set: portKey(func(c *Config) *int { return &c.MetricsHTTPPort })},
	"zkd.metrics.enabled":       {set: boolKey(func(c *Config) *bool { return &c.MetricsEnabled })},
	"zkd.admin.pprof":           {set: boolKey(func(c *Config) *bool { return &c.AdminPprof })},
	"zkd.gc.adaptive":           {set: boolKey(func(c *Config) *bool { return &c.GCAdaptive })},
	"zkd.sysmon.awake":          {set: boolKey(func(c *Config) *bool { return &c.SysmonAwake })},

	"4lw.commands.whitelist": {sysprop: true, set: func(c *Config, v string) error {
		c.FourLetterWhitelist = parseWhitelist(v)
		return nil
	}},
	"extendedTypesEnabled":                     {sysprop: true, set: boolKey(func(c *Config) *bool { return &c.ExtendedTypesEnabled })},
	"enforceQuota":                             {sysprop: true, set: boolKey(func(c *Config) *bool { return &c.EnforceQuota })},
	"clientTcpKeepAlive":                       {sysprop: true, set: boolKey(func(c *Config) *bool { return &c.ClientTCPKeepAlive })},
	"znode.container.checkIntervalMs":          {sysprop: true, set: intKey(func(c *Config) *int { return &c.ContainerCheckIntervalMs }, 1)},
	"znode.container.maxPerMinute":             {sysprop: true, set: intKey(func(c *Config) *int { return &c.ContainerMaxPerMinute }, 1)},
	"znode.container.maxNeverUsedIntervalMs":   {sysprop: true, set: intKey(func(c *Config) *int { return &c.ContainerMaxNeverUsedIntervalMs }, 0)},
	"jute.maxbuffer":                           {sysprop: true, set: intKey(func(c *Config) *int { return &c.JuteMaxBuffer }, 1)},
	"jute.maxbuffer.extrasize":                 {sysprop: true, set: intKey(func(c *Config) *int { return &c.JuteMaxBufferExtraSize }, 0)},
	"skipACL":                                  {sysprop: true, set: yesNoKey(func(c *Config) *bool { return &c.SkipACL })},
	"forceSync":                                {sysprop: true, set: yesNoKey(func(c *Config) *bool { return &c.ForceSync })},
	"DigestAuthenticationProvider.superDigest": {sysprop: true, set: stringKey(func(c *Config) *string { return &c.SuperDigest })},
	"DigestAuthenticationProvider.enabled":     {sysprop: true, set: boolKey(func(c *Config) *bool { return &c.DigestAuthEnabled })},
	"readonlymode.enabled":                     {sysprop: true, set: boolKey(func(c *Config) *bool { return &c.ReadOnlyModeEnabled })},
	"globalOutstandingLimit":                   {sysprop: true, set: intKey(func(c *Config) *int { return &c.GlobalOutstandingLimit }, 1)},
	"snapCount": {sysprop: true, set: func(c *Config, v string) error {
		n, err := parseInt(v)
		if err != nil {
			return err
		}
		c.SnapCount = max(n, 2) // ZooKeeper raises smaller values to 2
		return nil
	}},
	"preAllocSize":             {sysprop: true, set: intKey(func(c *Config) *int { return &c.PreAllocSizeKB }, 1)},
	"fsync.warningthresholdms": {sysprop: true, set: intKey(func(c *Config) *int { return &c.FsyncWarningThresholdMs }, 0)},
	"admin.enableServer":       {sysprop: true, set: boolKey(func(c *Config) *bool { return &c.AdminEnableServer })},
	"admin.serverAddress":      {sysprop: true, set: stringKey(func(c *Config) *string { return &c.AdminServerAddress })},
	"admin.serverPort":         {sysprop: true, set: portKey(func(c *Config) *int { return &c.AdminServerPort })},
	"admin.commandURL":         {sysprop: true, set: stringKey(func(c *Config) *string { return &c.AdminCommandURL })},
	"admin.idleTimeout":        {sysprop: true, set: intKey(func(c *Config) *int { return &c.AdminIdleTimeout }, 1)},

	"zkd.log.level": {set: func(c *Config, v string) error {
		switch l := strings.ToLower(v); l {
		case "debug", "info", "warn", "error":
			c.LogLevel = l
			return nil
		}
		return fmt.Errorf("%q is not a log level (want debug, info, warn or error)", v)
	}},
	"zkd.log.format": {set: func(c *Config, v string) error {
		switch f := strings.ToLower(v); f {
		case "console", "json":
			c.LogFormat = f
			return nil
		}
		return fmt.Errorf("%q is not a log format (want console or json)", v)
	}},
}

// canonicalKey maps a key as written in the file to its entry in keys.
func canonicalKey(key string) (string, keyDef, bool) {
	if d, ok := keys[key]; ok {
		return key, d, true
	}
	if rest, ok := strings.CutPrefix(key, "zookeeper."); ok {
		if d, ok := keys[rest]; ok && d.sysprop {
			return rest, d, true
		}
	}
	return "", keyDef{}, false
}

// parseInt parses a Java int (32-bit, optional sign, decimal).
func parseInt(v string) (int, error) {
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, fmt.Errorf("%q is out of range for a 32-bit integer", v)
		}
		return 0, fmt.Errorf("%q is not an integer", v)
	}
	return int(n), nil
}

// parseBool accepts true/false in any case, like QuorumPeerConfig.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (want true or false)", v)
}

// parseYesNo accepts yes/no as ZooKeeper's string-compared switches do,
// and true/false for convenience.
func parseYesNo(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "yes", "true":
		return true, nil
	case "no", "false":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a switch (want yes or no)", v)
}

func intKey(field func(*Config) *int, minimum int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := parseInt(v)
		if err != nil {
			return err
		}
		if n < minimum {
			return fmt.Errorf("%d is below the minimum %d", n, minimum)
		}
		*field(c) = n
		return nil
	}
}

// sessionTimeoutKey accepts any integer; negative values mean "derive
// from tickTime" (ZooKeeper's -1).
func sessionTimeoutKey(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := parseInt(v)
		if err != nil {
			return err
		}
		*field(c) = max(n, -1)
		return nil
	}
}

func portKey(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := parsePort(v)
		if err != nil {
			return err
		}
		*field(c) = n
		return nil
	}
}

func stringKey(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		*field(c) = v
		return nil
	}
}

func boolKey(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := parseBool(v)
		if err != nil {
			return err
		}
		*field(c) = b
		return nil
	}
}

func yesNoKey(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := parseYesNo(v)
		if err != nil {
			return err
		}
		*field(c) = b
		return nil
	}
}

// parseWhitelist splits a 4lw.commands.whitelist value. "*" expands to
// every known command; srvr is always included.
func parseWhitelist(v string) map[string]bool {
	out := map[string]bool{"srvr": true}
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		switch item {
		case "":
		case "*":
			for _, cmd := range FourLetterCommands {
				out[cmd] = true
			}
		default:
			out[item] = true
		}
	}
	return out
}
