package wire

import "fmt"

// Transaction records (storage.md §3.4-3.7).

// TxnHeader starts every transaction-log entry.
type TxnHeader struct {
	ClientID int64
	Cxid     int32
	Zxid     int64
	Time     int64
	Type     OpCode
}

func (r *TxnHeader) Encode(e *Encoder) {
	e.Long(r.ClientID)
	e.Int(r.Cxid)
	e.Long(r.Zxid)
	e.Long(r.Time)
	e.Int(int32(r.Type))
}

func (r *TxnHeader) Decode(d *Decoder) {
	r.ClientID = d.Long()
	r.Cxid = d.Int()
	r.Zxid = d.Long()
	r.Time = d.Long()
	r.Type = OpCode(d.Int())
}

// CreateTxn is the txn of create (1) and create2 (15). Decode accepts the
// pre-3.x form without ParentCVersion and then sets it to -1.
type CreateTxn struct {
	Path           string
	Data           []byte
	ACL            []ACL
	Ephemeral      bool
	ParentCVersion int32
}

func (r *CreateTxn) Encode(e *Encoder) {
	e.String(r.Path)
	e.Buffer(r.Data)
	encodeACLs(e, r.ACL)
	e.Bool(r.Ephemeral)
	e.Int(r.ParentCVersion)
}

func (r *CreateTxn) Decode(d *Decoder) {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.ACL = decodeACLs(d)
	r.Ephemeral = d.Bool()
	if d.Err == nil && d.Remaining() == 0 {
		r.ParentCVersion = -1 // CreateTxnV0
		return
	}
	r.ParentCVersion = d.Int()
}

// CreateContainerTxn is the txn of createContainer (19).
type CreateContainerTxn struct {
	Path           string
	Data           []byte
	ACL            []ACL
	ParentCVersion int32
}

func (r *CreateContainerTxn) Encode(e *Encoder) {
	e.String(r.Path)
	e.Buffer(r.Data)
	encodeACLs(e, r.ACL)
	e.Int(r.ParentCVersion)
}

func (r *CreateContainerTxn) Decode(d *Decoder) {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.ACL = decodeACLs(d)
	r.ParentCVersion = d.Int()
}

// CreateTTLTxn is the txn of createTTL (21).
type CreateTTLTxn struct {
	Path           string
	Data           []byte
	ACL            []ACL
	ParentCVersion int32
	TTL            int64
}

func (r *CreateTTLTxn) Encode(e *Encoder) {
	e.String(r.Path)
	e.Buffer(r.Data)
	encodeACLs(e, r.ACL)
	e.Int(r.ParentCVersion)
	e.Long(r.TTL)
}

func (r *CreateTTLTxn) Decode(d *Decoder) {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.ACL = decodeACLs(d)
	r.ParentCVersion = d.Int()
	r.TTL = d.Long()
}

// DeleteTxn is the txn of delete (2) and deleteContainer (20).
type DeleteTxn struct {
	Path string
}

func (r *DeleteTxn) Encode(e *Encoder) { e.String(r.Path) }
func (r *DeleteTxn) Decode(d *Decoder) { r.Path = d.String() }

// SetDataTxn is the txn of setData (5) and reconfig (16); Version is the
// new version.
type SetDataTxn struct {
	Path    string
	Data    []byte
	Version int32
}

func (r *SetDataTxn) Encode(e *Encoder) { e.String(r.Path); e.Buffer(r.Data); e.Int(r.Version) }
func (r *SetDataTxn) Decode(d *Decoder) {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.Version = d.Int()
}

// SetACLTxn is the txn of setACL (7); Version is the new aversion.
type SetACLTxn struct {
	Path    string
	ACL     []ACL
	Version int32
}

func (r *SetACLTxn) Encode(e *Encoder) { e.String(r.Path); encodeACLs(e, r.ACL); e.Int(r.Version) }
func (r *SetACLTxn) Decode(d *Decoder) {
	r.Path = d.String()
	r.ACL = decodeACLs(d)
	r.Version = d.Int()
}

// ErrorTxn records a failed write (-1), also inside a failed multi.
type ErrorTxn struct {
	Err Code
}

func (r *ErrorTxn) Encode(e *Encoder) { e.Int(int32(r.Err)) }
func (r *ErrorTxn) Decode(d *Decoder) { r.Err = Code(d.Int()) }

