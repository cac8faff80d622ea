// Package watch keeps the watch tables of one server: which watcher wants
// to hear about which path, and in which mode (one-shot data/exist/child,
// persistent, persistent-recursive).
//
// It owns registration and trigger bookkeeping only. It does not know about
// sockets: a Watcher is anything that can take a notification (in practice
// a client connection), and delivering it is the watcher's job. The data
// tree calls Trigger while it holds the lock of the node that changed, so a
// read that observes the change cannot overtake the notification.
package watch
