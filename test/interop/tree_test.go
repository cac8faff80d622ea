package interop

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/zkd/zkd/internal/wire"
	"github.com/zkd/zkd/test/harness"
)

// znode is everything a client can read about one node.
type znode struct {
	Path string
	// Data is nil for a node created or set with null data, empty (not
	// nil) for zero-length data.
	Data     []byte
	Stat     wire.Stat
	ACL      []wire.ACL
	Children []string
}

// call sends one request and decodes its reply into resp (when not nil),
// failing the test on a transport error; it returns the reply's code.
func call(t testing.TB, rc *harness.RawClient, op wire.OpCode, req, resp wire.Record) wire.Code {
	t.Helper()
	r, err := rc.Call(op, req)
	if err != nil {
		t.Fatalf("%v: %v", op, err)
	}
	if r.Header.Err == wire.OK && resp != nil {
		if err := wire.Unmarshal(r.Body, 0, resp); err != nil {
			t.Fatalf("%v: decode reply: %v", op, err)
		}
	}
	return r.Header.Err
}

// mustCall is call that requires OK.
func mustCall(t testing.TB, rc *harness.RawClient, op wire.OpCode, req, resp wire.Record) {
	t.Helper()
	if code := call(t, rc, op, req, resp); code != wire.OK {
		t.Fatalf("%v %+v: %v", op, req, code)
	}
}

// closeSession ends rc's session with closeSession (so no live session is
// left behind in the data directory) and closes the socket.
func closeSession(t testing.TB, rc *harness.RawClient) {
	t.Helper()
	call(t, rc, wire.OpCloseSession, nil, nil)
	rc.Close()
}

// superClient opens a session authenticated as the super user.
func superClient(t testing.TB, addr string) *harness.RawClient {
	t.Helper()
	rc, err := harness.Dial(addr, 30000)
	if err != nil {
		t.Fatalf("connect %s: %v", addr, err)
	}
	if rc.Session.TimeOut <= 0 {
		t.Fatalf("connect %s: session refused", addr)
	}
	mustCall(t, rc, wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte("super:" + superPassword)}, nil)
	return rc
}

// dumpTree walks the whole tree from the root, children in name order,
// reading data, stat, ACL and children of every node as the super user.
func dumpTree(t testing.TB, addr string) []znode {
	t.Helper()
	rc := superClient(t, addr)
	defer closeSession(t, rc)
	var out []znode
	var walk func(path string)
	walk = func(path string) {
		var gd wire.GetDataResponse
		if code := call(t, rc, wire.OpGetData, &wire.GetDataRequest{Path: path}, &gd); code != wire.OK {
			t.Fatalf("getData %s: %v", path, code)
		}
		var ga wire.GetACLResponse
		mustCall(t, rc, wire.OpGetACL, &wire.GetACLRequest{Path: path}, &ga)
		var gc wire.GetChildren2Response
		mustCall(t, rc, wire.OpGetChildren2, &wire.GetChildren2Request{Path: path}, &gc)
		if ga.Stat != gd.Stat || gc.Stat != gd.Stat {
			t.Fatalf("%s changed during the walk: getData %+v, getACL %+v, getChildren2 %+v", path, gd.Stat, ga.Stat, gc.Stat)
		}
		kids := append([]string{}, gc.Children...)
		sort.Strings(kids)
		out = append(out, znode{Path: path, Data: gd.Data, Stat: gd.Stat, ACL: ga.ACL, Children: kids})
		for _, k := range kids {
			if path == "/" {
				walk("/" + k)
			} else {
				walk(path + "/" + k)
			}
		}
	}
	walk("/")
	return out
}

