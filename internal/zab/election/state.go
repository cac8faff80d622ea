package election

import "strconv"

// State is a server's role as announced in notifications. The numeric values
// are the wire values of QuorumPeer.ServerState (quorum.md §0) and must not
// change.
type State int32

// The four peer states.
const (
	Looking   State = 0
	Following State = 1
	Leading   State = 2
	Observing State = 3
)

// String returns the Java name of the state, as ZooKeeper logs it.
func (s State) String() string {
	switch s {
	case Looking:
		return "LOOKING"
	case Following:
		return "FOLLOWING"
	case Leading:
		return "LEADING"
	case Observing:
		return "OBSERVING"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// valid reports whether s is one of the four wire values; Java's receiver
// silently drops notifications with any other state.
func (s State) valid() bool { return s >= Looking && s <= Observing }
