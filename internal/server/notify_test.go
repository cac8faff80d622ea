package server

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

// One change fans out to many watchers: the frame is encoded once and
// shared, and a different event never gets a stale frame.
func TestNotificationFrame(t *testing.T) {
	s := &Server{}
	decode := func(frame []byte) (wire.ReplyHeader, wire.WatcherEvent) {
		t.Helper()
		d := wire.Decoder{B: frame[4:]}
		var h wire.ReplyHeader
		var ev wire.WatcherEvent
		h.Decode(&d)
		ev.Decode(&d)
		require.NoError(t, d.Err)
		require.Equal(t, len(frame)-4, d.Off, "frame length covers the record exactly")
		return h, ev
	}
	steps := []struct {
		path   string
		ev     wire.EventType
		shared bool // same frame as the step before
	}{
		{"/a", wire.EventNodeDataChanged, false},
		{"/a", wire.EventNodeDataChanged, true},
		{"/a", wire.EventNodeDeleted, false},
		{"/b", wire.EventNodeDeleted, false},
		{"/b", wire.EventNodeDeleted, true},
		{"/a", wire.EventNodeDataChanged, false},
	}
	var prev []byte
	for i, st := range steps {
		f := s.notification(st.path, st.ev)
		h, ev := decode(f)
		require.Equal(t, wire.XidNotification, h.Xid, "step %d", i)
		require.Equal(t, int64(-1), h.Zxid, "3.8 sends zxid -1 in notifications")
		require.Equal(t, st.path, ev.Path, "step %d", i)
		require.Equal(t, st.ev, ev.Type, "step %d", i)
		require.Equal(t, wire.StateSyncConnected, ev.State)
		if prev != nil {
			require.Equal(t, st.shared, &f[0] == &prev[0], "step %d: shared frame", i)
		}
		prev = f
	}
}
