// Package packaging checks the deployment files: the systemd unit and its
// example zoo.cfg, the Dockerfile, `make install`, the Grafana dashboard
// and the Prometheus alerting rules. CI has no Docker engine, so the
// Dockerfile is checked statically here (docker-smoke.sh in this folder
// builds and runs it where an engine is); the dashboard and the alerts are
// checked against the metric names a live zkd ensemble exports.
package packaging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/server"
	"github.com/zkd/zkd/test/harness"
)

// repoRoot is the module root: two levels above this file.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	_, err := os.Stat(filepath.Join(root, "go.mod"))
	require.NoError(t, err, "module root not found from %s", file)
	return root
}

func readFile(t *testing.T, path ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(path...))
	require.NoError(t, err)
	return string(b)
}

func TestDeployFilesExist(t *testing.T) {
	root := repoRoot(t)
	for _, f := range []string{
		"Dockerfile", ".dockerignore",
		"deploy/docker/zoo.cfg",
		"deploy/systemd/zkd.service", "deploy/systemd/zoo.cfg",
		"deploy/grafana/zkd-dashboard.json",
		"deploy/prometheus/alerts.yml",
	} {
		st, err := os.Stat(filepath.Join(root, f))
		require.NoError(t, err, f)
		require.True(t, st.Mode().IsRegular(), f)
		require.Positive(t, st.Size(), f)
	}
}

// parseCfg parses a zoo.cfg of the repository with zkd's own parser.
func parseCfg(t *testing.T, path string) *config.Config {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	cfg, err := config.Parse(f, path)
	require.NoError(t, err, path)
	return cfg
}

// dockerInstr is one Dockerfile instruction with its continuation lines joined.
type dockerInstr struct {
	cmd  string
	args []string
	raw  string
}

func parseDockerfile(t *testing.T, text string) []dockerInstr {
	t.Helper()
	var out []dockerInstr
	var cur strings.Builder
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		full := cur.String()
		cur.Reset()
		fields := strings.Fields(full)
		out = append(out, dockerInstr{cmd: strings.ToUpper(fields[0]), args: fields[1:], raw: full})
	}
	require.NoError(t, sc.Err())
	require.Zero(t, cur.Len(), "Dockerfile ends in a continuation line")
	return out
}

func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	instrs := parseDockerfile(t, readFile(t, root, "Dockerfile"))
	ignored := map[string]bool{}
	for _, l := range strings.Split(readFile(t, root, ".dockerignore"), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			ignored[strings.TrimSuffix(l, "/")] = true
		}
	}

	var froms, users, volumes []string
	exposed := map[string]bool{}
	var makeBuild bool
	var healthcheck, serverCmd string
	for _, in := range instrs {
		switch in.cmd {
		case "HEALTHCHECK":
			healthcheck = in.raw
		case "CMD":
			serverCmd = in.raw
		case "FROM":
			froms = append(froms, in.raw)
		case "COPY":
			var srcs []string
			fromStage := false
			for _, a := range in.args {
				if strings.HasPrefix(a, "--from=") {
					fromStage = true
				}
				if !strings.HasPrefix(a, "--") {
					srcs = append(srcs, a)
				}
			}
			require.GreaterOrEqual(t, len(srcs), 2, in.raw)
			if fromStage {
				continue
			}
			// Every source from the build context must exist and not be
			// excluded by .dockerignore.
			for _, src := range srcs[:len(srcs)-1] {
				if src == "." {
					continue
				}
				_, err := os.Stat(filepath.Join(root, src))
				require.NoError(t, err, "Dockerfile copies %s", src)
				for top := src; top != "." && top != "/"; top = filepath.Dir(top) {
					require.False(t, ignored[top], ".dockerignore excludes %s, which the Dockerfile copies", src)
				}
			}
		case "RUN":
			if strings.Contains(in.raw, "make build") {
				makeBuild = true
			}
		case "USER":
			users = append(users, in.args[0])
		case "EXPOSE":
			for _, p := range in.args {
				exposed[p] = true
			}
		case "VOLUME":
			volumes = append(volumes, in.args...)
		}
	}
	require.Len(t, froms, 2, "a build stage and a runtime stage")
	require.Contains(t, froms[0], "golang:")
	require.Contains(t, froms[0], " AS build")
	require.True(t, strings.Contains(froms[1], "distroless/static") || strings.Contains(froms[1], "scratch"), froms[1])
	require.True(t, makeBuild, "the build stage runs make build")
	require.NotEmpty(t, users, "the runtime stage sets a USER")
	last := users[len(users)-1]
	require.NotContains(t, []string{"root", "0", "0:0", "root:root"}, last)
	for _, p := range []string{"2181", "2888", "3888", "8080", "7000"} {
		require.True(t, exposed[p], "EXPOSE %s", p)
	}
	require.Equal(t, []string{"/data"}, volumes)
	// The HEALTHCHECK asks the client port of the zoo.cfg the server runs
	// with, not a fixed 2181: a mounted zoo.cfg may use another clientPort.
	require.Contains(t, serverCmd, `"--config", "/etc/zkd/zoo.cfg"`)
	require.Contains(t, healthcheck, `"4lw"`)
	require.Contains(t, healthcheck, `"--config", "/etc/zkd/zoo.cfg", "ruok"`)
	require.NotContains(t, healthcheck, ":2181")

	// make build is static and trimmed.
	mk := readFile(t, root, "Makefile")
	buildRecipe := mk[strings.Index(mk, "\nbuild:"):]
	buildRecipe = buildRecipe[:strings.Index(buildRecipe[1:], "\n\n")+1]
	require.Contains(t, buildRecipe, "CGO_ENABLED=0")
	require.Contains(t, buildRecipe, "-trimpath")

	// The image's default configuration.
	cfg := parseCfg(t, filepath.Join(root, "deploy/docker/zoo.cfg"))
	require.Equal(t, "/data", cfg.DataDir)
	require.Equal(t, 2181, cfg.ClientPort)
	require.True(t, cfg.PrometheusEnabled())
	require.Equal(t, 7000, cfg.MetricsHTTPPort)
	require.True(t, cfg.FourLetterAllowed("ruok"), "the HEALTHCHECK sends ruok")
}

