package ensemble

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
	"github.com/zkd/zkd/test/harness"
)

// skipShort skips multi-process tests under -short.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-process ensemble test")
	}
}

// ackedWrite is a create the ensemble acknowledged, with when it was
// issued and when the answer came.
type ackedWrite struct {
	path       string
	start, end time.Time
}

// writeLoad is several go-zookeeper clients (each with every member in
// its connect string) creating unique nodes under a root as fast as they
// can, recording every acknowledged create. Failed creates are not
// retried: their outcome is unknown, and the checks only concern
// acknowledged ones.
type writeLoad struct {
	t    *testing.T
	root string
	stop chan struct{}
	wg   sync.WaitGroup

	mu     sync.Mutex
	acked  []ackedWrite
	errs   map[string]int
	issued int
}

// startWriteLoad creates root and starts n writer clients under it.
func startWriteLoad(t *testing.T, e *harness.Ensemble, root string, n int) *writeLoad {
	t.Helper()
	c := connect(t, strings.Split(e.ConnectString(), ",")...)
	_, err := c.Create(root, nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err, e.Logs())
	w := &writeLoad{t: t, root: root, stop: make(chan struct{}), errs: map[string]int{}}
	for i := 0; i < n; i++ {
		// A session timeout well above a failover, so the clients keep
		// their sessions across it (as production clients would).
		zc, _, err := zk.Connect(strings.Split(e.ConnectString(), ","), 10*time.Second, zk.WithLogger(nopZkLogger{}))
		require.NoError(t, err)
		w.wg.Add(1)
		go func(i int, zc *zk.Conn) {
			defer w.wg.Done()
			defer zc.Close()
			for seq := 0; ; seq++ {
				select {
				case <-w.stop:
					return
				default:
				}
				p := fmt.Sprintf("%s/c%d-%07d", root, i, seq)
				start := time.Now()
				w.mu.Lock()
				w.issued++
				w.mu.Unlock()
				_, err := zc.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll))
				end := time.Now()
				w.mu.Lock()
				if err == nil {
					w.acked = append(w.acked, ackedWrite{path: p, start: start, end: end})
				} else {
					w.errs[err.Error()]++
				}
				w.mu.Unlock()
				if err != nil {
					select {
					case <-w.stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
			}
		}(i, zc)
	}
	return w
}

// halt stops the writers and waits for them.
func (w *writeLoad) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.wg.Wait()
}

// ackedCount is the number of acknowledged creates so far.
func (w *writeLoad) ackedCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// waitMore waits until at least n more creates than now are acknowledged.
func (w *writeLoad) waitMore(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	target := w.ackedCount() + n
	deadline := time.Now().Add(timeout)
	for w.ackedCount() < target {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d acknowledged writes within %v; errors %v", w.ackedCount(), target, timeout, w.errorSummary())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// firstAckIssuedAfter is the first acknowledgement of a create issued
// after t0 (zero when none).
func (w *writeLoad) firstAckIssuedAfter(t0 time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	var first time.Time
	for _, a := range w.acked {
		if a.start.After(t0) && (first.IsZero() || a.end.Before(first)) {
			first = a.end
		}
	}
	return first
}

func (w *writeLoad) errorSummary() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]int{}
	for k, v := range w.errs {
		out[k] = v
	}
	return out
}

// paths are the acknowledged creates.
func (w *writeLoad) paths() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, len(w.acked))
	for i, a := range w.acked {
		out[i] = a.path
	}
	return out
}

