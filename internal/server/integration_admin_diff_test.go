package server_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/test/harness"
)

// TestAdminDiffZooKeeper compares the JSON key sets of a few commands with
// Apache ZooKeeper 3.8's AdminServer. The Debian zookeeper classpath the
// harness uses lacks Jetty; the jetty9, servlet and jackson jars are added
// here, and the test skips when they are missing.
func TestAdminDiffZooKeeper(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a JVM")
	}
	harness.RequireOrSkip(t, harness.ZooKeeperAvailable())
	var cp []string
	for _, j := range []string{"zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-simple.jar", "netty.jar",
		"jetty9-server.jar", "jetty9-servlet.jar", "jetty9-http.jar", "jetty9-io.jar", "jetty9-util.jar", "jetty9-security.jar",
		"servlet-api.jar", "jackson-databind.jar", "jackson-core.jar", "jackson-annotations.jar"} {
		p := filepath.Join(harness.JavaDir, j)
		if _, err := os.Stat(p); err != nil {
			if j == "netty.jar" || j == "slf4j-simple.jar" {
				continue
			}
			t.Skipf("ZooKeeper's AdminServer cannot start here: %s missing", p)
		}
		cp = append(cp, p)
	}
	port, err := harness.FreePort()
	require.NoError(t, err)
	adminPort, err := harness.FreePort()
	require.NoError(t, err)
	dir := t.TempDir()
	cfg := harness.Config(filepath.Join(dir, "data"), port, fmt.Sprintf(
		"admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=%d", adminPort))
	args := []string{"-Xmx256m", "-XX:+UseSerialGC", "-Djava.net.preferIPv4Stack=true", "-cp", joinCP(cp),
		"org.apache.zookeeper.server.ZooKeeperServerMain"}
	zkp, err := harness.Launch("java", args, dir, cfg)
	require.NoError(t, err)
	t.Cleanup(zkp.Stop)
	zkBase := fmt.Sprintf("http://127.0.0.1:%d", adminPort)
	if _, err := (&http.Client{}).Get(zkBase + "/commands/ruok"); err != nil {
		t.Skipf("ZooKeeper's AdminServer did not start: %v", err)
	}

	_, base := startAdminServer(t)
	for _, cmd := range []string{"ruok", "server_stats", "watch_summary", "is_read_only", "dirs", "connections", "last_snapshot"} {
		t.Run(cmd, func(t *testing.T) {
			_, want := adminGet(t, zkBase, "/commands/"+cmd)
			_, got := adminGet(t, base, "/commands/"+cmd)
			assert.Equal(t, sortedKeys(want), sortedKeys(got))
			if sub, ok := want["server_stats"].(map[string]any); ok {
				assert.Equal(t, sortedKeys(sub), sortedKeys(got["server_stats"].(map[string]any)))
			}
		})
	}
	// monitor: ZooKeeper adds every metrics-provider summary; zkd's mntr
	// has the core set. Every zkd key must exist in ZooKeeper's.
	_, want := adminGet(t, zkBase, "/commands/monitor")
	_, got := adminGet(t, base, "/commands/monitor")
	for k := range got {
		assert.Contains(t, want, k)
	}
}

func joinCP(p []string) string {
	out := ""
	for i, s := range p {
		if i > 0 {
			out += ":"
		}
		out += s
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
