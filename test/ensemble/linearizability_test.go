package ensemble

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/test/harness"
)

// endOfTime is the Return of an operation whose outcome is unknown: it may
// take effect at any point after its call, or never.
const endOfTime = int64(math.MaxInt64)

const (
	linKeys     = 5
	linClients  = 6
	linDuration = 20 * time.Second
	linInitial  = "init"
)

// linRecorder collects the history.
type linRecorder struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
	notes []porcupine.Annotation
	// counts per outcome, for the log
	definite, unknown, dropped int
}

func (r *linRecorder) now() int64 { return int64(time.Since(r.start)) }

func (r *linRecorder) add(op porcupine.Operation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, op)
	if op.Output.(regOutput).Unknown {
		r.unknown++
	} else {
		r.definite++
	}
}

func (r *linRecorder) drop() {
	r.mu.Lock()
	r.dropped++
	r.mu.Unlock()
}

func (r *linRecorder) note(tag, desc string, start, end int64) {
	r.mu.Lock()
	r.notes = append(r.notes, porcupine.Annotation{Tag: tag, Start: start, End: end, Description: desc})
	r.mu.Unlock()
}

// classify turns a setData error into an output: definite (applied or
// not, known) or unknown (may have been applied, now or later). record is
// false when the request provably never left the client.
func classify(err error) (out regOutput, record bool) {
	switch {
	case err == nil:
		return regOutput{OK: true}, true
	case errors.Is(err, zk.ErrBadVersion):
		return regOutput{}, true
	case errors.Is(err, zk.ErrNoNode):
		return regOutput{NoNode: true}, true
	case errors.Is(err, zk.ErrNoServer):
		// go-zookeeper fails requests still queued (never written to a
		// socket) with ErrNoServer when it has tried every server.
		return regOutput{}, false
	default:
		// connection loss, session expiry, closing, anything else: the
		// request may have reached a server and may still commit.
		return regOutput{Unknown: true}, true
	}
}

func linClient(t *testing.T, id int, c *zk.Conn, rng *rand.Rand, rec *linRecorder, deadline time.Time, keys []string) {
	versions := map[string]int32{} // last version this client saw per key
	seq := 0
	for time.Now().Before(deadline) {
		key := keys[rng.Intn(len(keys))]
		p := rng.Intn(100)
		switch {
		case p < 40: // read: sync then getData
			call := rec.now()
			if _, err := c.Sync(key); err != nil {
				rec.drop()
				pause(rng, err)
				continue
			}
			data, st, err := c.Get(key)
			ret := rec.now()
			if err != nil && !errors.Is(err, zk.ErrNoNode) {
				rec.drop() // a failed read changed nothing
				pause(rng, err)
				continue
			}
			out := regOutput{NoNode: err != nil}
			if err == nil {
				out.Value, out.Version = string(data), st.Version
				versions[key] = st.Version
			}
			rec.add(porcupine.Operation{ClientId: id, Input: regInput{Key: key, Kind: opRead}, Call: call, Output: out, Return: ret,
				Metadata: opMeta(c, st)})
		default: // write or CAS
			seq++
			in := regInput{Key: key, Kind: opWrite, Value: fmt.Sprintf("c%d-%d", id, seq), Expected: -1}
			if p >= 70 {
				in.Kind = opCAS
				in.Expected = versions[key]
				if rng.Intn(8) == 0 {
					in.Expected++ // now and then a CAS that should fail
				}
			}
			call := rec.now()
			st, err := c.Set(key, []byte(in.Value), in.Expected)
			ret := rec.now()
			out, record := classify(err)
			if !record {
				rec.drop()
				pause(rng, err)
				continue
			}
			if err == nil {
				out.Version = st.Version
				versions[key] = st.Version
			} else {
				st = nil
			}
			if out.Unknown {
				ret = endOfTime
			}
			rec.add(porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: ret, Metadata: opMeta(c, st)})
			if err != nil {
				pause(rng, err)
			}
		}
	}
}

