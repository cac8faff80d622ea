package server_test

import (
	"sort"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

// create2 creates through opcode op (create2, createContainer or
// createTTL) and returns the header and the Create2Response.
func (c *rawClient) create2(op wire.OpCode, path string, data []byte, flags int32, ttl int64) (wire.ReplyHeader, wire.Create2Response) {
	c.t.Helper()
	var rec wire.Record = &wire.CreateRequest{Path: path, Data: data, ACL: wire.OpenACLUnsafe, Flags: flags}
	if op == wire.OpCreateTTL {
		rec = &wire.CreateTTLRequest{Path: path, Data: data, ACL: wire.OpenACLUnsafe, Flags: flags, TTL: ttl}
	}
	var resp wire.Create2Response
	h := c.call(op, rec, &resp)
	return h, resp
}

func (c *rawClient) stat(path string) (wire.Code, wire.Stat) {
	c.t.Helper()
	var resp wire.ExistsResponse
	h := c.call(wire.OpExists, &wire.ExistsRequest{Path: path}, &resp)
	return h.Err, resp.Stat
}

func TestIntegrationCreateModes(t *testing.T) {
	s := startServer(t, "extendedTypesEnabled=true")
	c := s.rawSession(t, 2000)
	require.Equal(t, wire.OK, c.create("/m", nil, 0).Err)

	cases := []struct {
		name      string
		op        wire.OpCode
		path      string
		flags     int32
		ttl       int64
		wantPath  string
		ephemeral bool
	}{
		{"a persistent node keeps its path", wire.OpCreate2, "/m/p", wire.FlagPersistent, -1, "/m/p", false},
		{"an ephemeral node is owned by the session", wire.OpCreate2, "/m/e", wire.FlagEphemeral, -1, "/m/e", true},
		{"a persistent sequential node gets a ten-digit suffix", wire.OpCreate2, "/m/ps-", wire.FlagPersistentSequential, -1, "/m/ps-0000000002", false},
		{"an ephemeral sequential node gets a suffix and an owner", wire.OpCreate2, "/m/es-", wire.FlagEphemeralSequential, -1, "/m/es-0000000003", true},
		{"a container node has no owner", wire.OpCreateContainer, "/m/c", wire.FlagContainer, -1, "/m/c", false},
		{"a TTL node has no visible owner", wire.OpCreateTTL, "/m/t", wire.FlagPersistentWithTTL, 60000, "/m/t", false},
		{"a sequential TTL node gets a suffix", wire.OpCreateTTL, "/m/st-", wire.FlagPersistentSequentialWithTTL, 60000, "/m/st-0000000006", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, resp := c.create2(tc.op, tc.path, []byte("data"), tc.flags, tc.ttl)
			require.Equal(t, wire.OK, h.Err)
			require.Equal(t, tc.wantPath, resp.Path)
			st := resp.Stat
			require.Equal(t, h.Zxid, st.Czxid)
			require.Equal(t, h.Zxid, st.Mzxid)
			require.Equal(t, h.Zxid, st.Pzxid)
			require.Equal(t, st.Ctime, st.Mtime)
			require.Zero(t, st.Version)
			require.Zero(t, st.Cversion)
			require.Zero(t, st.Aversion)
			require.Equal(t, int32(4), st.DataLength)
			require.Zero(t, st.NumChildren)
			if tc.ephemeral {
				require.Equal(t, c.sid, st.EphemeralOwner)
			} else {
				require.Zero(t, st.EphemeralOwner)
			}
			code, st2 := c.stat(tc.wantPath)
			require.Equal(t, wire.OK, code)
			require.Equal(t, st, st2, "exists reports the same stat as create2")
		})
	}

	t.Run("create replies with the path only", func(t *testing.T) {
		var resp wire.CreateResponse
		h := c.call(wire.OpCreate, &wire.CreateRequest{Path: "/m/plain", ACL: wire.OpenACLUnsafe}, &resp)
		require.Equal(t, wire.OK, h.Err)
		require.Equal(t, "/m/plain", resp.Path)
	})

	t.Run("the parent's stat counts the creations", func(t *testing.T) {
		code, st := c.stat("/m")
		require.Equal(t, wire.OK, code)
		require.Equal(t, int32(8), st.NumChildren)
		require.Equal(t, int32(8), st.Cversion)
	})
}