// requireAckedEverywhere checks that every acknowledged create under root
// is on every given member, read after sync() on that member.
func requireAckedEverywhere(t *testing.T, e *harness.Ensemble, root string, acked []string, ids ...int) {
	t.Helper()
	for _, id := range ids {
		c := connect(t, e.Member(id).ClientAddr)
		_, err := c.Sync(root)
		require.NoError(t, err, "sync on member %d\n%s", id, e.Logs())
		kids, _, err := c.Children(root)
		require.NoError(t, err, "children on member %d", id)
		have := make(map[string]bool, len(kids))
		for _, k := range kids {
			have[root+"/"+k] = true
		}
		var missing []string
		for _, p := range acked {
			if !have[p] {
				missing = append(missing, p)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			t.Fatalf("member %d lacks %d of %d acknowledged writes, e.g. %v\n%s", id, len(missing), len(acked), missing[:min(5, len(missing))], e.Logs())
		}
		c.Close()
	}
}

// allIDs lists the ensemble's member ids.
func allIDs(e *harness.Ensemble) []int {
	var ids []int
	for _, m := range e.Members {
		ids = append(ids, m.ID)
	}
	return ids
}

// others lists the member ids other than the given ones.
func others(e *harness.Ensemble, not ...int) []int {
	var ids []int
	for _, m := range e.Members {
		skip := false
		for _, n := range not {
			skip = skip || m.ID == n
		}
		if !skip {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// connectMembers connects a client to the given members only.
func connectMembers(t *testing.T, e *harness.Ensemble, ids ...int) *zk.Conn {
	t.Helper()
	var addrs []string
	for _, id := range ids {
		addrs = append(addrs, e.Member(id).ClientAddr)
	}
	return connect(t, addrs...)
}

// waitMode waits until member id's srvr reports mode.
func waitMode(t *testing.T, e *harness.Ensemble, id int, mode string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got := e.Member(id).Proc().Mode()
		if got == mode {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("member %d reports mode %q, not %q, after %v\n%s", id, got, mode, timeout, e.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncPlan is one "syncing learner" line of a leader's log.
type syncPlan struct {
	Leader int
	Sid    int    `json:"sid"`
	Peer   string `json:"peerZxid"`
	Plan   string `json:"plan"`
}

// Kind is DIFF, TRUNC or SNAP.
func (p syncPlan) Kind() string { return strings.Fields(p.Plan + " ?")[0] }

// logMark remembers how long every member's current log is, so later
// checks only look at what was logged after it.
type logMark map[int]int

func markLogs(e *harness.Ensemble) logMark {
	m := logMark{}
	for _, mem := range e.Members {
		if p := mem.Proc(); p != nil {
			m[mem.ID] = len(p.FullLog())
		}
	}
	return m
}

// syncPlansFor returns the sync plans any member, as leader, chose for
// learner sid since the mark (members restarted since then count from
// the start of their new log).
func syncPlansFor(e *harness.Ensemble, since logMark, sid int) []syncPlan {
	var out []syncPlan
	for _, mem := range e.Members {
		p := mem.Proc()
		if p == nil {
			continue
		}
		log := p.FullLog()
		if off := since[mem.ID]; off <= len(log) && p == mem.Proc() {
			log = log[off:]
		}
		for _, line := range strings.Split(log, "\n") {
			if !strings.Contains(line, "syncing learner") {
				continue
			}
			// The console encoder ends a line with the fields as JSON.
			i := strings.Index(line, "{")
			if i < 0 {
				continue
			}
			var sp syncPlan
			if err := json.Unmarshal([]byte(line[i:]), &sp); err != nil || sp.Sid != sid {
				continue
			}
			sp.Leader = mem.ID
			out = append(out, sp)
		}
	}
	return out
}

// waitSyncPlan waits until some leader logged a sync plan for sid since
// the mark and returns the last one.
func waitSyncPlan(t *testing.T, e *harness.Ensemble, since logMark, sid int, timeout time.Duration) syncPlan {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if ps := syncPlansFor(e, since, sid); len(ps) > 0 {
			return ps[len(ps)-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no leader logged a sync plan for member %d within %v\n%s", sid, timeout, e.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// learnerSyncModes lists the sync modes member id's current process
// reported when it started serving as a learner ("DIFF", "SNAP", ...).
func learnerSyncModes(e *harness.Ensemble, id int) []string {
	var out []string
	for _, line := range strings.Split(e.Member(id).Proc().FullLog(), "\n") {
		i := strings.Index(line, "{")
		if !strings.Contains(line, "synced with the leader") || i < 0 {
			continue
		}
		var f struct {
			Mode string `json:"mode"`
		}
		if json.Unmarshal([]byte(line[i:]), &f) == nil {
			out = append(out, f.Mode)
		}
	}
	return out
}

// createParallel creates n nodes root/<prefix>NNNN with several clients
// at once (to produce many txns quickly).
func createParallel(t *testing.T, e *harness.Ensemble, ids []int, root, prefix string, n int) []string {
	t.Helper()
	const workers = 4
	out := make([]string, n)
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		c := connectMembers(t, e, ids...)
		go func(w int) {
			for i := w; i < n; i += workers {
				p := fmt.Sprintf("%s/%s%05d", root, prefix, i)
				if _, err := c.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll)); err != nil {
					errs <- fmt.Errorf("%s: %w", p, err)
					return
				}
				out[i] = p
			}
			errs <- nil
		}(w)
	}
	for w := 0; w < workers; w++ {
		require.NoError(t, <-errs)
	}
	return out
}

// createN creates n nodes root/<prefix>NNNN through c.
func createN(t *testing.T, c *zk.Conn, root, prefix string, n int) []string {
	t.Helper()
	var out []string
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("%s/%s%04d", root, prefix, i)
		_, err := c.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll))
		require.NoError(t, err, p)
		out = append(out, p)
	}
	return out
}

// requireAbsent checks the paths exist on none of the given members.
func requireAbsent(t *testing.T, e *harness.Ensemble, paths []string, ids ...int) {
	t.Helper()
	for _, id := range ids {
		c := connect(t, e.Member(id).ClientAddr)
		_, err := c.Sync("/")
		require.NoError(t, err)
		for _, p := range paths {
			ok, _, err := c.Exists(p)
			require.NoError(t, err)
			require.False(t, ok, "member %d has %s, which was never acknowledged and must have been dropped\n%s", id, p, e.Logs())
		}
		c.Close()
	}
}

// nopZkLogger drops go-zookeeper's connection chatter.
type nopZkLogger struct{}

func (nopZkLogger) Printf(string, ...any) {}

// probeWrite measures, from now, how long until a fresh session on one
// of the given members gets a create acknowledged: the server-side
// failover time, without any client library's reconnect back-off. It
// tries every 10 ms and gives up after limit (returning limit).
func probeWrite(e *harness.Ensemble, path string, limit time.Duration, ids ...int) (time.Duration, error) {
	start := time.Now()
	var lastErr error
	for time.Since(start) < limit {
		for _, id := range ids {
			err := rawCreate(e.Member(id).ClientAddr, path)
			if err == nil {
				return time.Since(start), nil
			}
			lastErr = err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return limit, fmt.Errorf("no create succeeded within %v: %w", limit, lastErr)
}

// rawCreate opens a session on addr and creates path in it, giving up
// after 2 s (the attempt itself ends by the raw client's own deadlines).
func rawCreate(addr, path string) error {
	done := make(chan error, 1)
	go func() {
		rc, err := harness.Dial(addr, 10000)
		if err != nil {
			done <- err
			return
		}
		defer rc.Close()
		if rc.Session.TimeOut <= 0 {
			done <- errors.New("session refused")
			return
		}
		r, err := rc.Call(wire.OpCreate, &wire.CreateRequest{Path: path, ACL: wire.OpenACLUnsafe})
		if err == nil && r.Header.Err != 0 {
			err = fmt.Errorf("create %s: error %d", path, r.Header.Err)
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(2 * time.Second):
		return errors.New("no answer within 2s")
	}
}

// waitLeaderAmong waits until one of the given members reports Mode:
// leader (asking only them: a frozen member would stall srvr) and returns
// it with the time it took.
func waitLeaderAmong(t *testing.T, e *harness.Ensemble, timeout time.Duration, ids ...int) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	for time.Since(start) < timeout {
		for _, id := range ids {
			if e.Member(id).Running() && e.Member(id).Proc().Mode() == "leader" {
				return id, time.Since(start)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("none of %v leads after %v\n%s", ids, timeout, e.Logs())
	return 0, 0
}

// rawCreateIn creates path with flags in an open raw session.
func rawCreateIn(rc *harness.RawClient, path string, flags int32) error {
	r, err := rc.Call(wire.OpCreate, &wire.CreateRequest{Path: path, ACL: wire.OpenACLUnsafe, Flags: flags})
	if err == nil && r.Header.Err != 0 {
		err = fmt.Errorf("create %s: error %d", path, r.Header.Err)
	}
	return err
}
