package servers

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zkd/zkd/internal/loopback"
)

// Process is one server process started by a benchmark program.
type Process struct {
	// Addr is the client address (host:port) the server listens on.
	Addr string
	// Dir is the working directory; the log file is in it.
	Dir     string
	LogPath string
	// Started is when the process was spawned.
	Started time.Time
	cmd     *exec.Cmd
	exited  chan struct{}
}

// Start spawns prog with args in dir, its output going to a new log file
// there, without waiting for it to serve. The process gets its own
// process group, so a Ctrl-C at the terminal reaches only the program,
// which then stops its servers in order.
func Start(prog string, args []string, dir, addr string) (*Process, error) {
	p := &Process{Addr: addr, Dir: dir, exited: make(chan struct{})}
	p.LogPath = filepath.Join(dir, fmt.Sprintf("%s-%d.log", filepath.Base(prog), time.Now().UnixNano()))
	logf, err := os.Create(p.LogPath)
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(prog, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.Started = time.Now()
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", prog, err)
	}
	go func() { _ = p.cmd.Wait(); logf.Close(); close(p.exited) }()
	return p, nil
}

// PID of the process.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited is closed when the process has ended.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Alive reports whether the process still runs.
func (p *Process) Alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Stop sends SIGTERM and waits; after timeout it sends SIGKILL.
func (p *Process) Stop(timeout time.Duration) {
	if !p.Alive() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// Kill ends the process with SIGKILL (a crash) and waits for it.
func (p *Process) Kill() {
	if !p.Alive() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// RSS is the process's resident set size (VmRSS) in bytes.
func (p *Process) RSS() (int64, error) { return VmRSS(p.PID()) }

// Mode is the Mode line of srvr ("standalone", "leader", "follower"), or
// "" while the server does not serve.
func (p *Process) Mode() string {
	out, err := FourLetterWord(p.Addr, "srvr", 2*time.Second)
	if err != nil {
		return ""
	}
	return ParseMode(out)
}

// Log is the tail (up to max bytes) of the process's output.
func (p *Process) Log(max int) string {
	b, _ := os.ReadFile(p.LogPath)
	if max > 0 && len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// ParseMode finds the Mode of a srvr reply.
func ParseMode(srvr string) string {
	for _, line := range strings.Split(srvr, "\n") {
		if m, ok := strings.CutPrefix(line, "Mode: "); ok {
			return strings.TrimSpace(m)
		}
	}
	return ""
}

// VmRSS reads the resident set size of pid from /proc/PID/status.
func VmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				n, err := strconv.ParseInt(f[0], 10, 64)
				return n * 1024, err
			}
		}
	}
	return 0, errors.New("servers: no VmRSS in /proc/" + strconv.Itoa(pid) + "/status")
}

// userHZ is the unit of the CPU times in /proc/PID/stat (USER_HZ, 100 on
// every Linux architecture the harness runs on).
const userHZ = 100

// CPUTime reads the user plus system CPU time pid has used so far from
// /proc/PID/stat (fields 14 and 15).
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing parenthesis (field 3 onwards).
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("servers: malformed /proc/" + strconv.Itoa(pid) + "/stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("servers: short /proc/" + strconv.Itoa(pid) + "/stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("servers: /proc/%d/stat: %w", pid, err)
	}
	return time.Duration(utime+stime) * time.Second / userHZ, nil
}

// FourLetterWord sends a four-letter word and returns the whole reply.
func FourLetterWord(addr, word string, timeout time.Duration) (string, error) {
	return loopback.FourLetterWord(addr, word, timeout)
}
