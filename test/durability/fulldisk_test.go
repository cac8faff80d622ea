package durability

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/wire"
	"github.com/zkd/zkd/test/harness"
)

// mountTmpfs mounts a tmpfs of size bytes on a new directory and
// unmounts it when the test ends (after every cleanup registered later,
// such as stopping a server using it). Without the privilege to mount it
// skips, except in CI.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// As root, mount directly; otherwise try passwordless sudo (CI
	// runners), giving the tmpfs to this user.
	opts := fmt.Sprintf("size=%d", size)
	var prefix []string
	if os.Geteuid() != 0 {
		if exec.Command("sudo", "-n", "true").Run() == nil {
			prefix = []string{"sudo", "-n"}
			opts += fmt.Sprintf(",uid=%d,gid=%d", os.Geteuid(), os.Getegid())
		}
	}
	run := func(args ...string) ([]byte, error) {
		args = append(append([]string{}, prefix...), args...)
		return exec.Command(args[0], args[1:]...).CombinedOutput()
	}
	out, err := run("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir)
	if err != nil {
		why := fmt.Sprintf("cannot mount a tmpfs (needs root, CAP_SYS_ADMIN or passwordless sudo): %v: %s", err, bytes.TrimSpace(out))
		harness.RequireOrSkip(t, why)
	}
	t.Cleanup(func() {
		var err error
		var out []byte
		for range 20 {
			if out, err = run("umount", dir); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("umount %s: %v: %s", dir, err, out)
	})
	return dir
}

func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// fill writes a file of zeros-and-ones until only leave bytes are free
// (or the disk is full).
func fill(t *testing.T, path string, leave int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte{0x5a}, 64<<10)
	for {
		free := freeBytes(t, filepath.Dir(path))
		if free <= leave {
			return
		}
		n := min(int64(len(chunk)), free-leave)
		if _, err := f.Write(chunk[:n]); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

func TestFullDiskFailsWritesAndRecovers(t *testing.T) {
	mnt := mountTmpfs(t, 8<<20)
	n := newNode(t, "preAllocSize=64")
	n.data = filepath.Join(mnt, "data")
	n.start()
	c := n.dial()
	c.mustCreate("/full", nil)

	filler := filepath.Join(mnt, "filler")
	fill(t, filler, 256<<10)
	t.Logf("filled the tmpfs: %d bytes free", freeBytes(t, mnt))

	acked := map[string][]byte{}
	var failed []string
	// write sends a create (or a multi of two) and sorts the outcome.
	write := func(i int, multi bool) (ok bool) {
		t.Helper()
		p := fmt.Sprintf("/full/n%05d", i)
		d := []byte(p + " " + strings.Repeat("d", 2000))
		paths := []string{p}
		var r harness.Reply
		var err error
		if multi {
			paths = append(paths, p+"-b")
			r, err = c.call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.MultiOp{
				{Type: wire.OpCreate, Req: createReq(p, d)},
				{Type: wire.OpCreate, Req: createReq(p+"-b", d)},
			}})
		} else {
			r, err = c.call(wire.OpCreate, createReq(p, d))
		}
		if err != nil {
			t.Fatalf("write %s: no reply: %v\n%s", p, err, n.p.Log())
		}
		switch r.Header.Err {
		case wire.OK:
			if multi {
				var resp wire.MultiResponse
				if err := wire.Unmarshal(r.Body, 0, &resp); err != nil {
					t.Fatalf("multi %s: %v", p, err)
				}
				for _, res := range resp.Results {
					if res.Type == wire.OpError {
						t.Fatalf("multi %s: sub-op failed with %v, want the whole multi to get SystemError", p, res.Err)
					}
				}
			}
			for _, q := range paths {
				acked[q] = d
			}
			return true
		case wire.ErrSystemError:
			failed = append(failed, paths...)
			return false
		default:
			t.Fatalf("write %s: error %v, want OK or SystemError", p, r.Header.Err)
		}
		return false
	}

	i := 0
	firstFail := -1
	for ; i < 4000 && len(failed) < 8; i++ {
		if !write(i, i%5 == 4) && firstFail < 0 {
			firstFail = i
		}
	}
	if firstFail < 0 {
		t.Fatalf("%d writes of 2 KB succeeded on a full tmpfs", i)
	}
	t.Logf("disk full: %d nodes written, first failure at write %d, %d nodes refused with SystemError", len(acked), firstFail, len(failed))
	if !strings.Contains(n.log(), "no space left on device") {
		t.Errorf("the server log does not mention ENOSPC:\n%s", n.p.Log())
	}

	// Still serving reads and four-letter words.
	if out, err := harness.FourLetterWord(n.p.Addr, "ruok", 5*time.Second); err != nil || out != "imok" {
		t.Errorf("ruok on a full disk: %q %v", out, err)
	}
	if _, ok := c.get("/full/n00000"); !ok {
		t.Errorf("read on a full disk: /full/n00000 missing")
	}
	// Still failing while full.
	for range 3 {
		write(i, false)
		i++
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for j := 0; j < 30; j, i = j+1, i+1 {
		if !write(i, j%5 == 4) {
			t.Fatalf("write %d failed after space came back\n%s", i, n.p.Log())
		}
	}
	c.close()
	n.stop()

	n.start()
	c = n.dial()
	for p, d := range acked {
		got, ok := c.get(p)
		if !ok {
			t.Errorf("acknowledged %s is missing after restart", p)
		} else if !bytes.Equal(got, d) {
			t.Errorf("%s holds other data after restart", p)
		}
	}
	for _, p := range failed {
		if _, ok := c.get(p); ok {
			t.Errorf("%s, refused with SystemError, exists after restart", p)
		}
	}
	kids := c.children("/full")
	if len(kids) != len(acked) {
		sort.Strings(kids)
		t.Errorf("/full has %d children, want the %d acknowledged", len(kids), len(acked))
	}
	c.close()
	n.stop()
	n.requireCleanLog()
	t.Logf("after restart: %d acknowledged nodes present, %d refused absent; %s", len(acked), len(failed), recoveredLine(n.log()))
	checkWithJava(t, filepath.Join(n.dataDir(), "version-2"), true)
}
