// Package config reads zoo.cfg files and turns them into a resolved Config.
//
// It owns three things:
//
//   - the Java .properties syntax zoo.cfg is written in (comments,
//     separators, line continuation, \uXXXX escapes, trimming, last
//     duplicate wins), see properties.go;
//   - the table of keys zkd honours, with ZooKeeper 3.8 defaults and the
//     rule that system-property style keys may be written with or without
//     the "zookeeper." prefix (shared/spec/config.md §1-2);
//   - the server.N membership syntax (config.md §3).
//
// Parsing is strict about values and lenient about keys: a malformed value
// is an *Error naming the file, line, key and value, while a key zkd does
// not know is recorded in Config.Unknown for the caller to log.
//
// Semantics that need more than the file (the myid of this server, whether
// this server's clientPort agrees with its server.N line, peerType against
// the server list) are left to the caller; Config only exposes the parsed
// facts. The package performs no I/O other than reading the file in Load.
package config
