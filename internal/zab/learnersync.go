package zab

import (
	"errors"
	"fmt"
	"strings"
)

// LearnerType is how a learner takes part: a participant (follower) votes
// and ACKs proposals; an observer only learns.
type LearnerType int

const (
	// Participant is a follower: it votes, logs and ACKs proposals.
	Participant LearnerType = iota
	// Observer logs and applies INFORMs and never ACKs a proposal.
	Observer
)

func (t LearnerType) String() string {
	if t == Observer {
		return "observer"
	}
	return "participant"
}

// Txn is a proposal as carried by PROPOSAL/INFORM: its zxid and data
// (TxnHeader + txn record [+ digest], the bytes of a log entry body).
type Txn struct {
	Zxid int64
	Data []byte
}

// ActionKind says what a LearnerAction asks the driver to do.
type ActionKind int

const (
	// ActTruncate: cut the txn log back so that Zxid is its last txn and
	// reload the tree from snapshot + log. Failure is fatal (Java exits):
	// the learner cannot join with txns the leader rejected.
	ActTruncate ActionKind = iota + 1
	// ActLoadSnapshot: read the snapshot body and SnapSignature that follow
	// the SNAP packet from the stream NOW, before reading the next packet;
	// replace the tree with it; lastProcessedZxid = Zxid.
	ActLoadSnapshot
	// ActApply: apply Txns to the tree, in order. They are committed and
	// either already durable in the log or covered by the snapshot that
	// ActTakeSnapshot will write before the epoch changes.
	ActApply
	// ActLog: append Txns to the txn log and fsync before the next action;
	// later ActSendAck for them relies on it.
	ActLog
	// ActTakeSnapshot: write a snapshot of the tree and fsync it. Needed
	// after SNAP/TRUNC because the txns applied so far are in no log.
	ActTakeSnapshot
	// ActSetConfig: Data is the config text from NEWLEADER, the last seen
	// quorum config (not activated before UPTODATE).
	ActSetConfig
	// ActPersistCurrentEpoch: write currentEpoch = Epoch durably before the
	// next action (the NEWLEADER ACK promises it).
	ActPersistCurrentEpoch
	// ActSendAck: send ACK{Zxid} to the leader.
	ActSendAck
	// ActStartServing: sync is over, serve clients. Txns are proposals
	// already logged but not yet committed; their COMMITs arrive in the
	// broadcast phase and must be matched against them in order.
	ActStartServing
)

var actionNames = [...]string{
	ActTruncate:            "truncate",
	ActLoadSnapshot:        "load-snapshot",
	ActApply:               "apply",
	ActLog:                 "log",
	ActTakeSnapshot:        "take-snapshot",
	ActSetConfig:           "set-config",
	ActPersistCurrentEpoch: "persist-current-epoch",
	ActSendAck:             "send-ack",
	ActStartServing:        "start-serving",
}

func (k ActionKind) String() string {
	if k > 0 && int(k) < len(actionNames) {
		return actionNames[k]
	}
	return fmt.Sprintf("ActionKind(%d)", int(k))
}

// LearnerAction is one step for the driver. Only the fields its Kind names
// are set.
type LearnerAction struct {
	Kind  ActionKind
	Zxid  int64
	Epoch int64
	Txns  []Txn
	Data  []byte
}

// String renders an action compactly ("apply 0x100000004 0x100000005") so
// tests can state expected sequences the way the protocol reads.
func (a LearnerAction) String() string {
	var b strings.Builder
	b.WriteString(a.Kind.String())
	switch a.Kind {
	case ActTruncate, ActLoadSnapshot, ActSendAck:
		fmt.Fprintf(&b, " 0x%x", a.Zxid)
	case ActPersistCurrentEpoch:
		fmt.Fprintf(&b, " %d", a.Epoch)
	case ActSetConfig:
		fmt.Fprintf(&b, " %q", a.Data)
	}
	for _, t := range a.Txns {
		fmt.Fprintf(&b, " 0x%x", t.Zxid)
	}
	return b.String()
}

// ErrUnexpectedPacket means the leader sent a packet that does not fit the
// sync protocol at this point; the learner must drop the connection and go
// back to election.
var ErrUnexpectedPacket = errors.New("zab: unexpected packet during sync")

