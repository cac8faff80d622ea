// Package loopback finds free ports on 127.0.0.1 and speaks ZooKeeper's
// four-letter words: what tests (test/harness) and the benchmark programs
// (bench/) need to run servers side by side on one machine. The server
// itself does not use it.
package loopback
