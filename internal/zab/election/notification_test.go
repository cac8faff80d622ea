package election

import (
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNotificationEncodeV2 pins the exact byte layout of quorum.md §2.
func TestNotificationEncodeV2(t *testing.T) {
	n := Notification{
		From:    9, // not encoded
		State:   Leading,
		Vote:    Vote{Leader: 2, Zxid: 0x100000005, ElectionEpoch: 3, PeerEpoch: 1},
		Version: 0, // not encoded: always CurrentVersion
		Config:  []byte("server.1=127.0.0.1:2888:3888:participant\nversion=0"),
	}
	want := "00000002" + // state
		"0000000000000002" + // leader
		"0000000100000005" + // zxid
		"0000000000000003" + // electionEpoch
		"0000000000000001" + // peerEpoch
		"00000002" + // version
		"00000032" + // configLen
		hex.EncodeToString(n.Config)
	require.Equal(t, want, hex.EncodeToString(n.Encode()))
	require.Len(t, n.Encode(), 44+len(n.Config))
}

func TestNotificationDecodeLayouts(t *testing.T) {
	fields := func(state int32, leader, zxid, ee int64) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(state))
		b = binary.BigEndian.AppendUint64(b, uint64(leader))
		b = binary.BigEndian.AppendUint64(b, uint64(zxid))
		return binary.BigEndian.AppendUint64(b, uint64(ee))
	}
	long := func(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }
	i32 := func(b []byte, v int32) []byte { return binary.BigEndian.AppendUint32(b, uint32(v)) }
	base := fields(1, 3, 0x200000007, 4)

	tests := []struct {
		name    string
		in      []byte
		want    Notification
		wantErr error
	}{
		{"a 28-byte message takes peerEpoch from the zxid", base,
			Notification{State: Following, Vote: Vote{3, 0x200000007, 4, 2}}, nil},
		{"a 36-byte message carries peerEpoch without a version", long(clone(base), 5),
			Notification{State: Following, Vote: Vote{3, 0x200000007, 4, 5}}, nil},
		{"a 40-byte message is read as version 0, as Java does", i32(long(clone(base), 5), 1),
			Notification{State: Following, Vote: Vote{3, 0x200000007, 4, 5}}, nil},
		{"a version-1 message longer than 40 bytes has no config", append(i32(long(clone(base), 5), 1), 0xde, 0xad, 0xbe, 0xef),
			Notification{State: Following, Vote: Vote{3, 0x200000007, 4, 5}, Version: 1}, nil},
		{"a version-2 message carries its config", append(i32(i32(long(clone(base), 5), 2), 3), 'a', 'b', 'c'),
			Notification{State: Following, Vote: Vote{3, 0x200000007, 4, 5}, Version: 2, Config: []byte("abc")}, nil},
		{"a version-2 message may have an empty config", i32(i32(long(clone(base), 5), 2), 0),
			Notification{State: Following, Vote: Vote{3, 0x200000007, 4, 5}, Version: 2, Config: []byte{}}, nil},
		{"an unknown state is decoded and left to Step", fields(7, 1, 1, 1),
			Notification{State: 7, Vote: Vote{1, 1, 1, 0}}, nil},
		{"27 bytes are too short", base[:27], Notification{}, ErrShortNotification},
		{"empty is too short", nil, Notification{}, ErrShortNotification},
		{"32 bytes end inside peerEpoch", append(clone(base), 0, 0, 0, 0), Notification{}, ErrShortNotification},
		{"a version-2 message without config length is short", append(i32(long(clone(base), 5), 2), 0), Notification{}, ErrShortNotification},
		{"a config longer than the message is rejected", append(i32(i32(long(clone(base), 5), 2), 4), 'a'), Notification{}, ErrBadNotification},
		{"a negative config length is rejected", i32(i32(long(clone(base), 5), 2), -1), Notification{}, ErrBadNotification},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := Notification{From: 42}
			err := n.Decode(tt.in)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.want.From = 42 // Decode keeps the sender set by the caller
			require.Equal(t, tt.want, n)
		})
	}
}

func TestNotificationRoundTrip(t *testing.T) {
	for _, n := range []Notification{
		{State: Looking, Vote: Vote{1, 0, 1, 0}, Version: 2, Config: []byte{}},
		{State: Observing, Vote: noVote, Version: 2, Config: []byte("server.4=127.0.0.1:1:2:observer\nversion=100000000")},
		{State: Leading, Vote: Vote{-5, -1, 1 << 40, 1 << 31}, Version: 2, Config: []byte{}},
	} {
		var got Notification
		require.NoError(t, got.Decode(n.Encode()))
		require.Equal(t, n, got)
	}
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

func FuzzNotificationDecode(f *testing.F) {
	f.Add(Notification{State: Leading, Vote: Vote{1, 2, 3, 4}, Config: []byte("x")}.Encode())
	f.Add(make([]byte, 28))
	f.Add(make([]byte, 40))
	f.Fuzz(func(t *testing.T, b []byte) {
		var n Notification
		if n.Decode(b) != nil {
			return
		}
		if n.Version >= 2 {
			// Anything we accept with a config survives re-encoding; the
			// version becomes ours.
			var again Notification
			require.NoError(t, again.Decode(n.Encode()))
			n.Version = CurrentVersion
			require.Equal(t, n, again)
		}
	})
}
