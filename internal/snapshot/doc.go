// Package snapshot reads and writes ZooKeeper 3.8 snapshot files
// (storage.md §4), byte-compatible with Apache ZooKeeper: zkd can load a
// Java server's dataDir and ZooKeeper's own tools can read zkd's files.
//
// It owns the file format, the file names (snapshot.<hex zxid>), the
// crash-safe write path (temp file, fsync, rename, fsync of the directory)
// and the choice of the newest valid snapshot on recovery. It reads the
// live tree only through datatree.Tree.Walk and fills a fresh tree only
// through datatree.Loader; it never applies transactions and never touches
// the transaction log: replaying the log after the snapshot's zxid is the
// caller's job (storage.md §5).
//
// Snapshots are fuzzy. Write walks the tree while the applier keeps
// changing it, so snapshot.Z holds every txn <= Z and perhaps parts of
// later ones; only Z plus a replay of the log from Z+1 gives a consistent
// tree.
package snapshot
