package wire

import (
	"bufio"
	"bytes"
	"testing"
)

// Benchmarks of the records every request and reply goes through. They
// run with `go test -bench . ./internal/wire`, never in make test.

var benchData = bytes.Repeat([]byte("x"), 100)

var benchStat = Stat{Czxid: 0x100000001, Mzxid: 0x100000002, Ctime: 1700000000000, Mtime: 1700000000001,
	Version: 3, Cversion: 1, Aversion: 0, DataLength: 100, NumChildren: 2, Pzxid: 0x100000003}

func BenchmarkDecodeRequest(b *testing.B) {
	cases := []struct {
		name string
		hdr  RequestHeader
		body interface {
			Record
		}
		into func() Record
	}{
		{"getData", RequestHeader{Xid: 7, Type: OpGetData}, &GetDataRequest{Path: "/bench/p00001/n0000001", Watch: true},
			func() Record { return &GetDataRequest{} }},
		{"setData", RequestHeader{Xid: 7, Type: OpSetData}, &SetDataRequest{Path: "/bench/p00001/n0000001", Data: benchData, Version: -1},
			func() Record { return &SetDataRequest{} }},
		{"create", RequestHeader{Xid: 7, Type: OpCreate}, &CreateRequest{Path: "/bench/p00001/n0000001", Data: benchData, ACL: OpenACLUnsafe},
			func() Record { return &CreateRequest{} }},
	}
	for _, tc := range cases {
		frame := MarshalFrame(&tc.hdr, tc.body)
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			r := bytes.NewReader(frame)
			br := bufio.NewReader(r)
			buf := make([]byte, 0, 4096)
			for i := 0; i < b.N; i++ {
				r.Reset(frame)
				br.Reset(r)
				p, err := ReadFrame(br, 0, buf)
				if err != nil {
					b.Fatal(err)
				}
				d := NewDecoder(p, 0)
				var h RequestHeader
				h.Decode(d)
				rec := tc.into()
				rec.Decode(d)
				if d.Err != nil {
					b.Fatal(d.Err)
				}
			}
		})
	}
}

func BenchmarkEncodeReply(b *testing.B) {
	cases := []struct {
		name string
		body Record
	}{
		{"getData", &GetDataResponse{Data: benchData, Stat: benchStat}},
		{"setData", &SetDataResponse{Stat: benchStat}},
		{"create", &CreateResponse{Path: "/bench/p00001/n0000001"}},
		{"notification", &WatcherEvent{Type: 3, State: 3, Path: "/bench/p00001/n0000001"}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var e Encoder
			for i := 0; i < b.N; i++ {
				e.B = e.B[:0]
				start := e.BeginFrame()
				(&ReplyHeader{Xid: 7, Zxid: 0x100000002}).Encode(&e)
				tc.body.Encode(&e)
				e.EndFrame(start)
			}
			b.SetBytes(int64(len(e.B)))
		})
	}
}

func BenchmarkTxnEntry(b *testing.B) {
	entry := &TxnEntry{
		Header: TxnHeader{ClientID: 0x100000001, Cxid: 7, Zxid: 0x100000002, Time: 1700000000000, Type: OpSetData},
		Txn:    &SetDataTxn{Path: "/bench/p00001/n0000001", Data: benchData, Version: 4},
	}
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for i := 0; i < b.N; i++ {
			buf = AppendTxnEntry(buf[:0], entry)
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("decode", func(b *testing.B) {
		raw := AppendTxnEntry(nil, entry)
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := DecodeTxnEntry(raw, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}
