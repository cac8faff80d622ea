package e2e

import (
	"path/filepath"
	"testing"
	"time"
)

// TestKazoo runs py/kazoo_e2e.py: CRUD, transactions, ACLs and the kazoo
// recipes Lock, Election, Barrier, Counter, Queue, Party, ChildrenWatch and
// DataWatch, several of them with contending sessions.
func TestKazoo(t *testing.T) {
	t.Parallel()
	python := needTool(t, "python3", "/usr/bin/python3")
	if r := run(t, 30*time.Second, "", nil, python, "-c", "import kazoo.client"); r.code != 0 {
		missing(t, "python3 cannot import kazoo (package python3-kazoo): "+r.out)
	}
	script, err := filepath.Abs(filepath.Join("py", "kazoo_e2e.py"))
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, 120*time.Second, "", nil, python, script, serverAddr, uniquePath(t))
	reportChecks(t, "kazoo_e2e.py", r)
}