func opMeta(c *zk.Conn, st *zk.Stat) string {
	if st == nil {
		return c.Server()
	}
	return fmt.Sprintf("%s mzxid=%#x", c.Server(), st.Mzxid)
}

// pause backs off a little after a failure that is not a CAS mismatch.
func pause(rng *rand.Rand, err error) {
	if err != nil && !errors.Is(err, zk.ErrBadVersion) {
		time.Sleep(time.Duration(20+rng.Intn(80)) * time.Millisecond)
	}
}

// linNemesis kills (SIGKILL) and restarts members, the leader about half
// the time, one at a time; now and then a second member while the first
// is down, so that the ensemble briefly loses its quorum.
func linNemesis(t *testing.T, e *harness.Ensemble, rng *rand.Rand, rec *linRecorder, deadline time.Time) {
	restart := func(id int) {
		e.Start(id)
		if err := e.Member(id).Proc().WaitServing(30 * time.Second); err != nil {
			t.Errorf("member %d did not serve again: %v", id, err)
		}
	}
	for time.Now().Add(3 * time.Second).Before(deadline) {
		time.Sleep(time.Duration(800+rng.Intn(1500)) * time.Millisecond)
		victim := 1 + rng.Intn(3)
		what := "member"
		if rng.Intn(2) == 0 {
			if l := e.Leader(); l != 0 {
				victim, what = l, "leader"
			}
		}
		from := rec.now()
		e.Kill(victim)
		desc := fmt.Sprintf("kill %s %d", what, victim)
		time.Sleep(time.Duration(300+rng.Intn(2000)) * time.Millisecond)
		if rng.Intn(5) == 0 {
			second := 1 + (victim+rng.Intn(2))%3
			f2 := rec.now()
			e.Kill(second)
			time.Sleep(time.Duration(200+rng.Intn(1000)) * time.Millisecond)
			restart(second)
			rec.note("nemesis", fmt.Sprintf("kill %d (no quorum)", second), f2, rec.now())
			t.Logf("nemesis: killed %d too, back at %v", second, time.Duration(rec.now()))
		}
		restart(victim)
		rec.note("nemesis", desc, from, rec.now())
		t.Logf("nemesis: %s at %v, back at %v", desc, time.Duration(from), time.Duration(rec.now()))
	}
}

