package zab

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/zkd/zkd/internal/wire"
)

// ProtocolVersion is Zab 1.0 as announced in LearnerInfo and LEADERINFO
// (quorum.md §4). Java leaders treat anything below it as a pre-1.0 peer
// that expects NEWLEADER during discovery, which zkd does not implement.
const ProtocolVersion int32 = 0x10000

// SnapSignature is the ustring Java writes after the snapshot body that
// follows a SNAP packet; a learner that does not read it back rejects the
// sync (Learner.syncWithLeader "Missing signature").
const SnapSignature = "BenWasHere"

// ErrBadPayload means a packet's data does not have the layout its type
// requires. Java peers fail the connection on such data, and so should we.
var ErrBadPayload = errors.New("zab: malformed packet payload")

func badPayload(what string, n int) error {
	return fmt.Errorf("%w: %s: %d bytes", ErrBadPayload, what, n)
}

// LearnerInfo is the data of FOLLOWERINFO/OBSERVERINFO: who is connecting
// and which Zab and config versions it speaks.
type LearnerInfo struct {
	ServerID        int64
	ProtocolVersion int32
	ConfigVersion   int64
}

// Encode writes the 20-byte layout serverid:long, protocolVersion:int,
// configVersion:long.
func (li *LearnerInfo) Encode(e *wire.Encoder) {
	e.Long(li.ServerID)
	e.Int(li.ProtocolVersion)
	e.Long(li.ConfigVersion)
}

// Decode reads the full 20-byte layout; ParseLearnerInfo accepts the shorter
// forms old peers send.
func (li *LearnerInfo) Decode(d *wire.Decoder) {
	li.ServerID = d.Long()
	li.ProtocolVersion = d.Int()
	li.ConfigVersion = d.Long()
}

// ParseLearnerInfo reads LearnerInfo the way LearnerHandler does: the sid is
// required, the version defaults to 0x1 and the config version to 0 when an
// older learner leaves them out.
func ParseLearnerInfo(data []byte) (LearnerInfo, error) {
	if len(data) < 8 {
		return LearnerInfo{}, badPayload("LearnerInfo", len(data))
	}
	li := LearnerInfo{ServerID: int64(binary.BigEndian.Uint64(data)), ProtocolVersion: 0x1}
	if len(data) >= 12 {
		li.ProtocolVersion = int32(binary.BigEndian.Uint32(data[8:]))
	}
	if len(data) >= 20 {
		li.ConfigVersion = int64(binary.BigEndian.Uint64(data[12:]))
	}
	return li, nil
}

// RequestPayload is the data of a REQUEST: a client's write forwarded by a
// learner. Body is the client's request record without its length prefix or
// RequestHeader.
type RequestPayload struct {
	SessionID int64
	Cxid      int32
	Type      wire.OpCode
	Body      []byte
}

// EncodeRequest lays out sessionId:8, cxid:4, type:4, body.
func EncodeRequest(r RequestPayload) []byte {
	b := make([]byte, 16, 16+len(r.Body))
	binary.BigEndian.PutUint64(b, uint64(r.SessionID))
	binary.BigEndian.PutUint32(b[8:], uint32(r.Cxid))
	binary.BigEndian.PutUint32(b[12:], uint32(r.Type))
	return append(b, r.Body...)
}

// ParseRequest splits a REQUEST's data. Body aliases data.
func ParseRequest(data []byte) (RequestPayload, error) {
	if len(data) < 16 {
		return RequestPayload{}, badPayload("REQUEST", len(data))
	}
	return RequestPayload{
		SessionID: int64(binary.BigEndian.Uint64(data)),
		Cxid:      int32(binary.BigEndian.Uint32(data[8:])),
		Type:      wire.OpCode(int32(binary.BigEndian.Uint32(data[12:]))),
		Body:      data[16:],
	}, nil
}

// SessionTouch is one entry of a learner's PING reply: a session its clients
// used since the previous ping, with its negotiated timeout in ms.
type SessionTouch struct {
	SessionID int64
	Timeout   int32
}

// EncodeTouches is the data of a learner's PING reply: the pairs back to
// back. No touches encode as an empty, non-nil buffer, as Java sends.
func EncodeTouches(ts []SessionTouch) []byte {
	b := make([]byte, 0, 12*len(ts))
	for _, t := range ts {
		b = binary.BigEndian.AppendUint64(b, uint64(t.SessionID))
		b = binary.BigEndian.AppendUint32(b, uint32(t.Timeout))
	}
	return b
}

