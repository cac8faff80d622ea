package wire

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func sampleStat() Stat {
	return Stat{Czxid: 1, Mzxid: 2, Ctime: 3, Mtime: 4, Version: 5, Cversion: 6, Aversion: 7,
		EphemeralOwner: 8, DataLength: 9, NumChildren: 10, Pzxid: 11}
}

var sampleACL = []ACL{{Perms: PermAll, ID: AnyoneID}, {Perms: PermRead, ID: Id{Scheme: "digest", ID: "u:x"}}}

// sampleRecords has one populated value of every record type (several for
// records with optional parts).
func sampleRecords() []Record {
	st := sampleStat()
	return []Record{
		&ConnectRequest{ProtocolVersion: 0, LastZxidSeen: 7, TimeOut: 6000, SessionID: 0x100, Passwd: make([]byte, 16), ReadOnly: true, HasReadOnly: true},
		&ConnectRequest{TimeOut: 6000, Passwd: []byte{1, 2}},
		&ConnectResponse{TimeOut: 4000, SessionID: -5, Passwd: []byte("0123456789abcdef"), ReadOnly: false, HasReadOnly: true},
		&ConnectResponse{TimeOut: 4000, SessionID: 9, Passwd: []byte{}},
		&RequestHeader{Xid: 3, Type: OpGetData},
		&ReplyHeader{Xid: 3, Zxid: 99, Err: ErrNoNode},
		&CreateRequest{Path: "/a", Data: []byte("x"), ACL: sampleACL, Flags: FlagEphemeralSequential},
		&CreateRequest{Path: "/a", Data: nil, ACL: []ACL{}, Flags: 0},
		&CreateTTLRequest{Path: "/t", Data: []byte{}, ACL: OpenACLUnsafe, Flags: FlagPersistentWithTTL, TTL: 10000},
		&CreateResponse{Path: "/a0000000001"},
		&Create2Response{Path: "/b", Stat: st},
		&DeleteRequest{Path: "/d", Version: -1},
		&ExistsRequest{Path: "/e", Watch: true},
		&ExistsResponse{Stat: st},
		&GetDataRequest{Path: "/g", Watch: true},
		&GetDataResponse{Data: []byte("hello"), Stat: st},
		&GetDataResponse{Data: nil, Stat: st},
		&SetDataRequest{Path: "/s", Data: []byte("v"), Version: 4},
		&SetDataResponse{Stat: st},
		&GetACLRequest{Path: "/acl"},
		&GetACLResponse{ACL: sampleACL, Stat: st},
		&SetACLRequest{Path: "/acl", ACL: CreatorAllACL, Version: -1},
		&SetACLResponse{Stat: st},
		&GetChildrenRequest{Path: "/", Watch: false},
		&GetChildrenResponse{Children: []string{"a", "b", ""}},
		&GetChildrenResponse{Children: []string{}},
		&GetChildren2Request{Path: "/c", Watch: true},
		&GetChildren2Response{Children: []string{"z"}, Stat: st},
		&CheckVersionRequest{Path: "/c", Version: 2},
		&SyncRequest{Path: "/"},
		&SyncResponse{Path: "/"},
		&ReconfigRequest{JoiningServers: "server.4=h:1:2;3", LeavingServers: "2", NewMembers: "", CurConfigID: -1},
		&AuthPacket{Type: 0, Scheme: "digest", Auth: []byte("u:p")},
		&GetSASLRequest{Token: []byte{1, 2, 3}},
		&SetSASLResponse{Token: nil},
		&SetWatches{RelativeZxid: 5, DataWatches: []string{"/a"}, ExistWatches: []string{}, ChildWatches: nil},
		&SetWatches2{RelativeZxid: 6, DataWatches: []string{"/a"}, ExistWatches: []string{"/b"}, ChildWatches: []string{"/c"},
			PersistentWatches: []string{"/p"}, PersistentRecursiveWatches: []string{"/r", "/s"}},
		&AddWatchRequest{Path: "/w", Mode: AddWatchPersistentRecursive},
		&CheckWatchesRequest{Path: "/w", Type: WatcherData},
		&RemoveWatchesRequest{Path: "/w", Type: WatcherAny},
		&WatcherEvent{Type: EventNodeChildrenChanged, State: StateSyncConnected, Path: "/"},
		&ErrorResponse{Err: ErrBadVersion},
		&GetEphemeralsRequest{PrefixPath: "/e"},
		&GetEphemeralsResponse{Ephemerals: []string{"/e/1", "/e/2"}},
		&GetAllChildrenNumberRequest{Path: "/"},
		&GetAllChildrenNumberResponse{TotalNumber: 42},
		&ClientInfo{AuthScheme: "ip", User: "127.0.0.1"},
		&WhoAmIResponse{ClientInfo: []ClientInfo{{AuthScheme: "ip", User: "127.0.0.1"}, {AuthScheme: "digest", User: "u"}}},
		&WhoAmIResponse{ClientInfo: []ClientInfo{}},
		&MultiHeader{Type: OpCreate, Done: false, Err: -1},
		&MultiRequest{Ops: []MultiOp{
			{Type: OpCreate, Req: &CreateRequest{Path: "/m", Data: []byte{}, ACL: OpenACLUnsafe}},
			{Type: OpCreate2, Req: &CreateRequest{Path: "/m2", Data: nil, ACL: OpenACLUnsafe, Flags: 1}},
			{Type: OpCreateContainer, Req: &CreateRequest{Path: "/m3", ACL: OpenACLUnsafe, Flags: 4}},
			{Type: OpCreateTTL, Req: &CreateTTLRequest{Path: "/m4", ACL: OpenACLUnsafe, Flags: 5, TTL: 100}},
			{Type: OpDelete, Req: &DeleteRequest{Path: "/m", Version: -1}},
			{Type: OpSetData, Req: &SetDataRequest{Path: "/m2", Data: []byte("d"), Version: 0}},
			{Type: OpCheck, Req: &CheckVersionRequest{Path: "/m2", Version: 1}},
		}},
		&MultiRequest{Ops: []MultiOp{
			{Type: OpGetData, Req: &GetDataRequest{Path: "/a"}},
			{Type: OpGetChildren, Req: &GetChildrenRequest{Path: "/b", Watch: true}},
		}},
		&MultiResponse{Results: []MultiResult{
			{Type: OpCreate, Body: &CreateResponse{Path: "/m"}},
			{Type: OpCreate2, Body: &Create2Response{Path: "/m2", Stat: st}},
			{Type: OpDelete},
			{Type: OpSetData, Body: &SetDataResponse{Stat: st}},
			{Type: OpCheck},
			{Type: OpGetData, Body: &GetDataResponse{Data: nil, Stat: st}},
			{Type: OpGetChildren, Body: &GetChildrenResponse{Children: []string{"x"}}},
		}},
		&MultiResponse{Results: []MultiResult{
			{Type: OpError, Err: OK}, {Type: OpError, Err: ErrBadVersion}, {Type: OpError, Err: ErrRuntimeInconsistency},
		}},
		// Transactions.
		&TxnHeader{ClientID: 0x1000010e7620000, Cxid: 7, Zxid: 0x100000003, Time: 1700000000000, Type: OpMulti},
		&CreateTxn{Path: "/c", Data: nil, ACL: OpenACLUnsafe, Ephemeral: true, ParentCVersion: 3},
		&CreateContainerTxn{Path: "/cc", Data: []byte{}, ACL: OpenACLUnsafe, ParentCVersion: 1},
		&CreateTTLTxn{Path: "/ttl", Data: []byte("t"), ACL: OpenACLUnsafe, ParentCVersion: 2, TTL: 10000},
		&DeleteTxn{Path: "/d"},
		&SetDataTxn{Path: "/s", Data: []byte("new"), Version: 3},
		&SetACLTxn{Path: "/s", ACL: sampleACL, Version: 1},
		&ErrorTxn{Err: ErrNodeExists},
		&CheckVersionTxn{Path: "/c", Version: 0},
		&CreateSessionTxn{TimeOut: 30000},
		&CloseSessionTxn{Paths2Delete: []string{"/e1", "/e2"}},
		&CloseSessionTxn{Paths2Delete: []string{}},
		&Txn{Type: OpDelete, Data: []byte{0, 0, 0, 2, '/', 'x'}},
		&MultiTxn{Txns: []Txn{{Type: OpCreate, Data: []byte{1}}, {Type: OpError, Data: nil}}},
		&MultiTxn{Txns: []Txn{}},
		&TxnDigest{Version: 2, TreeDigest: -77},
	}
}

