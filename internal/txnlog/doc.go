// Package txnlog is the transaction log: ZooKeeper 3.8's log.<zxid> files
// in the version-2 directory, byte for byte (shared/spec/storage.md §1-3).
//
// It owns those files and nothing else: appending entries with
// preallocation and fsync (Log), reading them back across files
// (Iterator), cutting them back (Truncate, RepairTornTail) and printing
// them (Dump). It does not decide when to roll or snapshot, does not apply
// txns and does not know about sessions or the tree; the caller's sync
// loop does that.
//
// Crash safety, in one place:
//
//   - every entry carries an Adler-32 of its bytes and ends with 'B'; a
//     mismatch is corruption (CorruptError), never silently skipped;
//   - an incomplete entry at the end of the newest file is the normal
//     result of a crash (a torn tail): readers stop there and report it,
//     RepairTornTail cuts it off and keeps the cut bytes aside;
//   - a failed write is rolled back by truncating the file to the end of
//     the last synced entry, so later appends never follow a half entry;
//   - a failed fsync is fatal (ErrBroken): the page cache may have dropped
//     the dirty pages, and only a restart that re-reads the disk knows what
//     is durable.
//
// Failure points that a fault-injection test may want to hit are marked
// with "// failpoint:" comments.
package txnlog