func TestIntegrationCreateWithGoZookeeper(t *testing.T) {
	s := startServer(t, "extendedTypesEnabled=true")
	c := s.connectZK(t)
	_, err := c.Create("/g", nil, 0, openACL)
	require.NoError(t, err)

	cases := []struct {
		name   string
		create func() (string, error)
		want   string
		owner  int64
	}{
		{"Create makes a persistent node", func() (string, error) { return c.Create("/g/p", []byte("v"), 0, openACL) }, "/g/p", 0},
		{"Create makes an ephemeral node", func() (string, error) { return c.Create("/g/e", []byte("v"), zk.FlagEphemeral, openACL) }, "/g/e", c.SessionID()},
		{"Create makes a sequential node", func() (string, error) { return c.Create("/g/s", []byte("v"), zk.FlagSequence, openACL) }, "/g/s0000000002", 0},
		{"CreateContainer makes a container", func() (string, error) {
			return c.CreateContainer("/g/c", []byte("v"), zk.FlagContainer, openACL)
		}, "/g/c", 0},
		{"CreateTTL makes a TTL node", func() (string, error) {
			return c.CreateTTL("/g/t", []byte("v"), zk.FlagTTL, openACL, time.Minute)
		}, "/g/t", 0},
		{"CreateTTL makes a sequential TTL node", func() (string, error) {
			return c.CreateTTL("/g/st", []byte("v"), zk.FlagPersistentSequentialWithTTL, openACL, time.Minute)
		}, "/g/st0000000005", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.create()
			require.NoError(t, err)
			require.Equal(t, tc.want, p)
			data, st, err := c.Get(p)
			require.NoError(t, err)
			require.Equal(t, []byte("v"), data)
			require.Equal(t, tc.owner, st.EphemeralOwner)
		})
	}
}

func TestIntegrationSequenceCounter(t *testing.T) {
	s := startServer(t)
	c := s.connectZK(t)
	_, err := c.Create("/seq", nil, 0, openACL)
	require.NoError(t, err)

	p0, err := c.Create("/seq/n-", nil, zk.FlagSequence, openACL)
	require.NoError(t, err)
	require.Equal(t, "/seq/n-0000000000", p0)
	p1, err := c.Create("/seq/n-", nil, zk.FlagSequence, openACL)
	require.NoError(t, err)
	require.Equal(t, "/seq/n-0000000001", p1)
	require.NoError(t, c.Delete(p1, -1))

	t.Run("the suffix counts child creations, not current children", func(t *testing.T) {
		p2, err := c.Create("/seq/n-", nil, zk.FlagSequence, openACL)
		require.NoError(t, err)
		require.Equal(t, "/seq/n-0000000002", p2)
	})
	t.Run("the visible cversion counts creations plus deletions", func(t *testing.T) {
		_, st, err := c.Exists("/seq")
		require.NoError(t, err)
		require.Equal(t, int32(4), st.Cversion)
		require.Equal(t, int32(2), st.NumChildren)
	})
	t.Run("a sequential path may end in a slash", func(t *testing.T) {
		p, err := c.Create("/seq/", nil, zk.FlagSequence, openACL)
		require.NoError(t, err)
		require.Equal(t, "/seq/0000000003", p)
	})
	t.Run("a non-sequential child does not skip the counter", func(t *testing.T) {
		_, err := c.Create("/seq/plain", nil, 0, openACL)
		require.NoError(t, err)
		p, err := c.Create("/seq/n-", nil, zk.FlagEphemeralSequential, openACL)
		require.NoError(t, err)
		require.Equal(t, "/seq/n-0000000005", p)
	})
}

