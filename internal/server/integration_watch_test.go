package server_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

func ev(typ wire.EventType, path string) wire.WatcherEvent {
	return wire.WatcherEvent{Type: typ, State: wire.StateSyncConnected, Path: path}
}

// drain pings to flush everything the server queued, then returns and
// clears the collected notifications.
func (c *rawClient) drain() []wire.WatcherEvent {
	c.t.Helper()
	c.ping()
	out := c.events
	c.events = nil
	return out
}

func TestIntegrationExistsWatch(t *testing.T) {
	s := startServer(t)
	c := s.connectZK(t)

	t.Run("an exists watch on a missing node fires NodeCreated", func(t *testing.T) {
		ok, _, ch, err := c.ExistsW("/born")
		require.NoError(t, err)
		require.False(t, ok)
		_, err = c.Create("/born", nil, 0, openACL)
		require.NoError(t, err)
		e := waitEvent(t, ch)
		require.Equal(t, zk.EventNodeCreated, e.Type)
		require.Equal(t, "/born", e.Path)
	})
	t.Run("an exists watch on an existing node fires NodeDataChanged", func(t *testing.T) {
		ok, _, ch, err := c.ExistsW("/born")
		require.NoError(t, err)
		require.True(t, ok)
		_, err = c.Set("/born", []byte("x"), -1)
		require.NoError(t, err)
		require.Equal(t, zk.EventNodeDataChanged, waitEvent(t, ch).Type)
	})
	t.Run("a NoNode exists reply still registers the watch", func(t *testing.T) {
		r := s.rawSession(t, 2000)
		h := r.call(wire.OpExists, &wire.ExistsRequest{Path: "/later", Watch: true}, nil)
		require.Equal(t, wire.ErrNoNode, h.Err)
		require.Equal(t, wire.OK, r.call(wire.OpCheckWatches, &wire.CheckWatchesRequest{Path: "/later", Type: wire.WatcherData}, nil).Err)
	})
	t.Run("a NoNode getData reply registers no watch", func(t *testing.T) {
		r := s.rawSession(t, 2000)
		h := r.call(wire.OpGetData, &wire.GetDataRequest{Path: "/later2", Watch: true}, nil)
		require.Equal(t, wire.ErrNoNode, h.Err)
		require.Equal(t, wire.ErrNoWatcher, r.call(wire.OpCheckWatches, &wire.CheckWatchesRequest{Path: "/later2", Type: wire.WatcherData}, nil).Err)
	})
}

