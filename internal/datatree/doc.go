// Package datatree is the in-memory znode tree: the replicated state
// machine of zkd.
//
// Writes enter only through Apply, which takes a committed transaction
// (TxnHeader + txn record from package wire) and changes the tree as a
// deterministic function of the tree and the txn: no clock, no randomness,
// no I/O. Apply must be called from one goroutine at a time (the applier),
// in zxid order. Reads may run concurrently from any goroutine: nodes live
// in a sharded map and every node has its own lock, so a read never waits
// behind a global lock and only contends with a write of the same node.
//
// Watches are triggered by Apply while it holds the changed node's lock,
// and registered by reads under the same lock, so a reader that sees a
// change has been notified of it first (wire.md §11).
//
// Apply also keeps ZooKeeper's quota stats nodes up to date in place, and
// Loader.Finish recounts them after a load (quota.go).
package datatree
