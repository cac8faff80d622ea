package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Member is one server of a test ensemble.
type Member struct {
	ID         int
	Dir        string
	ClientAddr string
	Observer   bool
	cfg        string
	mu         sync.Mutex
	proc       *Process
}

// Ensemble is a zkd ensemble on loopback with ports chosen at run time.
type Ensemble struct {
	t       testing.TB
	bin     string
	Members []*Member
}

// NewEnsemble prepares n voting members plus observers (data dirs with
// myid, zoo.cfg with server.N lines) without starting them.
func NewEnsemble(t testing.TB, voters, observers int, extra string) *Ensemble {
	t.Helper()
	e := &Ensemble{t: t, bin: ZkdBinary(t)}
	n := voters + observers
	type ports struct{ client, quorum, election int }
	ps := make([]ports, n)
	for i := range ps {
		var err error
		for _, p := range []*int{&ps[i].client, &ps[i].quorum, &ps[i].election} {
			if *p, err = FreePort(); err != nil {
				t.Fatal(err)
			}
		}
	}
	var servers strings.Builder
	for i := 0; i < n; i++ {
		role := ""
		if i >= voters {
			role = ":observer"
		}
		fmt.Fprintf(&servers, "server.%d=127.0.0.1:%d:%d%s;127.0.0.1:%d\n", i+1, ps[i].quorum, ps[i].election, role, ps[i].client)
	}
	root := t.TempDir()
	for i := 0; i < n; i++ {
		dir := filepath.Join(root, fmt.Sprintf("m%d", i+1))
		data := filepath.Join(dir, "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, "myid"), []byte(fmt.Sprintf("%d\n", i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
		peerType := ""
		if i >= voters {
			peerType = "peerType=observer\n"
		}
		cfg := fmt.Sprintf("tickTime=200\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
			"admin.enableServer=false\n4lw.commands.whitelist=*\npreAllocSize=64\n%s%s%s\n",
			data, ps[i].client, peerType, servers.String(), extra)
		e.Members = append(e.Members, &Member{ID: i + 1, Dir: dir, ClientAddr: fmt.Sprintf("127.0.0.1:%d", ps[i].client), Observer: i >= voters, cfg: cfg})
	}
	t.Cleanup(e.StopAll)
	return e
}

// Member returns member id (1-based).
func (e *Ensemble) Member(id int) *Member { return e.Members[id-1] }

// Start starts member id (again, on the same data, after a Kill or Stop).
func (e *Ensemble) Start(id int) { e.StartWith(id, e.bin, []string{"server"}) }

// StartWith starts member id with another program, e.g. Apache ZooKeeper
// (prog "java", args ZooKeeperQuorumArgs()) for a mixed ensemble.
func (e *Ensemble) StartWith(id int, prog string, args []string) {
	m := e.Member(id)
	p, err := Spawn(prog, args, m.Dir, m.cfg, m.ClientAddr)
	if err != nil {
		e.t.Fatalf("start member %d: %v", id, err)
	}
	m.mu.Lock()
	m.proc = p
	m.mu.Unlock()
}

// StartAll starts every member and waits until all serve.
func (e *Ensemble) StartAll(timeout time.Duration) {
	for _, m := range e.Members {
		e.Start(m.ID)
	}
	e.WaitServing(timeout, e.ids()...)
}

func (e *Ensemble) ids() []int {
	var out []int
	for _, m := range e.Members {
		out = append(out, m.ID)
	}
	return out
}

// WaitServing waits until the given members serve clients.
func (e *Ensemble) WaitServing(timeout time.Duration, ids ...int) {
	e.t.Helper()
	for _, id := range ids {
		p := e.Member(id).Proc()
		if err := p.WaitServing(timeout); err != nil {
			e.t.Fatalf("member %d not serving: %v\n%s", id, err, e.Logs())
		}
	}
}

// Proc is the member's current process (nil if never started).
func (m *Member) Proc() *Process {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.proc
}

// Running reports whether the member's process is alive.
func (m *Member) Running() bool {
	p := m.Proc()
	if p == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Kill SIGKILLs member id.
func (e *Ensemble) Kill(id int) {
	if p := e.Member(id).Proc(); p != nil {
		p.Kill()
	}
}

// Stop SIGTERMs member id.
func (e *Ensemble) Stop(id int) {
	if p := e.Member(id).Proc(); p != nil {
		p.Stop()
	}
}

// Pause SIGSTOPs member id (a hung server); Resume SIGCONTs it.
func (e *Ensemble) Pause(id int) {
	if p := e.Member(id).Proc(); p != nil {
		p.Pause()
	}
}

// Resume SIGCONTs member id.
func (e *Ensemble) Resume(id int) {
	if p := e.Member(id).Proc(); p != nil {
		p.Resume()
	}
}

// StopAll stops every running member.
func (e *Ensemble) StopAll() {
	for _, m := range e.Members {
		if p := m.Proc(); p != nil {
			p.Stop()
		}
	}
}

// Leader returns the id of the member reporting Mode: leader, or 0.
func (e *Ensemble) Leader() int {
	for _, m := range e.Members {
		if m.Running() && m.Proc().Mode() == "leader" {
			return m.ID
		}
	}
	return 0
}

// WaitLeader waits until some member other than not leads and the given
// members serve, and returns the leader's id.
func (e *Ensemble) WaitLeader(timeout time.Duration, not int) int {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if l := e.Leader(); l != 0 && l != not {
			return l
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("no leader within %v", timeout)
	return 0
}

// ConnectString lists every member's client address.
func (e *Ensemble) ConnectString() string {
	var parts []string
	for _, m := range e.Members {
		parts = append(parts, m.ClientAddr)
	}
	return strings.Join(parts, ",")
}

// Logs returns the logs of every member (for failure messages).
func (e *Ensemble) Logs() string {
	var b strings.Builder
	for _, m := range e.Members {
		if p := m.Proc(); p != nil {
			fmt.Fprintf(&b, "---- member %d ----\n%s\n", m.ID, p.Log())
		}
	}
	return b.String()
}