// fresh returns a new zero value of r's type.
func fresh(r Record) Record {
	return reflect.New(reflect.TypeOf(r).Elem()).Interface().(Record)
}

func name(r Record) string { return reflect.TypeOf(r).Elem().Name() }

func TestRoundTrip(t *testing.T) {
	for i, want := range sampleRecords() {
		t.Run(fmt.Sprintf("%d_%s", i, name(want)), func(t *testing.T) {
			b := Marshal(want)
			got := fresh(want)
			d := NewDecoder(b, DefaultMaxBuffer)
			got.Decode(d)
			require.NoError(t, d.Err)
			require.Zero(t, d.Remaining(), "decoder left bytes")
			require.Equal(t, want, got)
			require.Equal(t, b, Marshal(got))
		})
	}
}

// optionalTail lists prefixes that are complete encodings in their own
// right: records with optional trailing fields.
func optionalTail(r Record, full, n int) bool {
	switch v := r.(type) {
	case *ConnectRequest:
		return v.HasReadOnly && n == full-1
	case *ConnectResponse:
		return v.HasReadOnly && n == full-1
	case *CreateTxn:
		return n == full-4
	case *CloseSessionTxn:
		return n == 0
	}
	return false
}

func TestTruncated(t *testing.T) {
	for i, want := range sampleRecords() {
		t.Run(fmt.Sprintf("%d_%s", i, name(want)), func(t *testing.T) {
			b := Marshal(want)
			for n := 0; n < len(b); n++ {
				got := fresh(want)
				err := Unmarshal(b[:n], DefaultMaxBuffer, got)
				if optionalTail(want, len(b), n) {
					require.NoError(t, err, "prefix %d", n)
					continue
				}
				require.Error(t, err, "prefix %d of %d", n, len(b))
			}
		})
	}
}

