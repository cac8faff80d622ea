package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseServer(t *testing.T) {
	tests := []struct {
		name      string
		sid       string
		value     string
		want      Server
		canonical string
	}{
		{"minimal", "1", "zk1:2888:3888",
			Server{ID: 1, Host: "zk1", QuorumPort: 2888, ElectionPort: 3888},
			"zk1:2888:3888:participant"},
		{"participant", "2", "zk2:2888:3888:participant",
			Server{ID: 2, Host: "zk2", QuorumPort: 2888, ElectionPort: 3888},
			"zk2:2888:3888:participant"},
		{"observer any case", "4", "zk4:2888:3888:OBSERVER",
			Server{ID: 4, Host: "zk4", QuorumPort: 2888, ElectionPort: 3888, Observer: true},
			"zk4:2888:3888:observer"},
		{"client port only", "1", "127.0.0.1:51861:51871:participant;51881",
			Server{ID: 1, Host: "127.0.0.1", QuorumPort: 51861, ElectionPort: 51871, ClientHost: "0.0.0.0", ClientPort: 51881},
			"127.0.0.1:51861:51871:participant;0.0.0.0:51881"},
		{"client host and port", "3", "127.0.0.1:51863:51873;127.0.0.1:51883",
			Server{ID: 3, Host: "127.0.0.1", QuorumPort: 51863, ElectionPort: 51873, ClientHost: "127.0.0.1", ClientPort: 51883},
			"127.0.0.1:51863:51873:participant;127.0.0.1:51883"},
		{"ipv6", "5", "[::1]:2888:3888:observer;[::1]:2181",
			Server{ID: 5, Host: "::1", QuorumPort: 2888, ElectionPort: 3888, Observer: true, ClientHost: "::1", ClientPort: 2181},
			"[::1]:2888:3888:observer;[::1]:2181"},
		{"spaces around parts", " 7 ", "zk7 : 2888 : 3888 ; 2181",
			Server{ID: 7, Host: "zk7", QuorumPort: 2888, ElectionPort: 3888, ClientHost: "0.0.0.0", ClientPort: 2181},
			"zk7:2888:3888:participant;0.0.0.0:2181"},
		{"large sid", "300", "h:1:2",
			Server{ID: 300, Host: "h", QuorumPort: 1, ElectionPort: 2},
			"h:1:2:participant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseServer(tc.sid, tc.value)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.canonical, got.String())
			again, err := ParseServer(tc.sid, got.String())
			require.NoError(t, err)
			if tc.want.ClientPort != 0 {
				require.Equal(t, got, again)
			}
		})
	}
}

func TestParseServerErrors(t *testing.T) {
	tests := []struct {
		name    string
		sid     string
		value   string
		wantErr string
	}{
		{"non-numeric sid", "a", "h:1:2", `server id "a" is not an integer`},
		{"missing election port", "1", "h:2888", "expected host:quorumPort:electionPort"},
		{"too many parts", "1", "h:1:2:observer:x", "expected host:quorumPort:electionPort"},
		{"unknown role", "1", "h:1:2:leader", `unknown role "leader"`},
		{"bad quorum port", "1", "h:x:2", `quorum port: "x" is not an integer`},
		{"bad election port", "1", "h:1:y", `election port: "y" is not an integer`},
		{"port out of range", "1", "h:1:70000", "election port: 70000 is not a valid port"},
		{"negative port", "1", "h:-1:2", "quorum port: -1 is not a valid port"},
		{"same ports", "1", "h:2888:2888", "quorum and election port must differ"},
		{"empty host", "1", ":1:2", "empty host"},
		{"multi address", "1", "a:1:2|b:1:2", "multiple addresses"},
		{"two semicolons", "1", "h:1:2;3;4", "more than one ';'"},
		{"bad client port", "1", "h:1:2;x", `client port: "x" is not an integer`},
		{"client address too long", "1", "h:1:2;a:b:3", "client address must be [host:]port"},
		{"empty client host", "1", "h:1:2;:2181", "empty client host"},
		{"unclosed bracket", "1", "[::1:1:2", "missing ']'"},
		{"junk after bracket", "1", "[::1]x:1:2", "expected ':' after ']'"},
		{"bad client bracket", "1", "h:1:2;[::1", "client address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseServer(tc.sid, tc.value)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.wantErr)
		})
	}
}
