package zab

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/zkd/zkd/internal/wire"
)

// PacketType is the type field of a QuorumPacket. The numbers are Leader.java's
// constants and must match Java exactly (quorum.md §4.1, §10).
type PacketType int32

// Packet types, in Leader.java order. Dir and the zxid/data conventions of
// each are in quorum.md §4.1.
const (
	PktRequest           PacketType = 1  // learner -> leader: a write or session request to order
	PktProposal          PacketType = 2  // leader -> follower: txn to log and ACK
	PktAck               PacketType = 3  // follower -> leader: proposal (or NEWLEADER/UPTODATE) logged
	PktCommit            PacketType = 4  // leader -> follower: the proposal with this zxid is committed
	PktPing              PacketType = 5  // both ways: liveness and session touch tables
	PktRevalidate        PacketType = 6  // both ways: session moved to another server
	PktSync              PacketType = 7  // leader -> learner: the oldest pending sync() may be answered
	PktInform            PacketType = 8  // leader -> observer: proposal and commit in one
	PktCommitAndActivate PacketType = 9  // leader -> follower: commit of a reconfig
	PktNewLeader         PacketType = 10 // leader -> learner: end of sync, new epoch becomes current
	PktFollowerInfo      PacketType = 11 // follower -> leader: first packet, acceptedEpoch + LearnerInfo
	PktUpToDate          PacketType = 12 // leader -> learner: start serving
	PktDiff              PacketType = 13 // leader -> learner: sync by sending missing txns
	PktTrunc             PacketType = 14 // leader -> learner: cut the log back, then txns
	PktSnap              PacketType = 15 // leader -> learner: a snapshot stream follows
	PktObserverInfo      PacketType = 16 // observer -> leader: first packet, like FOLLOWERINFO
	PktLeaderInfo        PacketType = 17 // leader -> learner: proposed new epoch
	PktAckEpoch          PacketType = 18 // learner -> leader: epoch accepted, learner's last zxid
	PktInformAndActivate PacketType = 19 // leader -> observer: INFORM of a reconfig
)

var packetTypeNames = [...]string{
	PktRequest:           "REQUEST",
	PktProposal:          "PROPOSAL",
	PktAck:               "ACK",
	PktCommit:            "COMMIT",
	PktPing:              "PING",
	PktRevalidate:        "REVALIDATE",
	PktSync:              "SYNC",
	PktInform:            "INFORM",
	PktCommitAndActivate: "COMMITANDACTIVATE",
	PktNewLeader:         "NEWLEADER",
	PktFollowerInfo:      "FOLLOWERINFO",
	PktUpToDate:          "UPTODATE",
	PktDiff:              "DIFF",
	PktTrunc:             "TRUNC",
	PktSnap:              "SNAP",
	PktObserverInfo:      "OBSERVERINFO",
	PktLeaderInfo:        "LEADERINFO",
	PktAckEpoch:          "ACKEPOCH",
	PktInformAndActivate: "INFORMANDACTIVATE",
}

// String returns Java's name for the type (as in LearnerHandler.packetToString),
// so logs of Go and Java peers read the same; unknown types print as numbers.
func (t PacketType) String() string {
	if t > 0 && int(t) < len(packetTypeNames) {
		return packetTypeNames[t]
	}
	return "UNKNOWN" + strconv.Itoa(int(t))
}

// Known reports whether t is one of the 19 defined types.
func (t PacketType) Known() bool { return t >= PktRequest && t <= PktInformAndActivate }

// QuorumPacket is the one record exchanged on the quorum port (zookeeper.jute
// QuorumPacket). A nil Data or AuthInfo is encoded as jute null (-1), which
// Java distinguishes from empty: a PING reply without touched sessions carries
// an empty, non-nil Data.
type QuorumPacket struct {
	Type PacketType
	Zxid int64
	Data []byte
	// AuthInfo is only set on REQUEST: the Ids the client authenticated as,
	// which the leader uses for ACL checks of the forwarded write.
	AuthInfo []wire.Id
}

// String is a short human form for logs and test failures.
func (p *QuorumPacket) String() string {
	s := fmt.Sprintf("%s zxid=0x%x", p.Type, p.Zxid)
	if p.Data != nil {
		s += fmt.Sprintf(" data=%dB", len(p.Data))
	}
	if p.AuthInfo != nil {
		s += fmt.Sprintf(" auth=%d", len(p.AuthInfo))
	}
	return s
}

// Encode writes the jute encoding: type int, zxid long, data buffer,
// authinfo vector<Id>.
func (p *QuorumPacket) Encode(e *wire.Encoder) {
	e.Int(int32(p.Type))
	e.Long(p.Zxid)
	e.Buffer(p.Data)
	if p.AuthInfo == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(p.AuthInfo)))
	for i := range p.AuthInfo {
		p.AuthInfo[i].Encode(e)
	}
}

// minIDSize is the encoded size of an Id with two empty strings; it bounds
// how many Ids a given number of bytes can hold before anything is allocated.
const minIDSize = 8