func TestOptionalTails(t *testing.T) {
	c := &ConnectRequest{TimeOut: 1, Passwd: make([]byte, 16), ReadOnly: true, HasReadOnly: true}
	b := Marshal(c)
	require.Len(t, b, 45)
	var got ConnectRequest
	require.NoError(t, Unmarshal(b[:44], 0, &got))
	require.False(t, got.HasReadOnly)
	require.False(t, got.ReadOnly)
	require.Len(t, Marshal(&got), 44)

	ct := &CreateTxn{Path: "/x", Data: []byte("d"), ACL: OpenACLUnsafe, Ephemeral: true, ParentCVersion: 9}
	b = Marshal(ct)
	var old CreateTxn
	require.NoError(t, Unmarshal(b[:len(b)-4], 0, &old))
	require.Equal(t, int32(-1), old.ParentCVersion)
	require.True(t, old.Ephemeral)
	require.Equal(t, "/x", old.Path)
	// 1-3 bytes of a parentCVersion is a truncation, not the old form.
	require.ErrorIs(t, Unmarshal(b[:len(b)-2], 0, &old), ErrShort)

	var cs CloseSessionTxn
	require.NoError(t, Unmarshal(nil, 0, &cs))
	require.Nil(t, cs.Paths2Delete)
}

func TestNullVersusEmpty(t *testing.T) {
	cases := []struct {
		rec  Record
		want string
	}{
		{&GetDataResponse{Data: nil}, "ffffffff"},
		{&GetDataResponse{Data: []byte{}}, "00000000"},
		{&GetChildrenResponse{Children: nil}, "ffffffff"},
		{&GetChildrenResponse{Children: []string{}}, "00000000"},
		{&GetACLResponse{ACL: nil}, "ffffffff"},
		{&GetACLResponse{ACL: []ACL{}}, "00000000"},
		{&WhoAmIResponse{ClientInfo: nil}, "ffffffff"},
		{&MultiTxn{Txns: nil}, "ffffffff"},
	}
	for _, c := range cases {
		b := Marshal(c.rec)
		require.Equal(t, c.want, hex.EncodeToString(b[:4]), name(c.rec))
		got := fresh(c.rec)
		require.NoError(t, Unmarshal(b, 0, got))
		require.Equal(t, c.rec, got)
	}
	// Concretely: the distinction survives a decode.
	var a, e GetDataResponse
	require.NoError(t, Unmarshal(Marshal(&GetDataResponse{Data: nil}), 0, &a))
	require.NoError(t, Unmarshal(Marshal(&GetDataResponse{Data: []byte{}}), 0, &e))
	require.Nil(t, a.Data)
	require.NotNil(t, e.Data)
	require.Empty(t, e.Data)
}