func TestIntegrationStandardWatchEvents(t *testing.T) {
	s := startServer(t)
	w := s.rawSession(t, 2000)
	m := s.rawSession(t, 2000)
	require.Equal(t, wire.OK, m.create("/sw", nil, 0).Err)

	cases := []struct {
		name  string
		setup func(p string) // runs on m before the watch
		watch func(p string) // runs on w
		act   func(p string) // runs on m
		want  func(p string) []wire.WatcherEvent
	}{
		{
			name:  "a data watch fires NodeDataChanged once for two setData",
			setup: func(p string) { m.create(p, nil, 0) },
			watch: func(p string) { w.call(wire.OpGetData, &wire.GetDataRequest{Path: p, Watch: true}, nil) },
			act: func(p string) {
				m.call(wire.OpSetData, &wire.SetDataRequest{Path: p, Data: []byte("1"), Version: -1}, nil)
				m.call(wire.OpSetData, &wire.SetDataRequest{Path: p, Data: []byte("2"), Version: -1}, nil)
			},
			want: func(p string) []wire.WatcherEvent { return []wire.WatcherEvent{ev(wire.EventNodeDataChanged, p)} },
		},
		{
			name:  "a delete fires NodeDeleted once to a data and child watcher",
			setup: func(p string) { m.create(p, nil, 0) },
			watch: func(p string) {
				w.call(wire.OpGetData, &wire.GetDataRequest{Path: p, Watch: true}, nil)
				w.call(wire.OpGetChildren, &wire.GetChildrenRequest{Path: p, Watch: true}, nil)
			},
			act:  func(p string) { m.call(wire.OpDelete, &wire.DeleteRequest{Path: p, Version: -1}, nil) },
			want: func(p string) []wire.WatcherEvent { return []wire.WatcherEvent{ev(wire.EventNodeDeleted, p)} },
		},
		{
			name:  "a child watch fires NodeChildrenChanged on the parent",
			setup: func(p string) { m.create(p, nil, 0) },
			watch: func(p string) { w.call(wire.OpGetChildren, &wire.GetChildrenRequest{Path: p, Watch: true}, nil) },
			act: func(p string) {
				m.create(p+"/a", nil, 0)
				m.create(p+"/b", nil, 0)
			},
			want: func(p string) []wire.WatcherEvent { return []wire.WatcherEvent{ev(wire.EventNodeChildrenChanged, p)} },
		},
		{
			name:  "setACL fires no watch",
			setup: func(p string) { m.create(p, nil, 0) },
			watch: func(p string) {
				w.call(wire.OpGetData, &wire.GetDataRequest{Path: p, Watch: true}, nil)
				w.call(wire.OpGetChildren, &wire.GetChildrenRequest{Path: p, Watch: true}, nil)
			},
			act: func(p string) {
				m.call(wire.OpSetACL, &wire.SetACLRequest{Path: p, ACL: wire.OpenACLUnsafe, Version: -1}, nil)
			},
			want: func(string) []wire.WatcherEvent { return nil },
		},
		{
			name:  "a multi fires the events of each of its ops",
			setup: func(p string) { m.create(p, nil, 0) },
			watch: func(p string) {
				w.call(wire.OpGetData, &wire.GetDataRequest{Path: p, Watch: true}, nil)
				w.call(wire.OpGetChildren, &wire.GetChildrenRequest{Path: p, Watch: true}, nil)
				w.call(wire.OpExists, &wire.ExistsRequest{Path: p + "/k", Watch: true}, nil)
			},
			act: func(p string) {
				m.call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.MultiOp{
					{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: p + "/k", ACL: wire.OpenACLUnsafe}},
					{Type: wire.OpSetData, Req: &wire.SetDataRequest{Path: p, Data: []byte("m"), Version: -1}},
				}}, nil)
			},
			want: func(p string) []wire.WatcherEvent {
				return []wire.WatcherEvent{
					ev(wire.EventNodeCreated, p+"/k"),
					ev(wire.EventNodeChildrenChanged, p),
					ev(wire.EventNodeDataChanged, p),
				}
			},
		},
		{
			name:  "a failed multi fires nothing",
			setup: func(p string) { m.create(p, nil, 0) },
			watch: func(p string) {
				w.call(wire.OpGetData, &wire.GetDataRequest{Path: p, Watch: true}, nil)
			},
			act: func(p string) {
				m.call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.MultiOp{
					{Type: wire.OpSetData, Req: &wire.SetDataRequest{Path: p, Data: []byte("m"), Version: -1}},
					{Type: wire.OpDelete, Req: &wire.DeleteRequest{Path: p + "/none", Version: -1}},
				}}, nil)
			},
			want: func(string) []wire.WatcherEvent { return nil },
		},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := fmt.Sprintf("/sw/n%d", i)
			tc.setup(p)
			tc.watch(p)
			tc.act(p)
			got := w.drain()
			want := tc.want(p)
			sortEvents(got)
			sortEvents(want)
			require.Equal(t, want, got)
		})
	}
}

func sortEvents(evs []wire.WatcherEvent) {
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].Path != evs[j].Path {
			return evs[i].Path < evs[j].Path
		}
		return evs[i].Type < evs[j].Type
	})
}

func TestIntegrationGoZookeeperDataWatchFiresOnce(t *testing.T) {
	s := startServer(t)
	c := s.connectZK(t)
	_, err := c.Create("/once", nil, 0, openACL)
	require.NoError(t, err)
	_, _, ch, err := c.GetW("/once")
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		_, err = c.Set("/once", []byte{byte(i)}, -1)
		require.NoError(t, err)
	}
	e := waitEvent(t, ch)
	require.Equal(t, zk.EventNodeDataChanged, e.Type)
	require.Equal(t, "/once", e.Path)
	_, open := <-ch
	require.False(t, open, "go-zookeeper closes a one-shot watch channel after its event")
}

