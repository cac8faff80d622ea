package ensemble

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
	"github.com/zkd/zkd/test/harness"
)

// A session resumed on another member belongs to that member; a write
// still sent through the old connection is refused as SessionMoved, which
// ZooKeeper signals by closing that connection without a reply (quorum.md
// §6, ownership).
func TestWriteThroughTheOldMemberAfterASessionMovedIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process ensemble test")
	}
	e := harness.NewEnsemble(t, 3, 0, "")
	e.StartAll(30 * time.Second)
	leader := e.WaitLeader(10*time.Second, 0)
	var followers []int
	for _, m := range e.Members {
		if m.ID != leader {
			followers = append(followers, m.ID)
		}
	}
	a, err := harness.Dial(e.Member(followers[0]).ClientAddr, 10000)
	require.NoError(t, err)
	defer a.Close()
	rep, err := a.Call(wire.OpCreate, &wire.CreateRequest{Path: "/moved", ACL: wire.OpenACLUnsafe})
	require.NoError(t, err)
	require.Equal(t, wire.OK, rep.Header.Err)

	b, err := harness.Resume(e.Member(followers[1]).ClientAddr, a.Session.SessionID, a.Session.Passwd, 10000)
	require.NoError(t, err)
	defer b.Close()
	require.Equal(t, a.Session.SessionID, b.Session.SessionID, "the session moved to the other follower")

	_, err = a.Send(wire.OpSetData, &wire.SetDataRequest{Path: "/moved", Data: []byte("stale"), Version: -1})
	require.NoError(t, err)
	_, err = a.Recv()
	require.Error(t, err, "the old connection is closed without a reply")

	rep, err = b.Call(wire.OpSetData, &wire.SetDataRequest{Path: "/moved", Data: []byte("new"), Version: -1})
	require.NoError(t, err)
	require.Equal(t, wire.OK, rep.Header.Err)
	rep, err = b.Call(wire.OpGetData, &wire.GetDataRequest{Path: "/moved"})
	require.NoError(t, err)
	var gd wire.GetDataResponse
	require.NoError(t, wire.Unmarshal(rep.Body, 0, &gd))
	require.Equal(t, "new", string(gd.Data))
}
