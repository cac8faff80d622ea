package loadgen

import (
	"context"
	"sync"
	"time"
)

// runConnect is the connection storm: cfg.Sessions dialers each open a
// session, close it (closeSession, then the socket) and open the next, as
// fast as they can. One op is one session established; its latency runs
// from sending the ConnectRequest to receiving the ConnectResponse (the TCP
// connect and the close are not included).
func runConnect(ctx context.Context, cfg *Config, r *Result) error {
	r.Inflight = 1
	stats := newStats(cfg.Sessions)
	begin := time.Now()
	measureFrom := begin.Add(cfg.Warmup)
	var stopAt time.Time
	if cfg.Ops <= 0 {
		stopAt = measureFrom.Add(cfg.Duration)
	}
	stopProgress := progress(cfg, stats, begin)
	var wg sync.WaitGroup
	var mu sync.Mutex // guards notes from dialers (not the hot path)
	failures := 0
	for i := range stats {
		st := stats[i]
		quota := int64(-1)
		if cfg.Ops > 0 {
			quota = share(cfg.Ops, cfg.Sessions, i)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := cfg.Servers[i%len(cfg.Servers)]
			for n := int64(0); quota < 0 || n < quota; {
				now := time.Now()
				if ctx.Err() != nil || (!stopAt.IsZero() && !now.Before(stopAt)) {
					return
				}
				record := !now.Before(measureFrom)
				c, hs, err := dial(ctx, addr, cfg.SessionTimeout, handshakeBufSize)
				done := time.Now()
				st.progress.Add(1)
				if err != nil {
					if record {
						st.errors++
						n++
					}
					mu.Lock()
					failures++
					if failures <= 3 {
						r.note(cfg.Log, "connect to %s: %v", addr, err)
					}
					mu.Unlock()
					// Back off a little so a refusing server is not spun on.
					time.Sleep(10 * time.Millisecond)
					continue
				}
				c.close()
				if record {
					st.hist.Record(hs)
					st.ops++
					st.lastDone = done
					n++
				}
			}
		}()
	}
	wg.Wait()
	stopProgress()
	collect(r, stats, measureFrom)
	return nil
}
