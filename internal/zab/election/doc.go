// Package election is ZooKeeper's Fast Leader Election (FLE) as a pure,
// deterministic state machine (shared/spec/quorum.md §2-3).
//
// It owns the election rules: the logical clock (election round), the vote
// order (peerEpoch, then zxid, then sid), the table of votes received in the
// current round, the table of FOLLOWING/LEADING reports used to join an
// established ensemble, the finalize wait, the re-send back-off, the leader
// check and the answers given to LOOKING peers once decided. It also owns the
// byte layout of a notification, which must match Java bit for bit.
//
// It must not touch sockets, goroutines, files or the wall clock. Time enters
// as milliseconds passed to Start, Step and Tick; messages leave as Outgoing
// values the driver encodes and hands to the election transport
// (internal/zab/electionnet). Persisting currentEpoch and acting on a Decision
// (becoming leader, follower or observer) belong to the Zab layer above.
//
// The canonical driver loop:
//
//	e := election.New(myid, q, lastLoggedZxid, currentEpoch, isObserver)
//	send(e.Start(now()))
//	for {
//		select {
//		case m := <-transport.Recv():
//			var n election.Notification
//			if n.Decode(m.Payload) != nil { continue }
//			n.From = m.From
//			out, d := e.Step(n, now())
//			send(out) // always, even when d != nil
//			if d != nil { becomeLeaderFollowerOrObserver(d) }
//		case <-ticker.C:
//			out, d := e.Tick(now())
//			...
//		}
//	}
//
// After a decision the same machine keeps answering LOOKING peers (Step
// delegates to Respond); when the Zab layer loses its leader it calls SetLog
// with the new lastLoggedZxid/currentEpoch and Start again, which begins the
// next round.
package election
