package server_test

import (
	"strings"
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/zkd/zkd/internal/wire"
)

// setQuotaLikeZkCli writes what zkCli 3.8's "setquota" writes for a new
// quota on path: the parents under /zookeeper/quota, the limits node, then
// a stats node holding count=0,bytes=0 (SetQuotaCommand.createQuota).
func setQuotaLikeZkCli(t *testing.T, c *zk.Conn, path, limits string) {
	t.Helper()
	qp := "/zookeeper/quota"
	for _, part := range strings.Split(path, "/")[1:] {
		qp += "/" + part
		if _, err := c.Create(qp, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
			require.NoError(t, err, "create %s", qp)
		}
	}
	_, err := c.Create(qp+"/zookeeper_limits", []byte(limits), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	_, err = c.Create(qp+"/zookeeper_stats", []byte("count=0,bytes=0"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
}

func quotaStats(t *testing.T, c *zk.Conn, path string) string {
	t.Helper()
	data, _, err := c.Get("/zookeeper/quota" + path + "/zookeeper_stats")
	require.NoError(t, err)
	return string(data)
}

// Limits as zkCli 3.8 formats them (StatsTrack.toString).
const (
	softCount2 = "count=2,bytes=-1=;byteHardLimit=-1;countHardLimit=-1"
	hardCount2 = "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=2"
	hardBytes5 = "count=-1,bytes=-1=;byteHardLimit=5;countHardLimit=-1"
)

func TestIntegrationQuotaStatsTrackWrites(t *testing.T) {
	s := startServer(t)
	c := s.connectZK(t)
	_, err := c.Create("/q", []byte("abc"), 0, openACL)
	require.NoError(t, err)
	setQuotaLikeZkCli(t, c.Conn, "/q", softCount2)
	require.Equal(t, "count=1,bytes=3", quotaStats(t, c.Conn, "/q"))
	_, err = c.Create("/q/a", []byte("12345"), 0, openACL)
	require.NoError(t, err)
	_, err = c.Set("/q", []byte("a"), -1)
	require.NoError(t, err)
	_, err = c.Multi(&zk.CreateRequest{Path: "/q/b", Data: []byte("xy"), Acl: openACL},
		&zk.DeleteRequest{Path: "/q/a", Version: -1})
	require.NoError(t, err)
	require.Equal(t, "count=2,bytes=3", quotaStats(t, c.Conn, "/q"))
}

func TestIntegrationSoftQuotaLogsAWarning(t *testing.T) {
	for _, tc := range []struct {
		name    string
		extra   []string
		warning bool
	}{
		// ZooKeeper 3.8 checks quotas in ZooKeeperServer.checkQuota, which
		// returns at once unless zookeeper.enforceQuota is set.
		{name: "with enforceQuota the excess is logged and the create succeeds", extra: []string{"zookeeper.enforceQuota=true"}, warning: true},
		{name: "without enforceQuota nothing is checked", warning: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.WarnLevel)
			s := startServerLogged(t, zap.New(core), tc.extra...)
			c := s.connectZK(t)
			_, err := c.Create("/q", nil, 0, openACL)
			require.NoError(t, err)
			setQuotaLikeZkCli(t, c.Conn, "/q", softCount2)
			for _, p := range []string{"/q/a", "/q/b", "/q/c"} {
				_, err := c.Create(p, []byte("x"), 0, openACL)
				require.NoError(t, err, "a soft quota never fails a write")
			}
			require.Equal(t, "count=4,bytes=3", quotaStats(t, c.Conn, "/q"))
			got := logs.FilterMessageSnippet("Quota exceeded").All()
			if !tc.warning {
				require.Empty(t, got)
				return
			}
			msgs := make([]string, 0, len(got))
			for _, e := range got {
				require.Equal(t, zapcore.WarnLevel, e.Level)
				msgs = append(msgs, e.Message)
			}
			require.Equal(t, []string{
				"Quota exceeded: /q [current count=3, softCountLimit=2]",
				"Quota exceeded: /q [current count=4, softCountLimit=2]",
			}, msgs)
		})
	}
}

func TestIntegrationHardQuotaFailsWithQuotaExceeded(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	s := startServerLogged(t, zap.New(core), "zookeeper.enforceQuota=true")
	c := s.connectZK(t)
	for _, p := range []string{"/n", "/b"} {
		_, err := c.Create(p, nil, 0, openACL)
		require.NoError(t, err)
	}
	setQuotaLikeZkCli(t, c.Conn, "/n", hardCount2)
	setQuotaLikeZkCli(t, c.Conn, "/b", hardBytes5)
	r := s.rawSession(t, 2000)
	create := func(path, data string) wire.Code {
		return r.call(wire.OpCreate, &wire.CreateRequest{Path: path, Data: []byte(data), ACL: wire.OpenACLUnsafe}, nil).Err
	}
	setData := func(path, data string) wire.Code {
		return r.call(wire.OpSetData, &wire.SetDataRequest{Path: path, Data: []byte(data), Version: -1}, nil).Err
	}

	t.Run("a create past the count limit fails and changes nothing", func(t *testing.T) {
		require.Equal(t, wire.OK, create("/n/a", ""))
		require.Equal(t, wire.ErrQuotaExceeded, create("/n/b", ""))
		require.Equal(t, wire.ErrQuotaExceeded, create("/n/a/deeper", ""), "the whole subtree is covered")
		require.Equal(t, "count=2,bytes=0", quotaStats(t, c.Conn, "/n"))
		ok, _, err := c.Exists("/n/b")
		require.NoError(t, err)
		require.False(t, ok)
		require.NotEmpty(t, logs.FilterMessage("Quota exceeded: /n [current count=3, hardCountLimit=2]").All())
	})

	t.Run("a setData past the byte limit fails", func(t *testing.T) {
		require.Equal(t, wire.OK, create("/b/a", "123"))
		// ZooKeeper measures setData from the node's current length.
		require.Equal(t, wire.OK, setData("/b/a", "12345"))
		require.Equal(t, wire.ErrQuotaExceeded, setData("/b/a", "123456"))
		require.Equal(t, wire.ErrQuotaExceeded, create("/b/c", "x"))
		require.Equal(t, wire.OK, setData("/b/a", "1"), "shrinking is always allowed")
		require.Equal(t, wire.OK, create("/b/c", "xxxx"))
		require.Equal(t, "count=3,bytes=5", quotaStats(t, c.Conn, "/b"))
	})

	t.Run("in a multi the failing op reports QuotaExceeded and nothing applies", func(t *testing.T) {
		var resp wire.MultiResponse
		h := r.call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.MultiOp{
			{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/free", ACL: wire.OpenACLUnsafe}},
			{Type: wire.OpSetData, Req: &wire.SetDataRequest{Path: "/b/a", Data: []byte("too long"), Version: -1}},
			{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/free2", ACL: wire.OpenACLUnsafe}},
		}}, &resp)
		require.Equal(t, wire.OK, h.Err, "the header of a failed multi is OK")
		require.Len(t, resp.Results, 3)
		for i, want := range []wire.Code{wire.OK, wire.ErrQuotaExceeded, wire.ErrRuntimeInconsistency} {
			require.Equal(t, wire.OpError, resp.Results[i].Type, "result %d", i)
			require.Equal(t, want, resp.Results[i].Err, "result %d", i)
		}
		ok, _, err := c.Exists("/free")
		require.NoError(t, err)
		require.False(t, ok)

		_, err = c.Multi(&zk.CreateRequest{Path: "/n/x", Acl: openACL})
		require.ErrorContains(t, err, "-125", "go-zookeeper has no name for QuotaExceeded")
	})

	t.Run("ops outside every quota are not checked", func(t *testing.T) {
		require.Equal(t, wire.OK, create("/elsewhere", strings.Repeat("x", 100)))
	})
}
