package server

import (
	"time"

	"github.com/zkd/zkd/internal/wire"
)

// SetReadReplyHook installs f to run between a read's look at the tree
// and the queueing of its reply. Call it before Serve.
func SetReadReplyHook(s *Server, f func(wire.OpCode)) { s.readReplyHook = f }

// AddSession adds a live session to the server's tracker, as an applied
// createSession would.
func AddSession(s *Server, id wire.SessionID, timeout int32) {
	s.sessions.Add(id, timeout, time.Now().UnixMilli())
}

// SetClientsOK sets the flag a role sets when it starts serving and
// stopRole clears.
func SetClientsOK(s *Server, ok bool) { s.clientsOK.Store(ok) }

// queued is the number of bytes waiting in an outbox.
func (o *outbox) queued() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.bytes
}