func TestIntegrationCreateErrors(t *testing.T) {
	s := startServer(t)
	c := s.rawSession(t, 2000)
	require.Equal(t, wire.OK, c.create("/ce", nil, 0).Err)
	require.Equal(t, wire.OK, c.create("/ce/eph", nil, wire.FlagEphemeral).Err)

	cases := []struct {
		name string
		op   wire.OpCode
		rec  wire.Record
		want wire.Code
	}{
		{"a missing parent is NoNode", wire.OpCreate, &wire.CreateRequest{Path: "/nope/x", ACL: wire.OpenACLUnsafe}, wire.ErrNoNode},
		{"an existing node is NodeExists", wire.OpCreate, &wire.CreateRequest{Path: "/ce", ACL: wire.OpenACLUnsafe}, wire.ErrNodeExists},
		{"a child of an ephemeral is NoChildrenForEphemerals", wire.OpCreate, &wire.CreateRequest{Path: "/ce/eph/x", ACL: wire.OpenACLUnsafe}, wire.ErrNoChildrenForEphemerals},
		{"a trailing slash under an existing parent is BadArguments", wire.OpCreate, &wire.CreateRequest{Path: "/ce/", ACL: wire.OpenACLUnsafe}, wire.ErrBadArguments},
		{"a dot segment is BadArguments", wire.OpCreate, &wire.CreateRequest{Path: "/ce/.", ACL: wire.OpenACLUnsafe}, wire.ErrBadArguments},
		// The parent ("/ce/x" resp. "/ce/") is looked up before the full
		// path is validated, so these are NoNode, as in ZooKeeper.
		{"a trailing slash under a missing parent is NoNode", wire.OpCreate, &wire.CreateRequest{Path: "/ce/x/", ACL: wire.OpenACLUnsafe}, wire.ErrNoNode},
		{"an empty segment is NoNode", wire.OpCreate, &wire.CreateRequest{Path: "/ce//x", ACL: wire.OpenACLUnsafe}, wire.ErrNoNode},
		{"a relative path is BadArguments", wire.OpCreate, &wire.CreateRequest{Path: "ce", ACL: wire.OpenACLUnsafe}, wire.ErrBadArguments},
		{"an unknown flag is BadArguments", wire.OpCreate, &wire.CreateRequest{Path: "/ce/f", ACL: wire.OpenACLUnsafe, Flags: 9}, wire.ErrBadArguments},
		{"an empty ACL is InvalidACL", wire.OpCreate, &wire.CreateRequest{Path: "/ce/a", ACL: []wire.ACL{}}, wire.ErrInvalidACL},
		{"a TTL create while extended types are off is Unimplemented", wire.OpCreateTTL,
			&wire.CreateTTLRequest{Path: "/ce/t", ACL: wire.OpenACLUnsafe, Flags: wire.FlagPersistentWithTTL, TTL: 1000}, wire.ErrUnimplemented},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := c.call(wire.OpSync, &wire.SyncRequest{Path: "/"}, nil).Zxid
			h := c.call(tc.op, tc.rec, nil)
			require.Equal(t, tc.want, h.Err)
			require.Equal(t, before+1, h.Zxid, "a failed write still consumes a zxid")
		})
	}

	t.Run("go-zookeeper reports the TTL refusal as error -6", func(t *testing.T) {
		g := s.connectZK(t)
		_, err := g.CreateTTL("/ce/gt", nil, zk.FlagTTL, openACL, time.Minute)
		require.ErrorContains(t, err, "-6")
	})
}

func TestIntegrationCreateTTLErrors(t *testing.T) {
	s := startServer(t, "extendedTypesEnabled=true")
	c := s.rawSession(t, 2000)
	cases := []struct {
		name  string
		flags int32
		ttl   int64
	}{
		{"a zero ttl is BadArguments", wire.FlagPersistentWithTTL, 0},
		{"a ttl over 40 bits is BadArguments", wire.FlagPersistentWithTTL, 1 << 40},
		{"a non-TTL flag on createTTL is BadArguments", wire.FlagPersistent, 1000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := c.create2(wire.OpCreateTTL, "/ttl-bad", nil, tc.flags, tc.ttl)
			require.Equal(t, wire.ErrBadArguments, h.Err)
		})
	}
}

func TestIntegrationNullAndEmptyData(t *testing.T) {
	s := startServer(t)
	c := s.rawSession(t, 2000)
	require.Equal(t, wire.OK, c.create("/null", nil, 0).Err)
	require.Equal(t, wire.OK, c.create("/empty", []byte{}, 0).Err)

	cases := []struct {
		name    string
		path    string
		wantNil bool
	}{
		{"a node created with null data returns a null buffer", "/null", true},
		{"a node created with empty data returns an empty buffer", "/empty", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var resp wire.GetDataResponse
			require.Equal(t, wire.OK, c.call(wire.OpGetData, &wire.GetDataRequest{Path: tc.path}, &resp).Err)
			require.Equal(t, tc.wantNil, resp.Data == nil)
			require.Zero(t, resp.Stat.DataLength)
		})
	}
}

