package zab

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

func readAll(t *testing.T, b []byte) []*QuorumPacket {
	t.Helper()
	r := bufio.NewReader(bytes.NewReader(b))
	var out []*QuorumPacket
	for {
		p, err := ReadPacket(r, 0)
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		out = append(out, p)
	}
}

func writeAll(t *testing.T, ps ...*QuorumPacket) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	for _, p := range ps {
		require.NoError(t, WritePacket(w, p))
	}
	require.NoError(t, w.Flush())
	return buf.Bytes()
}

func TestPacketTypeNumbersMatchLeaderJava(t *testing.T) {
	want := []string{"", "REQUEST", "PROPOSAL", "ACK", "COMMIT", "PING", "REVALIDATE", "SYNC", "INFORM",
		"COMMITANDACTIVATE", "NEWLEADER", "FOLLOWERINFO", "UPTODATE", "DIFF", "TRUNC", "SNAP",
		"OBSERVERINFO", "LEADERINFO", "ACKEPOCH", "INFORMANDACTIVATE"}
	for n := 1; n < len(want); n++ {
		require.Equal(t, want[n], PacketType(n).String(), "type %d", n)
		require.True(t, PacketType(n).Known())
	}
	require.Equal(t, "UNKNOWN20", PacketType(20).String())
	require.Equal(t, "UNKNOWN-1", PacketType(-1).String())
	require.False(t, PacketType(0).Known())
}

// The quorum stream starts with FOLLOWERINFO, bytes 00 00 00 0b (quorum.md §4).
func TestFollowerInfoGoldenBytes(t *testing.T) {
	li := LearnerInfo{ServerID: 2, ProtocolVersion: ProtocolVersion, ConfigVersion: 0x100000000}
	p := &QuorumPacket{Type: PktFollowerInfo, Zxid: MakeZxid(1, 0), Data: wire.Marshal(&li)}
	want := unhex(t, "0000000b 0000000100000000 00000014 0000000000000002 00010000 0000000100000000 ffffffff")
	require.Equal(t, want, writeAll(t, p))
	require.Equal(t, want, AppendPacket(nil, p))

	got := readAll(t, want)
	require.Len(t, got, 1)
	require.Equal(t, p, got[0])
	parsed, err := ParseLearnerInfo(got[0].Data)
	require.NoError(t, err)
	require.Equal(t, li, parsed)
}

// quorum.md §5.4: a forwarded createSession, byte for byte.
func TestRequestGoldenBytesCreateSession(t *testing.T) {
	data := EncodeRequest(RequestPayload{
		SessionID: 0x0100000b9fb50000, Cxid: 0, Type: wire.OpCreateSession,
		Body: []byte{0x00, 0x00, 0x75, 0x30},
	})
	require.Equal(t, unhex(t, "0100000b9fb50000 00000000 fffffff6 00007530"), data)

	p := &QuorumPacket{Type: PktRequest, Zxid: -1, Data: data}
	want := unhex(t, "00000001 ffffffffffffffff 00000014 0100000b9fb50000 00000000 fffffff6 00007530 ffffffff")
	require.Equal(t, want, writeAll(t, p))

	rp, err := ParseRequest(readAll(t, want)[0].Data)
	require.NoError(t, err)
	require.Equal(t, int64(0x0100000b9fb50000), rp.SessionID)
	require.Equal(t, wire.OpCreateSession, rp.Type)
	require.Equal(t, []byte{0, 0, 0x75, 0x30}, rp.Body)
}

func TestPacketRoundTripKeepsNullAndEmptyDistinct(t *testing.T) {
	cases := []*QuorumPacket{
		{Type: PktAck, Zxid: 0x100000001},
		{Type: PktPing, Zxid: 0x100000008, Data: []byte{}},
		{Type: PktProposal, Zxid: 0x200000025a, Data: bytes.Repeat([]byte{7}, 300)},
		{Type: PktRequest, Zxid: -1, Data: []byte{1, 2, 3}, AuthInfo: []wire.Id{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "super", ID: ""}}},
		{Type: PktRequest, Zxid: -1, Data: []byte{1}, AuthInfo: []wire.Id{}},
		{Type: PacketType(99), Zxid: 5},
	}
	stream := writeAll(t, cases...)
	got := readAll(t, stream)
	require.Equal(t, cases, got)

	// The in-memory decoder agrees with the stream reader.
	for _, c := range cases {
		var q QuorumPacket
		require.NoError(t, wire.Unmarshal(AppendPacket(nil, c), 0, &q))
		require.Equal(t, c, &q)
	}
}

