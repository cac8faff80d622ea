// Package loadgen generates load against a ZooKeeper-compatible server and
// measures it: the engine behind `zkd bench`.
//
// It speaks the client protocol itself (internal/wire), with its own
// pipelined sessions, so the client is never the bottleneck and the same
// bytes go to zkd and to Apache ZooKeeper. It owns the load and its
// measurement and nothing else: no server code, no go-zookeeper.
//
// Goroutines (per measured phase):
//
//   - one writer per session: starts logical ops (closed loop: while fewer
//     than the window are in flight; open loop: at scheduled times), sends
//     the follow-up requests of multi-step ops, keeps idle sessions alive
//     with pings, and flushes its bufio.Writer whenever it would block;
//   - one reader per session: reads replies, matches them to requests in
//     FIFO order (a server answers a connection's requests in order),
//     records latencies into the session's own histogram and frees the
//     window slot;
//   - one progress ticker per run, when a progress callback is set.
//
// The watch and connect workloads have their own shapes (watch.go,
// connect.go); fsync (fsync.go) measures the disk, not a server.
//
// Only per-session channels synchronise the hot path; per-session results
// are merged once the phase has ended.
package loadgen