func TestIntegrationAddWatch(t *testing.T) {
	s := startServer(t)
	w := s.rawSession(t, 2000)
	m := s.rawSession(t, 2000)
	require.Equal(t, wire.OK, m.create("/aw", nil, 0).Err)

	t.Run("addWatch replies with a zero ErrorResponse", func(t *testing.T) {
		var resp wire.ErrorResponse
		resp.Err = -99
		h := w.call(wire.OpAddWatch, &wire.AddWatchRequest{Path: "/aw/p", Mode: wire.AddWatchPersistent}, &resp)
		require.Equal(t, wire.OK, h.Err)
		require.Equal(t, wire.OK, resp.Err)
	})

	t.Run("a persistent watch sees data and child events and stays", func(t *testing.T) {
		m.create("/aw/p", nil, 0)
		m.call(wire.OpSetData, &wire.SetDataRequest{Path: "/aw/p", Data: []byte("1"), Version: -1}, nil)
		m.call(wire.OpSetData, &wire.SetDataRequest{Path: "/aw/p", Data: []byte("2"), Version: -1}, nil)
		m.create("/aw/p/k1", nil, 0)
		m.create("/aw/p/k2", nil, 0)
		m.create("/aw/p/k1/deep", nil, 0) // not a direct child: no event
		m.call(wire.OpDelete, &wire.DeleteRequest{Path: "/aw/p/k2", Version: -1}, nil)
		require.Equal(t, []wire.WatcherEvent{
			ev(wire.EventNodeCreated, "/aw/p"),
			ev(wire.EventNodeDataChanged, "/aw/p"),
			ev(wire.EventNodeDataChanged, "/aw/p"),
			ev(wire.EventNodeChildrenChanged, "/aw/p"),
			ev(wire.EventNodeChildrenChanged, "/aw/p"),
			ev(wire.EventNodeChildrenChanged, "/aw/p"),
		}, w.drain())
	})

	t.Run("a recursive watch sees the whole subtree but never NodeChildrenChanged", func(t *testing.T) {
		require.Equal(t, wire.OK, w.call(wire.OpAddWatch, &wire.AddWatchRequest{Path: "/aw/r", Mode: wire.AddWatchPersistentRecursive}, nil).Err)
		m.create("/aw/r", nil, 0)
		m.create("/aw/r/k", nil, 0)
		m.create("/aw/r/k/deep", nil, 0)
		m.call(wire.OpSetData, &wire.SetDataRequest{Path: "/aw/r/k/deep", Data: []byte("x"), Version: -1}, nil)
		m.call(wire.OpSetData, &wire.SetDataRequest{Path: "/aw/r/k/deep", Data: []byte("y"), Version: -1}, nil)
		m.call(wire.OpDelete, &wire.DeleteRequest{Path: "/aw/r/k/deep", Version: -1}, nil)
		m.create("/aw/rx", nil, 0) // a sibling with a common prefix is outside
		require.Equal(t, []wire.WatcherEvent{
			ev(wire.EventNodeCreated, "/aw/r"),
			ev(wire.EventNodeCreated, "/aw/r/k"),
			ev(wire.EventNodeCreated, "/aw/r/k/deep"),
			ev(wire.EventNodeDataChanged, "/aw/r/k/deep"),
			ev(wire.EventNodeDataChanged, "/aw/r/k/deep"),
			ev(wire.EventNodeDeleted, "/aw/r/k/deep"),
		}, w.drain())
	})

	t.Run("a persistent and a standard watch on one path notify once", func(t *testing.T) {
		w.call(wire.OpGetData, &wire.GetDataRequest{Path: "/aw/p", Watch: true}, nil)
		m.call(wire.OpSetData, &wire.SetDataRequest{Path: "/aw/p", Data: []byte("3"), Version: -1}, nil)
		require.Equal(t, []wire.WatcherEvent{ev(wire.EventNodeDataChanged, "/aw/p")}, w.drain())
	})
}

