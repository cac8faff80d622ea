package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

func TestIntegrationFourLetterWords(t *testing.T) {
	s := startServer(t)
	c := s.rawSession(t, 2000)
	require.Equal(t, wire.OK, c.create("/flw", nil, 0).Err)
	require.Equal(t, wire.OK, c.create("/flw/eph", nil, wire.FlagEphemeral).Err)
	require.Equal(t, wire.OK, c.call(wire.OpGetData, &wire.GetDataRequest{Path: "/flw", Watch: true}, nil).Err)
	sid := fmt.Sprintf("0x%x", uint64(c.sid))

	cases := []struct {
		name  string
		cmd   string
		check func(t *testing.T, out string)
	}{
		{"ruok answers imok without a newline", "ruok", func(t *testing.T, out string) {
			require.Equal(t, "imok", out)
		}},
		{"srvr reports version, mode, zxid and node count", "srvr", func(t *testing.T, out string) {
			require.True(t, strings.HasPrefix(out, "Zookeeper version: "), out)
			require.Regexp(t, `(?m)^Latency min/avg/max: \d+/\d+\.\d{1,4}/\d+$`, out)
			require.Regexp(t, `(?m)^Received: \d+$`, out)
			require.Regexp(t, `(?m)^Sent: \d+$`, out)
			require.Regexp(t, `(?m)^Connections: \d+$`, out)
			require.Regexp(t, `(?m)^Outstanding: 0$`, out)
			require.Regexp(t, `(?m)^Zxid: 0x[0-9a-f]+$`, out)
			require.Contains(t, out, "Mode: standalone\n")
			// Two client nodes plus /, /zookeeper, quota, config, plus one
			// (the root counted twice, as in ZooKeeper).
			require.True(t, strings.HasSuffix(out, "Node count: 7\n"), out)
		}},
		{"stat lists the clients after the version line", "stat", func(t *testing.T, out string) {
			lines := strings.Split(out, "\n")
			require.True(t, strings.HasPrefix(lines[0], "Zookeeper version: "))
			require.Equal(t, "Clients:", lines[1])
			require.Regexp(t, `(?m)^ /127\.0\.0\.1:\d+\[\d+\]\(queued=\d+,recved=\d+,sent=\d+\)$`, out)
			require.Contains(t, out, "Mode: standalone\n")
		}},
		{"cons shows the session of each connection", "cons", func(t *testing.T, out string) {
			require.Regexp(t, `(?m)^ /127\.0\.0\.1:\d+\[\d+\]\(queued=\d+,recved=\d+,sent=\d+,sid=`+sid+`,lop=\w+,est=\d+,to=2000,lcxid=0x[0-9a-f]+,lzxid=0x[0-9a-f]+,lresp=\d+,llat=\d+,minlat=\d+,avglat=\d+,maxlat=\d+\)$`, out)
			require.True(t, strings.HasSuffix(out, "\n\n"))
		}},
		{"mntr prints tab-separated zk_ keys", "mntr", func(t *testing.T, out string) {
			for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				require.Regexp(t, `^zk_[a-z0-9_]+\t\S*`, line)
			}
			require.Contains(t, out, "zk_server_state\tstandalone\n")
			require.Contains(t, out, "zk_znode_count\t7\n")
			require.Contains(t, out, "zk_ephemerals_count\t1\n")
			require.Regexp(t, `(?m)^zk_version\t`, out)
			require.Regexp(t, `(?m)^zk_num_alive_connections\t\d+$`, out)
			require.Regexp(t, `(?m)^zk_watch_count\t1$`, out)
		}},
		{"conf prints the effective configuration", "conf", func(t *testing.T, out string) {
			for _, key := range []string{"clientPort", "dataDir", "dataLogDir", "tickTime", "maxClientCnxns", "minSessionTimeout", "maxSessionTimeout", "serverId"} {
				require.Regexp(t, `(?m)^`+key+`=`, out)
			}
			require.Contains(t, out, "tickTime=100\n")
			require.Contains(t, out, "minSessionTimeout=200\n")
			require.Contains(t, out, "maxSessionTimeout=2000\n")
		}},
		{"wchs summarises data watches", "wchs", func(t *testing.T, out string) {
			require.Equal(t, "1 connections watching 1 paths\nTotal watches:1\n", out)
		}},
		{"wchc lists watched paths per session", "wchc", func(t *testing.T, out string) {
			require.Equal(t, sid+"\n\t/flw\n\n", out)
		}},
		{"wchp lists sessions per watched path", "wchp", func(t *testing.T, out string) {
			require.Equal(t, "/flw\n\t"+sid+"\n\n", out)
		}},
		{"dirs reports the data and log sizes", "dirs", func(t *testing.T, out string) {
			require.Regexp(t, `^datadir_size: \d+\nlogdir_size: \d+\n$`, out)
		}},
		{"isro answers rw", "isro", func(t *testing.T, out string) {
			require.Equal(t, "rw", out)
		}},
		{"dump lists sessions and their ephemerals", "dump", func(t *testing.T, out string) {
			require.True(t, strings.HasPrefix(out, "SessionTracker dump:\n"), out)
			require.Contains(t, out, "ephemeral nodes dump:\n")
			require.Contains(t, out, "Sessions with Ephemerals (1):\n")
			require.Contains(t, out, sid+":\n\t/flw/eph\n")
		}},
		{"crst resets connection stats", "crst", func(t *testing.T, out string) {
			require.Equal(t, "Connection stats reset.\n", out)
		}},
		{"srst resets server stats", "srst", func(t *testing.T, out string) {
			require.Equal(t, "Server stats reset.\n", out)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, s.fourLetter(t, tc.cmd))
		})
	}

	t.Run("srst zeroes the packet counters", func(t *testing.T) {
		s.fourLetter(t, "srst")
		out := s.fourLetter(t, "srvr")
		// As in ZooKeeper 3.8.0 (verified): srst's own reply is counted as
		// sent after the reset, and srvr counts itself as received.
		require.Regexp(t, `(?m)^Received: 1$`, out)
		require.Regexp(t, `(?m)^Sent: 1$`, out)
	})
	t.Run("an unknown four-byte command gets an empty reply", func(t *testing.T) {
		require.Empty(t, s.fourLetter(t, "xxxx"))
	})
}

