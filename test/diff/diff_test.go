// Package diff runs the same request scripts against Apache ZooKeeper 3.8
// and zkd and requires identical answers: error codes, zxids, stats,
// multi results, notifications. Where an exact answer was in doubt while
// writing zkd, it was added here.
package diff

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
	"github.com/zkd/zkd/test/harness"
)

// step is one request of a script, sent on session "A" or "B".
type step struct {
	sess string
	op   wire.OpCode
	req  wire.Record
}

var open = wire.OpenACLUnsafe

func create(sess, path string, data string, flags int32) step {
	return step{sess, wire.OpCreate, &wire.CreateRequest{Path: path, Data: []byte(data), ACL: open, Flags: flags}}
}

func create2(sess, path string, flags int32) step {
	return step{sess, wire.OpCreate2, &wire.CreateRequest{Path: path, Data: []byte("v"), ACL: open, Flags: flags}}
}

// script exercises every operation and error that has an exact answer.
func script() []step {
	digestACL := []wire.ACL{
		{Perms: wire.PermAll, ID: wire.Id{Scheme: "digest", ID: "u:" + "smGaoVKd/cQkjm7b88GyorAUz20="}},
		{Perms: wire.PermRead, ID: wire.AnyoneID},
	}
	return []step{
		create("A", "/d", "x", 0),
		create("A", "/d", "x", 0),        // NodeExists
		create("A", "/d/e/f", "x", 0),    // NoNode
		create("A", "/d/bad//x", "x", 0), // BadArguments
		create("A", "/d/", "x", 0),       // BadArguments (no sequence flag)
		create("A", "noslash", "x", 0),   // BadArguments
		create("A", "/d/x", "x", 9),      // BadArguments: flag
		create2("A", "/d/s-", 2),         // s-0000000000
		create2("A", "/d/s-", 2),         // s-0000000001
		{"A", wire.OpDelete, &wire.DeleteRequest{Path: "/d/s-0000000000", Version: -1}},
		create2("A", "/d/s-", 2), // s-0000000002: counts creations
		create2("A", "/d/", 2),   // /d/0000000003
		{"A", wire.OpGetChildren2, &wire.GetChildren2Request{Path: "/d"}},
		{"A", wire.OpGetData, &wire.GetDataRequest{Path: "/d"}},
		{"A", wire.OpExists, &wire.ExistsRequest{Path: "/nope"}},
		{"A", wire.OpGetData, &wire.GetDataRequest{Path: "/nope"}},
		{"A", wire.OpGetData, &wire.GetDataRequest{Path: "/d/"}}, // reads do not validate: NoNode
		{"A", wire.OpSetData, &wire.SetDataRequest{Path: "/d", Data: []byte("y"), Version: 5}},
		{"A", wire.OpSetData, &wire.SetDataRequest{Path: "/d", Data: []byte("y"), Version: 0}},
		{"A", wire.OpSetData, &wire.SetDataRequest{Path: "/d", Data: nil, Version: -1}},
		{"A", wire.OpGetData, &wire.GetDataRequest{Path: "/d"}},
		{"A", wire.OpSetData, &wire.SetDataRequest{Path: "/nope", Data: []byte("y"), Version: -1}},
		{"A", wire.OpDelete, &wire.DeleteRequest{Path: "/d", Version: -1}},             // NotEmpty
		{"A", wire.OpDelete, &wire.DeleteRequest{Path: "/zookeeper", Version: -1}},     // BadArguments
		{"A", wire.OpDelete, &wire.DeleteRequest{Path: "/", Version: -1}},              // BadArguments
		{"A", wire.OpDelete, &wire.DeleteRequest{Path: "/d/s-0000000001", Version: 3}}, // BadVersion
		{"A", wire.OpDelete, &wire.DeleteRequest{Path: "/nope", Version: -1}},
		create("A", "/eph", "", 1),
		create("A", "/eph/kid", "", 0), // NoChildrenForEphemerals
		create("B", "/ephseq-", "", 3),
		{"A", wire.OpExists, &wire.ExistsRequest{Path: "/eph"}},
		{"A", wire.OpCreateContainer, &wire.CreateRequest{Path: "/box", ACL: open, Flags: 4}},
		create("A", "/box/in", "", 0),
		{"A", wire.OpGetData, &wire.GetDataRequest{Path: "/box"}},
		{"A", wire.OpCreateTTL, &wire.CreateTTLRequest{Path: "/ttl", ACL: open, Flags: 5, TTL: 100000}},
		{"A", wire.OpCreateTTL, &wire.CreateTTLRequest{Path: "/ttl-", ACL: open, Flags: 6, TTL: 100000}},
		{"A", wire.OpCreateTTL, &wire.CreateTTLRequest{Path: "/ttl2", ACL: open, Flags: 0, TTL: 100}}, // BadArguments
		{"A", wire.OpCreateTTL, &wire.CreateTTLRequest{Path: "/ttl2", ACL: open, Flags: 5, TTL: 0}},   // BadArguments
		create("A", "/ttl3", "", 5), // TTL mode through plain create: BadArguments
		{"A", wire.OpGetData, &wire.GetDataRequest{Path: "/ttl"}},
		// ACLs.
		{"A", wire.OpCreate, &wire.CreateRequest{Path: "/a0", ACL: nil}},                                                           // InvalidACL
		{"A", wire.OpCreate, &wire.CreateRequest{Path: "/a0", ACL: []wire.ACL{{Perms: 31, ID: wire.Id{Scheme: "nope", ID: "x"}}}}}, // InvalidACL
		{"A", wire.OpCreate, &wire.CreateRequest{Path: "/a0", ACL: []wire.ACL{{Perms: 31, ID: wire.Id{Scheme: "auth", ID: ""}}}}},  // InvalidACL: no credentials
		{"A", wire.OpCreate, &wire.CreateRequest{Path: "/a0", ACL: []wire.ACL{{Perms: 31, ID: wire.Id{Scheme: "digest", ID: "nocolon"}}}}},
		{"A", wire.OpCreate, &wire.CreateRequest{Path: "/a0", ACL: []wire.ACL{{Perms: 31, ID: wire.Id{Scheme: "ip", ID: "300.1.1.1"}}}}},
		{"A", wire.OpCreate, &wire.CreateRequest{Path: "/aip", ACL: []wire.ACL{{Perms: 31, ID: wire.Id{Scheme: "ip", ID: "127.0.0.0/8"}}}}},
		{"A", wire.OpGetACL, &wire.GetACLRequest{Path: "/aip"}},
		{"A", wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte("u:p")}},
		{"A", wire.OpCreate, &wire.CreateRequest{Path: "/acl", Data: []byte("s"), ACL: digestACL}},
		{"A", wire.OpCreate, &wire.CreateRequest{Path: "/aauth", ACL: []wire.ACL{{Perms: 31, ID: wire.Id{Scheme: "auth", ID: ""}}}}},
		{"A", wire.OpGetACL, &wire.GetACLRequest{Path: "/aauth"}},
		{"B", wire.OpGetACL, &wire.GetACLRequest{Path: "/acl"}},                        // redacted: user:x
		{"B", wire.OpGetData, &wire.GetDataRequest{Path: "/acl"}},                      // world READ
		{"B", wire.OpSetData, &wire.SetDataRequest{Path: "/acl", Version: -1}},         // NoAuth
		{"B", wire.OpGetData, &wire.GetDataRequest{Path: "/aauth"}},                    // NoAuth
		{"B", wire.OpCreate, &wire.CreateRequest{Path: "/acl/kid", ACL: open}},         // NoAuth
		{"A", wire.OpSetACL, &wire.SetACLRequest{Path: "/acl", ACL: open, Version: 3}}, // BadVersion
		{"A", wire.OpSetACL, &wire.SetACLRequest{Path: "/acl", ACL: nil, Version: -1}}, // InvalidACL
		{"A", wire.OpSetACL, &wire.SetACLRequest{Path: "/acl", ACL: open, Version: 0}},
		{"A", wire.OpGetACL, &wire.GetACLRequest{Path: "/acl"}},
		{"A", wire.OpGetACL, &wire.GetACLRequest{Path: "/nope"}},
		{"A", wire.OpWhoAmI, nil},
		{"B", wire.OpWhoAmI, nil},
		// Watches.
		{"B", wire.OpExists, &wire.ExistsRequest{Path: "/w", Watch: true}},
		{"B", wire.OpGetChildren, &wire.GetChildrenRequest{Path: "/", Watch: true}},
		{"B", wire.OpCheckWatches, &wire.CheckWatchesRequest{Path: "/w", Type: wire.WatcherData}},
		{"B", wire.OpCheckWatches, &wire.CheckWatchesRequest{Path: "/w", Type: wire.WatcherChildren}}, // NoWatcher
		create("A", "/w", "1", 0),
		{"B", wire.OpGetData, &wire.GetDataRequest{Path: "/w", Watch: true}},
		{"B", wire.OpAddWatch, &wire.AddWatchRequest{Path: "/w", Mode: wire.AddWatchPersistentRecursive}},
		{"A", wire.OpSetData, &wire.SetDataRequest{Path: "/w", Data: []byte("2"), Version: -1}},
		create("A", "/w/k", "", 0),
		{"B", wire.OpGetChildren, &wire.GetChildrenRequest{Path: "/w", Watch: true}},
		{"B", wire.OpRemoveWatches, &wire.RemoveWatchesRequest{Path: "/w", Type: wire.WatcherChildren}},
		{"B", wire.OpRemoveWatches, &wire.RemoveWatchesRequest{Path: "/w", Type: wire.WatcherChildren}}, // NoWatcher
		{"A", wire.OpDelete, &wire.DeleteRequest{Path: "/w/k", Version: -1}},
		{"B", wire.OpSync, &wire.SyncRequest{Path: "/w"}},
		// Multi.
		{"A", wire.OpMulti, &wire.MultiRequest{Ops: []wire.MultiOp{
			{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/m", Data: []byte("m"), ACL: open}},
			{Type: wire.OpCreate2, Req: &wire.CreateRequest{Path: "/m/c", ACL: open}},
			{Type: wire.OpCheck, Req: &wire.CheckVersionRequest{Path: "/m", Version: 0}},
			{Type: wire.OpSetData, Req: &wire.SetDataRequest{Path: "/m", Data: []byte("n"), Version: 0}},
			{Type: wire.OpDelete, Req: &wire.DeleteRequest{Path: "/m/c", Version: -1}},
		}}},
		{"A", wire.OpMulti, &wire.MultiRequest{Ops: []wire.MultiOp{
			{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/m2", ACL: open}},
			{Type: wire.OpCheck, Req: &wire.CheckVersionRequest{Path: "/m", Version: 0}},
			{Type: wire.OpSetData, Req: &wire.SetDataRequest{Path: "/m", Version: -1}},
		}}},
		{"A", wire.OpExists, &wire.ExistsRequest{Path: "/m2"}},
		{"A", wire.OpMulti, &wire.MultiRequest{Ops: []wire.MultiOp{
			{Type: wire.OpCreateContainer, Req: &wire.CreateRequest{Path: "/mc", ACL: open, Flags: 4}},
			{Type: wire.OpCreateTTL, Req: &wire.CreateTTLRequest{Path: "/mt", ACL: open, Flags: 5, TTL: 5000}},
			{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/mc/e", ACL: open, Flags: 3}},
		}}},
		{"A", wire.OpMulti, &wire.MultiRequest{}},
		{"A", wire.OpMultiRead, &wire.MultiRequest{Ops: []wire.MultiOp{
			{Type: wire.OpGetData, Req: &wire.GetDataRequest{Path: "/m"}},
			{Type: wire.OpGetChildren, Req: &wire.GetChildrenRequest{Path: "/nope"}},
			{Type: wire.OpGetChildren, Req: &wire.GetChildrenRequest{Path: "/d"}},
		}}},
		// Counting and listing.
		{"A", wire.OpGetAllChildrenNumber, &wire.GetAllChildrenNumberRequest{Path: "/"}},
		{"A", wire.OpGetAllChildrenNumber, &wire.GetAllChildrenNumberRequest{Path: "/d"}},
		{"A", wire.OpGetEphemerals, &wire.GetEphemeralsRequest{PrefixPath: "/"}},
		{"B", wire.OpGetEphemerals, &wire.GetEphemeralsRequest{PrefixPath: "/eph"}},
		// The special nodes.
		{"A", wire.OpGetData, &wire.GetDataRequest{Path: "/"}},
		{"A", wire.OpGetChildren2, &wire.GetChildren2Request{Path: "/zookeeper"}},
		{"A", wire.OpGetACL, &wire.GetACLRequest{Path: "/zookeeper/config"}},
		{"A", wire.OpGetData, &wire.GetDataRequest{Path: "/zookeeper/quota"}},
		{"A", wire.OpReconfig, &wire.ReconfigRequest{CurConfigID: -1}},
		{"A", wire.OpPing, nil},
		// Close A: its ephemeral goes, B's watch on / hears nothing more
		// (it fired already), B sees /eph gone.
		{"A", wire.OpCloseSession, nil},
		{"B", wire.OpExists, &wire.ExistsRequest{Path: "/eph"}},
		{"B", wire.OpGetChildren2, &wire.GetChildren2Request{Path: "/"}},
	}
}

// transcript runs the script against addr and renders every reply and
// notification as normalized text.
func transcript(t *testing.T, addr string) []string {
	t.Helper()
	return transcriptOf(t, addr, script())
}

// transcriptOf is transcript for any list of steps.
func transcriptOf(t *testing.T, addr string, steps []step) []string {
	t.Helper()
	sessions := map[string]*harness.RawClient{}
	names := map[int64]string{}
	for _, s := range []string{"A", "B"} {
		c, err := harness.Dial(addr, 30000)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		sessions[s] = c
		names[c.Session.SessionID] = s
	}
	var out []string
	for i, st := range steps {
		c := sessions[st.sess]
		rep, err := c.Call(st.op, st.req)
		require.NoError(t, err, "step %d %s", i, st.op)
		line := fmt.Sprintf("%02d %s %s: zxid=%d err=%s", i, st.sess, st.op, rep.Header.Zxid, rep.Header.Err)
		if rep.Header.Err == wire.OK {
			line += " " + render(t, st.op, rep.Body, names)
		}
		out = append(out, line)
		// Notifications are read lazily with the next reply of their
		// session; record them per session in arrival order.
		for _, s := range []string{"A", "B"} {
			for _, ev := range sessions[s].Events {
				out = append(out, fmt.Sprintf("   %s event %s %s", s, ev.Type, ev.Path))
			}
			sessions[s].Events = nil
		}
	}
	return out
}

func render(t *testing.T, op wire.OpCode, body []byte, names map[int64]string) string {
	rec := wire.NewResponse(op)
	if op == wire.OpMulti || op == wire.OpMultiRead {
		rec = &wire.MultiResponse{}
	}
	if rec == nil {
		return fmt.Sprintf("body=%x", body)
	}
	require.NoError(t, wire.Unmarshal(body, 0, rec))
	normalize(rec, names)
	if m, ok := rec.(*wire.MultiResponse); ok {
		parts := make([]string, 0, len(m.Results))
		for _, r := range m.Results {
			parts = append(parts, fmt.Sprintf("{%s %s %+v}", r.Type, r.Err, r.Body))
		}
		return "multi[" + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprintf("%+v", rec)
}

// normalize removes what legitimately differs between two servers:
// wall-clock times, session ids (replaced by the session's name) and the
// hash-set order of children.
func normalize(rec wire.Record, names map[int64]string) {
	fix := func(s *wire.Stat) {
		s.Ctime, s.Mtime = 0, 0
		if n, ok := names[s.EphemeralOwner]; ok {
			s.EphemeralOwner = int64(n[0])
		}
	}
	switch r := rec.(type) {
	case *wire.Create2Response:
		fix(&r.Stat)
	case *wire.ExistsResponse:
		fix(&r.Stat)
	case *wire.GetDataResponse:
		fix(&r.Stat)
	case *wire.SetDataResponse:
		fix(&r.Stat)
	case *wire.SetACLResponse:
		fix(&r.Stat)
	case *wire.GetACLResponse:
		fix(&r.Stat)
	case *wire.GetChildrenResponse:
		sort.Strings(r.Children)
	case *wire.GetChildren2Response:
		sort.Strings(r.Children)
		fix(&r.Stat)
	case *wire.GetEphemeralsResponse:
		sort.Strings(r.Ephemerals)
	case *wire.MultiResponse:
		for _, res := range r.Results {
			if res.Body != nil {
				normalize(res.Body, names)
			}
		}
	}
}

// TestSameAnswersAsZooKeeper is the differential test: the whole script,
// against both servers, must give the same transcript.
func TestSameAnswersAsZooKeeper(t *testing.T) {
	cfg := "extendedTypesEnabled=true\n"
	zk := harness.StartZooKeeper(t, cfg, "-Dzookeeper.extendedTypesEnabled=true")
	zkd := harness.StartZkd(t, cfg)
	want := transcript(t, zk.Addr)
	if t.Failed() {
		t.Logf("zookeeper log:\n%s", zk.Log())
	}
	got := transcript(t, zkd.Addr)
	if !assertSame(t, want, got) {
		t.Logf("zkd log:\n%s", zkd.Log())
	}
}

func assertSame(t *testing.T, want, got []string) bool {
	t.Helper()
	same := true
	for i := 0; i < len(want) || i < len(got); i++ {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			t.Errorf("line %d differs\n zookeeper: %s\n zkd:       %s", i, w, g)
			same = false
		}
	}
	return same
}