func TestMaxLength(t *testing.T) {
	big := bytes.Repeat([]byte{'a'}, 11)
	cases := []Record{
		&GetDataResponse{Data: big},
		&CreateRequest{Path: string(big)},
		&GetChildrenResponse{Children: []string{string(big)}},
		&SetACLRequest{Path: "/", ACL: []ACL{{ID: Id{Scheme: string(big)}}}},
		&MultiTxn{Txns: []Txn{{Data: big}}},
	}
	for _, r := range cases {
		b := Marshal(r)
		require.NoError(t, Unmarshal(b, 11, fresh(r)), name(r))
		require.ErrorIs(t, Unmarshal(b, 10, fresh(r)), ErrTooLong, name(r))
	}
	// Negative lengths other than -1 are refused.
	require.ErrorIs(t, Unmarshal([]byte{0xff, 0xff, 0xff, 0xfe}, 0, &GetDataResponse{}), ErrTooLong)
	// A huge vector count with little input fails without allocating it.
	require.Error(t, Unmarshal([]byte{0x00, 0x0f, 0xff, 0xff, 0, 0, 0, 0}, 0, &GetChildrenResponse{}))
	require.Error(t, Unmarshal([]byte{0x00, 0x0f, 0xff, 0xff, 0, 0, 0, 0}, 0, &WhoAmIResponse{}))
	require.Error(t, Unmarshal([]byte{0x00, 0x0f, 0xff, 0xff, 0, 0, 0, 0}, 0, &MultiTxn{}))
}

