package e2e

import (
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

func cliMtPath(t *testing.T) string {
	return needTool(t, "zookeeper-bin", "/usr/lib/zookeeper/bin/cli_mt", "cli_mt")
}

// lsChildren extracts the tab-indented child names cli_mt prints for ls.
func lsChildren(block string) []string {
	var kids []string
	for _, line := range strings.Split(block, "\n") {
		if strings.HasPrefix(line, "\t") {
			kids = append(kids, strings.TrimPrefix(line, "\t"))
		}
	}
	sort.Strings(kids)
	return kids
}

// TestCliMt drives the C client shell. cli_mt runs most commands
// asynchronously and prints "<path>: rc = <code>" from the completion, so
// each answer is awaited before the next command is sent. cli_mt's create
// takes no data argument: it always stores "new".
func TestCliMt(t *testing.T) {
	t.Parallel()
	cli := cliMtPath(t)
	base := uniquePath(t)
	q := regexp.QuoteMeta
	qb := q(base)

	sh := startInteractive(t, 90*time.Second, nil, cli, serverAddr)
	sh.send("create " + base)
	sh.expect(`Got a new session id: 0x[0-9a-f]+`, 20*time.Second)
	sh.expect(`\[`+qb+`\]: rc = 0\n\s*name = `+qb+`\n`, 20*time.Second)

	got := sh.do("create +s "+base+"/s-", `\[`+qb+`/s-\]: rc = 0\n\s*name = (`+qb+`/s-\d+)\n`)[1]
	if got != base+"/s-0000000000" {
		t.Errorf("sequential create: name %s, want %s/s-0000000000", got, base)
	}
	sh.do("create +e "+base+"/e", `\[`+qb+`/e\]: rc = 0\n\s*name = `+qb+`/e\n`)
	sh.do("create +e "+base+"/e", `\[`+qb+`/e\]: rc = -110\n`) // ZNODEEXISTS

	sh.do("get "+base, qb+`: rc = 0\n value_len = 3\nnew\n`)
	// get left a data watch. ZooKeeper delivers the notification before the
	// reply to the write that fired it, and cli_mt prints both in order.
	set := sh.do("set "+base+" world", `(?s)(.*?)`+qb+`: rc = 0 Stat:\n(.*?aversion=\d+)`)
	if want := "Watcher CHANGED_EVENT state = CONNECTED_STATE for path " + base + "\n"; !strings.Contains(set[1], want) {
		t.Errorf("set: want %q before the reply, got:\n%s", want, set[1])
	}
	if !strings.Contains(set[2], "version=1\t") {
		t.Errorf("stat after one set: want version=1, got:\n%s", set[2])
	}
	sh.do("get "+base, qb+`: rc = 0\n value_len = 5\nworld\n`)

	block := sh.do("ls "+base, `(?s)`+qb+`: rc = 0\n(.*?)time = `)[1]
	if kids := strings.Join(lsChildren(block), " "); kids != "e s-0000000000" {
		t.Errorf("ls %s: children %q, want %q", base, kids, "e s-0000000000")
	}

	// exists is synchronous in cli_mt and leaves a watch; a missing node is
	// reported as an error and its creation fires the watch.
	sh.do("exists "+base+"/w", `Error -101 for `+qb+`/w\n`)
	// The create fires that exists watch and the child watch left by ls,
	// both before the create's reply.
	before := sh.do("create "+base+"/w", `(?s)(.*?)\[`+qb+`/w\]: rc = 0\n`)[1]
	for _, want := range []string{
		"Watcher CREATED_EVENT state = CONNECTED_STATE for path " + base + "/w\n",
		"Watcher CHILD_EVENT state = CONNECTED_STATE for path " + base + "\n",
	} {
		if !strings.Contains(before, want) {
			t.Errorf("create %s/w: want %q before the reply, got:\n%s", base, want, before)
		}
	}

	sh.do("delete "+base, qb+`: rc = -111\n`) // ZNOTEMPTY
	sh.do("delete "+base+"/s-0000000000", qb+`/s-0000000000: rc = 0\n`)
	sh.do("get "+base+"/nope", qb+`/nope: rc = -101\n`) // ZNONODE
	sh.do("sync "+base, `\[`+qb+`\]: rc = 0\n`)
	sh.send("quit")
	sh.close(20 * time.Second)

	// Batch mode (-c) runs one command and exits when its answer arrives.
	// The ephemeral node left with the previous session.
	r := run(t, 30*time.Second, "", nil, cli, "-h", serverAddr, "-c", "ls "+base)
	m := regexp.MustCompile(`(?s)` + qb + `: rc = 0\n(.*?)time = `).FindStringSubmatch(r.out)
	if r.code != 0 || m == nil {
		t.Fatalf("cli_mt -c 'ls %s': exit %d, output:\n%s", base, r.code, r.out)
	}
	if kids := strings.Join(lsChildren(m[1]), " "); kids != "w" {
		t.Errorf("after the session ended: children %q, want %q (ephemeral e removed)", kids, "w")
	}
	r = run(t, 30*time.Second, "", nil, cli, "-h", serverAddr, "-c", "get "+base)
	if !regexp.MustCompile(qb + `: rc = 0\n value_len = 5\nworld\n`).MatchString(r.out) {
		t.Errorf("cli_mt -c 'get %s': exit %d, output:\n%s", base, r.code, r.out)
	}
}
