// Package zkclient is a small ZooKeeper client session built on
// internal/wire, for zkd's own tools (zkd cli). It exists because the Go
// client the shell used before (go-zookeeper) cannot send the newer
// requests: getEphemerals, getAllChildrenNumber, whoAmI, addWatch,
// removeWatches/checkWatches.
//
// It owns one TCP connection at a time and one session across them: on a
// lost connection it moves to the next server, resumes the session with its
// id and password, replays addauth credentials and re-registers every watch
// with setWatches2 (as ClientCnxn does). It keeps the client half of
// ZooKeeper's watch bookkeeping (ZKWatchManager): which paths hold data,
// exist, child, persistent and persistent-recursive watches, so that
// notifications are delivered once and removeWatches behaves as in Java.
//
// It is not a general client library: requests are synchronous, one
// watcher (Config.OnEvent) receives every event, there is no chroot, no
// SASL, no read-only mode and no multi. It must not import server-side
// packages; it speaks to a server only through the wire protocol.
//
// Goroutines: Connect starts run (the connection loop; it owns dialing and
// reconnecting) and, per connection, a reader (decodes frames, completes
// calls, delivers events) and a pinger. Events are delivered from one
// goroutine, in arrival order, never while a lock is held.
package zkclient
