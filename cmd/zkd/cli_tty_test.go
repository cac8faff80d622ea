package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkd/zkd/test/harness"
)

// TestCliInteractiveTmux drives the interactive shell in a tmux pane: TAB
// completes a command name and a znode path, up-arrow recalls history.
func TestCliInteractiveTmux(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		harness.RequireOrSkip(t, "tmux not found (apt-get install tmux): interactive cli test skipped")
		return
	}
	addr := startInProcess(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "zkd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	sock := filepath.Join(dir, "tmux.sock")
	tm := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(tmux, append([]string{"-S", sock}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "TERM=xterm")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	tm("-f", "/dev/null", "new-session", "-d", "-x", "200", "-y", "50", "-s", "zkcli",
		"env HOME="+dir+" "+bin+" cli -server "+addr)
	t.Cleanup(func() {
		_ = exec.Command(tmux, "-S", sock, "kill-server").Run()
	})
	screen := func() string { return tm("capture-pane", "-p", "-t", "zkcli") }
	waitFor := func(what string) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			s := screen()
			if strings.Contains(s, what) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("screen never showed %q:\n%s", what, s)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("(CONNECTED) 0]")

	// Command completion: "cr<TAB>" becomes "create ".
	tm("send-keys", "-t", "zkcli", "cr", "Tab")
	// (capture-pane drops trailing blanks; the next check shows the space.)
	waitFor("(CONNECTED) 0] create")
	tm("send-keys", "-t", "zkcli", "/completeme data")
	waitFor("(CONNECTED) 0] create /completeme data")
	tm("send-keys", "-t", "zkcli", "Enter")
	waitFor("Created /completeme")

	// Path completion: "get /compl<TAB>" becomes "get /completeme".
	tm("send-keys", "-t", "zkcli", "get /compl", "Tab")
	waitFor("(CONNECTED) 1] get /completeme")
	tm("send-keys", "-t", "zkcli", "Enter")
	waitFor("\ndata\n")

	// History: up-arrow recalls the previous command.
	tm("send-keys", "-t", "zkcli", "Up")
	waitFor("(CONNECTED) 2] get /completeme")
	tm("send-keys", "-t", "zkcli", "C-u", "quit", "Enter")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := exec.Command(tmux, "-S", sock, "has-session", "-t", "zkcli").Run(); err != nil {
			break // the shell exited and took the session with it
		}
		if time.Now().After(deadline) {
			t.Fatalf("shell did not quit:\n%s", screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