// unitValues are the Key=Value lines of a systemd unit, in order.
func unitValues(text string) map[string][]string {
	out := map[string][]string{}
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";") || strings.HasPrefix(l, "[") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if ok {
			out[strings.TrimSpace(k)] = append(out[strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return out
}

// execStartBinary is the program of the unit's ExecStart.
func execStartBinary(t *testing.T, unit string) string {
	t.Helper()
	v := unitValues(unit)["ExecStart"]
	require.Len(t, v, 1)
	return strings.Fields(v[0])[0]
}

// makeCmd runs make in the repository, isolated from an outer make's flags
// (make test runs this package).
func makeCmd(root string, args ...string) *exec.Cmd {
	cmd := exec.Command("make", append([]string{"--no-print-directory"}, args...)...)
	cmd.Dir = root
	for _, e := range os.Environ() {
		if k, _, _ := strings.Cut(e, "="); k == "MAKEFLAGS" || k == "MFLAGS" || k == "MAKELEVEL" || k == "DESTDIR" || k == "PREFIX" {
			continue
		} else {
			cmd.Env = append(cmd.Env, e)
		}
	}
	return cmd
}

func requireMake(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not found")
	}
}

func TestSystemdUnit(t *testing.T) {
	root := repoRoot(t)
	unit := readFile(t, root, "deploy/systemd/zkd.service")
	v := unitValues(unit)
	for k, want := range map[string]string{
		"User":            "zkd",
		"Restart":         "on-failure",
		"LimitNOFILE":     "65536",
		"ProtectSystem":   "strict",
		"ReadWritePaths":  "/var/lib/zkd",
		"NoNewPrivileges": "true",
		"PrivateTmp":      "true",
		"ProtectHome":     "true",
		"WantedBy":        "multi-user.target",
	} {
		require.Equal(t, []string{want}, v[k], k)
	}
	require.Equal(t, []string{"/usr/local/bin/zkd server --config /etc/zkd/zoo.cfg"}, v["ExecStart"])

	// The example configuration keeps its data where the unit may write.
	cfg := parseCfg(t, filepath.Join(root, "deploy/systemd/zoo.cfg"))
	require.Equal(t, "/var/lib/zkd", cfg.DataDir)
	require.True(t, strings.HasPrefix(cfg.DataLogDir, "/var/lib/zkd"), cfg.DataLogDir)
	require.True(t, cfg.PrometheusEnabled())

	// ExecStart runs what `make install` installs, with the default PREFIX.
	requireMake(t)
	out, err := makeCmd(root, "-n", "install-bin", "BIN=bin/zkd").CombinedOutput()
	require.NoError(t, err, "%s", out)
	var dest string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) == 5 && f[0] == "install" && f[1] == "-m" && f[3] == "bin/zkd" {
			dest = f[4]
		}
	}
	require.Equal(t, execStartBinary(t, unit), dest, "make install target vs the unit's ExecStart\n%s", out)
}

