// Package wire is the ZooKeeper client protocol: the jute binary codec,
// every request, response and transaction record, opcodes and error codes.
//
// It owns bytes <-> records and nothing else: no sockets, no tree, no
// sessions. Every other package speaks in the records defined here, so a
// record's field order is written down exactly once.
//
// Layouts follow zookeeper.jute of Apache ZooKeeper 3.8 (see
// shared/spec/wire.md and storage.md).
package wire
