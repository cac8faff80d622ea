package server_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/server"
	"github.com/zkd/zkd/test/harness"
)

// ensMember is one member of an in-process ensemble.
type ensMember struct {
	id   int
	srv  *server.Server
	addr string // client address
}

// startEnsemble runs an in-process ensemble of n voters on loopback with
// the AdminServer and the Prometheus exporter on ports picked at run time.
func startEnsemble(t *testing.T, n int) []*ensMember {
	t.Helper()
	checkLeaksAtEnd(t)
	lns := make([]net.Listener, n)
	var servers strings.Builder
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lns[i] = ln
		q, err := harness.FreePort()
		require.NoError(t, err)
		e, err := harness.FreePort()
		require.NoError(t, err)
		fmt.Fprintf(&servers, "server.%d=127.0.0.1:%d:%d;%s\n", i+1, q, e, ln.Addr())
	}
	ms := make([]*ensMember, n)
	for i, ln := range lns {
		srv := serveMember(t, i+1, ln, servers.String(),
			"admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=0\n"+
				"zkd.metrics.enabled=true\nmetricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort=0\n4lw.commands.whitelist=*\n")
		ms[i] = &ensMember{id: i + 1, srv: srv, addr: ln.Addr().String()}
	}
	return ms
}

// serveMember runs ensemble member id on the client listener ln, in a
// data directory of its own with its myid: tickTime 200, the servers lines
// given, and extra zoo.cfg lines. The test's cleanup stops it.
func serveMember(t *testing.T, id int, ln net.Listener, servers, extra string) *server.Server {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "myid"), []byte(fmt.Sprintf("%d\n", id)), 0o644))
	text := fmt.Sprintf("tickTime=200\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\npreAllocSize=64\n%s%s",
		dir, ln.Addr().(*net.TCPAddr).Port, extra, servers)
	cfg, err := config.Parse(strings.NewReader(text), fmt.Sprintf("zoo%d.cfg", id))
	require.NoError(t, err)
	srv, err := server.New(cfg, zap.NewNop())
	require.NoError(t, err)
	require.NoError(t, srv.Serve(ln))
	t.Cleanup(srv.Stop)
	return srv
}

var httpc = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func scrapeMember(t *testing.T, m *ensMember) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := httpc.Get("http://" + m.srv.MetricsAddr().String() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

func adminJSON(t *testing.T, m *ensMember, cmd string) map[string]any {
	t.Helper()
	resp, err := httpc.Get("http://" + m.srv.AdminAddr().String() + "/commands/" + cmd)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, cmd)
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

// value reads a gauge or counter, or a summary's count.
func value(fams map[string]*dto.MetricFamily, name string) float64 {
	f, ok := fams[name]
	if !ok || len(f.Metric) == 0 {
		return -1
	}
	m := f.Metric[0]
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Summary != nil:
		return float64(m.Summary.GetSampleCount())
	}
	return -1
}

// The ensemble-only metrics and admin commands move as the ensemble works:
// an election is timed on every member, the leader counts its proposals
// and commits and its synced followers, the admin leader and voting_view
// commands agree on who leads and who votes.
func TestEnsembleMetricsAndAdmin(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-member ensemble")
	}
	ms := startEnsemble(t, 3)
	var leader *ensMember
	require.Eventually(t, func() bool {
		for _, m := range ms {
			if value(scrapeMember(t, m), "synced_followers") == 2 {
				leader = m
				return true
			}
		}
		return false
	}, 60*time.Second, 100*time.Millisecond, "no leader with 2 synced followers")

	before := value(scrapeMember(t, leader), "proposal_count")
	c, _, err := zk.Connect([]string{leader.addr}, 4*time.Second, zk.WithLogInfo(false), zk.WithLogger(nopLogger{}))
	require.NoError(t, err)
	defer c.Close()
	const writes = 25
	for i := 0; i < writes; i++ {
		_, err := c.Create(fmt.Sprintf("/m%02d", i), []byte("v"), 0, zk.WorldACL(zk.PermAll))
		require.NoError(t, err)
	}

	lf := scrapeMember(t, leader)
	// createSession is a proposal too, so at least the writes.
	assert.GreaterOrEqual(t, value(lf, "proposal_count")-before, float64(writes))
	assert.GreaterOrEqual(t, value(lf, "commit_count"), float64(writes))
	assert.Equal(t, float64(3), value(lf, "quorum_size"))
	assert.Equal(t, float64(2), value(lf, "learners"))
	assert.GreaterOrEqual(t, value(lf, "fsynctime"), float64(writes), "the leader fsyncs every proposal batch")
	for _, m := range ms {
		fams := scrapeMember(t, m)
		assert.GreaterOrEqual(t, value(fams, "election_time"), float64(1), "member %d timed no election", m.id)
		assert.GreaterOrEqual(t, value(fams, "znode_count"), float64(writes+5), "member %d", m.id)
		if m != leader {
			assert.GreaterOrEqual(t, value(fams, "fsynctime"), float64(1), "member %d: a follower logs proposals too", m.id)
		}

		ld := adminJSON(t, m, "leader")
		assert.Equal(t, m == leader, ld["is_leader"], "member %d", m.id)
		assert.Equal(t, float64(leader.id), ld["leader_id"], "member %d", m.id)
		assert.Equal(t, "127.0.0.1", ld["leader_ip"], "member %d", m.id)

		vv := adminJSON(t, m, "voting_view")
		view, ok := vv["current_config"].(map[string]any)
		require.True(t, ok, "voting_view: %v", vv)
		assert.Len(t, view, 3)
		for _, o := range ms {
			line, _ := view[fmt.Sprint(o.id)].(string)
			assert.Contains(t, line, "127.0.0.1:", "voting_view of member %d, entry %d", m.id, o.id)
			assert.True(t, strings.HasSuffix(line, ";"+o.addr) || strings.Contains(line, o.addr), "entry %d: %q", o.id, line)
		}
	}
}