// ParseTouches reads a PING reply's touch table; nil data means no touches.
// A partial trailing entry is an error, as Java's DataInputStream would hit
// EOF on it.
func ParseTouches(data []byte) ([]SessionTouch, error) {
	if len(data)%12 != 0 {
		return nil, badPayload("PING touch table", len(data))
	}
	ts := make([]SessionTouch, 0, len(data)/12)
	for off := 0; off < len(data); off += 12 {
		ts = append(ts, SessionTouch{
			SessionID: int64(binary.BigEndian.Uint64(data[off:])),
			Timeout:   int32(binary.BigEndian.Uint32(data[off+8:])),
		})
	}
	return ts, nil
}

// RevalidateZxid is the zxid of a learner's REVALIDATE request; the leader
// echoes the request's zxid in its reply.
const RevalidateZxid int64 = -1

// EncodeRevalidateRequest is the learner's REVALIDATE data: sessionId:8,
// timeout:4, sent when a client reconnects to it with an existing session.
func EncodeRevalidateRequest(sessionID int64, timeout int32) []byte {
	return EncodeTouches([]SessionTouch{{SessionID: sessionID, Timeout: timeout}})
}

// ParseRevalidateRequest reads the learner's REVALIDATE data.
func ParseRevalidateRequest(data []byte) (sessionID int64, timeout int32, err error) {
	if len(data) < 12 {
		return 0, 0, badPayload("REVALIDATE request", len(data))
	}
	return int64(binary.BigEndian.Uint64(data)), int32(binary.BigEndian.Uint32(data[8:])), nil
}

// EncodeRevalidateResponse is the leader's REVALIDATE data: sessionId:8,
// valid:bool (one byte).
func EncodeRevalidateResponse(sessionID int64, valid bool) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 9), uint64(sessionID))
	if valid {
		return append(b, 1)
	}
	return append(b, 0)
}

// ParseRevalidateResponse reads the leader's REVALIDATE data; any non-zero
// byte is true, as Java's readBoolean.
func ParseRevalidateResponse(data []byte) (sessionID int64, valid bool, err error) {
	if len(data) < 9 {
		return 0, false, badPayload("REVALIDATE response", len(data))
	}
	return int64(binary.BigEndian.Uint64(data)), data[8] != 0, nil
}

// EncodeLeaderInfo is LEADERINFO's data: the leader's protocol version.
func EncodeLeaderInfo() []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(ProtocolVersion))
}

// ParseLeaderInfo reads the leader's protocol version from LEADERINFO.
func ParseLeaderInfo(data []byte) (int32, error) {
	if len(data) < 4 {
		return 0, badPayload("LEADERINFO", len(data))
	}
	return int32(binary.BigEndian.Uint32(data)), nil
}

// NoEpoch is the ACKEPOCH data of a learner that had already accepted the
// leader's epoch: it reports its last zxid but is not an epoch ack.
const NoEpoch int64 = -1

// EncodeAckEpoch is ACKEPOCH's data: the learner's currentEpoch as an int,
// or NoEpoch.
func EncodeAckEpoch(currentEpoch int64) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(int32(currentEpoch)))
}

// ParseAckEpoch reads ACKEPOCH's data; -1 comes back as NoEpoch. The epoch
// travels as a signed 32-bit int, so it is sign-extended like Java's getInt.
func ParseAckEpoch(data []byte) (int64, error) {
	if len(data) < 4 {
		return 0, badPayload("ACKEPOCH", len(data))
	}
	return int64(int32(binary.BigEndian.Uint32(data))), nil
}

// EncodeActivate is the data of COMMITANDACTIVATE (txn nil: just the
// designated leader's sid) and INFORMANDACTIVATE (sid then the txn bytes).
func EncodeActivate(leaderSID int64, txn []byte) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(txn)), uint64(leaderSID))
	return append(b, txn...)
}

// ParseActivate splits *ANDACTIVATE data; txn aliases data.
func ParseActivate(data []byte) (leaderSID int64, txn []byte, err error) {
	if len(data) < 8 {
		return 0, nil, badPayload("ANDACTIVATE", len(data))
	}
	return int64(binary.BigEndian.Uint64(data)), data[8:], nil
}