// Decode reads a packet from an in-memory record (tests, fuzzing); a stream
// is read with ReadPacket.
func (p *QuorumPacket) Decode(d *wire.Decoder) {
	p.Type = PacketType(d.Int())
	p.Zxid = d.Long()
	p.Data = d.Buffer()
	n := d.Int()
	if d.Err != nil {
		return
	}
	switch {
	case n == -1:
		p.AuthInfo = nil
		return
	case n < 0:
		d.Err = fmt.Errorf("%w: authinfo count %d", wire.ErrTooLong, n)
		return
	case int(n) > d.Remaining()/minIDSize:
		d.Err = wire.ErrShort
		return
	}
	p.AuthInfo = make([]wire.Id, n)
	for i := range p.AuthInfo {
		p.AuthInfo[i].Decode(d)
	}
}

// DefaultMaxPacket bounds the data buffer of a packet read from a stream:
// jute.maxbuffer plus room for the txn header around a maximal znode, the
// same slack Java's BinaryInputArchive allows (zookeeper.jute.maxbuffer.extrasize).
const DefaultMaxPacket = wire.DefaultMaxBuffer + 1024

// ErrPacketTooLarge means a length in a packet is negative (other than the
// null marker) or beyond the reader's limit. The stream cannot be resynced
// (there is no framing), so the connection must be dropped.
var ErrPacketTooLarge = errors.New("zab: packet length out of range")

// ReadPacket reads one QuorumPacket from an unframed stream. max bounds the
// data buffer and, separately, the total bytes of authinfo (max <= 0 means
// DefaultMaxPacket); nothing larger is ever allocated, whatever the peer
// sends. A clean end of stream before the packet returns io.EOF, an end
// inside it io.ErrUnexpectedEOF. After any error the stream position is
// undefined and the connection must be closed.
func ReadPacket(r *bufio.Reader, max int) (*QuorumPacket, error) {
	if max <= 0 {
		max = DefaultMaxPacket
	}
	sr := streamReader{r: r}
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err // io.EOF only when nothing at all was read
	}
	p := &QuorumPacket{
		Type: PacketType(int32(binary.BigEndian.Uint32(hdr[0:4]))),
		Zxid: int64(binary.BigEndian.Uint64(hdr[4:12])),
	}
	p.Data = sr.buffer(max)
	n := sr.int32()
	if sr.err != nil {
		return nil, sr.err
	}
	if n == -1 {
		return p, nil
	}
	if n < 0 {
		return nil, fmt.Errorf("%w: authinfo count %d", ErrPacketTooLarge, n)
	}
	// Ids are appended one by one rather than preallocated, and their
	// strings are charged against one budget, so a forged count costs the
	// reader no more memory than the bytes the peer actually sends.
	budget := max
	p.AuthInfo = []wire.Id{}
	for i := int32(0); i < n; i++ {
		scheme := sr.buffer(budget)
		budget -= len(scheme)
		id := sr.buffer(budget)
		budget -= len(id)
		if sr.err != nil {
			return nil, sr.err
		}
		p.AuthInfo = append(p.AuthInfo, wire.Id{Scheme: string(scheme), ID: string(id)})
	}
	return p, nil
}

// streamReader reads jute fields from a stream with a sticky error.
type streamReader struct {
	r   *bufio.Reader
	err error
}

func (s *streamReader) int32() int32 {
	if s.err != nil {
		return 0
	}
	var b [4]byte
	if _, err := io.ReadFull(s.r, b[:]); err != nil {
		s.err = unexpected(err)
		return 0
	}
	return int32(binary.BigEndian.Uint32(b[:]))
}

// buffer reads a length-prefixed buffer of at most max bytes; null reads as
// nil. Strings inside Ids use the same layout, and Java writes a null
// string as -1 too, so they are read with this as well.
func (s *streamReader) buffer(max int) []byte {
	n := s.int32()
	if s.err != nil || n == -1 {
		return nil
	}
	if n < 0 || int(n) > max {
		s.err = fmt.Errorf("%w: %d (max %d)", ErrPacketTooLarge, n, max)
		return nil
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(s.r, b); err != nil {
		s.err = unexpected(err)
		return nil
	}
	return b
}

// unexpected turns io.EOF into io.ErrUnexpectedEOF: inside a packet an end
// of stream is always a truncated record.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// WritePacket writes p to w without flushing; the caller flushes when the
// batch is complete (Java flushes after each packet only when told to). The
// data buffer is written straight from p.Data, never copied.
func WritePacket(w *bufio.Writer, p *QuorumPacket) error {
	var hdr [16]byte
	binary.BigEndian.PutUint32(hdr[0:4], uint32(p.Type))
	binary.BigEndian.PutUint64(hdr[4:12], uint64(p.Zxid))
	if p.Data == nil {
		binary.BigEndian.PutUint32(hdr[12:16], 0xffffffff)
	} else {
		binary.BigEndian.PutUint32(hdr[12:16], uint32(len(p.Data)))
	}
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	if _, err := w.Write(p.Data); err != nil {
		return err
	}
	var e wire.Encoder
	if p.AuthInfo == nil {
		e.Int(-1)
	} else {
		e.Int(int32(len(p.AuthInfo)))
		for i := range p.AuthInfo {
			p.AuthInfo[i].Encode(&e)
		}
	}
	_, err := w.Write(e.B)
	return err
}

// AppendPacket appends p's encoding to dst.
func AppendPacket(dst []byte, p *QuorumPacket) []byte {
	if dst == nil {
		// One allocation of the right size instead of a few doublings:
		// a leader encodes a packet per proposal, commit and learner.
		dst = make([]byte, 0, 20+len(p.Data)+16*len(p.AuthInfo))
	}
	e := wire.Encoder{B: dst}
	p.Encode(&e)
	return e.B
}
