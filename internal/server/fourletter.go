package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zkd/zkd/internal/session"
	"github.com/zkd/zkd/internal/snapshot"
	"github.com/zkd/zkd/internal/wire"
)

var fourLetterWords = map[string]bool{
	"conf": true, "cons": true, "crst": true, "dirs": true, "dump": true, "envi": true,
	"gtmk": true, "hash": true, "isro": true, "mntr": true, "ruok": true, "srst": true,
	"srvr": true, "stat": true, "stmk": true, "wchc": true, "wchp": true, "wchs": true,
}

func isFourLetterWord(s string) bool { return fourLetterWords[s] }

// defaultTraceMask is ZooKeeper's default gtmk answer. zkd has no trace
// logging to mask; it keeps the value and echoes what stmk sets.
const defaultTraceMask = 306

// runFourLetterWord writes the reply of a four-letter word and closes
// (wire.md §16): no framing, the reply ends when the socket closes.
func (c *conn) runFourLetterWord(cmd string, br *bufio.Reader) {
	s := c.srv
	var b bytes.Buffer
	if !s.cfg.FourLetterAllowed(cmd) {
		fmt.Fprintf(&b, "%s is not executed because it is not in the whitelist.\n", cmd)
	} else if !s.clientsOK.Load() && !s.readOnly.Load() && cmd != "ruok" {
		// An ensemble member without a leader (AbstractFourLetterCommand).
		if cmd == "isro" {
			b.WriteString("null")
		} else {
			b.WriteString("This ZooKeeper instance is not currently serving requests\n")
		}
	} else {
		switch cmd {
		case "stmk":
			var m [8]byte
			if _, err := io.ReadFull(br, m[:]); err == nil {
				d := wire.NewDecoder(m[:], 0)
				s.traceMask.Store(d.Long())
			}
			fmt.Fprintf(&b, "%d", s.traceMask.Load())
		default:
			s.writeFourLetterWord(&b, cmd, c)
		}
	}
	c.send(b.Bytes())
	c.closeAfterFlush()
	<-c.done
}

// FourLetterWord renders a command's reply (also used by tools and tests).
func (s *Server) FourLetterWord(cmd string) string {
	var b bytes.Buffer
	s.writeFourLetterWord(&b, cmd, nil)
	return b.String()
}