func TestIntegrationContainerAndTTLReaping(t *testing.T) {
	s := startServer(t, "extendedTypesEnabled=true", "znode.container.checkIntervalMs=50")
	c := s.connectZK(t)

	t.Run("an emptied container is deleted", func(t *testing.T) {
		_, err := c.CreateContainer("/box", nil, zk.FlagContainer, openACL)
		require.NoError(t, err)
		_, err = c.Create("/box/k", nil, 0, openACL)
		require.NoError(t, err)
		_, _, ch, err := c.ExistsW("/box")
		require.NoError(t, err)
		require.NoError(t, c.Delete("/box/k", -1))
		ev := waitEvent(t, ch)
		require.Equal(t, zk.EventNodeDeleted, ev.Type)
	})
	t.Run("a never-used container is kept", func(t *testing.T) {
		_, err := c.CreateContainer("/unused", nil, zk.FlagContainer, openACL)
		require.NoError(t, err)
		// Wait for a later node to be reaped, proving the reaper ran since.
		_, err = c.CreateTTL("/marker", nil, zk.FlagTTL, openACL, time.Millisecond)
		require.NoError(t, err)
		eventually(t, "marker reaped", func() bool {
			ok, _, err := c.Exists("/marker")
			return err == nil && !ok
		})
		ok, _, err := c.Exists("/unused")
		require.NoError(t, err)
		require.True(t, ok)
	})
	t.Run("a TTL node with children outlives its ttl", func(t *testing.T) {
		_, err := c.CreateTTL("/ttlp", nil, zk.FlagTTL, openACL, time.Millisecond)
		require.NoError(t, err)
		_, err = c.Create("/ttlp/k", nil, 0, openACL)
		require.NoError(t, err)
		_, err = c.CreateTTL("/marker2", nil, zk.FlagTTL, openACL, time.Millisecond)
		require.NoError(t, err)
		eventually(t, "marker reaped", func() bool {
			ok, _, err := c.Exists("/marker2")
			return err == nil && !ok
		})
		ok, _, err := c.Exists("/ttlp")
		require.NoError(t, err)
		require.True(t, ok)
	})
}

func TestIntegrationDelete(t *testing.T) {
	s := startServer(t)
	c := s.connectZK(t)
	_, err := c.Create("/d", nil, 0, openACL)
	require.NoError(t, err)
	_, err = c.Create("/d/k", nil, 0, openACL)
	require.NoError(t, err)
	_, err = c.Set("/d/k", []byte("x"), -1)
	require.NoError(t, err)

	cases := []struct {
		name    string
		path    string
		version int32
		want    error
	}{
		{"a wrong version is BadVersion", "/d/k", 0, zk.ErrBadVersion},
		{"a node with children is NotEmpty", "/d", -1, zk.ErrNotEmpty},
		{"a missing node is NoNode", "/d/none", -1, zk.ErrNoNode},
		{"a missing parent is NoNode", "/none/k", -1, zk.ErrNoNode},
		{"/zookeeper is BadArguments", "/zookeeper", -1, zk.ErrBadArguments},
		{"/zookeeper/config is BadArguments", "/zookeeper/config", -1, zk.ErrBadArguments},
		{"the matching version deletes", "/d/k", 1, nil},
		{"any version deletes an empty node", "/d", -1, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Delete(tc.path, tc.version)
			if tc.want == nil {
				require.NoError(t, err)
				ok, _, err := c.Exists(tc.path)
				require.NoError(t, err)
				require.False(t, ok)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
		})
	}

	t.Run("deleting the root is BadArguments", func(t *testing.T) {
		r := s.rawSession(t, 2000)
		h := r.call(wire.OpDelete, &wire.DeleteRequest{Path: "/", Version: -1}, nil)
		require.Equal(t, wire.ErrBadArguments, h.Err)
	})
	t.Run("a delete updates the parent's pzxid and cversion", func(t *testing.T) {
		r := s.rawSession(t, 2000)
		require.Equal(t, wire.OK, r.create("/pz", nil, 0).Err)
		require.Equal(t, wire.OK, r.create("/pz/a", nil, 0).Err)
		h := r.call(wire.OpDelete, &wire.DeleteRequest{Path: "/pz/a", Version: -1}, nil)
		require.Equal(t, wire.OK, h.Err)
		code, st := r.stat("/pz")
		require.Equal(t, wire.OK, code)
		require.Equal(t, h.Zxid, st.Pzxid)
		require.Less(t, st.Mzxid, st.Pzxid)
		require.Equal(t, int32(2), st.Cversion)
		require.Zero(t, st.NumChildren)
	})
}