func TestIntegrationFourLetterLatencyFormat(t *testing.T) {
	s := startServer(t)
	t.Run("an idle server prints the average latency as a Java double", func(t *testing.T) {
		// ZooKeeper 3.8.0 prints "0/0.0/0" before any request (verified).
		require.Contains(t, s.fourLetter(t, "srvr"), "Latency min/avg/max: 0/0.0/0\n")
		require.Contains(t, s.fourLetter(t, "mntr"), "zk_avg_latency\t0.0\n")
	})
}

func TestIntegrationFourLetterWhitelist(t *testing.T) {
	s := startServer(t, "4lw.commands.whitelist=ruok, mntr")
	cases := []struct {
		name string
		cmd  string
		want string // exact reply, or "" to only check it ran
	}{
		{"a whitelisted word runs", "ruok", "imok"},
		{"srvr is always allowed", "srvr", ""},
		{"stat is refused when not whitelisted", "stat", "stat is not executed because it is not in the whitelist.\n"},
		{"wchc is refused when not whitelisted", "wchc", "wchc is not executed because it is not in the whitelist.\n"},
		{"isro is refused unless read-only mode is enabled", "isro", "isro is not executed because it is not in the whitelist.\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := s.fourLetter(t, tc.cmd)
			if tc.want == "" {
				require.NotContains(t, out, "not in the whitelist")
				require.NotEmpty(t, out)
			} else {
				require.Equal(t, tc.want, out)
			}
		})
	}
}
