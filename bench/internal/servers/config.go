package servers

import (
	"fmt"
	"strings"
)

// Timing is the tick and the limits in ticks; both servers of a
// comparison get the same.
type Timing struct {
	TickTime  int // ms
	InitLimit int // ticks
	SyncLimit int // ticks
}

// DebianTiming is what /etc/zookeeper/conf/zoo.cfg sets.
var DebianTiming = Timing{TickTime: 2000, InitLimit: 10, SyncLimit: 5}

// Peer is one server.N line: the member's quorum, election and client
// ports on 127.0.0.1.
type Peer struct {
	ID                               int
	QuorumPort, ElectionPort, Client int
}

// Config is one member's zoo.cfg.
type Config struct {
	Timing
	DataDir    string
	ClientPort int
	// Peers lists every member; empty means standalone.
	Peers []Peer
	// Extra lines are appended as they are.
	Extra []string
}

// ZooCfg renders the file. Both servers read the same keys: loopback
// only, no AdminServer (it would bind 0.0.0.0:8080), every four-letter
// word (srvr finds the leader), no per-IP connection limit (all load
// comes from 127.0.0.1, and ZooKeeper's default of 60 would refuse the
// 64 sessions of a run), forceSync left at its default (yes).
func (c Config) ZooCfg() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=%d\ninitLimit=%d\nsyncLimit=%d\n", c.TickTime, c.InitLimit, c.SyncLimit)
	fmt.Fprintf(&b, "dataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n", c.DataDir, c.ClientPort)
	b.WriteString("maxClientCnxns=0\nadmin.enableServer=false\n4lw.commands.whitelist=*\n")
	for _, p := range c.Peers {
		fmt.Fprintf(&b, "server.%d=127.0.0.1:%d:%d;127.0.0.1:%d\n", p.ID, p.QuorumPort, p.ElectionPort, p.Client)
	}
	for _, l := range c.Extra {
		b.WriteString(l + "\n")
	}
	return b.String()
}