func TestMakeInstall(t *testing.T) {
	requireMake(t)
	root := repoRoot(t)

	// Without DESTDIR, make install touches only the binary: the unit and
	// /etc/zkd need make install-systemd.
	out, err := makeCmd(root, "-n", "install", "BIN=bin/zkd").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NotContains(t, string(out), "systemd", "make install without DESTDIR installs a unit")
	require.NotContains(t, string(out), "/etc", "make install without DESTDIR writes /etc")
	require.NotContains(t, string(out), "systemctl")

	dest := t.TempDir()
	bin := filepath.Join(t.TempDir(), "zkd")
	out, err = makeCmd(root, "install", "DESTDIR="+dest, "BIN="+bin).CombinedOutput()
	require.NoError(t, err, "%s", out)

	zkd := filepath.Join(dest, "usr/local/bin/zkd")
	st, err := os.Stat(zkd)
	require.NoError(t, err, "%s", out)
	require.Equal(t, os.FileMode(0o755), st.Mode().Perm())
	ver, err := exec.Command(zkd, "version").CombinedOutput()
	require.NoError(t, err, "%s", ver)
	require.Contains(t, string(ver), "zkd")

	unitPath := filepath.Join(dest, "lib/systemd/system/zkd.service")
	unit := readFile(t, unitPath)
	require.Equal(t, "/usr/local/bin/zkd", execStartBinary(t, unit))
	require.Equal(t, zkd, filepath.Join(dest, execStartBinary(t, unit)))
	cfgPath := filepath.Join(dest, "etc/zkd/zoo.cfg")
	require.Equal(t, readFile(t, root, "deploy/systemd/zoo.cfg"), readFile(t, cfgPath))

	// A second install keeps an edited configuration.
	require.NoError(t, os.WriteFile(cfgPath, []byte("tickTime=1000\ndataDir=/var/lib/zkd\n"), 0o644))
	out, err = makeCmd(root, "install", "DESTDIR="+dest, "BIN="+bin).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, "tickTime=1000\ndataDir=/var/lib/zkd\n", readFile(t, cfgPath))

	// Another PREFIX moves the binary, and the unit follows it.
	dest2 := t.TempDir()
	out, err = makeCmd(root, "install", "DESTDIR="+dest2, "BIN="+bin, "PREFIX=/opt/zkd").CombinedOutput()
	require.NoError(t, err, "%s", out)
	unit2 := readFile(t, dest2, "lib/systemd/system/zkd.service")
	require.Equal(t, "/opt/zkd/bin/zkd", execStartBinary(t, unit2))
	_, err = os.Stat(filepath.Join(dest2, "opt/zkd/bin/zkd"))
	require.NoError(t, err)

	// systemd's own checks, with ExecStart pointed at the staged binary
	// (verify insists the program exists).
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not found")
	}
	staged := filepath.Join(t.TempDir(), "zkd.service")
	text := strings.Replace(unit, "ExecStart=/usr/local/bin/zkd ", "ExecStart="+zkd+" ", 1)
	require.NoError(t, os.WriteFile(staged, []byte(text), 0o644))
	out, err = exec.Command(sa, "verify", staged).CombinedOutput()
	require.NoError(t, err, "systemd-analyze verify:\n%s", out)
	for _, l := range strings.Split(string(out), "\n") {
		// Warnings about the unit itself (unknown keys, bad values) name
		// its file; missing targets on a host without systemd do not.
		require.NotContains(t, l, staged, "systemd-analyze verify:\n%s", out)
	}
}

