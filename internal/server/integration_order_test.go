package server_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/zkd/zkd/internal/server"
	"github.com/zkd/zkd/internal/wire"
)

// TestNotificationNeverOvertakesTheReplyThatSetItsWatch holds a watching
// read between its look at the tree and its reply while another session
// changes what it watches. Clients register a watch when the reply
// arrives (go-zookeeper and the Java client alike), so a notification
// queued before that reply is dropped and the client waits for ever: a
// Java DistributedQueue consumer hung in CI this way. The change must
// wait for the read's reply; its notification must come after it.
func TestNotificationNeverOvertakesTheReplyThatSetItsWatch(t *testing.T) {
	cases := []struct {
		name   string
		setUp  func(c *zk.Conn) error
		read   func(c *zk.Conn) (<-chan zk.Event, error)
		change func(c *zk.Conn) error
		want   zk.EventType
	}{
		{
			name:  "getChildren then create child",
			setUp: func(c *zk.Conn) error { _, err := c.Create("/q", nil, 0, zk.WorldACL(zk.PermAll)); return err },
			read: func(c *zk.Conn) (<-chan zk.Event, error) {
				_, _, ch, err := c.ChildrenW("/q")
				return ch, err
			},
			change: func(c *zk.Conn) error { _, err := c.Create("/q/x", nil, 0, zk.WorldACL(zk.PermAll)); return err },
			want:   zk.EventNodeChildrenChanged,
		},
		{
			name:  "exists of a missing node then create",
			setUp: func(c *zk.Conn) error { return nil },
			read: func(c *zk.Conn) (<-chan zk.Event, error) {
				_, _, ch, err := c.ExistsW("/n")
				return ch, err
			},
			change: func(c *zk.Conn) error { _, err := c.Create("/n", nil, 0, zk.WorldACL(zk.PermAll)); return err },
			want:   zk.EventNodeCreated,
		},
		{
			name:  "getData then setData",
			setUp: func(c *zk.Conn) error { _, err := c.Create("/d", nil, 0, zk.WorldACL(zk.PermAll)); return err },
			read: func(c *zk.Conn) (<-chan zk.Event, error) {
				_, _, ch, err := c.GetW("/d")
				return ch, err
			},
			change: func(c *zk.Conn) error { _, err := c.Set("/d", []byte("v"), -1); return err },
			want:   zk.EventNodeDataChanged,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var armed atomic.Bool
			inWindow := make(chan struct{})
			changed := make(chan error, 1)
			s := startServerSetUp(t, zap.NewNop(), func(srv *server.Server) {
				server.SetReadReplyHook(srv, func(wire.OpCode) {
					if !armed.CompareAndSwap(true, false) {
						return
					}
					close(inWindow)
					// Give the change every chance to be applied inside
					// the window; with reads and applies ordered it
					// cannot be, and this wait runs out.
					select {
					case err := <-changed:
						changed <- err
					case <-time.After(200 * time.Millisecond):
					}
				})
			})
			reader, writer := s.connectZK(t), s.connectZK(t)
			require.NoError(t, tc.setUp(writer.Conn))

			go func() {
				<-inWindow
				changed <- tc.change(writer.Conn)
			}()
			armed.Store(true)
			ch, err := tc.read(reader.Conn)
			require.NoError(t, err)
			select {
			case ev := <-ch:
				require.Equal(t, tc.want, ev.Type)
			case <-time.After(itWait):
				t.Fatal("the watch never fired: its notification was sent before the reply that set it")
			}
			require.NoError(t, <-changed)
		})
	}
}
