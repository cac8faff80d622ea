// Package zab is the deterministic core of ZooKeeper Atomic Broadcast as
// ZooKeeper 3.8 speaks it between servers (shared/spec/quorum.md §4-8):
// the QuorumPacket wire format and the bookkeeping of each Zab phase.
//
// It owns:
//
//   - packets: QuorumPacket, its unframed jute stream (ReadPacket,
//     WritePacket) and the payload layouts Java peers parse byte for byte
//     (LearnerInfo, REQUEST, PING touch tables, REVALIDATE, LEADERINFO,
//     ACKEPOCH);
//   - epochs: the acceptedEpoch/currentEpoch files and their start-up rules
//     (storage.md §7);
//   - leader phases as pure types: Discovery (epoch agreement), DecideSync
//     (DIFF/TRUNC/SNAP per learner), AckQuorum (NEWLEADER acks), Broadcast
//     (in-order quorum commit), LearnerTracker (syncLimit liveness) and
//     SyncQueue (when a learner's sync() may be answered);
//   - the learner side of synchronisation: LearnerSync turns the packets
//     after LEADERINFO into an ordered list of actions.
//
// It must not own sockets, goroutines, timers, the txn log, snapshots or
// the data tree. Time enters only as ticks passed by the caller, and every
// type returns what to persist, send or apply instead of doing it (STYLE.md
// lesson 1). The driver that owns the connections executes the returned
// actions in order; where that order matters for safety, the comment on the
// action says so.
//
// Zxids and epochs are int64 as on the wire and in Java: a zxid is
// epoch<<32 | counter, an epoch is a non-negative number below 2^32, and
// -1 is the "none" marker where the protocol uses one.
//
// Elections (Fast Leader Election) live in the subpackages election and
// electionnet, not here.
package zab
