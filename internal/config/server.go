package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Server is one ensemble member from a server.N line (config.md §3):
//
//	server.<sid>=<host>:<quorumPort>:<electionPort>[:participant|:observer][;[<clientHost>:]<clientPort>]
type Server struct {
	// ID is the sid, i.e. the myid of that member.
	ID int64
	// Host is the quorum/election address, without IPv6 brackets.
	Host string
	// QuorumPort is the port followers connect to on the leader.
	QuorumPort int
	// ElectionPort is the leader-election port.
	ElectionPort int
	// Observer is true for a non-voting member (":observer").
	Observer bool
	// ClientHost is the client bind address from the ";" part; "0.0.0.0"
	// when only a port is given, "" when there is no client part.
	ClientHost string
	// ClientPort is the client port from the ";" part, 0 when absent.
	ClientPort int
}

// Role is "observer" or "participant".
func (s Server) Role() string {
	if s.Observer {
		return "observer"
	}
	return "participant"
}

// String renders the member in the canonical form ZooKeeper stores in
// /zookeeper/config, without the "server.N=" prefix:
// host:qport:eport:role[;clientHost:clientPort].
func (s Server) String() string {
	out := joinHostPort(s.Host, s.QuorumPort) + ":" + strconv.Itoa(s.ElectionPort) + ":" + s.Role()
	if s.ClientPort != 0 {
		out += ";" + joinHostPort(s.ClientHost, s.ClientPort)
	}
	return out
}

// joinHostPort writes host:port, bracketing IPv6 literals.
func joinHostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}

// splitHostPorts splits "host:p1:p2..." the way ZooKeeper's
// ConfigUtils.getHostAndPort does: a leading "[...]" is an IPv6 host,
// everything else is separated at ':'. Parts are trimmed.
func splitHostPorts(s string) ([]string, error) {
	var parts []string
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return nil, fmt.Errorf("%q: missing ']' after IPv6 address", s)
		}
		parts = append(parts, s[1:end])
		rest := s[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return nil, fmt.Errorf("%q: expected ':' after ']'", s)
			}
			parts = append(parts, strings.Split(rest[1:], ":")...)
		}
	} else {
		parts = strings.Split(s, ":")
	}
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts, nil
}

// parsePort parses a TCP port number in 0..65535.
func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	if n < 0 || n > 65535 {
		return 0, fmt.Errorf("%d is not a valid port (0-65535)", n)
	}
	return n, nil
}

// ParseServer parses the value of a server.<sid> line. sid is the text
// after "server.". Several '|'-separated addresses (multiAddress.enabled)
// are not supported and are rejected.
func ParseServer(sid, value string) (Server, error) {
	var s Server
	id, err := strconv.ParseInt(strings.TrimSpace(sid), 10, 64)
	if err != nil {
		return s, fmt.Errorf("server id %q is not an integer", sid)
	}
	s.ID = id
	addr, client, hasClient := strings.Cut(value, ";")
	if hasClient && strings.Contains(client, ";") {
		return s, fmt.Errorf("%q: more than one ';'", value)
	}
	if strings.Contains(addr, "|") {
		return s, fmt.Errorf("%q: multiple addresses per server are not supported", value)
	}
	parts, err := splitHostPorts(strings.TrimSpace(addr))
	if err != nil {
		return s, err
	}
	if len(parts) < 3 || len(parts) > 4 {
		return s, fmt.Errorf("%q: expected host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]", value)
	}
	if parts[0] == "" {
		return s, fmt.Errorf("%q: empty host", value)
	}
	s.Host = parts[0]
	if s.QuorumPort, err = parsePort(parts[1]); err != nil {
		return s, fmt.Errorf("quorum port: %w", err)
	}
	if s.ElectionPort, err = parsePort(parts[2]); err != nil {
		return s, fmt.Errorf("election port: %w", err)
	}
	if s.QuorumPort == s.ElectionPort {
		return s, fmt.Errorf("%q: quorum and election port must differ", value)
	}
	if len(parts) == 4 {
		switch strings.ToLower(parts[3]) {
		case "participant":
		case "observer":
			s.Observer = true
		default:
			return s, fmt.Errorf("%q: unknown role %q (want participant or observer)", value, parts[3])
		}
	}
	if hasClient {
		cp, err := splitHostPorts(strings.TrimSpace(client))
		if err != nil {
			return s, fmt.Errorf("client address: %w", err)
		}
		switch len(cp) {
		case 1:
			s.ClientHost = "0.0.0.0"
		case 2:
			if cp[0] == "" {
				return s, fmt.Errorf("%q: empty client host", value)
			}
			s.ClientHost = cp[0]
		default:
			return s, fmt.Errorf("%q: client address must be [host:]port", value)
		}
		if s.ClientPort, err = parsePort(cp[len(cp)-1]); err != nil {
			return s, fmt.Errorf("client port: %w", err)
		}
	}
	return s, nil
}