// promNames are the metric names a PromQL expression selects. Strings,
// label matchers, ranges, Grafana variables, numbers and durations, label
// lists of by/without/on/ignoring/group_left/group_right, function and
// aggregation names and keywords are skipped.
func promNames(expr string) []string {
	aggregators := map[string]bool{"sum": true, "min": true, "max": true, "avg": true, "group": true,
		"stddev": true, "stdvar": true, "count": true, "count_values": true, "bottomk": true, "topk": true,
		"quantile": true, "limitk": true, "limit_ratio": true}
	labelLists := map[string]bool{"by": true, "without": true, "on": true, "ignoring": true,
		"group_left": true, "group_right": true}
	keywords := map[string]bool{"bool": true, "and": true, "or": true, "unless": true, "offset": true,
		"atan2": true, "inf": true, "nan": true}
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || (c|0x20) >= 'a' && (c|0x20) <= 'z' }
	isIdent := func(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
	// skipTo returns the index after the bracket closing the one at i,
	// stepping over quoted strings.
	skipTo := func(i int, open, close byte) int {
		depth := 0
		for ; i < len(expr); i++ {
			switch c := expr[i]; c {
			case '"', '\'', '`':
				for i++; i < len(expr) && expr[i] != c; i++ {
					if expr[i] == '\\' && c != '`' {
						i++
					}
				}
			case open:
				depth++
			case close:
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	nextNonSpace := func(i int) int {
		for i < len(expr) && (expr[i] == ' ' || expr[i] == '\t' || expr[i] == '\n') {
			i++
		}
		return i
	}
	var names []string
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for ; j < len(expr) && expr[j] != c; j++ {
				if expr[j] == '\\' && c != '`' {
					j++
				}
			}
			i = j + 1
		case c == '{':
			i = skipTo(i, '{', '}')
		case c == '[':
			i = skipTo(i, '[', ']')
		case c == '$':
			i++
			if i < len(expr) && expr[i] == '{' {
				i = skipTo(i, '{', '}')
			} else {
				for i < len(expr) && isIdent(expr[i]) {
					i++
				}
			}
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isIdent(expr[i]) || expr[i] == '.') {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(expr) && isIdent(expr[j]) {
				j++
			}
			word := expr[i:j]
			k := nextNonSpace(j)
			switch {
			case labelLists[word]:
				if k < len(expr) && expr[k] == '(' {
					j = skipTo(k, '(', ')')
				}
			case keywords[strings.ToLower(word)] || aggregators[word]:
			case k < len(expr) && expr[k] == '(':
				// a function call
			default:
				names = append(names, word)
			}
			i = j
		default:
			i++
		}
	}
	return names
}

func TestPromNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`up{job="zkd"} == 0`: {"up"},
		`count by (job) (quorum_size{job="zkd"}) unless on (job) count by (job) (leader_uptime)`: {"quorum_size", "leader_uptime"},
		`rate(fsynctime_sum{job=~"$job"}[$__rate_interval]) / rate(fsynctime_count[5m]) > 1e2`:   {"fsynctime_sum", "fsynctime_count"},
		`global_sessions < 0.8 * (global_sessions offset 10m)`:                                   {"global_sessions", "global_sessions"},
		`sum(rate(x_total{a="}{"}[1m])) without (instance) or vector(0)`:                         {"x_total"},
		`readlatency{quantile="0.99", instance=~"${instance}"} > bool 100`:                       {"readlatency"},
		`label_values(znode_count{job=~"$job"}, instance)`:                                       {"znode_count", "instance"},
	} {
		require.Equal(t, want, promNames(expr), expr)
	}
}

