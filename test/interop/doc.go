// Package interop checks that zkd and Apache ZooKeeper 3.8 can take over
// each other's data directory: a tree written by one server (through real
// clients, including sessions that are still alive) must be served
// unchanged by the other, and ZooKeeper's own offline tools must read the
// files zkd writes (and zkd's tools ZooKeeper's). The tests skip when
// java or the ZooKeeper jars are missing, unless CI is set.
package interop
