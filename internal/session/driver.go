package session

import (
	"context"
	"time"

	"github.com/zkd/zkd/internal/wire"
)

// Run is the expiry driver (ZooKeeper's SessionTracker thread). It loops
// until ctx is done: expire whatever is due on tracker at clock's time,
// hand the ids to onExpire (if any), then sleep until the next deadline but
// never longer than tickMs. The cap matters because a session added while
// Run sleeps may land in an earlier bucket than the one it is waiting for;
// waking every tick bounds how late such a session can be expired.
//
// onExpire runs on Run's goroutine with no tracker lock held, so it may
// call back into the tracker; it should hand the ids off (e.g. submit
// closeSession transactions) rather than block for long. Run returns
// ctx.Err() when it stops.
func Run(ctx context.Context, tracker *Tracker, clock Clock, tickMs int64, onExpire func([]wire.SessionID)) error {
	if tickMs <= 0 {
		tickMs = tracker.TickMs()
	}
	waker, _ := clock.(Waker)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		now := clock.NowMs()
		if ids := tracker.Expire(now); len(ids) > 0 && onExpire != nil {
			onExpire(ids)
		}
		wait := tickMs
		// Expire(now) drained every bucket <= now, so a remaining
		// deadline is > now unless Touch raced in with a later clock
		// reading; the floor of 1 ms keeps us from spinning either way.
		if next := tracker.NextExpiration(); next != 0 {
			wait = min(max(next-now, 1), tickMs)
		}
		if waker != nil {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-waker.After(wait):
			}
			continue
		}
		timer := time.NewTimer(time.Duration(wait) * time.Millisecond)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}