// CheckVersionTxn is the txn of check (13); meaningful only inside a
// MultiTxn.
type CheckVersionTxn struct {
	Path    string
	Version int32
}

func (r *CheckVersionTxn) Encode(e *Encoder) { e.String(r.Path); e.Int(r.Version) }
func (r *CheckVersionTxn) Decode(d *Decoder) { r.Path = d.String(); r.Version = d.Int() }

// CreateSessionTxn is the txn of createSession (-10): the negotiated
// timeout.
type CreateSessionTxn struct {
	TimeOut int32
}

func (r *CreateSessionTxn) Encode(e *Encoder) { e.Int(r.TimeOut) }
func (r *CreateSessionTxn) Decode(d *Decoder) { r.TimeOut = d.Int() }

// CloseSessionTxn is the txn of closeSession (-11): the session's
// ephemerals. Decode accepts an empty body (older logs) as nil paths.
type CloseSessionTxn struct {
	Paths2Delete []string
}

func (r *CloseSessionTxn) Encode(e *Encoder) { e.Strings(r.Paths2Delete) }
func (r *CloseSessionTxn) Decode(d *Decoder) {
	if d.Err == nil && d.Remaining() == 0 {
		r.Paths2Delete = nil
		return
	}
	r.Paths2Delete = d.Strings()
}

// Txn is one serialized sub-transaction of a MultiTxn.
type Txn struct {
	Type OpCode
	Data []byte
}

func (r *Txn) Encode(e *Encoder) { e.Int(int32(r.Type)); e.Buffer(r.Data) }
func (r *Txn) Decode(d *Decoder) { r.Type = OpCode(d.Int()); r.Data = d.Buffer() }

// MultiTxn is the txn of multi (14). Use WrapMultiTxn and Unwrap to go
// between typed sub-records and the serialized form.
type MultiTxn struct {
	Txns []Txn
}

func (r *MultiTxn) Encode(e *Encoder) {
	if r.Txns == nil {
		e.Int(-1)
		return
	}
	e.Int(clampInt(len(r.Txns)))
	for i := range r.Txns {
		r.Txns[i].Encode(e)
	}
}

func (r *MultiTxn) Decode(d *Decoder) {
	n := d.vectorLen(8) // type + null/empty buffer
	if n < 0 {
		r.Txns = nil
		return
	}
	r.Txns = make([]Txn, n)
	for i := 0; i < n && d.Err == nil; i++ {
		r.Txns[i].Decode(d)
	}
}

// SubTxn is a typed sub-transaction of a multi.
type SubTxn struct {
	Type OpCode
	Rec  Record
}

// WrapMultiTxn serializes typed sub-transactions into a MultiTxn.
func WrapMultiTxn(subs []SubTxn) *MultiTxn {
	m := &MultiTxn{Txns: make([]Txn, len(subs))}
	for i, s := range subs {
		m.Txns[i] = Txn{Type: s.Type, Data: Marshal(s.Rec)}
	}
	return m
}

// Unwrap decodes each sub-transaction. Allowed types are those of
// DataTree.processTxn: create/create2, createTTL, createContainer,
// delete/deleteContainer, setData, check and error; anything else
// (including a nested multi) is an error wrapping ErrUnknownOp.
func (r *MultiTxn) Unwrap(max int) ([]SubTxn, error) {
	out := make([]SubTxn, 0, len(r.Txns))
	for i := range r.Txns {
		t := r.Txns[i].Type
		rec := newMultiSubTxn(t)
		if rec == nil {
			return nil, fmt.Errorf("%w: multi txn sub-type %d", ErrUnknownOp, int32(t))
		}
		if err := Unmarshal(r.Txns[i].Data, max, rec); err != nil {
			return nil, fmt.Errorf("wire: multi txn sub %d (%v): %w", i, t, err)
		}
		out = append(out, SubTxn{Type: t, Rec: rec})
	}
	return out, nil
}

// HasError reports whether any sub-transaction is an ErrorTxn, in which
// case replay applies nothing of the multi (storage.md §3.7).
func (r *MultiTxn) HasError() bool {
	for i := range r.Txns {
		if r.Txns[i].Type == OpError {
			return true
		}
	}
	return false
}

