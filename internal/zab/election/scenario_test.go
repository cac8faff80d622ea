package election

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata/*.txt scenarios")

// TestScenarios runs the election scripts in testdata/. Each block is one
// command, a line "----", and the output it must produce, up to a blank
// line; run with -rewrite to regenerate the outputs after a deliberate
// change and review the diff.
//
// Commands:
//
//	seed N                              seed for the next ensemble (default 1)
//	ensemble voters=1,2,3 [observers=4] a new simulated ensemble, all down
//	log ID epoch=E zxid=E:C             a server's currentEpoch and last zxid
//	start ID... | start all             LOOKING: boot a down server, or restart
//	                                    the election of a running one
//	crash ID...                         stop servers
//	net [delay=A-B] [drop=P] [dup=P]    message delay (ms) and loss/dup rates
//	partition 1,2 3                     cut all links between the groups
//	heal                                repair all links
//	trace on|off                        print every delivered message
//	run ms=N                            advance the clock, print decisions
//	stabilize [limit=N]                 run until every running server has
//	                                    decided (default limit 60000 ms)
//	status                              every server's state and vote
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			runScript(t, file)
		})
	}
}

type block struct {
	cmd  string
	want string
	got  string
	pre  []string // comments and blank lines before the command
}

func runScript(t *testing.T, file string) {
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	blocks, tail := parseScript(t, string(raw))
	r := &scriptRunner{seed: 1}
	for i := range blocks {
		b := &blocks[i]
		b.got = r.exec(t, b.cmd)
		if !*rewrite && b.got != b.want {
			seed := int64(-1)
			if r.s != nil {
				seed = r.s.seed
			}
			t.Fatalf("%s: command %q (seed %d)\nwant:\n%s\ngot:\n%s", file, b.cmd, seed, b.want, b.got)
		}
	}
	if *rewrite {
		var out strings.Builder
		for _, b := range blocks {
			for _, p := range b.pre {
				out.WriteString(p + "\n")
			}
			out.WriteString(b.cmd + "\n----\n" + b.got)
		}
		for _, p := range tail {
			out.WriteString(p + "\n")
		}
		require.NoError(t, os.WriteFile(file, []byte(out.String()), 0o644))
	}
}

// parseScript splits a script into blocks; comments (#) and blank lines
// between blocks are kept for -rewrite.
func parseScript(t *testing.T, text string) ([]block, []string) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	var blocks []block
	var pre []string
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			pre = append(pre, line)
			continue
		}
		b := block{cmd: line, pre: pre}
		pre = nil
		i++
		if i >= len(lines) || lines[i] != "----" {
			t.Fatalf("line %d: command %q must be followed by ----", i, line)
		}
		var want strings.Builder
		for i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
			i++
			want.WriteString(lines[i] + "\n")
		}
		b.want = want.String()
		blocks = append(blocks, b)
	}
	return blocks, pre
}

type scriptRunner struct {
	seed int64
	s    *simNet
}

func (r *scriptRunner) exec(t *testing.T, cmd string) string {
	f := strings.Fields(cmd)
	args := map[string]string{}
	var pos []string
	for _, a := range f[1:] {
		if k, v, ok := strings.Cut(a, "="); ok {
			args[k] = v
		} else {
			pos = append(pos, a)
		}
	}
	need := func() *simNet {
		if r.s == nil {
			t.Fatalf("%q before ensemble", cmd)
		}
		return r.s
	}
	ids := func() []int64 {
		if len(pos) == 1 && pos[0] == "all" {
			return need().ids
		}
		return parseIDs(t, strings.Join(pos, ","))
	}
	mark := 0
	if r.s != nil {
		mark = r.s.trace.Len()
	}
	newTrace := func() string { return r.s.trace.String()[mark:] }

	switch f[0] {
	case "seed":
		r.seed = atoi(t, pos[0])
	case "ensemble":
		var obs []int64
		if args["observers"] != "" {
			obs = parseIDs(t, args["observers"])
		}
		r.s = newSimNet(r.seed, parseIDs(t, args["voters"]), obs)
	case "log":
		s := need()
		s.setLog(atoi(t, pos[0]), parseZxid(t, args["zxid"]), atoi(t, args["epoch"]))
	case "start":
		need().start(ids()...)
		return newTrace()
	case "crash":
		need().crash(ids()...)
	case "net":
		s := need()
		if d := args["delay"]; d != "" {
			lo, hi, _ := strings.Cut(d, "-")
			s.minDelay, s.maxDelay = atoi(t, lo), atoi(t, hi)
		}
		if p := args["drop"]; p != "" {
			s.dropRate = atof(t, p)
		}
		if p := args["dup"]; p != "" {
			s.dupRate = atof(t, p)
		}
	case "partition":
		var groups [][]int64
		for _, g := range pos {
			groups = append(groups, parseIDs(t, g))
		}
		need().partition(groups...)
	case "heal":
		need().heal()
	case "trace":
		need().traceMsgs = pos[0] == "on"
	case "run":
		need().runFor(atoi(t, args["ms"]))
		return newTrace()
	case "stabilize":
		s := need()
		limit := int64(60000)
		if l := args["limit"]; l != "" {
			limit = atoi(t, l)
		}
		ok := s.stabilize(limit)
		out := newTrace()
		if !ok {
			out += "not stable\n"
		}
		return out
	case "status":
		return need().status()
	default:
		t.Fatalf("unknown command %q", cmd)
	}
	return ""
}

func parseIDs(t *testing.T, s string) []int64 {
	var out []int64
	for _, p := range strings.Split(s, ",") {
		if p != "" {
			out = append(out, atoi(t, p))
		}
	}
	return out
}

// parseZxid reads "E:C" (epoch:counter) or a plain number (hex with 0x).
func parseZxid(t *testing.T, s string) int64 {
	if e, c, ok := strings.Cut(s, ":"); ok {
		return int64(wire.MakeZxid(uint32(atoi(t, e)), uint32(atoi(t, c))))
	}
	v, err := strconv.ParseInt(s, 0, 64)
	require.NoError(t, err, "zxid %q", s)
	return v
}

func atoi(t *testing.T, s string) int64 {
	v, err := strconv.ParseInt(s, 10, 64)
	require.NoError(t, err, fmt.Sprintf("number %q", s))
	return v
}

func atof(t *testing.T, s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err, fmt.Sprintf("number %q", s))
	return v
}
