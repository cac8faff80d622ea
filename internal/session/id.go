package session

import (
	"sync/atomic"

	"github.com/zkd/zkd/internal/wire"
)

// containerMarker is the ephemeralOwner value that marks container znodes
// (EphemeralType.CONTAINER_EPHEMERAL_OWNER); no session may have it as id,
// or its ephemerals would be mistaken for containers.
const containerMarker = wire.SessionID(-1 << 63)

// InitialID returns the first session id a tracker on server serverID hands
// out when started at nowMs (wire.md §3.4, initializeNextSessionId):
//
//	((nowMs << 24) >>> 8) | (serverID << 56)
//
// The top byte is the server id, so servers of one ensemble never collide;
// the next 40 bits are the clock, so a restarted server does not reuse ids
// of its previous run; the low 16 bits count sessions from zero. The shift
// right is unsigned so a clock with bit 39 set cannot smear into the server
// byte (ZOOKEEPER-1622).
func InitialID(serverID int64, nowMs int64) wire.SessionID {
	id := wire.SessionID(int64(uint64(nowMs<<24)>>8) | serverID<<56)
	if id == containerMarker {
		id++
	}
	return id
}

// IDGenerator hands out consecutive session ids starting at an InitialID.
// It is safe for concurrent use.
type IDGenerator struct {
	next atomic.Int64
}

// NewIDGenerator returns a generator whose first id is
// InitialID(serverID, nowMs).
func NewIDGenerator(serverID int64, nowMs int64) *IDGenerator {
	g := &IDGenerator{}
	g.next.Store(int64(InitialID(serverID, nowMs)))
	return g
}

// Next returns the next id: initial, initial+1, ... It skips the container
// marker too; ZooKeeper only checks the initial id, but skipping is free and
// rules the collision out entirely.
func (g *IDGenerator) Next() wire.SessionID {
	for {
		id := wire.SessionID(g.next.Add(1) - 1)
		if id != containerMarker {
			return id
		}
	}
}