// requireSameTree fails with a per-node, per-field report when the trees
// differ in any way.
func requireSameTree(t testing.TB, wantName string, want []znode, gotName string, got []znode) {
	t.Helper()
	wm := map[string]znode{}
	for _, n := range want {
		wm[n.Path] = n
	}
	gm := map[string]znode{}
	for _, n := range got {
		gm[n.Path] = n
	}
	var diffs []string
	for _, w := range want {
		g, ok := gm[w.Path]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s: only in %s (%s)", w.Path, wantName, statString(w.Stat)))
			continue
		}
		for _, d := range nodeDiff(w, g) {
			diffs = append(diffs, fmt.Sprintf("%s: %s: %s %s, %s %s", w.Path, d[0], wantName, d[1], gotName, d[2]))
		}
	}
	for _, g := range got {
		if _, ok := wm[g.Path]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: only in %s (%s)", g.Path, gotName, statString(g.Stat)))
		}
	}
	if len(diffs) > 0 {
		if len(diffs) > 60 {
			diffs = append(diffs[:60], fmt.Sprintf("... and %d more", len(diffs)-60))
		}
		t.Fatalf("trees differ (%d nodes in %s, %d in %s):\n  %s", len(want), wantName, len(got), gotName, strings.Join(diffs, "\n  "))
	}
}

// nodeDiff lists differing fields as {field, want, got}.
func nodeDiff(w, g znode) [][3]string {
	var out [][3]string
	if (w.Data == nil) != (g.Data == nil) || !bytes.Equal(w.Data, g.Data) {
		out = append(out, [3]string{"data", dataString(w.Data), dataString(g.Data)})
	}
	fields := []struct {
		name string
		w, g int64
		hex  bool
	}{
		{"czxid", w.Stat.Czxid, g.Stat.Czxid, true},
		{"mzxid", w.Stat.Mzxid, g.Stat.Mzxid, true},
		{"ctime", w.Stat.Ctime, g.Stat.Ctime, false},
		{"mtime", w.Stat.Mtime, g.Stat.Mtime, false},
		{"version", int64(w.Stat.Version), int64(g.Stat.Version), false},
		{"cversion", int64(w.Stat.Cversion), int64(g.Stat.Cversion), false},
		{"aversion", int64(w.Stat.Aversion), int64(g.Stat.Aversion), false},
		{"ephemeralOwner", w.Stat.EphemeralOwner, g.Stat.EphemeralOwner, true},
		{"dataLength", int64(w.Stat.DataLength), int64(g.Stat.DataLength), false},
		{"numChildren", int64(w.Stat.NumChildren), int64(g.Stat.NumChildren), false},
		{"pzxid", w.Stat.Pzxid, g.Stat.Pzxid, true},
	}
	for _, f := range fields {
		if f.w != f.g {
			if f.hex {
				out = append(out, [3]string{f.name, fmt.Sprintf("%#x", uint64(f.w)), fmt.Sprintf("%#x", uint64(f.g))})
			} else {
				out = append(out, [3]string{f.name, strconv.FormatInt(f.w, 10), strconv.FormatInt(f.g, 10)})
			}
		}
	}
	if aclString(w.ACL) != aclString(g.ACL) {
		out = append(out, [3]string{"acl", aclString(w.ACL), aclString(g.ACL)})
	}
	if strings.Join(w.Children, ",") != strings.Join(g.Children, ",") {
		out = append(out, [3]string{"children", fmt.Sprint(w.Children), fmt.Sprint(g.Children)})
	}
	return out
}

func dataString(b []byte) string {
	switch {
	case b == nil:
		return "null"
	case len(b) <= 40 && utf8.Valid(b):
		return strconv.Quote(string(b))
	case len(b) <= 40:
		return fmt.Sprintf("%x", b)
	}
	return fmt.Sprintf("%d bytes sha256 %x", len(b), sha256.Sum256(b))
}

func aclString(acl []wire.ACL) string {
	parts := make([]string, len(acl))
	for i, a := range acl {
		parts[i] = fmt.Sprintf("%s:%s:%d", a.ID.Scheme, a.ID.ID, a.Perms)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func statString(s wire.Stat) string {
	return fmt.Sprintf("czxid %#x mzxid %#x pzxid %#x version %d cversion %d aversion %d owner %#x",
		s.Czxid, s.Mzxid, s.Pzxid, s.Version, s.Cversion, s.Aversion, uint64(s.EphemeralOwner))
}

// findNode returns the node at path in a dump.
func findNode(tree []znode, path string) (znode, bool) {
	for _, n := range tree {
		if n.Path == path {
			return n, true
		}
	}
	return znode{}, false
}