func TestIntegrationCheckAndRemoveWatches(t *testing.T) {
	// go-zookeeper v1.0.4 has neither call; the raw client sends 17 and 18.
	s := startServer(t)
	w := s.rawSession(t, 2000)
	m := s.rawSession(t, 2000)
	require.Equal(t, wire.OK, m.create("/rw", nil, 0).Err)

	check := func(path string, typ int32) wire.Code {
		return w.call(wire.OpCheckWatches, &wire.CheckWatchesRequest{Path: path, Type: typ}, nil).Err
	}
	remove := func(path string, typ int32) wire.Code {
		return w.call(wire.OpRemoveWatches, &wire.RemoveWatchesRequest{Path: path, Type: typ}, nil).Err
	}

	w.call(wire.OpGetData, &wire.GetDataRequest{Path: "/rw", Watch: true}, nil)
	t.Run("checkWatches finds a data watch", func(t *testing.T) {
		require.Equal(t, wire.OK, check("/rw", wire.WatcherData))
		require.Equal(t, wire.OK, check("/rw", wire.WatcherAny))
	})
	t.Run("checkWatches for a missing kind is NoWatcher", func(t *testing.T) {
		require.Equal(t, wire.ErrNoWatcher, check("/rw", wire.WatcherChildren))
		require.Equal(t, wire.ErrNoWatcher, check("/other", wire.WatcherAny))
	})
	t.Run("another session's watches are not this session's", func(t *testing.T) {
		require.Equal(t, wire.ErrNoWatcher, m.call(wire.OpCheckWatches, &wire.CheckWatchesRequest{Path: "/rw", Type: wire.WatcherAny}, nil).Err)
	})
	t.Run("removeWatches removes only the requested kind", func(t *testing.T) {
		w.call(wire.OpGetChildren, &wire.GetChildrenRequest{Path: "/rw", Watch: true}, nil)
		require.Equal(t, wire.OK, remove("/rw", wire.WatcherChildren))
		require.Equal(t, wire.ErrNoWatcher, check("/rw", wire.WatcherChildren))
		require.Equal(t, wire.OK, check("/rw", wire.WatcherData))
		m.create("/rw/k", nil, 0)
		require.Empty(t, w.drain(), "a removed child watch does not fire")
	})
	t.Run("removeWatches Any removes the rest and a second removal is NoWatcher", func(t *testing.T) {
		require.Equal(t, wire.OK, remove("/rw", wire.WatcherAny))
		require.Equal(t, wire.ErrNoWatcher, remove("/rw", wire.WatcherAny))
		m.call(wire.OpSetData, &wire.SetDataRequest{Path: "/rw", Data: []byte("x"), Version: -1}, nil)
		require.Empty(t, w.drain())
	})
	t.Run("a persistent watch is checked and removed on the data side", func(t *testing.T) {
		require.Equal(t, wire.OK, w.call(wire.OpAddWatch, &wire.AddWatchRequest{Path: "/rw", Mode: wire.AddWatchPersistent}, nil).Err)
		require.Equal(t, wire.OK, check("/rw", wire.WatcherData))
		require.Equal(t, wire.OK, remove("/rw", wire.WatcherAny))
		m.call(wire.OpSetData, &wire.SetDataRequest{Path: "/rw", Data: []byte("y"), Version: -1}, nil)
		require.Empty(t, w.drain())
	})
}

