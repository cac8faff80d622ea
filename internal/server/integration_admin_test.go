package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/admin"
)

// adminGet fetches one AdminServer URL and decodes its JSON object.
func adminGet(t *testing.T, base, path string) (int, map[string]any) {
	t.Helper()
	c := &http.Client{Timeout: itWait, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(base + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return resp.StatusCode, map[string]any{"_body": string(body)}
	}
	require.Contains(t, string(body), "\n  \"", "pretty-printed")
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&m), string(body))
	return resp.StatusCode, m
}

func startAdminServer(t *testing.T, extra ...string) (*itServer, string) {
	t.Helper()
	s := startServer(t, append([]string{"admin.enableServer=true", "admin.serverAddress=127.0.0.1", "admin.serverPort=0"}, extra...)...)
	a := s.srv.AdminAddr()
	require.NotNil(t, a)
	return s, "http://" + a.String()
}

func TestAdminCommands(t *testing.T) {
	s, base := startAdminServer(t)
	c := s.connectZK(t)
	_, err := c.Create("/a", []byte("x"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	_, err = c.Create("/e", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	_, _, _, err = c.GetW("/a")
	require.NoError(t, err)

	tests := []struct {
		names []string
		keys  []string
		check func(t *testing.T, m map[string]any)
	}{
		{[]string{"ruok"}, nil, nil},
		{[]string{"configuration", "conf", "config"}, []string{"client_port", "data_dir", "data_log_dir", "tick_time", "max_client_cnxns", "min_session_timeout", "max_session_timeout", "server_id"}, func(t *testing.T, m map[string]any) {
			assert.Equal(t, json.Number(fmt.Sprint(itTick)), m["tick_time"])
		}},
		{[]string{"connection_stat_reset", "crst"}, nil, nil},
		{[]string{"connections", "cons"}, []string{"connections", "secure_connections"}, func(t *testing.T, m map[string]any) {
			conns := m["connections"].([]any)
			require.NotEmpty(t, conns)
			c0 := conns[0].(map[string]any)
			for _, k := range []string{"remote_socket_address", "interest_ops", "outstanding_requests", "packets_received", "packets_sent", "session_id", "last_operation", "established", "session_timeout", "last_cxid", "last_zxid", "last_response_time", "last_latency", "min_latency", "avg_latency", "max_latency"} {
				assert.Contains(t, c0, k)
			}
			assert.Empty(t, m["secure_connections"])
		}},
		{[]string{"dirs"}, []string{"datadir_size", "logdir_size"}, nil},
		{[]string{"dump"}, []string{"expiry_time_to_session_ids", "session_id_to_ephemeral_paths"}, func(t *testing.T, m map[string]any) {
			eph := m["session_id_to_ephemeral_paths"].(map[string]any)
			assert.Equal(t, []any{"/e"}, eph[fmt.Sprint(c.SessionID())])
		}},
		{[]string{"environment", "env", "envi"}, []string{"zookeeper.version", "host.name", "os.name", "user.dir"}, nil},
		{[]string{"get_trace_mask", "gtmk"}, []string{"tracemask"}, nil},
		{[]string{"hash"}, []string{"digests"}, nil},
		{[]string{"initial_configuration", "icfg"}, []string{"initial_configuration"}, func(t *testing.T, m map[string]any) {
			assert.Contains(t, m["initial_configuration"], "tickTime=")
		}},
		{[]string{"is_read_only", "isro"}, []string{"read_only"}, func(t *testing.T, m map[string]any) {
			assert.Equal(t, false, m["read_only"])
		}},
		{[]string{"last_snapshot", "lsnp"}, []string{"zxid", "timestamp"}, nil},
		{[]string{"leader", "lead"}, nil, func(t *testing.T, m map[string]any) {
			assert.Equal(t, "server is not initialized", m["error"])
		}},
		{[]string{"monitor", "mntr"}, []string{"version", "server_state", "avg_latency", "znode_count", "watch_count", "ephemerals_count", "num_alive_connections"}, func(t *testing.T, m map[string]any) {
			assert.Equal(t, "standalone", m["server_state"])
		}},
		{[]string{"observer_connection_stat_reset", "orst"}, nil, nil},
		{[]string{"observers", "obsr"}, []string{"synced_observers", "observers"}, nil},
		{[]string{"server_stats", "srvr"}, []string{"version", "read_only", "server_stats", "client_response", "node_count"}, func(t *testing.T, m map[string]any) {
			st := m["server_stats"].(map[string]any)
			for _, k := range []string{"packets_sent", "packets_received", "client_response_stats", "data_dir_size", "log_dir_size", "last_processed_zxid", "outstanding_requests", "server_state", "avg_latency", "max_latency", "min_latency", "num_alive_client_connections", "uptime"} {
				assert.Contains(t, st, k)
			}
			assert.Equal(t, "standalone", st["server_state"])
		}},
		{[]string{"stats", "stat"}, []string{"server_stats", "client_response", "node_count", "connections"}, nil},
		{[]string{"stat_reset", "srst"}, nil, nil},
		{[]string{"system_properties", "sysp"}, []string{"os.name"}, nil},
		{[]string{"voting_view"}, []string{"current_config"}, nil},
		{[]string{"watches", "wchc"}, []string{"session_id_to_watched_paths"}, func(t *testing.T, m map[string]any) {
			w := m["session_id_to_watched_paths"].(map[string]any)
			assert.Equal(t, []any{"/a"}, w[fmt.Sprint(c.SessionID())])
		}},
		{[]string{"watches_by_path", "wchp"}, []string{"path_to_session_ids"}, func(t *testing.T, m map[string]any) {
			w := m["path_to_session_ids"].(map[string]any)
			assert.Equal(t, []any{json.Number(fmt.Sprint(c.SessionID()))}, w["/a"])
		}},
		{[]string{"watch_summary", "wchs"}, []string{"num_connections", "num_paths", "num_total_watches"}, func(t *testing.T, m map[string]any) {
			assert.Equal(t, json.Number("1"), m["num_paths"])
		}},
		{[]string{"zabstate"}, []string{"voting", "zabstate"}, nil},
		{[]string{"snapshot", "snap"}, []string{"last_zxid", "snapshot_file_name"}, nil},
	}
	seen := map[string]bool{"set_trace_mask": true, "stmk": true} // TestAdminSetTraceMask
	for _, tc := range tests {
		for _, name := range tc.names {
			seen[name] = true
			t.Run(name, func(t *testing.T) {
				code, m := adminGet(t, base, "/commands/"+name)
				require.Equal(t, http.StatusOK, code)
				assert.Equal(t, name, m["command"])
				if tc.names[0] != "leader" {
					assert.Nil(t, m["error"], "error")
				}
				for _, k := range tc.keys {
					assert.Contains(t, m, k)
				}
				if tc.check != nil {
					tc.check(t, m)
				}
			})
		}
	}
	// Every registered command and alias is covered above.
	assert.ElementsMatch(t, admin.Names(), keysOf(seen))
}

func keysOf(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestAdminSetTraceMask(t *testing.T) {
	s, base := startAdminServer(t)
	tests := []struct {
		query   string
		wantErr bool
		mask    string
	}{
		{"", true, "306"},
		{"?traceMask=abc", true, "306"},
		{"?traceMask=42", false, "42"},
	}
	for _, tc := range tests {
		_, m := adminGet(t, base, "/commands/stmk"+tc.query)
		if tc.wantErr {
			assert.NotNil(t, m["error"])
		} else {
			assert.Nil(t, m["error"])
			assert.Equal(t, json.Number(tc.mask), m["tracemask"])
		}
		assert.Equal(t, tc.mask, s.fourLetter(t, "gtmk"))
	}
}

// TestAdminMonitorMirrorsMntr: the monitor command and mntr have the same
// keys, and the values that do not move between two calls agree.
func TestAdminMonitorMirrorsMntr(t *testing.T) {
	s, base := startAdminServer(t)
	_, m := adminGet(t, base, "/commands/monitor")
	text := s.fourLetter(t, "mntr")
	lines := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		k, v, ok := strings.Cut(line, "\t")
		require.True(t, ok, line)
		lines[strings.TrimPrefix(k, "zk_")] = v
	}
	delete(m, "command")
	delete(m, "error")
	require.ElementsMatch(t, keysOfAny(m), keysOfStr(lines))
	moving := map[string]bool{"uptime": true, "packets_received": true, "packets_sent": true, "num_alive_connections": true,
		"open_file_descriptor_count": true, "avg_latency": true, "min_latency": true, "max_latency": true}
	for k, v := range m {
		if !moving[k] {
			assert.Equal(t, lines[k], fmt.Sprint(v), k)
		}
	}
}

func keysOfAny(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func keysOfStr(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestAdminUnknownAndList(t *testing.T) {
	_, base := startAdminServer(t)
	code, m := adminGet(t, base, "/commands/nope")
	assert.Equal(t, http.StatusNotFound, code)
	assert.Equal(t, "Unknown command: nope", m["error"])
	assert.Equal(t, "nope", m["command"])

	code, m = adminGet(t, base, "/commands")
	assert.Equal(t, http.StatusOK, code)
	for _, n := range []string{"monitor", "server_stats", "watch_summary", "ruok"} {
		assert.Contains(t, m["_body"], `href="/commands/`+n+`"`)
	}
}

func TestAdminCommandURL(t *testing.T) {
	_, base := startAdminServer(t, "admin.commandURL=/cmds")
	code, m := adminGet(t, base, "/cmds/ruok")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ruok", m["command"])
}

func TestAdminDisabled(t *testing.T) {
	tests := []struct {
		name  string
		extra []string
		want  bool
	}{
		{"disabled", []string{"admin.enableServer=false", "admin.serverAddress=127.0.0.1", "admin.serverPort=0"}, false},
		{"enabled", []string{"admin.enableServer=true", "admin.serverAddress=127.0.0.1", "admin.serverPort=0"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, tc.extra...)
			assert.Equal(t, tc.want, s.srv.AdminAddr() != nil)
		})
	}
}

// TestAdminPortTaken: a listen failure is logged and the server serves on.
func TestAdminPortTaken(t *testing.T) {
	_, base := startAdminServer(t)
	port := base[strings.LastIndex(base, ":")+1:]
	s := startServer(t, "admin.enableServer=true", "admin.serverAddress=127.0.0.1", "admin.serverPort="+port)
	assert.Nil(t, s.srv.AdminAddr())
	assert.Equal(t, "imok", s.fourLetter(t, "ruok"))
}

// TestAdminStopClosesListener: Stop shuts the AdminServer down.
func TestAdminStopClosesListener(t *testing.T) {
	s, base := startAdminServer(t)
	s.srv.Stop()
	c := &http.Client{Timeout: 2 * time.Second}
	_, err := c.Get(base + "/commands/ruok")
	assert.Error(t, err)
}