func TestIntegrationGetAndSetData(t *testing.T) {
	s := startServer(t)
	c := s.connectZK(t)
	_, err := c.Create("/data", []byte("v0"), 0, openACL)
	require.NoError(t, err)
	_, created, err := c.Get("/data")
	require.NoError(t, err)

	t.Run("setData with the current version bumps version and mzxid", func(t *testing.T) {
		st, err := c.Set("/data", []byte("v1-longer"), 0)
		require.NoError(t, err)
		require.Equal(t, int32(1), st.Version)
		require.Equal(t, created.Czxid, st.Czxid)
		require.Greater(t, st.Mzxid, created.Mzxid)
		require.Equal(t, created.Pzxid, st.Pzxid, "setData does not touch pzxid")
		require.GreaterOrEqual(t, st.Mtime, st.Ctime)
		require.Equal(t, int32(len("v1-longer")), st.DataLength)
		data, st2, err := c.Get("/data")
		require.NoError(t, err)
		require.Equal(t, "v1-longer", string(data))
		require.Equal(t, st, st2)
	})
	cases := []struct {
		name    string
		path    string
		version int32
		want    error
	}{
		{"setData with a stale version is BadVersion", "/data", 0, zk.ErrBadVersion},
		{"setData on a missing node is NoNode", "/nodata", -1, zk.ErrNoNode},
		{"setData with version -1 always applies", "/data", -1, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Set(tc.path, []byte("x"), tc.version)
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
		})
	}
	t.Run("getData on a missing node is NoNode", func(t *testing.T) {
		_, _, err := c.Get("/nodata")
		require.ErrorIs(t, err, zk.ErrNoNode)
	})
	t.Run("getData on a malformed path is NoNode", func(t *testing.T) {
		r := s.rawSession(t, 2000)
		h := r.call(wire.OpGetData, &wire.GetDataRequest{Path: "/data/"}, nil)
		require.Equal(t, wire.ErrNoNode, h.Err)
	})
}

