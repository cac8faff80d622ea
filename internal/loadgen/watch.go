package loadgen

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/zkd/zkd/internal/histogram"
	"github.com/zkd/zkd/internal/wire"
)

// watcher is one watching session of the watch workload.
type watcher struct {
	c *conn
	// arm receives a token at the start of each round.
	arm chan struct{}
	// arrived is when this round's notification came in; written by the
	// watcher before fired.Done, read by the coordinator after Wait.
	arrived time.Time
	err     error
}

// runWatch is the fan-out benchmark: cfg.Watchers sessions each leave a
// data watch (getData with watch) on one node, one writer session does
// setData, and a round's latency runs from sending the setData until the
// last watcher has its notification. Watches are one-shot, so every round
// re-arms them first (not measured).
func runWatch(ctx context.Context, cfg *Config, r *Result) error {
	if cfg.Watchers <= 0 {
		cfg.Watchers = 1000
	}
	if cfg.Rounds <= 0 {
		cfg.Rounds = 20
	}
	r.Watchers, r.Rounds = cfg.Watchers, cfg.Rounds
	r.Sessions, r.Inflight = cfg.Watchers+1, 1
	data := make([]byte, cfg.DataSize)
	conns, err := openSessions(ctx, cfg, r, cfg.Watchers+1)
	if err != nil {
		return err
	}
	defer closeSessions(conns)
	writer := conns[len(conns)-1]
	if writer == nil {
		return fmt.Errorf("watch: the writer session could not be opened")
	}
	node := cfg.Root + "/watch-" + fmt.Sprintf("%x", time.Now().UnixNano()&0xffffffffff)
	if err := ensurePath(writer, cfg.Root); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if code, _, err := writer.call(wire.OpCreate, &wire.CreateRequest{Path: node, Data: data, ACL: wire.OpenACLUnsafe}); err != nil || code != wire.OK {
		return fmt.Errorf("setup: create %s: %v %v", node, code, err)
	}
	defer func() {
		if writer != nil {
			remove(writer, node)
			remove(writer, cfg.Root)
		}
	}()

	var armed, fired sync.WaitGroup
	var ws []*watcher
	for _, c := range conns[:len(conns)-1] {
		if c != nil {
			c.watchdogged = true
			ws = append(ws, &watcher{c: c, arm: make(chan struct{}, 1)})
		}
	}
	getData := wire.GetDataRequest{Path: node, Watch: true}
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range w.arm {
				w.watchOnce(&getData, &armed, &fired)
			}
		}()
	}
	defer func() {
		for _, w := range ws {
			close(w.arm)
		}
		wg.Wait()
	}()

	h := histogram.New()
	begin := time.Now()
	for round := 0; round < cfg.Rounds && ctx.Err() == nil; round++ {
		var active []*watcher
		for _, w := range ws {
			if w.err == nil {
				active = append(active, w)
			}
		}
		if len(active) == 0 {
			r.note(cfg.Log, "watch: every watcher session was lost")
			break
		}
		armed.Add(len(active))
		fired.Add(len(active))
		// One timer per round bounds every watcher's calls and wait: it
		// closes the connections of a round that hangs, which the watchers
		// then report as lost.
		watchdog := time.AfterFunc(ioTimeout, func() {
			for _, w := range active {
				_ = w.c.nc.Close()
			}
		})
		for _, w := range active {
			w.arm <- struct{}{}
		}
		armed.Wait()
		start := time.Now()
		code, _, err := writer.call(wire.OpSetData, &wire.SetDataRequest{Path: node, Data: data, Version: -1})
		fired.Wait()
		watchdog.Stop()
		if err != nil {
			r.note(cfg.Log, "watch: writer session lost: %v", err)
			r.Errors++
			r.DroppedSessions++
			_ = writer.nc.Close()
			conns[len(conns)-1], writer = nil, nil
			break
		}
		if code != wire.OK {
			r.Errors++
			continue
		}
		var last time.Time
		failed := false
		for _, w := range active {
			if w.err != nil {
				failed = true
				r.Errors++
				r.DroppedSessions++
				r.note(cfg.Log, "watch: %v", w.err)
				_ = w.c.nc.Close()
				continue
			}
			r.Notifications++
			if w.arrived.After(last) {
				last = w.arrived
			}
		}
		if failed {
			continue // the round did not reach every watcher
		}
		h.Record(last.Sub(start))
		r.Ops++
		if cfg.Progress != nil {
			cfg.Progress(r.Ops, time.Since(begin))
		}
	}
	r.finish(h, time.Since(begin))
	return nil
}

// watchOnce arms the watch, reports armed, then waits for the notification
// and reports fired. Any failure ends the watcher (err set), reported
// through the same two WaitGroups so the round never hangs.
func (w *watcher) watchOnce(req *wire.GetDataRequest, armed, fired *sync.WaitGroup) {
	code, _, err := w.c.call(wire.OpGetData, req)
	if err == nil && code == wire.ErrNoNode {
		// The writer created the node through another member, which this
		// one may not have applied yet: ZooKeeper promises another
		// session's write only after a sync.
		if _, _, err = w.c.call(wire.OpSync, &wire.SyncRequest{Path: req.Path}); err == nil {
			code, _, err = w.c.call(wire.OpGetData, req)
		}
	}
	if err == nil && code != wire.OK {
		err = fmt.Errorf("getData: %w", code)
	}
	armed.Done()
	defer fired.Done()
	if err != nil {
		w.err = fmt.Errorf("session %v: %w", w.c.sessionID, err)
		return
	}
	for { // bounded by the round's watchdog
		frame, err := wire.ReadFrame(w.c.br, maxFrame, w.c.buf)
		if err != nil {
			w.err = fmt.Errorf("session %v waiting for its notification: %w", w.c.sessionID, err)
			return
		}
		w.c.buf = frame[:0]
		d := wire.Decoder{B: frame}
		var rh wire.ReplyHeader
		rh.Decode(&d)
		if rh.Xid == wire.XidNotification {
			w.arrived = time.Now()
			return
		}
	}
}
