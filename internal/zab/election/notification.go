package election

import (
	"errors"
	"fmt"

	"github.com/zkd/zkd/internal/wire"
)

// CurrentVersion is the notification format version zkd sends (3.4.6+ with
// the reconfig config field, quorum.md §2).
const CurrentVersion = 2

// Layout sizes accepted by Decode.
const (
	// minNotificationLen is the oldest layout: state, leader, zxid, round.
	minNotificationLen = 28
	// legacy40Len is what 3.4.x before 3.4.6 sends: the 28-byte fields,
	// peerEpoch and a version int of 1. Java recognises it by its length and
	// never reads the version (it takes it as 0), so neither do we.
	legacy40Len = 40
	// headerLen is the v2 layout without config bytes.
	headerLen = 44
)

// ErrShortNotification means a notification was shorter than 28 bytes or
// ended inside a field; Java drops such messages.
var ErrShortNotification = errors.New("election: notification too short")

// ErrBadNotification means a v2 notification's config length does not fit
// the message.
var ErrBadNotification = errors.New("election: malformed notification")

// Notification is one FLE message (FastLeaderElection.Notification).
type Notification struct {
	// From is the sender's sid. It is not part of the bytes: the receiver
	// takes it from the connection (electionnet.Message.From).
	From int64
	// State is the sender's state when it sent the message.
	State State
	// Vote is the sender's proposal (LOOKING) or its final vote.
	Vote
	// Version is the message format version as received (0 for the 28- and
	// 40-byte layouts). Encode always writes CurrentVersion.
	Version int32
	// Config is the sender's QuorumVerifier text (quorum.md §2), only
	// present in version 2. Java parses it; zkd hands it to the caller.
	Config []byte
}

// String prints the notification like Java's printNotification, shortened.
func (n Notification) String() string {
	return fmt.Sprintf("from %d %s %s v%d", n.From, n.State, n.Vote, n.Version)
}

// Encode returns the v2 byte layout: state int, leader long, zxid long,
// electionEpoch long, peerEpoch long, version int (=2), configLen int,
// config bytes. From and Version are not encoded.
func (n Notification) Encode() []byte {
	e := wire.Encoder{B: make([]byte, 0, headerLen+len(n.Config))}
	e.Int(int32(n.State))
	e.Long(n.Leader)
	e.Long(n.Zxid)
	e.Long(n.ElectionEpoch)
	e.Long(n.PeerEpoch)
	e.Int(CurrentVersion)
	e.Int(int32(len(n.Config)))
	e.B = append(e.B, n.Config...)
	return e.B
}

// Decode parses any layout a 3.4-3.8 server sends (WorkerReceiver.run) and
// leaves From untouched. Accepted: 28 bytes (peerEpoch is then the epoch of
// the zxid), 36 or 40 bytes (peerEpoch, version taken as 0), and 41+ bytes
// with a version field; version 2 and above carry configLen + config.
// State is not checked here: Java drops unknown states only after answering
// non-voters, so Step decides.
func (n *Notification) Decode(b []byte) error {
	if len(b) < minNotificationLen {
		return fmt.Errorf("%w: %d bytes", ErrShortNotification, len(b))
	}
	d := wire.NewDecoder(b, 0)
	var out Notification
	out.From = n.From
	out.State = State(d.Int())
	out.Leader = d.Long()
	out.Zxid = d.Long()
	out.ElectionEpoch = d.Long()
	switch {
	case len(b) == minNotificationLen:
		out.PeerEpoch = int64(wire.Zxid(out.Zxid).Epoch())
	case len(b) < 36:
		return fmt.Errorf("%w: %d bytes", ErrShortNotification, len(b))
	case len(b) <= legacy40Len:
		// 36 bytes: peerEpoch and nothing else. 37-39 cannot come from any
		// ZooKeeper version; Java would fail reading the version, we accept
		// the fields we can read. 40 bytes: the trailing version int is
		// ignored, as in Java.
		out.PeerEpoch = d.Long()
	default:
		out.PeerEpoch = d.Long()
		out.Version = d.Int()
		if out.Version > 1 {
			cl := d.Int()
			if d.Err != nil {
				return fmt.Errorf("%w: no config length in %d bytes", ErrShortNotification, len(b))
			}
			if cl < 0 || int(cl) > d.Remaining() {
				return fmt.Errorf("%w: config length %d with %d bytes left", ErrBadNotification, cl, d.Remaining())
			}
			out.Config = append([]byte{}, b[d.Off:d.Off+int(cl)]...)
		}
	}
	if d.Err != nil {
		return fmt.Errorf("election: decode notification: %w", d.Err)
	}
	*n = out
	return nil
}