func TestIntegrationChildren(t *testing.T) {
	s := startServer(t)
	c := s.connectZK(t)
	for _, p := range []string{"/kids", "/kids/a", "/kids/b", "/kids/c", "/kids/a/x"} {
		_, err := c.Create(p, nil, 0, openACL)
		require.NoError(t, err)
	}

	t.Run("getChildren2 returns names and the parent's stat", func(t *testing.T) {
		kids, st, err := c.Children("/kids")
		require.NoError(t, err)
		sort.Strings(kids)
		require.Equal(t, []string{"a", "b", "c"}, kids)
		require.Equal(t, int32(3), st.NumChildren)
		require.Equal(t, int32(3), st.Cversion)
	})
	t.Run("getChildren returns only the names", func(t *testing.T) {
		r := s.rawSession(t, 2000)
		var resp wire.GetChildrenResponse
		require.Equal(t, wire.OK, r.call(wire.OpGetChildren, &wire.GetChildrenRequest{Path: "/kids"}, &resp).Err)
		sort.Strings(resp.Children)
		require.Equal(t, []string{"a", "b", "c"}, resp.Children)
	})
	t.Run("getChildren of a missing node is NoNode", func(t *testing.T) {
		_, _, err := c.Children("/nokids")
		require.ErrorIs(t, err, zk.ErrNoNode)
	})
	t.Run("a leaf has an empty child list", func(t *testing.T) {
		kids, _, err := c.Children("/kids/b")
		require.NoError(t, err)
		require.Empty(t, kids)
	})
	t.Run("a child watch fires NodeChildrenChanged on create", func(t *testing.T) {
		_, _, ch, err := c.ChildrenW("/kids")
		require.NoError(t, err)
		_, err = c.Create("/kids/d", nil, 0, openACL)
		require.NoError(t, err)
		ev := waitEvent(t, ch)
		require.Equal(t, zk.EventNodeChildrenChanged, ev.Type)
		require.Equal(t, "/kids", ev.Path)
	})
	t.Run("a child watch fires NodeChildrenChanged on delete", func(t *testing.T) {
		_, _, ch, err := c.ChildrenW("/kids")
		require.NoError(t, err)
		require.NoError(t, c.Delete("/kids/d", -1))
		ev := waitEvent(t, ch)
		require.Equal(t, zk.EventNodeChildrenChanged, ev.Type)
	})
	t.Run("a child watch on a deleted node fires NodeDeleted", func(t *testing.T) {
		_, _, ch, err := c.ChildrenW("/kids/a/x")
		require.NoError(t, err)
		require.NoError(t, c.Delete("/kids/a/x", -1))
		ev := waitEvent(t, ch)
		require.Equal(t, zk.EventNodeDeleted, ev.Type)
		require.Equal(t, "/kids/a/x", ev.Path)
	})
	t.Run("setData does not fire a child watch", func(t *testing.T) {
		r := s.rawSession(t, 2000)
		require.Equal(t, wire.OK, r.call(wire.OpGetChildren, &wire.GetChildrenRequest{Path: "/kids", Watch: true}, nil).Err)
		_, err := c.Set("/kids", []byte("x"), -1)
		require.NoError(t, err)
		r.ping()
		require.Empty(t, r.events)
	})
}

func TestIntegrationSync(t *testing.T) {
	s := startServer(t)
	c := s.connectZK(t)
	p, err := c.Sync("/")
	require.NoError(t, err)
	require.Equal(t, "/", p)

	t.Run("sync echoes the path even for a missing node", func(t *testing.T) {
		r := s.rawSession(t, 2000)
		var resp wire.SyncResponse
		require.Equal(t, wire.OK, r.call(wire.OpSync, &wire.SyncRequest{Path: "/missing"}, &resp).Err)
		require.Equal(t, "/missing", resp.Path)
	})
}