// exportedNames scrapes a running in-process 3-member ensemble, one member
// of which leads, and returns every series name the members export
// (summaries contribute name, name_sum and name_count).
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	const n = 3
	type member struct {
		ln                net.Listener
		quorum, election  int
		dataDir           string
		srv               *server.Server
		clientPort, index int
	}
	freePort := func() int {
		port, err := harness.FreePort()
		require.NoError(t, err)
		return port
	}
	ms := make([]*member, n)
	var servers strings.Builder
	for i := range ms {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		m := &member{ln: ln, quorum: freePort(), election: freePort(), dataDir: t.TempDir(),
			clientPort: ln.Addr().(*net.TCPAddr).Port, index: i + 1}
		require.NoError(t, os.WriteFile(filepath.Join(m.dataDir, "myid"), []byte(fmt.Sprintf("%d\n", m.index)), 0o644))
		fmt.Fprintf(&servers, "server.%d=127.0.0.1:%d:%d;127.0.0.1:%d\n", m.index, m.quorum, m.election, m.clientPort)
		ms[i] = m
	}
	for _, m := range ms {
		text := fmt.Sprintf("tickTime=200\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
			"admin.enableServer=false\npreAllocSize=64\nzkd.metrics.enabled=true\nmetricsProvider.httpHost=127.0.0.1\nenforceQuota=true\n"+
			"metricsProvider.httpPort=0\n%s", m.dataDir, m.clientPort, servers.String())
		cfg, err := config.Parse(strings.NewReader(text), fmt.Sprintf("zoo%d.cfg", m.index))
		require.NoError(t, err)
		m.srv, err = server.New(cfg, zap.NewNop())
		require.NoError(t, err)
		require.NoError(t, m.srv.Serve(m.ln))
		t.Cleanup(m.srv.Stop)
	}

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	scrape := func(m *member) map[string]*dto.MetricFamily {
		addr := m.srv.MetricsAddr()
		require.NotNil(t, addr, "member %d: metrics exporter not listening", m.index)
		resp, err := client.Get("http://" + addr.String() + "/metrics")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		parser := expfmt.NewTextParser(model.LegacyValidation)
		fams, err := parser.TextToMetricFamilies(resp.Body)
		require.NoError(t, err)
		return fams
	}
	// Wait until a leader has both followers synced, so its leader-only
	// gauges are exported.
	deadline := time.Now().Add(60 * time.Second)
	for {
		led := false
		for _, m := range ms {
			if f, ok := scrape(m)["synced_followers"]; ok && f.Metric[0].GetGauge().GetValue() == n-1 {
				led = true
			}
		}
		if led {
			break
		}
		require.True(t, time.Now().Before(deadline), "no leader with %d synced followers", n-1)
		time.Sleep(100 * time.Millisecond)
	}

	// The per-namespace quota series exist once a quota is set and has
	// refused a write (hard limit of one node, then a second create).
	var hosts []string
	for _, m := range ms {
		hosts = append(hosts, fmt.Sprintf("127.0.0.1:%d", m.clientPort))
	}
	zc, _, err := zk.Connect(hosts, 5*time.Second, zk.WithLogInfo(false))
	require.NoError(t, err)
	defer zc.Close()
	acl := zk.WorldACL(zk.PermAll)
	for _, p := range []string{"/q", "/zookeeper/quota/q"} {
		_, err := zc.Create(p, nil, 0, acl)
		require.NoError(t, err, p)
	}
	_, err = zc.Create("/zookeeper/quota/q/zookeeper_limits", []byte("count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=1"), 0, acl)
	require.NoError(t, err)
	_, err = zc.Create("/zookeeper/quota/q/zookeeper_stats", []byte("count=0,bytes=0"), 0, acl)
	require.NoError(t, err)
	_, err = zc.Create("/q/a", nil, 0, acl)
	require.Error(t, err, "QuotaExceeded past countHardLimit")

	names := map[string]bool{}
	for _, m := range ms {
		for name, f := range scrape(m) {
			names[name] = true
			switch f.GetType() {
			case dto.MetricType_SUMMARY:
				names[name+"_sum"], names[name+"_count"] = true, true
			case dto.MetricType_HISTOGRAM:
				names[name+"_sum"], names[name+"_count"], names[name+"_bucket"] = true, true, true
			}
		}
	}
	return names
}

// synthetic are series Prometheus itself adds to every scrape.
var synthetic = map[string]bool{"up": true, "scrape_duration_seconds": true, "scrape_samples_scraped": true}

