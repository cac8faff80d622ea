package server

import "github.com/zkd/zkd/internal/wire"

// SetReadReplyHook installs f to run between a read's look at the tree
// and the queueing of its reply. Call it before Serve.
func SetReadReplyHook(s *Server, f func(wire.OpCode)) { s.readReplyHook = f }