func newMultiSubTxn(t OpCode) Record {
	switch t {
	case OpCreate, OpCreate2:
		return &CreateTxn{}
	case OpCreateTTL:
		return &CreateTTLTxn{}
	case OpCreateContainer:
		return &CreateContainerTxn{}
	case OpDelete, OpDeleteContainer:
		return &DeleteTxn{}
	case OpSetData:
		return &SetDataTxn{}
	case OpCheck:
		return &CheckVersionTxn{}
	case OpError:
		return &ErrorTxn{}
	}
	return nil
}

// NewTxn returns the zero txn record for a TxnHeader type, or nil if the
// type has none (storage.md §3.5).
func NewTxn(t OpCode) Record {
	switch t {
	case OpCreateSession:
		return &CreateSessionTxn{}
	case OpCloseSession:
		return &CloseSessionTxn{}
	case OpSetData, OpReconfig:
		return &SetDataTxn{}
	case OpSetACL:
		return &SetACLTxn{}
	case OpMulti:
		return &MultiTxn{}
	}
	return newMultiSubTxn(t)
}

// DecodeTxn decodes the txn record of type t from body. Trailing bytes
// (such as a TxnDigest) are ignored; use DecodeTxnEntry to read them.
// An unknown type is an error wrapping ErrUnknownOp.
func DecodeTxn(t OpCode, body []byte, max int) (Record, error) {
	rec, _, err := decodeTxnN(t, body, max)
	return rec, err
}

func decodeTxnN(t OpCode, body []byte, max int) (Record, int, error) {
	rec := NewTxn(t)
	if rec == nil {
		return nil, 0, fmt.Errorf("%w: txn type %d", ErrUnknownOp, int32(t))
	}
	d := NewDecoder(body, max)
	rec.Decode(d)
	if d.Err != nil {
		return nil, 0, d.Err
	}
	return rec, d.Off, nil
}

// EncodeTxn serializes a txn record (the inverse of DecodeTxn).
func EncodeTxn(rec Record) []byte { return Marshal(rec) }

// TxnDigest is the optional trailer after a txn record (storage.md §3.6).
type TxnDigest struct {
	Version    int32
	TreeDigest int64
}

func (r *TxnDigest) Encode(e *Encoder) { e.Int(r.Version); e.Long(r.TreeDigest) }
func (r *TxnDigest) Decode(d *Decoder) { r.Version = d.Int(); r.TreeDigest = d.Long() }

// txnDigestSize is the encoded size of TxnDigest.
const txnDigestSize = 12

// TxnEntry is one decoded transaction-log entry.
type TxnEntry struct {
	Header TxnHeader
	Txn    Record     // typed record; never nil on success
	Digest *TxnDigest // nil when the entry has no digest trailer
}

// DecodeTxnEntry decodes a log entry: TxnHeader, the txn record for its
// type, then an optional TxnDigest. As in Java (SerializeUtils), the
// digest is read if at least 12 bytes remain and any other leftover bytes
// are ignored. A closeSession entry without a record but with a digest
// (Java with closeSessionTxn disabled) is recognized too.
func DecodeTxnEntry(entry []byte, max int) (*TxnEntry, error) {
	d := NewDecoder(entry, max)
	var ent TxnEntry
	ent.Header.Decode(d)
	if d.Err != nil {
		return nil, d.Err
	}
	body := entry[d.Off:]
	rec, n, err := decodeTxnN(ent.Header.Type, body, max)
	if ent.Header.Type == OpCloseSession && len(body) == txnDigestSize &&
		(err != nil || n != len(body)) {
		// Empty CloseSessionTxn followed by a digest.
		rec, n, err = &CloseSessionTxn{}, 0, nil
	}
	if err != nil {
		return nil, err
	}
	ent.Txn = rec
	if rest := body[n:]; len(rest) >= txnDigestSize {
		ent.Digest = &TxnDigest{}
		if err := Unmarshal(rest, max, ent.Digest); err != nil {
			return nil, err
		}
	}
	return &ent, nil
}

// AppendTxnEntry appends the encoding of a log entry (header, record,
// optional digest) to dst.
func AppendTxnEntry(dst []byte, ent *TxnEntry) []byte {
	if dst == nil {
		// Room for the header and a typical small txn in one allocation.
		dst = make([]byte, 0, 256)
	}
	e := Encoder{B: dst}
	ent.Header.Encode(&e)
	if ent.Txn != nil {
		ent.Txn.Encode(&e)
	}
	if ent.Digest != nil {
		ent.Digest.Encode(&e)
	}
	return e.B
}
