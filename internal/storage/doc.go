// Package storage owns the data directories: it recovers the tree and the
// sessions at startup (newest valid snapshot + log replay), writes the
// transaction log for the server's sync loop, decides when to roll the log
// and take a fuzzy snapshot in the background, and purges old files.
//
// The file formats themselves live in internal/txnlog and
// internal/snapshot; this package holds the policy that ties them together
// (ZooKeeper's FileTxnSnapLog, SyncRequestProcessor's snapshot trigger and
// PurgeTxnLog).
package storage
