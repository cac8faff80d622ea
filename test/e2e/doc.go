// Package e2e holds end-to-end tests that drive a running server with real
// ZooKeeper clients from Debian packages: zkCli.sh and small Java programs
// built on the Java client and its recipes (package zookeeper), the C client
// shell cli_mt (package zookeeper-bin) and kazoo (package python3-kazoo).
//
// TestMain starts one server for the whole package on a loopback port chosen
// at run time. By default that server is zkd (env ZKD_BIN, default
// <repo>/bin/zkd, built from ./cmd/zkd when missing); with
// ZKD_E2E_TARGET=zookeeper it is Apache ZooKeeper 3.8 from /usr/share/java,
// which is how the suite itself is validated. ZKD_E2E_ADDR=host:port points
// the suite at a server that is already running (nothing is started).
//
// A client tool that is not installed skips its test, or fails it when the
// environment variable CI is set. scripts/install-test-deps.sh installs all
// of them.
package e2e