// Random writes, CASes and synced reads on a few znodes through clients
// on every member while members crash and restart; the history must be
// linearizable (Zab's writes are; sync+read is).
func TestLinearizableUnderCrashes(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process ensemble test")
	}
	seed := time.Now().UnixNano()
	if s := os.Getenv("ZKD_LIN_SEED"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		require.NoError(t, err)
		seed = v
	}
	t.Logf("seed %d (rerun with ZKD_LIN_SEED=%d)", seed, seed)
	defer func() {
		if t.Failed() {
			t.Logf("failed with seed %d (rerun with ZKD_LIN_SEED=%d)", seed, seed)
		}
	}()
	rng := rand.New(rand.NewSource(seed))

	e := harness.NewEnsemble(t, 3, 0, "")
	e.StartAll(30 * time.Second)
	e.WaitLeader(10*time.Second, 0)

	var all []string
	for _, m := range e.Members {
		all = append(all, m.ClientAddr)
	}
	setup := connect(t, all...)
	var keys []string
	if _, err := setup.Create("/lin", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create /lin: %v\n%s", err, e.Logs())
	}
	for i := 0; i < linKeys; i++ {
		k := fmt.Sprintf("/lin/k%d", i)
		_, err := setup.Create(k, []byte(linInitial), 0, zk.WorldACL(zk.PermAll))
		require.NoError(t, err)
		keys = append(keys, k)
	}
	setup.Close()

	// Clients: half pinned to one member (they wait for it while it is
	// down), half on the whole ensemble (they fail over).
	var conns []*zk.Conn
	for i := 0; i < linClients; i++ {
		var servers []string
		if i%2 == 0 {
			servers = []string{e.Member(1 + (i/2)%3).ClientAddr}
		} else {
			servers = all
		}
		c, _, err := zk.Connect(servers, 4*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietLogger{}))
		require.NoError(t, err)
		conns = append(conns, c)
	}

	rec := &linRecorder{start: time.Now()}
	deadline := time.Now().Add(linDuration)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		crng := rand.New(rand.NewSource(seed + int64(i) + 1))
		go func() {
			defer wg.Done()
			linClient(t, i, c, crng, rec, deadline, keys)
		}()
	}
	nemDone := make(chan struct{})
	go func() {
		defer close(nemDone)
		linNemesis(t, e, rng, rec, deadline)
	}()
	<-nemDone
	clientsDone := make(chan struct{})
	go func() { wg.Wait(); close(clientsDone) }()
	select {
	case <-clientsDone:
	case <-time.After(linDuration + 20*time.Second):
		t.Errorf("clients did not finish")
	}
	// Closing ends any request still in flight (it then counts as unknown).
	for _, c := range conns {
		c.Close()
	}
	<-clientsDone

	rec.mu.Lock()
	ops := append([]porcupine.Operation(nil), rec.ops...)
	notes := append([]porcupine.Annotation(nil), rec.notes...)
	t.Logf("history: %d operations (%d definite, %d unknown), %d failed before reaching a server or failed reads dropped",
		len(ops), rec.definite, rec.unknown, rec.dropped)
	rec.mu.Unlock()

	model := registerModel(linInitial)
	began := time.Now()
	res, info := porcupine.CheckOperationsVerbose(model, ops, 25*time.Second)
	t.Logf("check: %v in %v", res, time.Since(began))
	switch res {
	case porcupine.Ok:
	case porcupine.Unknown:
		t.Logf("linearizability check timed out; history not judged")
	case porcupine.Illegal:
		info.AddAnnotations(notes)
		f, err := os.CreateTemp("", "zkd-linearizability-*.html")
		require.NoError(t, err)
		if err := porcupine.Visualize(model, info, f); err != nil {
			t.Logf("visualize: %v", err)
		}
		f.Close()
		t.Errorf("history is not linearizable; visualization: %s\n%s", f.Name(), explainViolation(model, ops))
		for _, n := range notes {
			t.Logf("  %v..%v %s", time.Duration(n.Start), time.Duration(n.End), n.Description)
		}
		t.Logf("logs:\n%s", e.Logs())
	}

	// Every member up again: their trees must agree.
	e.WaitServing(30*time.Second, 1, 2, 3)
	requireSameTrees(t, e, 1, 2, 3)
}

// explainViolation finds the keys whose history is not linearizable and
// prints the operations around the point where the checker got stuck.
func explainViolation(model porcupine.Model, ops []porcupine.Operation) string {
	var b []byte
	for _, part := range partitionByKey(ops) {
		res, info := porcupine.CheckOperationsVerbose(model, part, 10*time.Second)
		if res != porcupine.Illegal {
			continue
		}
		key := part[0].Input.(regInput).Key
		// The longest partial linearization: what the checker could explain.
		var longest []porcupine.Operation
		for _, p := range info.PartialLinearizationsOperations() {
			for _, lin := range p {
				if len(lin) > len(longest) {
					longest = lin
				}
			}
		}
		done := map[int64]bool{}
		var last int64
		for _, op := range longest {
			done[op.Call] = true
			if op.Return != endOfTime && op.Return > last {
				last = op.Return
			}
		}
		sorted := append([]porcupine.Operation(nil), part...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i].Call < sorted[j].Call })
		tail := longest
		if len(tail) > 12 {
			tail = tail[len(tail)-12:]
		}
		b = fmt.Appendf(b, "key %s: %d ops; longest linearizable prefix %d ops, ending:\n%s", key, len(part), len(longest), formatOps(tail))
		var next []porcupine.Operation
		for _, op := range sorted {
			if !done[op.Call] && op.Call <= last+int64(200*time.Millisecond) {
				next = append(next, op)
			}
		}
		if len(next) > 25 {
			next = next[:25]
		}
		b = fmt.Appendf(b, "not linearizable after it (by call time):\n%s", formatOps(next))
	}
	return string(b)
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...interface{}) {}