func TestIntegrationSetWatchesOnReconnect(t *testing.T) {
	s := startServer(t)
	m := s.rawSession(t, 2000)
	for _, p := range []string{"/re", "/re/data", "/re/same", "/re/gone", "/re/kids", "/re/kids-same"} {
		require.Equal(t, wire.OK, m.create(p, nil, 0).Err)
	}

	a := s.rawSession(t, 2000)
	var last wire.ReplyHeader
	for _, p := range []string{"/re/data", "/re/same", "/re/gone"} {
		last = a.call(wire.OpGetData, &wire.GetDataRequest{Path: p, Watch: true}, nil)
	}
	a.call(wire.OpExists, &wire.ExistsRequest{Path: "/re/new", Watch: true}, nil)
	a.call(wire.OpExists, &wire.ExistsRequest{Path: "/re/still-missing", Watch: true}, nil)
	a.call(wire.OpGetChildren, &wire.GetChildrenRequest{Path: "/re/kids", Watch: true}, nil)
	last = a.call(wire.OpGetChildren, &wire.GetChildrenRequest{Path: "/re/kids-same", Watch: true}, nil)
	rel := last.Zxid
	a.nc.Close() // drop the TCP connection; the session lives on

	// Changes the disconnected client misses.
	m.call(wire.OpSetData, &wire.SetDataRequest{Path: "/re/data", Data: []byte("x"), Version: -1}, nil)
	m.call(wire.OpDelete, &wire.DeleteRequest{Path: "/re/gone", Version: -1}, nil)
	m.create("/re/new", nil, 0)
	m.create("/re/kids/k", nil, 0)

	b, resp := s.resume(t, a)
	require.Equal(t, a.sid, resp.SessionID)
	h := b.call(wire.OpSetWatches, &wire.SetWatches{
		RelativeZxid: rel,
		DataWatches:  []string{"/re/data", "/re/same", "/re/gone"},
		ExistWatches: []string{"/re/new", "/re/still-missing"},
		ChildWatches: []string{"/re/kids", "/re/kids-same"},
	}, nil)
	require.Equal(t, wire.OK, h.Err)

	t.Run("catch-up events arrive before the setWatches reply", func(t *testing.T) {
		got := append([]wire.WatcherEvent(nil), b.events...)
		want := []wire.WatcherEvent{
			ev(wire.EventNodeDataChanged, "/re/data"),
			ev(wire.EventNodeDeleted, "/re/gone"),
			ev(wire.EventNodeCreated, "/re/new"),
			ev(wire.EventNodeChildrenChanged, "/re/kids"),
		}
		sortEvents(got)
		sortEvents(want)
		require.Equal(t, want, got)
		b.events = nil
	})
	t.Run("unchanged paths are re-registered and fire later", func(t *testing.T) {
		m.call(wire.OpSetData, &wire.SetDataRequest{Path: "/re/same", Data: []byte("y"), Version: -1}, nil)
		m.create("/re/still-missing", nil, 0)
		m.create("/re/kids-same/k", nil, 0)
		got := b.drain()
		want := []wire.WatcherEvent{
			ev(wire.EventNodeDataChanged, "/re/same"),
			ev(wire.EventNodeCreated, "/re/still-missing"),
			ev(wire.EventNodeChildrenChanged, "/re/kids-same"),
		}
		sortEvents(got)
		sortEvents(want)
		require.Equal(t, want, got)
	})
	t.Run("setWatches2 registers persistent watches without catch-up events", func(t *testing.T) {
		h := b.call(wire.OpSetWatches2, &wire.SetWatches2{
			RelativeZxid:               0,
			PersistentWatches:          []string{"/re/data"},
			PersistentRecursiveWatches: []string{"/re/kids"},
		}, nil)
		require.Equal(t, wire.OK, h.Err)
		require.Empty(t, b.events)
		m.call(wire.OpSetData, &wire.SetDataRequest{Path: "/re/data", Data: []byte("z"), Version: -1}, nil)
		m.create("/re/kids/k2", nil, 0)
		got := b.drain()
		require.Equal(t, []wire.WatcherEvent{
			ev(wire.EventNodeDataChanged, "/re/data"),
			ev(wire.EventNodeCreated, "/re/kids/k2"),
		}, got)
	})
}

func TestIntegrationGoZookeeperRestoresWatches(t *testing.T) {
	s := startServer(t)
	other := s.connectZK(t)
	_, err := other.Create("/gw", nil, 0, openACL)
	require.NoError(t, err)

	d := newBlockingDialer()
	c := s.connectZKWith(t, 2*time.Second, d)
	_, _, dch, err := c.GetW("/gw")
	require.NoError(t, err)
	_, _, ech, err := c.ExistsW("/gw-new")
	require.NoError(t, err)
	d.cut()
	c.waitState(t, zk.StateDisconnected)
	_, err = other.Set("/gw", []byte("changed"), -1)
	require.NoError(t, err)
	_, err = other.Create("/gw-new", nil, 0, openACL)
	require.NoError(t, err)
	d.release()

	t.Run("a data change made while disconnected is delivered after reconnect", func(t *testing.T) {
		e := waitEvent(t, dch)
		require.Equal(t, zk.EventNodeDataChanged, e.Type)
		require.Equal(t, "/gw", e.Path)
	})
	t.Run("a create made while disconnected is delivered after reconnect", func(t *testing.T) {
		e := waitEvent(t, ech)
		require.Equal(t, zk.EventNodeCreated, e.Type)
	})
}