func TestIntegrationMulti(t *testing.T) {
	s := startServer(t)
	c := s.connectZK(t)
	_, err := c.Create("/mu", []byte("0"), 0, openACL)
	require.NoError(t, err)

	t.Run("a successful multi returns each op's result", func(t *testing.T) {
		res, err := c.Multi(
			&zk.CreateRequest{Path: "/mu/a", Data: []byte("a"), Acl: openACL},
			&zk.SetDataRequest{Path: "/mu", Data: []byte("1"), Version: 0},
			&zk.CheckVersionRequest{Path: "/mu", Version: 1},
			&zk.CreateRequest{Path: "/mu/b", Acl: openACL},
			&zk.DeleteRequest{Path: "/mu/b", Version: 0},
		)
		require.NoError(t, err)
		require.Len(t, res, 5)
		require.Equal(t, "/mu/a", res[0].String)
		require.Equal(t, int32(1), res[1].Stat.Version)
		for _, r := range res {
			require.NoError(t, r.Error)
		}
		_, sta, err := c.Get("/mu/a")
		require.NoError(t, err)
		_, stp, err := c.Get("/mu")
		require.NoError(t, err)
		require.Equal(t, sta.Czxid, stp.Mzxid, "all ops of a multi share one zxid")
		require.Equal(t, sta.Czxid, stp.Pzxid)
		require.Equal(t, int32(3), stp.Cversion)
	})

	t.Run("a failing multi reports 0, the error, then -2, and applies nothing", func(t *testing.T) {
		r := s.rawSession(t, 2000)
		var resp wire.MultiResponse
		h := r.call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.MultiOp{
			{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/mu/x", ACL: wire.OpenACLUnsafe}},
			{Type: wire.OpCheck, Req: &wire.CheckVersionRequest{Path: "/mu", Version: 42}},
			{Type: wire.OpSetData, Req: &wire.SetDataRequest{Path: "/mu", Data: []byte("2"), Version: -1}},
		}}, &resp)
		require.Equal(t, wire.OK, h.Err, "the header of a failed multi is OK")
		require.Len(t, resp.Results, 3)
		want := []wire.Code{wire.OK, wire.ErrBadVersion, wire.ErrRuntimeInconsistency}
		for i, res := range resp.Results {
			require.Equal(t, wire.OpError, res.Type, "result %d", i)
			require.Equal(t, want[i], res.Err, "result %d", i)
		}
		code, _ := r.stat("/mu/x")
		require.Equal(t, wire.ErrNoNode, code)
		data, _, err := c.Get("/mu")
		require.NoError(t, err)
		require.Equal(t, "1", string(data))
	})

	t.Run("go-zookeeper sees the failing op's error", func(t *testing.T) {
		res, err := c.Multi(
			&zk.CreateRequest{Path: "/mu/y", Acl: openACL},
			&zk.DeleteRequest{Path: "/mu/none", Version: -1},
		)
		require.ErrorIs(t, err, zk.ErrNoNode)
		require.Len(t, res, 2)
		require.NoError(t, res[0].Error)
		require.ErrorIs(t, res[1].Error, zk.ErrNoNode)
		ok, _, err := c.Exists("/mu/y")
		require.NoError(t, err)
		require.False(t, ok)
	})

	t.Run("a later op sees an earlier op's effect", func(t *testing.T) {
		res, err := c.Multi(
			&zk.CreateRequest{Path: "/mu/z", Acl: openACL},
			&zk.CreateRequest{Path: "/mu/z/child", Acl: openACL},
			&zk.SetDataRequest{Path: "/mu/z", Data: []byte("z"), Version: 0},
		)
		require.NoError(t, err)
		require.Equal(t, "/mu/z/child", res[1].String)
	})

	t.Run("a create2 sub-op reports as create and a container as create2", func(t *testing.T) {
		// ZooKeeper 3.8 answers create2 inside multi with a plain create
		// result (path only); containers and TTL nodes with create2.
		r := s.rawSession(t, 2000)
		var resp wire.MultiResponse
		h := r.call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.MultiOp{
			{Type: wire.OpCreate2, Req: &wire.CreateRequest{Path: "/mu/c2", ACL: wire.OpenACLUnsafe}},
			{Type: wire.OpCreateContainer, Req: &wire.CreateRequest{Path: "/mu/cc", ACL: wire.OpenACLUnsafe, Flags: wire.FlagContainer}},
		}}, &resp)
		require.Equal(t, wire.OK, h.Err)
		require.Len(t, resp.Results, 2)
		require.Equal(t, wire.OpCreate, resp.Results[0].Type)
		require.Equal(t, "/mu/c2", resp.Results[0].Body.(*wire.CreateResponse).Path)
		require.Equal(t, wire.OpCreate2, resp.Results[1].Type)
		body := resp.Results[1].Body.(*wire.Create2Response)
		require.Equal(t, "/mu/cc", body.Path)
		require.Equal(t, h.Zxid, body.Stat.Czxid)
		require.Zero(t, body.Stat.EphemeralOwner)
	})
}

func TestIntegrationMultiRead(t *testing.T) {
	// go-zookeeper v1.0.4 has no MultiRead; the raw client sends opcode 22.
	s := startServer(t)
	c := s.rawSession(t, 2000)
	require.Equal(t, wire.OK, c.create("/mr", []byte("d"), 0).Err)
	require.Equal(t, wire.OK, c.create("/mr/k", nil, 0).Err)

	var resp wire.MultiResponse
	h := c.call(wire.OpMultiRead, &wire.MultiRequest{Ops: []wire.MultiOp{
		{Type: wire.OpGetData, Req: &wire.GetDataRequest{Path: "/mr", Watch: true}},
		{Type: wire.OpGetData, Req: &wire.GetDataRequest{Path: "/mr/none"}},
		{Type: wire.OpGetChildren, Req: &wire.GetChildrenRequest{Path: "/mr", Watch: true}},
	}}, &resp)
	require.Equal(t, wire.OK, h.Err)
	require.Len(t, resp.Results, 3)

	t.Run("a getData result carries data and stat", func(t *testing.T) {
		require.Equal(t, wire.OpGetData, resp.Results[0].Type)
		body := resp.Results[0].Body.(*wire.GetDataResponse)
		require.Equal(t, "d", string(body.Data))
		require.Equal(t, int32(1), body.Stat.NumChildren)
	})
	t.Run("a failed read is an error result without failing the others", func(t *testing.T) {
		require.Equal(t, wire.OpError, resp.Results[1].Type)
		require.Equal(t, wire.ErrNoNode, resp.Results[1].Err)
	})
	t.Run("a getChildren result carries the names", func(t *testing.T) {
		require.Equal(t, wire.OpGetChildren, resp.Results[2].Type)
		require.Equal(t, []string{"k"}, resp.Results[2].Body.(*wire.GetChildrenResponse).Children)
	})
	t.Run("multiRead sets no watches", func(t *testing.T) {
		require.Equal(t, wire.ErrNoWatcher, c.call(wire.OpCheckWatches, &wire.CheckWatchesRequest{Path: "/mr", Type: wire.WatcherAny}, nil).Err)
	})
}

