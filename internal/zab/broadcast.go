package zab

import (
	"errors"
	"fmt"
)

// ErrCounterRollover means the next zxid would have counter 0xffffffff. Java's
// leader shuts down at that point so that a new election starts a new epoch
// (Leader.propose); so must ours.
var ErrCounterRollover = errors.New("zab: zxid counter exhausted, a new epoch is needed")

// ErrProposalOrder means a proposal's zxid is not above every earlier one or
// is an epoch start; Zab's total order would break.
var ErrProposalOrder = errors.New("zab: proposal zxid out of order")

// Broadcast is the leader's proposal/ack/commit bookkeeping for one epoch
// (quorum.md §5.4, Leader.propose/processAck/tryToCommit).
//
// Invariant: lastCommitted < every outstanding zxid, and outstanding zxids
// are strictly increasing (a slice in proposal order).
type Broadcast struct {
	qv            QuorumVerifier
	outstanding   []*proposal
	lastProposed  int64
	lastCommitted int64
}

type proposal struct {
	zxid int64
	acks map[int64]bool
}

// NewBroadcast starts broadcast after synchronisation; lastCommitted is the
// highest zxid already committed (the epoch start newEpoch<<32 when nothing
// has been proposed in this epoch yet, or the last txn of the sync).
func NewBroadcast(qv QuorumVerifier, lastCommitted int64) *Broadcast {
	return &Broadcast{qv: qv, lastProposed: lastCommitted, lastCommitted: lastCommitted}
}

// Propose adds a proposal. The driver must send PROPOSAL to followers and log
// it itself; the leader's own ACK comes through Ack(self, zxid) once its log
// write is durable, like any follower's.
func (b *Broadcast) Propose(zxid int64) error {
	if CounterOf(zxid) == 0xffffffff {
		return fmt.Errorf("%w: 0x%x", ErrCounterRollover, zxid)
	}
	if zxid <= b.lastProposed || CounterOf(zxid) == 0 {
		return fmt.Errorf("%w: 0x%x after 0x%x", ErrProposalOrder, zxid, b.lastProposed)
	}
	b.outstanding = append(b.outstanding, &proposal{zxid: zxid, acks: map[int64]bool{}})
	b.lastProposed = zxid
	return nil
}

// Ack records sid's ACK for zxid and returns the zxids that are now committed,
// ascending. A proposal commits only when a quorum of voters acked it and
// every earlier proposal has committed, so Zab's order holds even when acks
// arrive out of order; one ack can therefore commit several proposals.
//
// Ignored, as in Leader.processAck: acks with counter 0 (the NEWLEADER and
// UPTODATE acks), acks for committed or unknown zxids (late or duplicate),
// and acks from non-voters (observers never ack; an unknown sid must not
// make up a quorum).
func (b *Broadcast) Ack(sid, zxid int64) []int64 {
	if CounterOf(zxid) == 0 || zxid <= b.lastCommitted || !b.qv.IsVoter(sid) {
		return nil
	}
	found := false
	for _, p := range b.outstanding {
		if p.zxid >= zxid {
			if found = p.zxid == zxid; found {
				p.acks[sid] = true
			}
			break
		}
	}
	if !found {
		return nil
	}
	var committed []int64
	for len(b.outstanding) > 0 && b.qv.ContainsQuorum(b.outstanding[0].acks) {
		p := b.outstanding[0]
		b.outstanding[0] = nil
		b.outstanding = b.outstanding[1:]
		b.lastCommitted = p.zxid
		committed = append(committed, p.zxid)
	}
	return committed
}

// Outstanding is the number of proposals not yet committed.
func (b *Broadcast) Outstanding() int { return len(b.outstanding) }

// LastProposed is the zxid of the newest proposal; the leader's PINGs carry
// it and a learner's sync waits for it.
func (b *Broadcast) LastProposed() int64 { return b.lastProposed }

// LastCommitted is the zxid of the newest committed proposal.
func (b *Broadcast) LastCommitted() int64 { return b.lastCommitted }

// OutstandingZxids lists the uncommitted proposals in order; a learner that
// joins during broadcast is sent these after its sync (without COMMIT).
func (b *Broadcast) OutstandingZxids() []int64 {
	zs := make([]int64, len(b.outstanding))
	for i, p := range b.outstanding {
		zs[i] = p.zxid
	}
	return zs
}