func (s *Server) writeFourLetterWord(b *bytes.Buffer, cmd string, self *conn) {
	switch cmd {
	case "ruok":
		b.WriteString("imok")
	case "srvr":
		s.writeServerStats(b, nil)
	case "stat":
		s.writeServerStats(b, self)
	case "cons":
		for _, c := range s.sortedConns() {
			c.writeConsLine(b, c == self)
		}
		b.WriteString("\n")
	case "crst":
		for _, c := range s.connList() {
			c.stats.reset()
		}
		b.WriteString("Connection stats reset.\n")
	case "srst":
		s.stats.reset()
		b.WriteString("Server stats reset.\n")
	case "conf":
		s.writeConf(b)
	case "envi":
		s.writeEnvi(b)
	case "mntr":
		for _, kv := range s.Monitor() {
			fmt.Fprintf(b, "zk_%s\t%v\n", kv.Key, kv.Value)
		}
	case "wchs":
		sum := s.watches.DataSummary()
		fmt.Fprintf(b, "%d connections watching %d paths\nTotal watches:%d\n", sum.Connections, sum.Paths, sum.Watches)
	case "wchc":
		by := s.watches.BySession()
		ids := make([]wire.SessionID, 0, len(by))
		for id := range by {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		for _, id := range ids {
			fmt.Fprintf(b, "0x%x\n", uint64(id))
			for _, p := range by[id] {
				fmt.Fprintf(b, "\t%s\n", p)
			}
		}
		b.WriteString("\n")
	case "wchp":
		by := s.watches.ByPath()
		paths := make([]string, 0, len(by))
		for p := range by {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			fmt.Fprintf(b, "%s\n", p)
			for _, id := range by[p] {
				fmt.Fprintf(b, "\t0x%x\n", uint64(id))
			}
		}
		b.WriteString("\n")
	case "dirs":
		fmt.Fprintf(b, "datadir_size: %d\nlogdir_size: %d\n", dirSize(s.snapDir()), dirSize(s.logDir()))
	case "isro":
		if s.readOnly.Load() && !s.clientsOK.Load() {
			b.WriteString("ro")
		} else {
			b.WriteString("rw")
		}
	case "gtmk":
		fmt.Fprintf(b, "%d", s.traceMask.Load())
	case "hash":
		// The ZooKeeper 3.6+ tree digest (DigestCalculator v2) of the tree
		// as it stands: members that applied the same txns print the same
		// line, so divergence shows. It walks the tree; fine for an
		// operator's command, not for a hot path.
		z := s.tree.LastZxid()
		fmt.Fprintf(b, "%x: %d\n", z, snapshot.TreeDigest(s.tree))
	case "dump":
		s.writeDump(b)
	}
}

func (s *Server) sortedConns() []*conn {
	cs := s.connList()
	sort.Slice(cs, func(i, j int) bool { return cs[i].remote < cs[j].remote })
	return cs
}

func (s *Server) mode() string {
	if s.peer != nil {
		return s.peer.mode()
	}
	return "standalone"
}

func (s *Server) writeServerStats(b *bytes.Buffer, self *conn) {
	fmt.Fprintf(b, "Zookeeper version: %s\n", Version)
	if s.readOnly.Load() && !s.clientsOK.Load() {
		b.WriteString("READ-ONLY mode; serving only read-only clients\n")
	}
	if self != nil {
		b.WriteString("Clients:\n")
		for _, c := range s.sortedConns() {
			c.writeStatLine(b, c == self)
		}
		b.WriteString("\n")
	}
	min, avg, max := s.stats.latency()
	fmt.Fprintf(b, "Latency min/avg/max: %d/%s/%d\n", min, javaAvg(avg), max)
	fmt.Fprintf(b, "Received: %d\n", s.stats.packetsReceived.Load())
	fmt.Fprintf(b, "Sent: %d\n", s.stats.packetsSent.Load())
	fmt.Fprintf(b, "Connections: %d\n", len(s.connList()))
	fmt.Fprintf(b, "Outstanding: %d\n", s.stats.outstanding.Load())
	fmt.Fprintf(b, "Zxid: 0x%x\n", s.tree.LastZxid())
	fmt.Fprintf(b, "Mode: %s\n", s.mode())
	fmt.Fprintf(b, "Node count: %d\n", s.tree.NodeCount())
	if l := s.activeLeader(); l != nil {
		last, min, max := l.proposalSizes()
		fmt.Fprintf(b, "Proposal sizes last/min/max: %d/%d/%d\n", last, min, max)
	}
}

func (c *conn) interestOps(self bool) int {
	if self {
		return 0
	}
	return 1
}

func (c *conn) writeStatLine(b *bytes.Buffer, self bool) {
	fmt.Fprintf(b, " %s[%d](queued=%d,recved=%d,sent=%d)\n", c.remote, c.interestOps(self),
		c.queued(), c.stats.received.Load(), c.stats.sent.Load())
}

func (c *conn) queued() int {
	c.pendMu.Lock()
	defer c.pendMu.Unlock()
	return c.pending
}

func (c *conn) writeConsLine(b *bytes.Buffer, self bool) {
	fmt.Fprintf(b, " %s[%d](queued=%d,recved=%d,sent=%d", c.remote, c.interestOps(self),
		c.queued(), c.stats.received.Load(), c.stats.sent.Load())
	if id := c.sessionID(); id != 0 {
		st := &c.stats
		st.latMu.Lock()
		avg := int64(0)
		if st.count > 0 {
			avg = st.totalLat / st.count
		}
		fmt.Fprintf(b, ",sid=0x%x,lop=%s,est=%d,to=%d,lcxid=0x%x,lzxid=0x%x,lresp=%d,llat=%d,minlat=%d,avglat=%d,maxlat=%d",
			uint64(id), opAbbrev(wire.OpCode(st.lastOp.Load())), st.established.UnixMilli(), c.timeout.Load(),
			uint32(st.lastCxid.Load()), uint64(st.lastZxid.Load()), st.lastResp.Load(),
			st.lastLat, st.minLat, avg, st.maxLat)
		st.latMu.Unlock()
	}
	b.WriteString(")\n")
}

// opAbbrev is the lop code of cons (Request.op2String).
func opAbbrev(op wire.OpCode) string {
	switch op {
	case wire.OpPing:
		return "PING"
	case wire.OpCreateSession:
		return "SESS"
	case wire.OpMulti:
		return "MULT"
	case wire.OpMultiRead:
		return "MLTR"
	case wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL:
		return "CREA"
	case wire.OpDelete, wire.OpDeleteContainer:
		return "DELE"
	case wire.OpSetData:
		return "SETD"
	case wire.OpReconfig:
		return "RECO"
	case wire.OpSetACL:
		return "SETA"
	case wire.OpCloseSession:
		return "CLOS"
	case wire.OpSync:
		return "SYNC"
	case wire.OpCheck:
		return "CHEC"
	case wire.OpExists:
		return "EXIS"
	case wire.OpGetData:
		return "GETD"
	case wire.OpSetWatches:
		return "SETW"
	case wire.OpSetWatches2:
		return "STW2"
	case wire.OpAddWatch:
		return "ADDW"
	case wire.OpGetACL:
		return "GETA"
	case wire.OpGetChildren, wire.OpGetChildren2:
		return "GETC"
	case wire.OpGetAllChildrenNumber:
		return "GETACN"
	case wire.OpCheckWatches:
		return "CHKW"
	case wire.OpRemoveWatches:
		return "REMW"
	case wire.OpWhoAmI:
		return "HOMI"
	case wire.OpGetEphemerals:
		return "GETE"
	}
	return "NA"
}

func (s *Server) snapDir() string { return filepath.Join(s.cfg.DataDir, "version-2") }

func (s *Server) logDir() string {
	d := s.cfg.DataLogDir
	if d == "" {
		d = s.cfg.DataDir
	}
	return filepath.Join(d, "version-2")
}

func dirSize(dir string) int64 {
	var total int64
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			total += info.Size()
		}
	}
	return total
}