// dashboardExprs collects the PromQL of every panel target and query
// variable of a Grafana dashboard, and checks the panels use the
// datasource variable.
func dashboardExprs(t *testing.T, dash map[string]any) []string {
	t.Helper()
	var exprs []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if e, ok := x["expr"].(string); ok {
				exprs = append(exprs, e)
			}
			for k, c := range x {
				walk(path+"."+k, c)
			}
		case []any:
			for i, c := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), c)
			}
		}
	}
	panels, ok := dash["panels"].([]any)
	require.True(t, ok, "dashboard has panels")
	for _, p := range panels {
		pm := p.(map[string]any)
		if pm["type"] == "row" {
			continue
		}
		ds, _ := pm["datasource"].(map[string]any)
		require.Equal(t, "${datasource}", ds["uid"], "panel %q datasource", pm["title"])
		targets, _ := pm["targets"].([]any)
		require.NotEmpty(t, targets, "panel %q has no queries", pm["title"])
		walk(fmt.Sprint(pm["title"]), p)
	}
	templ := dash["templating"].(map[string]any)["list"].([]any)
	var dsVar bool
	for _, v := range templ {
		vm := v.(map[string]any)
		if vm["type"] == "datasource" && vm["name"] == "datasource" && vm["query"] == "prometheus" {
			dsVar = true
		}
		if vm["type"] == "query" {
			q, _ := vm["query"].(map[string]any)
			s, _ := q["query"].(string)
			require.NotEmpty(t, s, "variable %v", vm["name"])
			// label_values(metric{...}, label): the metric part.
			inner := strings.TrimSuffix(strings.TrimPrefix(s, "label_values("), ")")
			if i := strings.LastIndex(inner, ","); i >= 0 {
				inner = inner[:i]
			}
			exprs = append(exprs, inner)
		}
	}
	require.True(t, dsVar, "a Prometheus datasource variable named datasource")
	return exprs
}

func TestDashboardAndAlertsUseExportedMetrics(t *testing.T) {
	root := repoRoot(t)

	var dash map[string]any
	dec := json.NewDecoder(bytes.NewReader([]byte(readFile(t, root, "deploy/grafana/zkd-dashboard.json"))))
	require.NoError(t, dec.Decode(&dash), "dashboard JSON")
	require.NotEmpty(t, dash["uid"])
	require.NotEmpty(t, dash["title"])
	dashExprs := dashboardExprs(t, dash)

	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	yd := yaml.NewDecoder(strings.NewReader(readFile(t, root, "deploy/prometheus/alerts.yml")))
	yd.KnownFields(true)
	require.NoError(t, yd.Decode(&rules), "alerts.yml")
	require.NotEmpty(t, rules.Groups)
	alertExprs := map[string]string{}
	for _, g := range rules.Groups {
		require.NotEmpty(t, g.Name)
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert)
			require.NotEmpty(t, r.Expr, r.Alert)
			require.NotEmpty(t, r.Labels["severity"], r.Alert)
			require.NotEmpty(t, r.Annotations["summary"], r.Alert)
			if r.For != "" {
				_, err := model.ParseDuration(r.For)
				require.NoError(t, err, r.Alert)
			}
			_, dup := alertExprs[r.Alert]
			require.False(t, dup, "alert %s defined twice", r.Alert)
			alertExprs[r.Alert] = r.Expr
		}
	}

	exported := exportedNames(t)
	check := func(what, expr string) []string {
		names := promNames(expr)
		require.NotEmpty(t, names, "%s: no metric in %q", what, expr)
		for _, n := range names {
			if n == "instance" || n == "job" {
				continue // the label argument of label_values
			}
			require.True(t, exported[n] || synthetic[n], "%s: %q uses %s, which zkd does not export", what, expr, n)
		}
		return names
	}
	used := map[string]bool{}
	for _, e := range dashExprs {
		for _, n := range check("dashboard", e) {
			used[n] = true
		}
	}
	for _, want := range []string{"znode_count", "num_alive_connections", "outstanding_requests", "readlatency",
		"updatelatency", "fsynctime_sum", "fsynctime_count", "packets_received", "packets_sent", "quorum_size",
		"synced_followers", "election_time_count", "go_memstats_heap_alloc_bytes", "go_gc_duration_seconds_count"} {
		require.True(t, used[want], "the dashboard charts %s", want)
	}

	alertUsed := map[string]bool{}
	var alertNames []string
	for name, e := range alertExprs {
		alertNames = append(alertNames, name)
		for _, n := range check("alert "+name, e) {
			alertUsed[n] = true
		}
	}
	sort.Strings(alertNames)
	for _, want := range []string{"up", "leader_uptime", "quorum_size", "outstanding_requests", "fsynctime_sum",
		"readlatency", "updatelatency", "global_sessions"} {
		require.True(t, alertUsed[want], "an alert uses %s (alerts: %v)", want, alertNames)
	}
	require.True(t, slices.Contains(alertNames, "ZkdDown"))
	require.True(t, slices.Contains(alertNames, "ZkdNoLeader"))
}
