package servers

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// Spec says how to start one kind of server on a zoo.cfg.
type Spec struct {
	// Kind is "zkd" or "zookeeper".
	Kind string
	// Heap describes the JVM heap setting for reports ("" for zkd).
	Heap string
	// Command gives the program and its arguments for a server whose
	// files go in dir and whose configuration is cfgPath.
	Command func(dir, cfgPath string) (prog string, args []string)
}

// Zkd runs `bin server --config zoo.cfg`.
func Zkd(bin string) Spec {
	return Spec{Kind: "zkd", Command: func(_, cfg string) (string, []string) {
		return bin, []string{"server", "--config", cfg}
	}}
}

// Debian's locations of the ZooKeeper scripts and jars.
const (
	JavaDir  = "/usr/share/java"
	ZkEnvSh  = "/usr/share/zookeeper/bin/zkEnv.sh"
	javaPath = "java"
)

// ZooKeeperOptions are the departures from a plain zkServer.sh start.
type ZooKeeperOptions struct {
	// Xmx, when set, adds -Xmx (zkServer.sh sets none: the JVM default of
	// a quarter of RAM applies).
	Xmx string
	// Log puts slf4j-simple on the class path so the server logs to its
	// output. zkServer.sh's class path has no slf4j binding, so Debian's
	// ZooKeeper logs nothing (slf4j's no-op logger); logging costs time,
	// so leave this off when measuring.
	Log bool
}

// ZooKeeper starts Apache ZooKeeper the way Debian's
// `zkServer.sh start-foreground` does (see its print-cmd): the class path
// from zkEnv.sh (/etc/zookeeper/conf and zookeeper.jar, whose manifest
// names the other jars), the OOM flags zkServer.sh always passes, local
// JMX (JMXLOCALONLY=true in zkEnv.sh: no port is opened), no JVMFLAGS,
// and QuorumPeerMain, which runs standalone for a config without server.N
// lines. The log directory is the member's own.
func ZooKeeper(o ZooKeeperOptions) Spec {
	heap := "JVM default (zkServer.sh sets no -Xmx)"
	if o.Xmx != "" {
		heap = "-Xmx" + o.Xmx
	}
	cp := ZooKeeperClasspath()
	if o.Log {
		cp += ":" + filepath.Join(JavaDir, "slf4j-simple.jar")
	}
	return Spec{Kind: "zookeeper", Heap: heap, Command: func(dir, cfg string) (string, []string) {
		args := []string{
			"-Dzookeeper.log.dir=" + dir,
			"-Dzookeeper.log.file=zookeeper-server.log",
			"-XX:+HeapDumpOnOutOfMemoryError", "-XX:OnOutOfMemoryError=kill -9 %p",
			"-cp", cp,
		}
		if o.Xmx != "" {
			args = append(args, "-Xmx"+o.Xmx) // where zkServer.sh puts $JVMFLAGS
		}
		args = append(args,
			"-Dcom.sun.management.jmxremote", "-Dcom.sun.management.jmxremote.local.only=true",
			"org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg)
		return javaPath, args
	}}
}

// ZooKeeperClasspath is the CLASSPATH zkEnv.sh sets, or Debian's value
// when the file cannot be read.
func ZooKeeperClasspath() string {
	if f, err := os.Open(ZkEnvSh); err == nil {
		defer f.Close()
		if cp := classpathFromEnv(bufio.NewScanner(f)); cp != "" {
			return cp
		}
	}
	return "/etc/zookeeper/conf:" + filepath.Join(JavaDir, "zookeeper.jar")
}

// classpathFromEnv reads a plain CLASSPATH="..." assignment (Debian's
// zkEnv.sh has no expansions in it; one with $ is not trusted).
func classpathFromEnv(sc *bufio.Scanner) string {
	for sc.Scan() {
		v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "CLASSPATH=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"'`)
		if v == "" || strings.ContainsAny(v, "$`") {
			return ""
		}
		return v
	}
	return ""
}

// ZooKeeperAvailable says why Apache ZooKeeper cannot be started, or "".
func ZooKeeperAvailable() string {
	if _, err := os.Stat(filepath.Join(JavaDir, "zookeeper.jar")); err != nil {
		return "zookeeper.jar not found in " + JavaDir + " (apt-get install zookeeper)"
	}
	return ""
}
