package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

const fuzzMax = 1 << 16

// roundTrip re-encodes a successfully decoded record and checks that
// decoding the result gives the same value.
func roundTrip(t *testing.T, r Record) {
	t.Helper()
	b := Marshal(r)
	again := fresh(r)
	require.NoError(t, Unmarshal(b, fuzzMax, again))
	require.Equal(t, r, again)
	require.Equal(t, b, Marshal(again))
}

// appendixFrames are the payloads of wire.md Appendix A (length removed).
var appendixFrames = []string{
	"00000000 0000000000000000 00001770 0000000000000000 00000010 00000000000000000000000000000000 00",
	"00000001 00000001 00000003 2f6a77 00000001 78 00000001 0000001f 00000005 776f726c64 00000006 616e796f6e65 00000000",
	"00000003 00000003 00000007 2f6a776e6f6e65 01",
	"00000005 0000006a 00000003 2f7077 00000000",
	"fffffffc 00000064 00000000 00000006 646967657374 00000003 753a70",
	"00000006 0000000e 00000001 00 ffffffff 00000003 2f6a6d 00000000 00000001 0000001f 00000005 776f726c64 00000006 616e796f6e65 00000000 0000000d 00 ffffffff 00000003 2f6a6d 00000000 ffffffff 01 ffffffff",
	"fffffffe 0000000b",
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0, 0, 0, 2, 'a', 'b', 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1})
	f.Add([]byte{0, 0, 1, 0, 1, 2})
	f.Add([]byte("ruok"))
	for _, s := range appendixFrames {
		f.Add(AppendFrame(nil, unhex(f, s)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		off := 0
		for {
			p, err := ReadFrame(r, 64, nil)
			if err != nil {
				return
			}
			require.LessOrEqual(t, len(p), 64)
			frame := AppendFrame(nil, p)
			require.Equal(t, data[off:off+len(frame)], frame)
			off += len(frame)
		}
	})
}

func FuzzConnectRequest(f *testing.F) {
	f.Add(unhex(f, appendixFrames[0]))
	f.Add(unhex(f, appendixFrames[0])[:44])
	f.Add(Marshal(&ConnectRequest{SessionID: 5, Passwd: nil, HasReadOnly: true, ReadOnly: true}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var c ConnectRequest
		if Unmarshal(data, fuzzMax, &c) != nil {
			return
		}
		// Four fixed fields and the passwd length take 28 bytes.
		require.Equal(t, len(data) > 28+len(c.Passwd), c.HasReadOnly)
		roundTrip(t, &c)
		var cr ConnectResponse
		if Unmarshal(data, fuzzMax, &cr) == nil {
			roundTrip(t, &cr)
		}
	})
}

// FuzzRequest decodes a request payload as a server does: RequestHeader,
// then the record for its opcode. The opcode can also be forced from the
// first fuzz argument so every record type is reached.
func FuzzRequest(f *testing.F) {
	for _, s := range appendixFrames[1:] {
		f.Add(int32(-1), unhex(f, s))
	}
	for _, r := range sampleRecords() {
		for op := OpCode(-11); op <= 107; op++ {
			if req := NewRequest(op); req != nil && name(req) == name(r) {
				var e Encoder
				(&RequestHeader{Xid: 1, Type: op}).Encode(&e)
				r.Encode(&e)
				f.Add(int32(-1), e.B)
				f.Add(int32(op), Marshal(r))
			}
		}
	}
	f.Fuzz(func(t *testing.T, forced int32, data []byte) {
		if forced >= 0 {
			if req := NewRequest(OpCode(forced)); req != nil {
				if Unmarshal(data, fuzzMax, req) == nil {
					roundTrip(t, req)
				}
			}
			return
		}
		d := NewDecoder(data, fuzzMax)
		var h RequestHeader
		h.Decode(d)
		if d.Err != nil {
			return
		}
		req := NewRequest(h.Type)
		if req == nil {
			return
		}
		req.Decode(d)
		if d.Err == nil {
			roundTrip(t, req)
		}
	})
}

func FuzzMultiRequest(f *testing.F) {
	f.Add(unhex(f, appendixFrames[5])[8:])
	for _, r := range sampleRecords() {
		switch r.(type) {
		case *MultiRequest, *MultiResponse:
			f.Add(Marshal(r))
		}
	}
	f.Add(unhex(f, "ffffffff01ffffffff"))
	f.Add(unhex(f, "0000000100ffffffff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m MultiRequest
		if Unmarshal(data, fuzzMax, &m) == nil {
			for _, op := range m.Ops {
				require.NotNil(t, op.Req)
			}
			roundTrip(t, &m)
		}
		var mr MultiResponse
		if Unmarshal(data, fuzzMax, &mr) == nil {
			roundTrip(t, &mr)
		}
	})
}

func FuzzDecodeTxn(f *testing.F) {
	for _, r := range sampleRecords() {
		for _, op := range []OpCode{OpCreateSession, OpCloseSession, OpCreate, OpCreateContainer,
			OpCreateTTL, OpDelete, OpSetData, OpSetACL, OpError, OpMulti, OpCheck} {
			if name(NewTxn(op)) == name(r) {
				f.Add(int32(op), Marshal(r))
			}
		}
	}
	f.Add(int32(OpMulti), Marshal(WrapMultiTxn([]SubTxn{
		{Type: OpCreate, Rec: &CreateTxn{Path: "/a", ACL: OpenACLUnsafe}},
		{Type: OpError, Rec: &ErrorTxn{Err: ErrBadVersion}},
	})))
	f.Add(int32(OpCloseSession), []byte{})
	f.Fuzz(func(t *testing.T, typ int32, data []byte) {
		rec, err := DecodeTxn(OpCode(typ), data, fuzzMax)
		if err == nil {
			require.NotNil(t, rec)
			again, err := DecodeTxn(OpCode(typ), EncodeTxn(rec), fuzzMax)
			require.NoError(t, err)
			require.Equal(t, rec, again)
			if m, ok := rec.(*MultiTxn); ok {
				if subs, err := m.Unwrap(fuzzMax); err == nil {
					require.Len(t, subs, len(m.Txns))
					for _, sub := range subs {
						roundTrip(t, sub.Rec)
					}
				}
			}
		}
		// The same bytes as a whole log entry.
		entry := binary.BigEndian.AppendUint32(make([]byte, 24), uint32(typ))
		entry = append(entry, data...)
		if ent, err := DecodeTxnEntry(entry, fuzzMax); err == nil {
			require.NotNil(t, ent.Txn)
			_, err := DecodeTxnEntry(AppendTxnEntry(nil, ent), fuzzMax)
			require.NoError(t, err)
		}
	})
}
