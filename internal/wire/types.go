package wire

import "fmt"

// Zxid is a ZooKeeper transaction id: the epoch in the high 32 bits and a
// counter in the low 32 bits.
type Zxid int64

// Epoch is the leader epoch that issued the zxid.
func (z Zxid) Epoch() uint32 { return uint32(uint64(z) >> 32) }

// Counter is the position of the zxid inside its epoch.
func (z Zxid) Counter() uint32 { return uint32(uint64(z)) }

// MakeZxid builds a zxid from an epoch and a counter.
func MakeZxid(epoch, counter uint32) Zxid { return Zxid(int64(uint64(epoch)<<32 | uint64(counter))) }

func (z Zxid) String() string { return fmt.Sprintf("0x%x", int64(z)) }

// SessionID identifies a client session; the top byte is the id of the
// server that created it (wire.md §3.4).
type SessionID int64

func (s SessionID) String() string { return fmt.Sprintf("0x%x", uint64(s)) }

// Permission bits of an ACL entry (ZooDefs.Perms).
const (
	PermRead   int32 = 1
	PermWrite  int32 = 2
	PermCreate int32 = 4
	PermDelete int32 = 8
	PermAdmin  int32 = 16
	PermAll    int32 = 31
)

// Id is an authentication identity: a scheme and an id within it.
type Id struct {
	Scheme string
	ID     string
}

func (r *Id) Encode(e *Encoder) { e.String(r.Scheme); e.String(r.ID) }
func (r *Id) Decode(d *Decoder) { r.Scheme = d.String(); r.ID = d.String() }

// ACL grants Perms to the identities matched by ID.
type ACL struct {
	Perms int32
	ID    Id
}

func (r *ACL) Encode(e *Encoder) { e.Int(r.Perms); r.ID.Encode(e) }
func (r *ACL) Decode(d *Decoder) { r.Perms = d.Int(); r.ID.Decode(d) }

// Well-known ACL lists (ZooDefs.Ids).
var (
	AnyoneID      = Id{Scheme: "world", ID: "anyone"}
	OpenACLUnsafe = []ACL{{Perms: PermAll, ID: AnyoneID}}
	ReadACLUnsafe = []ACL{{Perms: PermRead, ID: AnyoneID}}
	CreatorAllACL = []ACL{{Perms: PermAll, ID: Id{Scheme: "auth", ID: ""}}}
)

func encodeACLs(e *Encoder, acls []ACL) {
	if acls == nil {
		e.Int(-1)
		return
	}
	e.Int(clampInt(len(acls)))
	for i := range acls {
		acls[i].Encode(e)
	}
}

func decodeACLs(d *Decoder) []ACL {
	n := d.vectorLen(12) // perms + two empty strings
	if n < 0 {
		return nil
	}
	out := make([]ACL, n)
	for i := 0; i < n && d.Err == nil; i++ {
		out[i].Decode(d)
	}
	return out
}

// Stat is the client view of a znode's metadata (wire.md §7.1).
type Stat struct {
	Czxid          int64
	Mzxid          int64
	Ctime          int64
	Mtime          int64
	Version        int32
	Cversion       int32
	Aversion       int32
	EphemeralOwner int64
	DataLength     int32
	NumChildren    int32
	Pzxid          int64
}

func (r *Stat) Encode(e *Encoder) {
	e.Long(r.Czxid)
	e.Long(r.Mzxid)
	e.Long(r.Ctime)
	e.Long(r.Mtime)
	e.Int(r.Version)
	e.Int(r.Cversion)
	e.Int(r.Aversion)
	e.Long(r.EphemeralOwner)
	e.Int(r.DataLength)
	e.Int(r.NumChildren)
	e.Long(r.Pzxid)
}

func (r *Stat) Decode(d *Decoder) {
	r.Czxid = d.Long()
	r.Mzxid = d.Long()
	r.Ctime = d.Long()
	r.Mtime = d.Long()
	r.Version = d.Int()
	r.Cversion = d.Int()
	r.Aversion = d.Int()
	r.EphemeralOwner = d.Long()
	r.DataLength = d.Int()
	r.NumChildren = d.Int()
	r.Pzxid = d.Long()
}

// StatPersisted is the on-disk form of a znode's metadata: no dataLength
// or numChildren, the raw ephemeralOwner (container/TTL markers) and the
// stored cversion, which counts child creations only (storage.md).
type StatPersisted struct {
	Czxid          int64
	Mzxid          int64
	Ctime          int64
	Mtime          int64
	Version        int32
	Cversion       int32
	Aversion       int32
	EphemeralOwner int64
	Pzxid          int64
}

func (r *StatPersisted) Encode(e *Encoder) {
	e.Long(r.Czxid)
	e.Long(r.Mzxid)
	e.Long(r.Ctime)
	e.Long(r.Mtime)
	e.Int(r.Version)
	e.Int(r.Cversion)
	e.Int(r.Aversion)
	e.Long(r.EphemeralOwner)
	e.Long(r.Pzxid)
}

func (r *StatPersisted) Decode(d *Decoder) {
	r.Czxid = d.Long()
	r.Mzxid = d.Long()
	r.Ctime = d.Long()
	r.Mtime = d.Long()
	r.Version = d.Int()
	r.Cversion = d.Int()
	r.Aversion = d.Int()
	r.EphemeralOwner = d.Long()
	r.Pzxid = d.Long()
}