func unhex(t testing.TB, s string) []byte {
	s = strings.NewReplacer(" ", "", "·", "", "`", "").Replace(s)
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// Frames of wire.md Appendix A.
func TestGoldenFrames(t *testing.T) {
	passwd := unhex(t, "6c1e2e23892d1dea2a45a2557a779504")
	cases := []struct {
		name string
		hex  string
		recs []Record
	}{
		{"1 connect request 45", "0000002d 00000000 0000000000000000 00001770 0000000000000000 00000010 00000000000000000000000000000000 00",
			[]Record{&ConnectRequest{TimeOut: 6000, Passwd: make([]byte, 16), HasReadOnly: true}}},
		{"1' connect request 44", "0000002c 00000000 0000000000000000 00001770 0000000000000000 00000010 00000000000000000000000000000000",
			[]Record{&ConnectRequest{TimeOut: 6000, Passwd: make([]byte, 16)}}},
		{"2 connect response 37", "00000025 00000000 00001770 01000010e7620000 00000010 6c1e2e23892d1dea2a45a2557a779504 00",
			[]Record{&ConnectResponse{TimeOut: 6000, SessionID: 0x1000010e7620000, Passwd: passwd, HasReadOnly: true}}},
		{"2' connect response 36", "00000024 00000000 00001770 01000010e7620000 00000010 6c1e2e23892d1dea2a45a2557a779504",
			[]Record{&ConnectResponse{TimeOut: 6000, SessionID: 0x1000010e7620000, Passwd: passwd}}},
		{"3 create", "00000033 00000001 00000001 00000003 2f6a77 00000001 78 00000001 0000001f 00000005 776f726c64 00000006 616e796f6e65 00000000",
			[]Record{&RequestHeader{Xid: 1, Type: OpCreate}, &CreateRequest{Path: "/jw", Data: []byte("x"), ACL: OpenACLUnsafe, Flags: 0}}},
		{"4 create reply", "00000017 00000001 0000000000000002 00000000 00000003 2f6a77",
			[]Record{&ReplyHeader{Xid: 1, Zxid: 2}, &CreateResponse{Path: "/jw"}}},
		{"5 exists", "00000014 00000003 00000003 00000007 2f6a776e6f6e65 01",
			[]Record{&RequestHeader{Xid: 3, Type: OpExists}, &ExistsRequest{Path: "/jwnone", Watch: true}}},
		{"6 error reply", "00000010 00000003 0000000000000002 ffffff9b",
			[]Record{&ReplyHeader{Xid: 3, Zxid: 2, Err: ErrNoNode}}},
		{"7 addWatch", "00000013 00000005 0000006a 00000003 2f7077 00000000",
			[]Record{&RequestHeader{Xid: 5, Type: OpAddWatch}, &AddWatchRequest{Path: "/pw", Mode: AddWatchPersistent}}},
		{"8 addWatch reply", "00000014 00000005 0000000000000002 00000000 00000000",
			[]Record{&ReplyHeader{Xid: 5, Zxid: 2}, &ErrorResponse{Err: OK}}},
		{"9 auth", "0000001d fffffffc 00000064 00000000 00000006 646967657374 00000003 753a70",
			[]Record{&RequestHeader{Xid: XidAuth, Type: OpAuth}, &AuthPacket{Scheme: "digest", Auth: []byte("u:p")}}},
		{"10 auth reply", "00000010 fffffffc 0000000000000000 00000000",
			[]Record{&ReplyHeader{Xid: XidAuth}}},
		{"11 multi", "00000058 00000006 0000000e · 00000001 00 ffffffff 00000003 2f6a6d 00000000 00000001 0000001f 00000005 776f726c64 00000006 616e796f6e65 00000000 · 0000000d 00 ffffffff 00000003 2f6a6d 00000000 · ffffffff 01 ffffffff",
			[]Record{&RequestHeader{Xid: 6, Type: OpMulti}, &MultiRequest{Ops: []MultiOp{
				{Type: OpCreate, Req: &CreateRequest{Path: "/jm", Data: []byte{}, ACL: OpenACLUnsafe}},
				{Type: OpCheck, Req: &CheckVersionRequest{Path: "/jm", Version: 0}},
			}}}},
		{"12 notification", "0000001d ffffffff ffffffffffffffff 00000000 00000004 00000003 00000001 2f",
			[]Record{&ReplyHeader{Xid: XidNotification, Zxid: -1}, &WatcherEvent{Type: EventNodeChildrenChanged, State: StateSyncConnected, Path: "/"}}},
		// Frame 13 is given without its length and reply header.
		{"13 multi reply", "00000032 00000006 0000000000000003 00000000 · 00000001 00 00000000 00000003 2f6a6d 0000000d 00 00000000 ffffffff 01 ffffffff",
			[]Record{&ReplyHeader{Xid: 6, Zxid: 3}, &MultiResponse{Results: []MultiResult{
				{Type: OpCreate, Body: &CreateResponse{Path: "/jm"}},
				{Type: OpCheck},
			}}}},
		{"14 ping", "00000008 fffffffe 0000000b",
			[]Record{&RequestHeader{Xid: XidPing, Type: OpPing}}},
		{"14 ping reply", "00000010 fffffffe 0000000000000003 00000000",
			[]Record{&ReplyHeader{Xid: XidPing, Zxid: 3}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			frame := unhex(t, c.hex)
			payload, err := ReadFrame(bufio.NewReader(bytes.NewReader(frame)), DefaultMaxBuffer, nil)
			require.NoError(t, err)
			require.Len(t, payload, len(frame)-4)

			d := NewDecoder(payload, DefaultMaxBuffer)
			for i, want := range c.recs {
				got := fresh(want)
				if i == 1 {
					// Decode the body the way a server would: by opcode.
					switch h := c.recs[0].(type) {
					case *RequestHeader:
						got = NewRequest(h.Type)
					}
				}
				got.Decode(d)
				require.NoError(t, d.Err)
				require.Equal(t, want, got)
			}
			require.Zero(t, d.Remaining())
			require.Equal(t, frame, MarshalFrame(c.recs...))
		})
	}
}

func TestMultiErrors(t *testing.T) {
	// Unknown sub-op type.
	var e Encoder
	(&MultiHeader{Type: OpGetACL, Err: -1}).Encode(&e)
	(&GetACLRequest{Path: "/x"}).Encode(&e)
	multiTerminator.Encode(&e)
	require.ErrorIs(t, Unmarshal(e.B, 0, &MultiRequest{}), ErrUnknownOp)

	// Missing terminator.
	b := Marshal(&MultiRequest{Ops: []MultiOp{{Type: OpDelete, Req: &DeleteRequest{Path: "/a"}}}})
	require.ErrorIs(t, Unmarshal(b[:len(b)-9], 0, &MultiRequest{}), ErrShort)

	// Empty multi.
	var m MultiRequest
	require.NoError(t, Unmarshal(unhex(t, "ffffffff01ffffffff"), 0, &m))
	require.Empty(t, m.Ops)

	// Unknown result type.
	e = Encoder{}
	(&MultiHeader{Type: OpExists}).Encode(&e)
	require.ErrorIs(t, Unmarshal(e.B, 0, &MultiResponse{}), ErrUnknownOp)

	// Failed multi encoding per wire.md §8.2: header err and ErrorResponse.
	b = Marshal(&MultiResponse{Results: []MultiResult{{Type: OpError, Err: ErrBadVersion}}})
	require.Equal(t, "ffffffff00ffffff99ffffff99ffffffff01ffffffff", hex.EncodeToString(b))
	// Java takes the code from the body.
	var mr MultiResponse
	require.NoError(t, Unmarshal(unhex(t, "ffffffff00 00000000 ffffff99 ffffffff01ffffffff"), 0, &mr))
	require.Equal(t, []MultiResult{{Type: OpError, Err: ErrBadVersion}}, mr.Results)

	// Nil Req / Body are written as zero records and stay decodable.
	b = Marshal(&MultiRequest{Ops: []MultiOp{{Type: OpSetData}}})
	require.NoError(t, Unmarshal(b, 0, &m))
	require.Equal(t, &SetDataRequest{Path: ""}, m.Ops[0].Req)
	b = Marshal(&MultiResponse{Results: []MultiResult{{Type: OpCreate2}}})
	require.NoError(t, Unmarshal(b, 0, &mr))
	require.Equal(t, &Create2Response{}, mr.Results[0].Body)
}

func TestReadFrame(t *testing.T) {
	// Too large and negative lengths: refused before reading the payload.
	for _, h := range []string{"00000011", "ffffffff", "80000000"} {
		r := bufio.NewReader(bytes.NewReader(unhex(t, h+"00")))
		_, err := ReadFrame(r, 16, nil)
		require.ErrorIs(t, err, ErrFrameTooLarge, h)
		require.Equal(t, 1, r.Buffered(), "payload must not be consumed")
	}
	// Exactly max is fine; reuses buf.
	buf := make([]byte, 0, 32)
	p, err := ReadFrame(bufio.NewReader(bytes.NewReader(AppendFrame(nil, bytes.Repeat([]byte{7}, 16)))), 16, buf)
	require.NoError(t, err)
	require.Len(t, p, 16)
	require.Equal(t, &buf[:1][0], &p[0])
	// Default max.
	_, err = ReadFrame(bufio.NewReader(bytes.NewReader(unhex(t, "00100000"))), 0, nil)
	require.ErrorIs(t, err, ErrFrameTooLarge)
	// Clean EOF vs truncated frame.
	_, err = ReadFrame(bufio.NewReader(bytes.NewReader(nil)), 16, nil)
	require.Equal(t, io.EOF, err)
	_, err = ReadFrame(bufio.NewReader(bytes.NewReader(unhex(t, "0000"))), 16, nil)
	require.Equal(t, io.ErrUnexpectedEOF, err)
	_, err = ReadFrame(bufio.NewReader(bytes.NewReader(unhex(t, "0000000401"))), 16, nil)
	require.Equal(t, io.ErrUnexpectedEOF, err)
	// Empty frame and consecutive frames.
	stream := AppendFrame(AppendFrame(nil, nil), []byte("ab"))
	r := bufio.NewReader(bytes.NewReader(stream))
	p, err = ReadFrame(r, 16, nil)
	require.NoError(t, err)
	require.Empty(t, p)
	p, err = ReadFrame(r, 16, nil)
	require.NoError(t, err)
	require.Equal(t, []byte("ab"), p)

	// BeginFrame / EndFrame.
	e := Encoder{B: []byte{9}}
	s := e.BeginFrame()
	(&RequestHeader{Xid: XidPing, Type: OpPing}).Encode(&e)
	e.EndFrame(s)
	require.Equal(t, "0900000008fffffffe0000000b", hex.EncodeToString(e.B))
}

func TestNewRequestResponse(t *testing.T) {
	for op := OpCode(-20); op < 120; op++ {
		if req := NewRequest(op); req != nil {
			require.True(t, op.Known(), "%v", op)
			b := Marshal(req)
			require.NoError(t, Unmarshal(b, 0, NewRequest(op)), "%v", op)
		}
		if rsp := NewResponse(op); rsp != nil {
			require.True(t, op.Known(), "%v", op)
		}
	}
	require.IsType(t, &CreateRequest{}, NewRequest(OpCreateContainer))
	require.IsType(t, &MultiRequest{}, NewRequest(OpMultiRead))
	require.Nil(t, NewRequest(OpPing))
	require.Nil(t, NewResponse(OpDelete))
	require.IsType(t, &Create2Response{}, NewResponse(OpCreateTTL))
}

func TestTxn(t *testing.T) {
	subs := []SubTxn{
		{Type: OpCreate, Rec: &CreateTxn{Path: "/m", ACL: OpenACLUnsafe, ParentCVersion: 1}},
		{Type: OpCreate2, Rec: &CreateTxn{Path: "/m2", Data: []byte{}, ACL: OpenACLUnsafe, ParentCVersion: 2}},
		{Type: OpCreateContainer, Rec: &CreateContainerTxn{Path: "/c", ACL: OpenACLUnsafe, ParentCVersion: 3}},
		{Type: OpCreateTTL, Rec: &CreateTTLTxn{Path: "/t", ACL: OpenACLUnsafe, ParentCVersion: 4, TTL: 5}},
		{Type: OpDelete, Rec: &DeleteTxn{Path: "/m"}},
		{Type: OpDeleteContainer, Rec: &DeleteTxn{Path: "/c"}},
		{Type: OpSetData, Rec: &SetDataTxn{Path: "/m2", Data: []byte("x"), Version: 1}},
		{Type: OpCheck, Rec: &CheckVersionTxn{Path: "/m2", Version: 1}},
		{Type: OpError, Rec: &ErrorTxn{Err: ErrRuntimeInconsistency}},
	}
	m := WrapMultiTxn(subs)
	require.True(t, m.HasError())
	rec, err := DecodeTxn(OpMulti, EncodeTxn(m), DefaultMaxBuffer)
	require.NoError(t, err)
	require.Equal(t, m, rec)
	got, err := rec.(*MultiTxn).Unwrap(DefaultMaxBuffer)
	require.NoError(t, err)
	require.Equal(t, subs, got)

	// Nested multi and unknown sub-types are refused.
	_, err = (&MultiTxn{Txns: []Txn{{Type: OpMulti, Data: Marshal(&MultiTxn{})}}}).Unwrap(0)
	require.ErrorIs(t, err, ErrUnknownOp)
	_, err = (&MultiTxn{Txns: []Txn{{Type: OpSetACL}}}).Unwrap(0)
	require.ErrorIs(t, err, ErrUnknownOp)
	_, err = (&MultiTxn{Txns: []Txn{{Type: OpDelete, Data: []byte{0, 0}}}}).Unwrap(0)
	require.ErrorIs(t, err, ErrShort)

	// Every header type maps to its record.
	types := map[OpCode]Record{
		OpCreateSession: &CreateSessionTxn{}, OpCloseSession: &CloseSessionTxn{},
		OpCreate: &CreateTxn{}, OpCreate2: &CreateTxn{}, OpCreateContainer: &CreateContainerTxn{},
		OpCreateTTL: &CreateTTLTxn{}, OpDelete: &DeleteTxn{}, OpDeleteContainer: &DeleteTxn{},
		OpSetData: &SetDataTxn{}, OpReconfig: &SetDataTxn{}, OpSetACL: &SetACLTxn{},
		OpError: &ErrorTxn{}, OpMulti: &MultiTxn{}, OpCheck: &CheckVersionTxn{},
	}
	for op, want := range types {
		require.IsType(t, want, NewTxn(op), "%v", op)
	}
	_, err = DecodeTxn(OpGetData, nil, 0)
	require.ErrorIs(t, err, ErrUnknownOp)

	// Closing session with empty (old) body.
	rec, err = DecodeTxn(OpCloseSession, nil, 0)
	require.NoError(t, err)
	require.Equal(t, &CloseSessionTxn{}, rec)
}

func TestTxnEntry(t *testing.T) {
	hdr := TxnHeader{ClientID: 0x100, Cxid: 1, Zxid: 0x100000002, Time: 1234, Type: OpCreate}
	cases := []*TxnEntry{
		{Header: hdr, Txn: &CreateTxn{Path: "/a", ACL: OpenACLUnsafe, ParentCVersion: 1}, Digest: &TxnDigest{Version: 2, TreeDigest: 77}},
		{Header: TxnHeader{Type: OpError, Zxid: 3}, Txn: &ErrorTxn{Err: ErrNodeExists}},
		{Header: TxnHeader{Type: OpCloseSession}, Txn: &CloseSessionTxn{Paths2Delete: []string{"/e"}}, Digest: &TxnDigest{Version: 2, TreeDigest: 1}},
		{Header: TxnHeader{Type: OpCreateSession}, Txn: &CreateSessionTxn{TimeOut: 4000}, Digest: &TxnDigest{Version: 2, TreeDigest: -1}},
	}
	for _, want := range cases {
		b := AppendTxnEntry(nil, want)
		got, err := DecodeTxnEntry(b, DefaultMaxBuffer)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	// closeSession written without a record but with a digest.
	var e Encoder
	(&TxnHeader{Type: OpCloseSession}).Encode(&e)
	(&TxnDigest{Version: 2, TreeDigest: 0x1234567890}).Encode(&e)
	got, err := DecodeTxnEntry(e.B, 0)
	require.NoError(t, err)
	require.Equal(t, &CloseSessionTxn{}, got.Txn)
	require.Equal(t, &TxnDigest{Version: 2, TreeDigest: 0x1234567890}, got.Digest)
	// Truncated header.
	_, err = DecodeTxnEntry(e.B[:10], 0)
	require.True(t, errors.Is(err, ErrShort))
}