func TestIntegrationGetEphemeralsAndChildCount(t *testing.T) {
	s := startServer(t)
	c := s.rawSession(t, 2000)
	other := s.rawSession(t, 2000)
	for _, p := range []string{"/ge", "/ge/a", "/gx"} {
		require.Equal(t, wire.OK, c.create(p, nil, 0).Err)
	}
	for _, p := range []string{"/ge/e1", "/ge/a/e2", "/gx/e3"} {
		require.Equal(t, wire.OK, c.create(p, nil, wire.FlagEphemeral).Err)
	}
	require.Equal(t, wire.OK, other.create("/ge/other", nil, wire.FlagEphemeral).Err)

	eph := []struct {
		name   string
		prefix string
		want   []string
	}{
		{"an empty prefix lists all of the session's ephemerals", "", []string{"/ge/a/e2", "/ge/e1", "/gx/e3"}},
		{"the root prefix lists all of them too", "/", []string{"/ge/a/e2", "/ge/e1", "/gx/e3"}},
		{"a prefix selects by string prefix", "/ge", []string{"/ge/a/e2", "/ge/e1"}},
		{"a prefix need not end at a path segment", "/ge/e", []string{"/ge/e1"}},
		{"a prefix with no match lists nothing", "/none", []string{}},
	}
	for _, tc := range eph {
		t.Run(tc.name, func(t *testing.T) {
			var resp wire.GetEphemeralsResponse
			require.Equal(t, wire.OK, c.call(wire.OpGetEphemerals, &wire.GetEphemeralsRequest{PrefixPath: tc.prefix}, &resp).Err)
			sort.Strings(resp.Ephemerals)
			require.Equal(t, tc.want, append([]string{}, resp.Ephemerals...))
		})
	}

	counts := []struct {
		name string
		path string
		want int32
		code wire.Code
	}{
		{"a subtree counts every descendant", "/ge", 4, wire.OK},
		{"a leaf counts zero", "/ge/e1", 0, wire.OK},
		{"the root counts all nodes but itself", "/", 3 + 7, wire.OK},
		{"a missing node is NoNode", "/none", 0, wire.ErrNoNode},
	}
	for _, tc := range counts {
		t.Run(tc.name, func(t *testing.T) {
			var resp wire.GetAllChildrenNumberResponse
			h := c.call(wire.OpGetAllChildrenNumber, &wire.GetAllChildrenNumberRequest{Path: tc.path}, &resp)
			require.Equal(t, tc.code, h.Err)
			require.Equal(t, tc.want, resp.TotalNumber)
		})
	}
}

func TestIntegrationExistsOnSpecialNodes(t *testing.T) {
	s := startServer(t)
	c := s.connectZK(t)
	cases := []struct {
		name string
		path string
	}{
		{"the root exists", "/"},
		{"/zookeeper exists", "/zookeeper"},
		{"/zookeeper/quota exists", "/zookeeper/quota"},
		{"/zookeeper/config exists", "/zookeeper/config"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, _, err := c.Exists(tc.path)
			require.NoError(t, err)
			require.True(t, ok)
		})
	}
	t.Run("clients may create nodes under /zookeeper", func(t *testing.T) {
		_, err := c.Create("/zookeeper/mine", nil, 0, openACL)
		require.NoError(t, err)
	})
}