func TestReadPacketBoundsAndErrors(t *testing.T) {
	hdr := "00000005 0000000000000001"
	cases := []struct {
		name string
		in   string
		max  int
		want error
	}{
		{"empty stream is a clean EOF", "", 0, io.EOF},
		{"header cut short is unexpected EOF", "000000", 0, io.ErrUnexpectedEOF},
		{"missing data length", hdr, 0, io.ErrUnexpectedEOF},
		{"data shorter than its length", hdr + "00000004 0102", 0, io.ErrUnexpectedEOF},
		{"data longer than max is refused before reading", hdr + "00000011", 16, ErrPacketTooLarge},
		{"negative data length", hdr + "fffffffe", 0, ErrPacketTooLarge},
		{"negative authinfo count", hdr + "ffffffff fffffffe", 0, ErrPacketTooLarge},
		{"huge authinfo count without ids", hdr + "ffffffff 7fffffff", 0, io.ErrUnexpectedEOF},
		{"authinfo strings beyond budget", hdr + "ffffffff 00000001 00000008 6161616161616161 00000009", 16, ErrPacketTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadPacket(bufio.NewReader(bytes.NewReader(unhex(t, c.in))), c.max)
			require.ErrorIs(t, err, c.want)
		})
	}
}

func TestGarbageStreamNeverPanics(t *testing.T) {
	seed := uint64(0x9e3779b97f4a7c15)
	for i := 0; i < 2000; i++ {
		b := make([]byte, int(seed%200))
		for j := range b {
			seed ^= seed << 13
			seed ^= seed >> 7
			seed ^= seed << 17
			b[j] = byte(seed)
		}
		seed++
		r := bufio.NewReader(bytes.NewReader(b))
		for k := 0; k < 10; k++ {
			if _, err := ReadPacket(r, 64); err != nil {
				break
			}
		}
	}
}

func readAllFuzz(b []byte) []*QuorumPacket {
	r := bufio.NewReader(bytes.NewReader(b))
	var out []*QuorumPacket
	for {
		p, err := ReadPacket(r, 1024)
		if err != nil {
			return out
		}
		out = append(out, p)
	}
}

func FuzzReadPacket(f *testing.F) {
	f.Add(AppendPacket(nil, &QuorumPacket{Type: PktFollowerInfo, Zxid: 1 << 32, Data: make([]byte, 20)}))
	f.Add(AppendPacket(nil, &QuorumPacket{Type: PktRequest, Zxid: -1, Data: []byte{1}, AuthInfo: []wire.Id{{Scheme: "ip", ID: "x"}}}))
	f.Add(unhex(f, "303030303030303030303030 00000001 30 00000001 00000001 30 ffffffff"))
	f.Add([]byte{0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		got := readAllFuzz(b)
		// Whatever parsed survives a round trip. (Not byte for byte: a null
		// Id string reads as "" and is written back with length 0.)
		var re []byte
		for _, p := range got {
			re = AppendPacket(re, p)
		}
		if again := readAllFuzz(re); len(again) != len(got) {
			t.Fatalf("re-read %d packets, want %d", len(again), len(got))
		} else {
			for i := range got {
				if !bytes.Equal(AppendPacket(nil, again[i]), AppendPacket(nil, got[i])) {
					t.Fatalf("packet %d changed in a round trip: %v vs %v", i, again[i], got[i])
				}
			}
		}
		var q QuorumPacket
		_ = wire.Unmarshal(b, 1024, &q)
	})
}