// LearnerSync is Learner.syncWithLeader as a state machine (quorum.md §5.3,
// learner table). Feed it every packet after LEADERINFO/ACKEPOCH with Step
// and execute the returned actions in order; it is done after UPTODATE.
//
// The rules it encodes:
//   - The first packet is DIFF (keep the tree), TRUNC or SNAP.
//   - Before NEWLEADER after SNAP/TRUNC, a COMMIT applies its proposal
//     straight to the tree; the snapshot taken at NEWLEADER makes it durable.
//   - Before NEWLEADER after DIFF, proposals are held and commits
//     remembered: the tree is only ever ahead of the log by what a snapshot
//     covers.
//   - At NEWLEADER the held, uncommitted proposals are logged BEFORE
//     currentEpoch is written (ZOOKEEPER-4643: with the epoch written first,
//     a crash could make a server with the new epoch but without those txns
//     win an election and truncate committed txns), then ACK{newEpoch<<32}.
//   - After NEWLEADER every proposal is logged (and ACKed by a participant)
//     as it arrives; its COMMIT, and the remembered DIFF commits, are applied
//     at UPTODATE, before ACK{newEpoch<<32} and serving.
type LearnerSync struct {
	typ          LearnerType
	newEpoch     int64
	mode         SyncKind // 0 until DIFF/TRUNC/SNAP
	sawNewLeader bool
	done         bool
	// pending are proposals received and neither logged nor applied; only
	// non-empty before NEWLEADER.
	pending []Txn
	// logged are proposals in the log and not yet applied, in zxid order.
	logged []Txn
	// commits are COMMIT zxids remembered for application at UPTODATE.
	commits []int64
}

// NewLearnerSync starts sync for a learner that accepted newEpoch (from
// LEADERINFO).
func NewLearnerSync(typ LearnerType, newEpoch int64) *LearnerSync {
	return &LearnerSync{typ: typ, newEpoch: newEpoch}
}

// Done reports whether UPTODATE has been processed.
func (s *LearnerSync) Done() bool { return s.done }

// Mode is the sync kind the leader chose (0 before the first packet).
func (s *LearnerSync) Mode() SyncKind { return s.mode }

// Step consumes one packet from the leader. On error the learner must
// disconnect; actions already returned by earlier steps stay valid.
func (s *LearnerSync) Step(p *QuorumPacket) ([]LearnerAction, error) {
	if s.done {
		return nil, fmt.Errorf("%w: %s after UPTODATE", ErrUnexpectedPacket, p.Type)
	}
	if s.mode == 0 {
		return s.first(p)
	}
	switch p.Type {
	case PktProposal:
		return s.proposal(Txn{Zxid: p.Zxid, Data: p.Data}), nil
	case PktCommit, PktCommitAndActivate:
		// Reconfig activation is not modelled here; the commit itself is
		// ordered like any other.
		return s.commit(p.Zxid)
	case PktInform, PktInformAndActivate:
		data := p.Data
		if p.Type == PktInformAndActivate {
			_, txn, err := ParseActivate(data)
			if err != nil {
				return nil, err
			}
			data = txn
		}
		return s.inform(Txn{Zxid: p.Zxid, Data: data}), nil
	case PktNewLeader:
		return s.newLeader(p)
	case PktUpToDate:
		return s.upToDate()
	default:
		// Java's sync loop ignores anything else (a PING may arrive before
		// UPTODATE and gets no reply until broadcast).
		return nil, nil
	}
}

func (s *LearnerSync) first(p *QuorumPacket) ([]LearnerAction, error) {
	switch p.Type {
	case PktDiff:
		s.mode = SyncDiff
		return nil, nil
	case PktTrunc:
		s.mode = SyncTrunc
		return []LearnerAction{{Kind: ActTruncate, Zxid: p.Zxid}}, nil
	case PktSnap:
		s.mode = SyncSnap
		return []LearnerAction{{Kind: ActLoadSnapshot, Zxid: p.Zxid}}, nil
	}
	return nil, fmt.Errorf("%w: %s instead of DIFF/TRUNC/SNAP", ErrUnexpectedPacket, p.Type)
}

// applyDirectly: before NEWLEADER after SNAP/TRUNC the tree is not backed by
// the log anyway; the snapshot at NEWLEADER will cover what is applied now.
func (s *LearnerSync) applyDirectly() bool { return !s.sawNewLeader && s.mode != SyncDiff }