func (s *Server) writeConf(b *bytes.Buffer) {
	fmt.Fprintf(b, "clientPort=%d\n", s.cfg.ClientPort)
	fmt.Fprintf(b, "secureClientPort=-1\n")
	fmt.Fprintf(b, "dataDir=%s\n", s.snapDir())
	fmt.Fprintf(b, "dataDirSize=%d\n", dirSize(s.snapDir()))
	fmt.Fprintf(b, "dataLogDir=%s\n", s.logDir())
	fmt.Fprintf(b, "dataLogSize=%d\n", dirSize(s.logDir()))
	fmt.Fprintf(b, "tickTime=%d\n", s.cfg.TickTime)
	fmt.Fprintf(b, "maxClientCnxns=%d\n", s.cfg.MaxClientCnxns)
	fmt.Fprintf(b, "minSessionTimeout=%d\n", s.cfg.MinSessionTimeout)
	fmt.Fprintf(b, "maxSessionTimeout=%d\n", s.cfg.MaxSessionTimeout)
	fmt.Fprintf(b, "clientPortListenBacklog=-1\n")
	fmt.Fprintf(b, "serverId=0\n")
}

func (s *Server) writeEnvi(b *bytes.Buffer) {
	host, _ := os.Hostname()
	wd, _ := os.Getwd()
	home, _ := os.UserHomeDir()
	user := os.Getenv("USER")
	var uts syscall.Utsname
	osVersion := ""
	if syscall.Uname(&uts) == nil {
		osVersion = utsString(uts.Release[:])
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	exe, _ := os.Executable()
	b.WriteString("Environment:\n")
	kv := [][2]string{
		{"zookeeper.version", Version},
		{"host.name", host},
		{"java.version", runtime.Version()},
		{"java.vendor", "zkd (Go runtime)"},
		{"java.home", runtime.GOROOT()},
		{"java.class.path", exe},
		{"java.library.path", ""},
		{"java.io.tmpdir", os.TempDir()},
		{"java.compiler", "<NA>"},
		{"os.name", strings.Title(runtime.GOOS)}, //nolint:staticcheck // ASCII only
		{"os.arch", runtime.GOARCH},
		{"os.version", osVersion},
		{"user.name", user},
		{"user.home", home},
		{"user.dir", wd},
		{"os.memory.free", fmt.Sprintf("%dMB", (ms.HeapSys-ms.HeapAlloc)>>20)},
		{"os.memory.max", fmt.Sprintf("%dMB", ms.Sys>>20)},
		{"os.memory.total", fmt.Sprintf("%dMB", ms.HeapSys>>20)},
	}
	for _, p := range kv {
		fmt.Fprintf(b, "%s=%s\n", p[0], p[1])
	}
}

func utsString(a []int8) string {
	var sb strings.Builder
	for _, c := range a {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}

func (s *Server) writeDump(b *bytes.Buffer) {
	b.WriteString("SessionTracker dump:\n")
	_ = session.WriteDump(b, s.sessions.Dump(time.Now().UnixMilli()), time.Local)
	b.WriteString("ephemeral nodes dump:\n")
	eph := s.tree.EphemeralSessions()
	ids := make([]int64, 0, len(eph))
	for id := range eph {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	fmt.Fprintf(b, "Sessions with Ephemerals (%d):\n", len(ids))
	for _, id := range ids {
		fmt.Fprintf(b, "0x%x:\n", uint64(id))
		for _, p := range eph[id] {
			fmt.Fprintf(b, "\t%s\n", p)
		}
	}
	b.WriteString("Connections dump:\n")
	cs := s.sortedConns()
	fmt.Fprintf(b, "Connections Sets (%d)/(%d):\n", min(len(cs), 1), len(cs))
	if len(cs) > 0 {
		fmt.Fprintf(b, "%d expire at %s:\n", len(cs), time.Now().Format("Mon Jan 02 15:04:05 MST 2006"))
		for _, c := range cs {
			fmt.Fprintf(b, "\tip: %s sessionId: 0x%x\n", c.remote, uint64(c.sessionID()))
		}
	}
}

// KV is one mntr line.
type KV struct {
	Key   string
	Value any
}

// Monitor returns the mntr keys (without the zk_ prefix), in a stable order:
// the server's figures, then the per-namespace quota figures under
// "<namespace>_<metric>", as ZooKeeper's DefaultMetricsProvider names the
// members of its gauge sets and counter sets.
func (s *Server) Monitor() []KV {
	kv := s.monitorFigures()
	for _, f := range s.quotaFigures() {
		kv = append(kv, KV{f.namespace + "_" + f.name, f.value})
	}
	return kv
}

// monitorFigures are the mntr keys that are not per namespace.
func (s *Server) monitorFigures() []KV {
	min, avg, max := s.stats.latency()
	respLast, respMin, respMax := s.stats.responseSizes()
	openFDs, maxFDs := fdCounts()
	kv := []KV{
		{"version", Version},
		{"server_state", s.mode()},
		{"avg_latency", javaAvg(avg)},
		{"max_latency", max},
		{"min_latency", min},
		{"packets_received", s.stats.packetsReceived.Load()},
		{"packets_sent", s.stats.packetsSent.Load()},
		{"num_alive_connections", len(s.connList())},
		{"outstanding_requests", s.stats.outstanding.Load()},
		{"znode_count", s.tree.NodeCount()},
		{"watch_count", s.watches.Count()},
		{"ephemerals_count", s.tree.EphemeralCount()},
		{"approximate_data_size", s.tree.ApproximateDataSize()},
		{"open_file_descriptor_count", openFDs},
		{"max_file_descriptor_count", maxFDs},
		{"uptime", time.Since(s.started).Milliseconds()},
		{"global_sessions", s.sessions.Len()},
		{"local_sessions", 0},
		{"connection_drop_probability", "0.0"},
		{"outstanding_tls_handshake", 0},
		{"last_client_response_size", respLast},
		{"min_client_response_size", respMin},
		{"max_client_response_size", respMax},
		{"auth_failed_count", s.stats.authFailed.Load()},
		{"non_mtls_remote_conn_count", 0},
		{"non_mtls_local_conn_count", 0},
	}
	if s.peer != nil {
		kv = append(kv, KV{"peer_state", s.peer.peerState()}, KV{"quorum_size", len(s.peer.voters.Voters())},
			KV{"synced_observers", 0})
		if l := s.activeLeader(); l != nil {
			learners, followers, observers, syncs := l.stats()
			last, min, max := l.proposalSizes()
			kv[len(kv)-1] = KV{"synced_observers", observers}
			kv = append(kv, KV{"learners", learners}, KV{"synced_followers", followers},
				KV{"synced_non_voting_followers", 0}, KV{"pending_syncs", syncs},
				KV{"leader_uptime", l.uptime().Milliseconds()},
				KV{"last_proposal_size", last}, KV{"min_proposal_size", min}, KV{"max_proposal_size", max})
		}
	}
	return kv
}

func fdCounts() (int, uint64) {
	entries, _ := os.ReadDir("/proc/self/fd")
	var rl syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	return len(entries), rl.Cur
}

// javaAvg renders an average latency as ZooKeeper does: rounded to four
// decimals and printed as a Java double, so trailing zeros are dropped
// but one decimal always remains ("0.0", "2.5", "3.1667"; verified
// against 3.8.0's srvr and mntr).
func javaAvg(avg float64) string {
	s := strconv.FormatFloat(math.Round(avg*10000)/10000, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}
