package servers

import (
	"bufio"
	"strings"
	"testing"
)

func TestZooCfgOfAnEnsembleListsEveryMemberOnLoopback(t *testing.T) {
	cfg := Config{
		Timing:     DebianTiming,
		DataDir:    "/tmp/x/data",
		ClientPort: 12001,
		Peers:      []Peer{{1, 12002, 12003, 12001}, {2, 12005, 12006, 12004}},
	}.ZooCfg()
	for _, want := range []string{
		"tickTime=2000\n", "initLimit=10\n", "syncLimit=5\n", "dataDir=/tmp/x/data\n", "clientPort=12001\n",
		"clientPortAddress=127.0.0.1\n", "maxClientCnxns=0\n", "admin.enableServer=false\n",
		"server.1=127.0.0.1:12002:12003;127.0.0.1:12001\n", "server.2=127.0.0.1:12005:12006;127.0.0.1:12004\n",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("zoo.cfg lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Contains(cfg, "forceSync=no") {
		t.Error("forceSync must stay on")
	}
}

func TestZooCfgOfAStandaloneServerHasNoServerLines(t *testing.T) {
	cfg := Config{Timing: DebianTiming, DataDir: "/d", ClientPort: 1}.ZooCfg()
	if strings.Contains(cfg, "server.") {
		t.Fatalf("standalone zoo.cfg has server lines:\n%s", cfg)
	}
}

func TestClasspathIsReadFromAPlainZkEnvAssignment(t *testing.T) {
	env := "ZOOMAIN=x\nCLASSPATH=\"/etc/zookeeper/conf:/usr/share/java/zookeeper.jar\"\n"
	if got := classpathFromEnv(bufio.NewScanner(strings.NewReader(env))); got != "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar" {
		t.Fatalf("classpath %q", got)
	}
	if got := classpathFromEnv(bufio.NewScanner(strings.NewReader("CLASSPATH=\"$ZOOCFGDIR:x\"\n"))); got != "" {
		t.Fatalf("a classpath with expansions was trusted: %q", got)
	}
}

func TestZooKeeperCommandIsZkServerShs(t *testing.T) {
	prog, args := ZooKeeper(ZooKeeperOptions{}).Command("/m", "/m/zoo.cfg")
	line := prog + " " + strings.Join(args, " ")
	for _, want := range []string{"-XX:+HeapDumpOnOutOfMemoryError", "-XX:OnOutOfMemoryError=kill -9 %p",
		"-Dcom.sun.management.jmxremote.local.only=true", "org.apache.zookeeper.server.quorum.QuorumPeerMain /m/zoo.cfg"} {
		if !strings.Contains(line, want) {
			t.Errorf("command lacks %q: %s", want, line)
		}
	}
	if strings.Contains(line, "-Xmx") || strings.Contains(line, "slf4j-simple") {
		t.Errorf("default command departs from zkServer.sh: %s", line)
	}
}

func TestParseModeReadsSrvr(t *testing.T) {
	if got := ParseMode("Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nMode: follower\nNode count: 5\n"); got != "follower" {
		t.Fatalf("mode %q", got)
	}
	if got := ParseMode("This ZooKeeper instance is not currently serving requests\n"); got != "" {
		t.Fatalf("mode %q of a server that does not serve", got)
	}
}