func (s *LearnerSync) proposal(t Txn) []LearnerAction {
	if !s.sawNewLeader {
		s.pending = append(s.pending, t)
		return nil
	}
	s.logged = append(s.logged, t)
	return s.logAndAck([]Txn{t})
}

// logAndAck logs txns and, for a participant, ACKs each after the log
// action (so after fsync); observers never ACK proposals.
func (s *LearnerSync) logAndAck(ts []Txn) []LearnerAction {
	acts := []LearnerAction{{Kind: ActLog, Txns: ts}}
	if s.typ == Participant {
		for _, t := range ts {
			acts = append(acts, LearnerAction{Kind: ActSendAck, Zxid: t.Zxid})
		}
	}
	return acts
}

func (s *LearnerSync) commit(zxid int64) ([]LearnerAction, error) {
	if !s.applyDirectly() {
		s.commits = append(s.commits, zxid)
		return nil, nil
	}
	// A COMMIT always names the oldest pending proposal. Java only warns and
	// drops a mismatching one, which would silently lose a txn; refuse.
	if len(s.pending) == 0 || s.pending[0].Zxid != zxid {
		return nil, fmt.Errorf("%w: COMMIT 0x%x is not the oldest pending proposal", ErrUnexpectedPacket, zxid)
	}
	t := s.pending[0]
	s.pending = s.pending[1:]
	return []LearnerAction{{Kind: ActApply, Txns: []Txn{t}}}, nil
}

// inform is PROPOSAL and COMMIT in one, as observers receive them.
func (s *LearnerSync) inform(t Txn) []LearnerAction {
	if s.applyDirectly() {
		return []LearnerAction{{Kind: ActApply, Txns: []Txn{t}}}
	}
	acts := s.proposal(t)
	s.commits = append(s.commits, t.Zxid)
	return acts
}

func (s *LearnerSync) newLeader(p *QuorumPacket) ([]LearnerAction, error) {
	if s.sawNewLeader {
		return nil, fmt.Errorf("%w: second NEWLEADER", ErrUnexpectedPacket)
	}
	s.sawNewLeader = true
	var acts []LearnerAction
	// Java ignores config data of length <= 1.
	if len(p.Data) > 1 {
		acts = append(acts, LearnerAction{Kind: ActSetConfig, Data: p.Data})
	}
	if s.mode != SyncDiff {
		acts = append(acts, LearnerAction{Kind: ActTakeSnapshot})
	}
	held := s.pending
	s.pending = nil
	if len(held) > 0 {
		s.logged = append(s.logged, held...)
		acts = append(acts, LearnerAction{Kind: ActLog, Txns: held})
	}
	acts = append(acts,
		LearnerAction{Kind: ActPersistCurrentEpoch, Epoch: s.newEpoch},
		// The NEWLEADER ACK must be the first packet after NEWLEADER: a
		// Java leader reads exactly one packet as that ACK.
		LearnerAction{Kind: ActSendAck, Zxid: MakeZxid(s.newEpoch, 0)},
	)
	if s.typ == Participant {
		for _, t := range held {
			acts = append(acts, LearnerAction{Kind: ActSendAck, Zxid: t.Zxid})
		}
	}
	return acts, nil
}

func (s *LearnerSync) upToDate() ([]LearnerAction, error) {
	if !s.sawNewLeader {
		// Pre-Zab-1.0 leaders skip NEWLEADER; zkd does not speak that.
		return nil, fmt.Errorf("%w: UPTODATE before NEWLEADER", ErrUnexpectedPacket)
	}
	var apply []Txn
	for _, z := range s.commits {
		if len(s.logged) == 0 || s.logged[0].Zxid != z {
			return nil, fmt.Errorf("%w: COMMIT 0x%x is not the oldest pending proposal", ErrUnexpectedPacket, z)
		}
		apply = append(apply, s.logged[0])
		s.logged = s.logged[1:]
	}
	s.commits = nil
	s.done = true
	var acts []LearnerAction
	if len(apply) > 0 {
		acts = append(acts, LearnerAction{Kind: ActApply, Txns: apply})
	}
	return append(acts,
		LearnerAction{Kind: ActSendAck, Zxid: MakeZxid(s.newEpoch, 0)},
		LearnerAction{Kind: ActStartServing, Txns: s.logged},
	), nil
}