func TestPayloadLayoutsMatchJava(t *testing.T) {
	t.Run("LEADERINFO carries protocol version 0x10000", func(t *testing.T) {
		require.Equal(t, unhex(t, "00010000"), EncodeLeaderInfo())
		v, err := ParseLeaderInfo(EncodeLeaderInfo())
		require.NoError(t, err)
		require.Equal(t, ProtocolVersion, v)
	})
	t.Run("ACKEPOCH -1 means already accepted", func(t *testing.T) {
		require.Equal(t, unhex(t, "ffffffff"), EncodeAckEpoch(NoEpoch))
		require.Equal(t, unhex(t, "00000003"), EncodeAckEpoch(3))
		e, err := ParseAckEpoch(unhex(t, "ffffffff"))
		require.NoError(t, err)
		require.Equal(t, NoEpoch, e)
	})
	t.Run("PING reply touch table", func(t *testing.T) {
		// quorum.md §6 verified bytes: one session, timeout 30000.
		ts := []SessionTouch{{SessionID: 0x0100000b9fb50000, Timeout: 30000}}
		require.Equal(t, unhex(t, "0100000b9fb50000 00007530"), EncodeTouches(ts))
		got, err := ParseTouches(EncodeTouches(ts))
		require.NoError(t, err)
		require.Equal(t, ts, got)
		empty := EncodeTouches(nil)
		require.NotNil(t, empty, "no touches is an empty buffer, not null")
		require.Empty(t, empty)
		_, err = ParseTouches(make([]byte, 13))
		require.ErrorIs(t, err, ErrBadPayload)
	})
	t.Run("REVALIDATE request and response", func(t *testing.T) {
		req := EncodeRevalidateRequest(0x0100000b9fb50000, 30000)
		require.Equal(t, unhex(t, "0100000b9fb50000 00007530"), req)
		sid, to, err := ParseRevalidateRequest(req)
		require.NoError(t, err)
		require.Equal(t, int64(0x0100000b9fb50000), sid)
		require.Equal(t, int32(30000), to)

		resp := EncodeRevalidateResponse(7, true)
		require.Equal(t, unhex(t, "0000000000000007 01"), resp)
		sid, valid, err := ParseRevalidateResponse(resp)
		require.NoError(t, err)
		require.Equal(t, int64(7), sid)
		require.True(t, valid)
		_, valid, _ = ParseRevalidateResponse(EncodeRevalidateResponse(7, false))
		require.False(t, valid)
	})
	t.Run("ANDACTIVATE carries the designated leader first", func(t *testing.T) {
		b := EncodeActivate(3, []byte{9, 9})
		require.Equal(t, unhex(t, "0000000000000003 0909"), b)
		sid, txn, err := ParseActivate(b)
		require.NoError(t, err)
		require.Equal(t, int64(3), sid)
		require.Equal(t, []byte{9, 9}, txn)
	})
	t.Run("short LearnerInfo from old learners", func(t *testing.T) {
		li, err := ParseLearnerInfo(unhex(t, "0000000000000005"))
		require.NoError(t, err)
		require.Equal(t, LearnerInfo{ServerID: 5, ProtocolVersion: 1}, li)
		_, err = ParseLearnerInfo([]byte{1})
		require.ErrorIs(t, err, ErrBadPayload)
	})
	t.Run("short payloads are errors, not panics", func(t *testing.T) {
		for _, f := range []func([]byte) error{
			func(b []byte) error { _, err := ParseRequest(b); return err },
			func(b []byte) error { _, _, err := ParseRevalidateRequest(b); return err },
			func(b []byte) error { _, _, err := ParseRevalidateResponse(b); return err },
			func(b []byte) error { _, err := ParseLeaderInfo(b); return err },
			func(b []byte) error { _, err := ParseAckEpoch(b); return err },
			func(b []byte) error { _, _, err := ParseActivate(b); return err },
		} {
			require.True(t, errors.Is(f([]byte{1, 2, 3}), ErrBadPayload))
			require.True(t, errors.Is(f(nil), ErrBadPayload))
		}
	})
}
