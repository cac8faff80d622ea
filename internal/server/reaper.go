package server

import (
	"time"

	"go.uber.org/zap"

	"github.com/zkd/zkd/internal/datatree"
	"github.com/zkd/zkd/internal/wire"
)

// reaperLoop deletes empty containers and expired TTL nodes every
// znode.container.checkIntervalMs, at most znode.container.maxPerMinute
// per minute (ContainerManager.java).
func (s *Server) reaperLoop() {
	interval := time.Duration(s.cfg.ContainerCheckIntervalMs) * time.Millisecond
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.reapOnce(time.Now().UnixMilli())
		}
	}
}

// reapCandidates returns the paths the reaper would delete at time now.
func (s *Server) reapCandidates(now int64) []string {
	var out []string
	for _, c := range s.tree.SpecialNodes() {
		if c.Info.NumChildren > 0 {
			continue
		}
		switch c.Kind {
		case datatree.Container:
			// Only containers that have had a child (stored cversion > 0),
			// unless maxNeverUsedIntervalMs says otherwise.
			if c.Info.Stat.Cversion > 0 {
				out = append(out, c.Path)
			} else if n := int64(s.cfg.ContainerMaxNeverUsedIntervalMs); n > 0 && now-c.Info.Stat.Mtime > n {
				out = append(out, c.Path)
			}
		case datatree.TTL:
			if now-c.Info.Stat.Mtime > datatree.TTLOf(c.Info.Stat.EphemeralOwner) {
				out = append(out, c.Path)
			}
		}
	}
	return out
}

func (s *Server) reapOnce(now int64) {
	if s.peer != nil && s.peer.state.Load() != stateLeading {
		return // only the leader (or a standalone server) reaps
	}
	paths := s.reapCandidates(now)
	if len(paths) == 0 {
		return
	}
	limit := s.cfg.ContainerMaxPerMinute
	if limit <= 0 {
		limit = 10000
	}
	// Spread deletions so no more than maxPerMinute happen per minute.
	gap := time.Minute / time.Duration(limit)
	for i, p := range paths {
		if i > 0 {
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(gap):
			}
		}
		s.log.Debug("reaping node", zap.String("path", p))
		s.pipe().submit(&request{op: wire.OpDeleteContainer, internal: true, rec: &wire.DeleteRequest{Path: p, Version: -1}})
	}
}
