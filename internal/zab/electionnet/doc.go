// Package electionnet is the election transport (QuorumCnxManager,
// shared/spec/quorum.md §1): one TCP connection per pair of members on
// their election ports, carrying opaque length-framed messages for Fast
// Leader Election.
//
// It owns the sockets, the handshake (protocol version -65536, sid,
// election address), the rule that only a connection opened by the larger
// sid survives, the framing (int length, 0 < length <= 512 KiB), one sender
// and one receiver goroutine per peer, the per-peer send queues and the
// re-send of the last message when a connection is re-established.
//
// It must not interpret messages: encoding, decoding and the election rules
// live in internal/zab/election, and a driver loop moves messages between
// Recv/Send and the election machine. Everything it starts ends in Close.
//
// Goroutines (all started here, all ended by Close):
//   - the accept loop (Start), fed by the listener;
//   - one handshake goroutine per accepted socket, until it is kept or
//     closed;
//   - one dial goroutine per peer being connected (Send, ConnectAll);
//   - per established connection, a sender fed by that peer's send queue
//     and a receiver feeding Recv.
package electionnet
