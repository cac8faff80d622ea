// Package servers starts and stops the servers the benchmark programs
// compare: zkd and Apache ZooKeeper 3.8 from Debian's zookeeper package,
// standalone or as ensembles on loopback, with ports probed at run time
// below the kernel's ephemeral range. It also reads what the programs
// report about them: resident memory from /proc, snapshot files, the
// machine they ran on.
//
// It owns processes it started and their directories; it stops them by
// PID (SIGTERM, then SIGKILL), never by name. It must not import test
// code (test/harness takes a testing.TB; this is its program-side twin).
package servers
