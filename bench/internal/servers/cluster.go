package servers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/zkd/zkd/internal/loopback"
)

// Member is one server of a Cluster.
type Member struct {
	ID      int
	Dir     string // zoo.cfg and logs
	DataDir string // Dir/data
	Addr    string // client address
	cfgPath string
	mu      sync.Mutex
	proc    *Process
}

// Proc is the member's current process (nil before the first start).
func (m *Member) Proc() *Process {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.proc
}

// Running reports whether the member's process is alive.
func (m *Member) Running() bool {
	p := m.Proc()
	return p != nil && p.Alive()
}

// Cluster is one deployment: a standalone server (one member, no
// server.N lines) or an ensemble, each member with its own data
// directory under one root.
type Cluster struct {
	Spec    Spec
	Root    string
	Members []*Member
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL.
	StopTimeout time.Duration
}

// NewCluster prepares n members (n == 1: standalone) under root, with
// ports probed now, without starting them.
func NewCluster(spec Spec, root string, n int, t Timing, extra ...string) (*Cluster, error) {
	ports, err := loopback.FreePorts(3 * n)
	if err != nil {
		return nil, err
	}
	var peers []Peer
	if n > 1 {
		for i := 0; i < n; i++ {
			peers = append(peers, Peer{ID: i + 1, QuorumPort: ports[3*i+1], ElectionPort: ports[3*i+2], Client: ports[3*i]})
		}
	}
	c := &Cluster{Spec: spec, Root: root, StopTimeout: 30 * time.Second}
	for i := 0; i < n; i++ {
		dir := filepath.Join(root, fmt.Sprintf("%s-%d", spec.Kind, i+1))
		m := &Member{ID: i + 1, Dir: dir, DataDir: filepath.Join(dir, "data"), Addr: fmt.Sprintf("127.0.0.1:%d", ports[3*i]), cfgPath: filepath.Join(dir, "zoo.cfg")}
		if err := os.MkdirAll(m.DataDir, 0o755); err != nil {
			return nil, err
		}
		if n > 1 {
			if err := os.WriteFile(filepath.Join(m.DataDir, "myid"), []byte(fmt.Sprintf("%d\n", m.ID)), 0o644); err != nil {
				return nil, err
			}
		}
		cfg := Config{Timing: t, DataDir: m.DataDir, ClientPort: ports[3*i], Peers: peers, Extra: extra}
		if err := os.WriteFile(m.cfgPath, []byte(cfg.ZooCfg()), 0o644); err != nil {
			return nil, err
		}
		c.Members = append(c.Members, m)
	}
	return c, nil
}

// StartMember (re)starts member id on its data directory.
func (c *Cluster) StartMember(id int) error {
	m := c.Members[id-1]
	prog, args := c.Spec.Command(m.Dir, m.cfgPath)
	p, err := Start(prog, args, m.Dir, m.Addr)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.proc = p
	m.mu.Unlock()
	return nil
}

// Start starts every member without waiting.
func (c *Cluster) Start() error {
	for _, m := range c.Members {
		if err := c.StartMember(m.ID); err != nil {
			c.Stop()
			return err
		}
	}
	return nil
}

// WaitServing waits until every running member reports a Mode in srvr,
// which a server does only once it serves sessions.
func (c *Cluster) WaitServing(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, m := range c.Members {
		p := m.Proc()
		if p == nil || !p.Alive() {
			continue
		}
		for p.Mode() == "" {
			select {
			case <-p.Exited():
				return fmt.Errorf("%s member %d exited during startup; log:\n%s", c.Spec.Kind, m.ID, p.Log(4000))
			case <-ctx.Done():
				return fmt.Errorf("%s member %d not serving: %w; log:\n%s", c.Spec.Kind, m.ID, ctx.Err(), p.Log(4000))
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// Leader is the running member whose srvr says Mode: leader (or the only
// member of a standalone deployment), or nil.
func (c *Cluster) Leader() *Member {
	for _, m := range c.Members {
		if !m.Running() {
			continue
		}
		switch m.Proc().Mode() {
		case "leader", "standalone":
			return m
		}
	}
	return nil
}

// Stop stops every running member at once (SIGTERM, SIGKILL after
// StopTimeout) and waits.
func (c *Cluster) Stop() {
	var wg sync.WaitGroup
	for _, m := range c.Members {
		if p := m.Proc(); p != nil {
			wg.Add(1)
			go func() { defer wg.Done(); p.Stop(c.StopTimeout) }()
		}
	}
	wg.Wait()
}

// ConnectString lists the client addresses of the members.
func (c *Cluster) ConnectString() string {
	var parts []string
	for _, m := range c.Members {
		parts = append(parts, m.Addr)
	}
	return strings.Join(parts, ",")
}

// RSS is the sum of the members' resident set sizes.
func (c *Cluster) RSS() (int64, error) {
	var sum int64
	for _, m := range c.Members {
		p := m.Proc()
		if p == nil || !p.Alive() {
			return 0, fmt.Errorf("%s member %d not running", c.Spec.Kind, m.ID)
		}
		n, err := p.RSS()
		if err != nil {
			return 0, err
		}
		sum += n
	}
	return sum, nil
}

// CPUTime is the CPU time the running members have used so far.
func (c *Cluster) CPUTime() time.Duration {
	var sum time.Duration
	for _, m := range c.Members {
		if p := m.Proc(); p != nil && p.Alive() {
			if d, err := CPUTime(p.PID()); err == nil {
				sum += d
			}
		}
	}
	return sum
}

// Logs returns the log tails of the members, for error messages.
func (c *Cluster) Logs(max int) string {
	var b strings.Builder
	for _, m := range c.Members {
		if p := m.Proc(); p != nil {
			fmt.Fprintf(&b, "---- %s member %d ----\n%s\n", c.Spec.Kind, m.ID, p.Log(max))
		}
	}
	return b.String()
}
