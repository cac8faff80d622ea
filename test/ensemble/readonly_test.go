package ensemble

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
	"github.com/zkd/zkd/test/harness"
)

// A member cut off from its quorum with readonlymode.enabled serves
// clients that asked for a read-only server: reads work, writes get
// NotReadOnly, isro says "ro"; clients that did not ask are refused.
// Once the quorum is back it serves read-write again.
func TestMemberWithoutQuorumServesReadOnlyClients(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process ensemble test")
	}
	e := harness.NewEnsemble(t, 3, 0, "readonlymode.enabled=true\n")
	e.StartAll(30 * time.Second)
	c := connect(t, e.Member(1).ClientAddr)
	_, err := c.Create("/ro", []byte("v"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	_, err = c.Sync("/ro")
	require.NoError(t, err)
	c.Close()

	e.Kill(2)
	e.Kill(3)
	m1 := e.Member(1)
	require.Eventually(t, func() bool {
		out, _ := harness.FourLetterWord(m1.ClientAddr, "isro", time.Second)
		return out == "ro"
	}, 20*time.Second, 100*time.Millisecond)
	require.Equal(t, "read-only", m1.Proc().Mode())

	rc, err := harness.DialReadOnly(m1.ClientAddr, 10000)
	require.NoError(t, err)
	defer rc.Close()
	require.True(t, rc.Session.ReadOnly, "the ConnectResponse says read-only")
	rep, err := rc.Call(wire.OpGetData, &wire.GetDataRequest{Path: "/ro"})
	require.NoError(t, err)
	require.Equal(t, wire.OK, rep.Header.Err)
	rep, err = rc.Call(wire.OpCreate, &wire.CreateRequest{Path: "/nope", ACL: wire.OpenACLUnsafe})
	require.NoError(t, err)
	require.Equal(t, wire.ErrNotReadOnly, rep.Header.Err)

	// A client that did not ask for read-only is not served.
	_, err = harness.Dial(m1.ClientAddr, 10000)
	require.Error(t, err)

	e.Start(2)
	e.Start(3)
	require.Eventually(t, func() bool {
		out, _ := harness.FourLetterWord(m1.ClientAddr, "isro", time.Second)
		return out == "rw"
	}, 30*time.Second, 100*time.Millisecond, "member 1 serves read-write again")
	c = connect(t, m1.ClientAddr)
	_, err = c.Create("/rw-again", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
}
