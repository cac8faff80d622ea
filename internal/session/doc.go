// Package session is zkd's session bookkeeping: which sessions exist, their
// timeouts and passwords, and when each one expires.
//
// The core is pure and clock-free: every method that needs the time takes it
// as an int64 millisecond argument, so the expiry rules (wire.md §5.4) can be
// tested exactly, without sleeping. Time only enters through a Clock, used by
// the small Run driver that wakes up and reports expired sessions.
//
// The pieces, all following Apache ZooKeeper 3.8 behaviour:
//
//   - ExpiryQueue: items bucketed by deadline rounded up to the next tick
//     (ZooKeeper's ExpiryQueue), so sessions expire in batches.
//   - Password: the session password a Java server would generate
//     (ZooKeeperServer.generatePasswd, wire.md §3.5).
//   - InitialID / IDGenerator: session ids with the server id in the top byte
//     (SessionTrackerImpl.initializeNextSessionId, wire.md §3.4).
//   - Tracker: the concurrency-safe session table (SessionTrackerImpl).
//   - Run: the expiry driver (SessionTrackerImpl.run).
//
// Expiring a session is a two-step affair, as in ZooKeeper: Tracker.Expire
// marks the session closing so it accepts no more requests, and the server
// then issues a closeSession transaction; only when that transaction is
// applied does the server call Tracker.Remove.
package session