func TestIntegrationOrdering(t *testing.T) {
	s := startServer(t)
	a := s.rawSession(t, 2000)
	b := s.rawSession(t, 2000)
	require.Equal(t, wire.OK, a.create("/ord", nil, 0).Err)

	t.Run("a notification precedes the reply of the write that caused it", func(t *testing.T) {
		a.call(wire.OpGetData, &wire.GetDataRequest{Path: "/ord", Watch: true}, nil)
		xid := a.send(wire.OpSetData, &wire.SetDataRequest{Path: "/ord", Data: []byte("1"), Version: -1})
		f := a.readFrame()
		require.Equal(t, wire.XidNotification, f.hdr.Xid)
		require.Equal(t, ev(wire.EventNodeDataChanged, "/ord"), f.event(t))
		f = a.readFrame()
		require.Equal(t, xid, f.hdr.Xid)
	})
	t.Run("a notification precedes the multi reply", func(t *testing.T) {
		a.call(wire.OpGetChildren, &wire.GetChildrenRequest{Path: "/ord", Watch: true}, nil)
		xid := a.send(wire.OpMulti, &wire.MultiRequest{Ops: []wire.MultiOp{
			{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/ord/m", ACL: wire.OpenACLUnsafe}},
		}})
		f := a.readFrame()
		require.Equal(t, ev(wire.EventNodeChildrenChanged, "/ord"), f.event(t))
		require.Equal(t, xid, a.readFrame().hdr.Xid)
	})
	t.Run("a notification precedes a later read that observes the change", func(t *testing.T) {
		for i := 0; i < 20; i++ {
			a.call(wire.OpGetData, &wire.GetDataRequest{Path: "/ord", Watch: true}, nil)
			h := b.call(wire.OpSetData, &wire.SetDataRequest{Path: "/ord", Data: []byte{byte(i)}, Version: -1}, nil)
			require.Equal(t, wire.OK, h.Err)
			var resp wire.GetDataResponse
			a.call(wire.OpGetData, &wire.GetDataRequest{Path: "/ord"}, &resp)
			require.Equal(t, []byte{byte(i)}, resp.Data)
			require.Equal(t, []wire.WatcherEvent{ev(wire.EventNodeDataChanged, "/ord")}, a.events,
				"round %d: the event must already have arrived", i)
			a.events = nil
		}
	})
	t.Run("pipelined requests are answered in request order", func(t *testing.T) {
		c := s.rawSession(t, 2000)
		type sent struct {
			xid int32
			op  wire.OpCode
		}
		var all []sent
		for i := 0; i < 100; i++ {
			p := fmt.Sprintf("/ord/p%d", i)
			all = append(all, sent{c.send(wire.OpCreate, &wire.CreateRequest{Path: p, Data: []byte(p), ACL: wire.OpenACLUnsafe}), wire.OpCreate})
			all = append(all, sent{c.send(wire.OpGetData, &wire.GetDataRequest{Path: p}), wire.OpGetData})
			all = append(all, sent{c.send(wire.OpExists, &wire.ExistsRequest{Path: "/ord/none"}), wire.OpExists})
		}
		c.sendXid(wire.XidPing, wire.OpPing, nil)
		var lastZxid int64
		for i, want := range all {
			f := c.readFrame()
			require.Equal(t, want.xid, f.hdr.Xid, "reply %d out of order", i)
			require.GreaterOrEqual(t, f.hdr.Zxid, lastZxid, "zxids never go backwards")
			lastZxid = f.hdr.Zxid
			switch want.op {
			case wire.OpCreate, wire.OpGetData:
				require.Equal(t, wire.OK, f.hdr.Err, "a read sees the write sent before it")
			case wire.OpExists:
				require.Equal(t, wire.ErrNoNode, f.hdr.Err)
			}
		}
		require.Equal(t, wire.XidPing, c.readFrame().hdr.Xid, "the ping reply comes after earlier replies")
	})
}
