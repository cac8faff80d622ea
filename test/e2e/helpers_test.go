package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// needTool returns the first of candidates that exists (a path, or a name
// looked up in PATH). When none does, the test is skipped, or failed when
// CI is set, naming the package that provides the tool.
func needTool(t *testing.T, pkg string, candidates ...string) string {
	t.Helper()
	for _, c := range candidates {
		if strings.Contains(c, "/") {
			if st, err := os.Stat(c); err == nil && !st.IsDir() {
				return c
			}
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	missing(t, fmt.Sprintf("%s not found (tried %s); install package %s with scripts/install-test-deps.sh",
		candidates[0], strings.Join(candidates, ", "), pkg))
	return ""
}

// missing skips the test for an absent dependency, or fails it under CI.
func missing(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv(envCI) != "" {
		t.Fatalf("CI is set and a test dependency is missing: %s", msg)
	}
	t.Skip("SKIP: " + msg)
}

// uniquePath returns a fresh top-level znode path for the calling test, so
// that tests can share one server and run in parallel.
func uniquePath(t *testing.T) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_")
	return "/e2e_" + strings.Trim(name, "_") + "_" + hex.EncodeToString(b[:])
}

// runResult is the outcome of a finished client process.
type runResult struct {
	out  string // stdout and stderr interleaved
	code int    // exit code, -1 if killed
}

// run executes a client command with a deadline and returns its output.
// stdin may be empty. The test fails if the command cannot be started or
// runs out of time; a non-zero exit code is returned, not judged.
func run(t *testing.T, timeout time.Duration, stdin string, env []string, name string, args ...string) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	res := runResult{out: out.String(), code: cmd.ProcessState.ExitCode()}
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out after %v; output:\n%s", name, strings.Join(args, " "), timeout, res.out)
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("%s %s: %v; output:\n%s", name, strings.Join(args, " "), err, res.out)
	}
	return res
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers that also
// wakes up readers waiting for new output.
type lockedBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	notify chan struct{} // lazily made, capacity 1
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if b.notify != nil {
		select {
		case b.notify <- struct{}{}:
		default:
		}
	}
	return n, err
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// interactive drives a line-oriented client shell (zkCli.sh, cli_mt): send
// writes a command to its stdin and expect waits for its answer. Waiting for
// each answer before the next command keeps the transcript in order even
// for shells that run commands asynchronously.
type interactive struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *lockedBuffer
	pos    int  // offset in out up to which output has been consumed by expect
	dumped bool // the transcript has been logged already
	done   chan struct{}
	cancel context.CancelFunc
}

// startInteractive starts a shell; it is killed at the latest when the test
// ends or after timeout.
func startInteractive(t *testing.T, timeout time.Duration, env []string, name string, args ...string) *interactive {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), env...)
	out := &lockedBuffer{notify: make(chan struct{}, 1)}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 2 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", name, err)
	}
	s := &interactive{t: t, name: name, cmd: cmd, stdin: stdin, out: out, done: make(chan struct{}), cancel: cancel}
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-s.done
		if t.Failed() && !s.dumped {
			t.Logf("%s transcript:\n%s", name, s.transcript())
		}
	})
	return s
}

// send writes one command line.
func (s *interactive) send(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.stdin, line+"\n"); err != nil {
		s.fatalf("send %q: %v", line, err)
	}
}

// expect waits until the output not yet consumed matches re, consumes it up
// to the end of the match and returns the submatches.
func (s *interactive) expect(re string, timeout time.Duration) []string {
	s.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	exited := false
	for {
		s.out.mu.Lock()
		rest := s.out.buf.String()[s.pos:]
		loc := rx.FindStringSubmatchIndex(rest)
		if loc != nil {
			s.pos += loc[1]
		}
		s.out.mu.Unlock()
		if loc != nil {
			subs := make([]string, len(loc)/2)
			for i := range subs {
				if loc[2*i] >= 0 {
					subs[i] = rest[loc[2*i]:loc[2*i+1]]
				}
			}
			return subs
		}
		if exited {
			s.fatalf("%s exited while waiting for /%s/", s.name, re)
		}
		select {
		case <-s.out.notify:
		case <-s.done:
			exited = true // look once more: output may have come just before exit
		case <-deadline.C:
			s.fatalf("timed out after %v waiting for /%s/", timeout, re)
		}
	}
}

// do sends a command and expects re in its answer.
func (s *interactive) do(line, re string) []string {
	s.t.Helper()
	s.send(line)
	return s.expect(re, 20*time.Second)
}

// close ends stdin and waits for the shell to exit.
func (s *interactive) close(timeout time.Duration) {
	s.t.Helper()
	_ = s.stdin.Close()
	select {
	case <-s.done:
	case <-time.After(timeout):
		s.fatalf("%s did not exit within %v after stdin was closed", s.name, timeout)
	}
}

// transcript is everything the shell printed so far.
func (s *interactive) transcript() string { return s.out.String() }

func (s *interactive) fatalf(format string, args ...any) {
	s.t.Helper()
	s.dumped = true
	s.t.Fatalf("%s: %s\n---- transcript ----\n%s\n---- unconsumed from offset %d ----", s.name, fmt.Sprintf(format, args...), s.transcript(), s.pos)
}
