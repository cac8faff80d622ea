package admin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fake is a Backend with fixed answers.
type fake struct {
	serving bool
	mask    int64
}

func (f *fake) Serving() bool         { return f.serving }
func (f *fake) MonitorValues() []KV   { return []KV{{"version", "v"}, {"znode_count", 5}} }
func (f *fake) NodeCount() int        { return 5 }
func (f *fake) ReadOnly() bool        { return false }
func (f *fake) ResetConnectionStats() {}
func (f *fake) ResetServerStats()     {}
func (f *fake) ResetObserverStats()   {}
func (f *fake) AdminServerStats() (ServerStats, ResponseStats, *ProposalStats) {
	return ServerStats{ServerState: "standalone"}, ResponseStats{-1, -1, -1}, nil
}
func (f *fake) Connections(bool) []map[string]any    { return nil }
func (f *fake) Conf() []KV                           { return []KV{{"client_port", 2181}} }
func (f *fake) Environment() []KV                    { return []KV{{"os.name", "Linux"}} }
func (f *fake) DirSizes() (int64, int64)             { return 1, 2 }
func (f *fake) SessionExpiry() map[int64][]int64     { return map[int64][]int64{} }
func (f *fake) Ephemerals() map[int64][]string       { return map[int64][]string{} }
func (f *fake) TraceMask() int64                     { return f.mask }
func (f *fake) SetTraceMask(m int64)                 { f.mask = m }
func (f *fake) Digests() []Digest                    { return nil }
func (f *fake) InitialConfig() string                { return "" }
func (f *fake) LastSnapshot() (int64, int64, bool)   { return 0, 0, false }
func (f *fake) Leader() LeaderInfo                   { return LeaderInfo{} }
func (f *fake) Observers() (int, []map[string]any)   { return 0, nil }
func (f *fake) VotingView() map[int64]string         { return nil }
func (f *fake) WatchesBySession() map[int64][]string { return map[int64][]string{} }
func (f *fake) WatchesByPath() map[string][]int64    { return map[string][]int64{} }
func (f *fake) WatchSummary() (int, int, int)        { return 1, 2, 3 }
func (f *fake) ZabState() ZabInfo                    { return ZabInfo{} }
func (f *fake) TakeSnapshot() (int64, string, error) { return 0, "", errors.New("no storage") }

func TestRun(t *testing.T) {
	tests := []struct {
		name    string
		serving bool
		args    map[string]string
		known   bool
		want    map[string]any
	}{
		{"ruok", true, nil, true, map[string]any{"command": "ruok", "error": nil}},
		{"ruok", false, nil, true, map[string]any{"command": "ruok", "error": "This ZooKeeper instance is not currently serving requests"}},
		{"mntr", false, nil, true, map[string]any{"command": "mntr", "error": nil, "version": "v", "znode_count": 5}},
		{"wchs", true, nil, true, map[string]any{"command": "wchs", "error": nil, "num_connections": 1, "num_paths": 2, "num_total_watches": 3}},
		{"dirs", true, nil, true, map[string]any{"command": "dirs", "error": nil, "datadir_size": int64(1), "logdir_size": int64(2)}},
		{"lsnp", true, nil, true, map[string]any{"command": "lsnp", "error": nil, "zxid": "ffffffffffffffff", "timestamp": int64(-1)}},
		{"zabstate", true, nil, true, map[string]any{"command": "zabstate", "error": nil, "voting": false, "zabstate": ""}},
		{"stmk", true, map[string]string{"traceMask": "7"}, true, map[string]any{"command": "stmk", "error": nil, "tracemask": int64(7)}},
		{"snap", true, nil, true, map[string]any{"command": "snap", "error": "no storage"}},
		{"bogus", true, nil, false, map[string]any{"command": "bogus", "error": "Unknown command: bogus"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, known := Run(&fake{serving: tc.serving}, tc.name, tc.args)
			assert.Equal(t, tc.known, known)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestStartServeClose(t *testing.T) {
	s, err := Start("127.0.0.1:0", &fake{serving: true}, Options{})
	require.NoError(t, err)
	defer s.Close()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	tests := []struct {
		path string
		code int
	}{
		{"/commands/ruok", 200},
		{"/commands/server_stats", 200},
		{"/commands/nope", 404},
		{"/commands", 200},
	}
	for _, tc := range tests {
		resp, err := c.Get("http://" + s.Addr().String() + tc.path)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, tc.code, resp.StatusCode, tc.path)
		if tc.path == "/commands/server_stats" {
			var m map[string]any
			require.NoError(t, json.Unmarshal(body, &m))
			assert.Contains(t, m, "server_stats")
			assert.Contains(t, m, "client_response")
			assert.Equal(t, float64(5), m["node_count"])
		}
	}
	s.Close()
	_, err = c.Get("http://" + s.Addr().String() + "/commands/ruok")
	assert.Error(t, err)
}

func TestPprofOnlyWhenEnabled(t *testing.T) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, on := range []bool{false, true} {
		s, err := Start("127.0.0.1:0", &fake{serving: true}, Options{Pprof: on})
		require.NoError(t, err)
		base := "http://" + s.Addr().String()
		resp, err := c.Get(base + "/debug/pprof/goroutine?debug=1")
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if on {
			assert.Equal(t, 200, resp.StatusCode)
			assert.Contains(t, string(body), "goroutine profile")
		} else {
			assert.Equal(t, 404, resp.StatusCode)
		}
		// The commands are served either way.
		resp, err = c.Get(base + "/commands/ruok")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode)
		s.Close()
	}
}
