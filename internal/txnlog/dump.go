package txnlog

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/zkd/zkd/internal/wire"
)

// DumpOptions selects the output of Dump.
type DumpOptions struct {
	// JSON writes one JSON object per txn instead of a text line.
	JSON bool
	// Location is the time zone of text-mode dates; nil means time.Local.
	Location *time.Location
}

// Dump writes every txn the iterator yields to w, one line each, and
// returns how many it wrote. It stops at the iterator's first error (a
// *CorruptError, say) after writing the txns before it. Text lines follow
// ZooKeeper's TxnLogToolkit:
//
//	<date> session 0x<id> cxid 0x<cxid> zxid 0x<zxid> <type> <details>
//
// with the details of create, setData and multi as TxnLogToolkit prints
// them and the others in jute's CSV style ('string, v{vector}, s{record}).
// Multi sub-txns are shown decoded, not as the raw bytes Java prints.
// JSON objects carry zxid, time, session, cxid, type, the decoded record
// under "txn" and the digest when present.
func Dump(w io.Writer, it *Iterator, opts DumpOptions) (int, error) {
	loc := opts.Location
	if loc == nil {
		loc = time.Local
	}
	bw := bufio.NewWriter(w)
	n := 0
	for {
		ent, err := it.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			_ = bw.Flush()
			return n, err
		}
		if opts.JSON {
			b, err := json.Marshal(jsonOf(ent))
			if err != nil {
				return n, err
			}
			bw.Write(b)
			bw.WriteByte('\n')
		} else {
			bw.WriteString(formatLine(ent, loc))
			bw.WriteByte('\n')
		}
		n++
	}
	return n, bw.Flush()
}

// javaDateLayout is DateFormat.getDateTimeInstance(SHORT, LONG) in the
// en_US locale, as TxnLogToolkit prints dates.
const javaDateLayout = "1/2/06, 3:04:05 PM MST"

func formatLine(ent *wire.TxnEntry, loc *time.Location) string {
	h := ent.Header
	return fmt.Sprintf("%s session 0x%x cxid 0x%x zxid 0x%x %s %s",
		time.UnixMilli(h.Time).In(loc).Format(javaDateLayout),
		uint64(h.ClientID), uint64(int64(h.Cxid)), uint64(h.Zxid), javaOpName(h.Type), details(ent.Txn))
}

// javaOpName is the type name TxnLogToolkit prints (Request.op2String);
// it differs from wire's names only for createTTL.
func javaOpName(t wire.OpCode) string {
	if t == wire.OpCreateTTL {
		return "createTtl"
	}
	return t.String()
}

// details renders a txn record for the text dump.
func details(rec wire.Record) string {
	switch r := rec.(type) {
	case *wire.CreateTxn:
		return fmt.Sprintf("%s,%s,%s,%t,%d", r.Path, text(r.Data), aclList(r.ACL), r.Ephemeral, r.ParentCVersion)
	case *wire.SetDataTxn:
		return fmt.Sprintf("%s,%s,%d", r.Path, text(r.Data), r.Version)
	case *wire.CreateContainerTxn:
		return fmt.Sprintf("%s,%s,%s,%d", r.Path, text(r.Data), aclList(r.ACL), r.ParentCVersion)
	case *wire.CreateTTLTxn:
		return fmt.Sprintf("%s,%s,%s,%d,%d", r.Path, text(r.Data), aclList(r.ACL), r.ParentCVersion, r.TTL)
	case *wire.MultiTxn:
		parts := make([]string, len(r.Txns))
		for i, t := range r.Txns {
			sub, err := wire.DecodeTxn(t.Type, t.Data, 0)
			if err != nil {
				parts[i] = javaOpName(t.Type) + ":#" + hex.EncodeToString(t.Data)
				continue
			}
			parts[i] = javaOpName(t.Type) + ":" + details(sub)
		}
		return strings.Join(parts, ";")
	case *wire.DeleteTxn:
		return "'" + r.Path
	case *wire.SetACLTxn:
		return fmt.Sprintf("'%s,%s,%d", r.Path, aclVector(r.ACL), r.Version)
	case *wire.CreateSessionTxn:
		return strconv.Itoa(int(r.TimeOut))
	case *wire.CloseSessionTxn:
		if r.Paths2Delete == nil {
			return ""
		}
		return "v{'" + strings.Join(r.Paths2Delete, ",'") + "}"
	case *wire.ErrorTxn:
		return fmt.Sprintf("%d", int32(r.Err))
	case *wire.CheckVersionTxn:
		return fmt.Sprintf("'%s,%d", r.Path, r.Version)
	case nil:
		return ""
	}
	return fmt.Sprintf("%+v", rec)
}

// text renders node data as TxnLogToolkit does (UTF-8, null as empty),
// except that bytes that are not printable text come out as jute's
// #hex, so one txn stays one line.
func text(b []byte) string {
	if printable(b) {
		return string(b)
	}
	return "#" + hex.EncodeToString(b)
}

func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func aclString(a wire.ACL) string {
	return fmt.Sprintf("%d,s{'%s,'%s}", a.Perms, a.ID.Scheme, a.ID.ID)
}

// aclList is java.util.List.toString of ACLs.
func aclList(acls []wire.ACL) string {
	if acls == nil {
		return "null"
	}
	parts := make([]string, len(acls))
	for i, a := range acls {
		parts[i] = aclString(a)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// aclVector is a vector of ACLs in jute's CSV style.
func aclVector(acls []wire.ACL) string {
	parts := make([]string, len(acls))
	for i, a := range acls {
		parts[i] = "s{" + aclString(a) + "}"
	}
	return "v{" + strings.Join(parts, ",") + "}"
}

// JSON shapes of the dump.

type jsonEntry struct {
	Zxid    string      `json:"zxid"`
	Time    int64       `json:"time"`
	Session string      `json:"session"`
	Cxid    int32       `json:"cxid"`
	Type    string      `json:"type"`
	Txn     any         `json:"txn,omitempty"`
	Digest  *jsonDigest `json:"digest,omitempty"`
}

type jsonDigest struct {
	Version    int32  `json:"version"`
	TreeDigest string `json:"treeDigest"`
}

type jsonACL struct {
	Perms  int32  `json:"perms"`
	Scheme string `json:"scheme"`
	ID     string `json:"id"`
}

// jsonData is node data: "data" holds it as a string when it is valid
// UTF-8; otherwise "data" is null and "dataBase64" holds it. Null data
// has neither.
type jsonData struct {
	Data       *string `json:"data"`
	DataBase64 string  `json:"dataBase64,omitempty"`
}

func dataOf(b []byte) jsonData {
	switch {
	case b == nil:
		return jsonData{}
	case utf8.Valid(b):
		s := string(b)
		return jsonData{Data: &s}
	}
	return jsonData{DataBase64: base64.StdEncoding.EncodeToString(b)}
}

func aclsOf(acls []wire.ACL) []jsonACL {
	if acls == nil {
		return nil
	}
	out := make([]jsonACL, len(acls))
	for i, a := range acls {
		out[i] = jsonACL{Perms: a.Perms, Scheme: a.ID.Scheme, ID: a.ID.ID}
	}
	return out
}

type jsonSub struct {
	Type string `json:"type"`
	Txn  any    `json:"txn,omitempty"`
	// Raw is the sub-record as base64 when it does not decode.
	Raw string `json:"raw,omitempty"`
}

func jsonOf(ent *wire.TxnEntry) jsonEntry {
	h := ent.Header
	out := jsonEntry{
		Zxid:    wire.Zxid(h.Zxid).String(),
		Time:    h.Time,
		Session: wire.SessionID(h.ClientID).String(),
		Cxid:    h.Cxid,
		Type:    h.Type.String(),
		Txn:     jsonTxn(ent.Txn),
	}
	if d := ent.Digest; d != nil {
		out.Digest = &jsonDigest{Version: d.Version, TreeDigest: fmt.Sprintf("0x%x", uint64(d.TreeDigest))}
	}
	return out
}

func jsonTxn(rec wire.Record) any {
	switch r := rec.(type) {
	case *wire.CreateTxn:
		return struct {
			Path string `json:"path"`
			jsonData
			ACL            []jsonACL `json:"acl"`
			Ephemeral      bool      `json:"ephemeral"`
			ParentCVersion int32     `json:"parentCVersion"`
		}{r.Path, dataOf(r.Data), aclsOf(r.ACL), r.Ephemeral, r.ParentCVersion}
	case *wire.CreateContainerTxn:
		return struct {
			Path string `json:"path"`
			jsonData
			ACL            []jsonACL `json:"acl"`
			ParentCVersion int32     `json:"parentCVersion"`
		}{r.Path, dataOf(r.Data), aclsOf(r.ACL), r.ParentCVersion}
	case *wire.CreateTTLTxn:
		return struct {
			Path string `json:"path"`
			jsonData
			ACL            []jsonACL `json:"acl"`
			ParentCVersion int32     `json:"parentCVersion"`
			TTL            int64     `json:"ttl"`
		}{r.Path, dataOf(r.Data), aclsOf(r.ACL), r.ParentCVersion, r.TTL}
	case *wire.DeleteTxn:
		return struct {
			Path string `json:"path"`
		}{r.Path}
	case *wire.SetDataTxn:
		return struct {
			Path string `json:"path"`
			jsonData
			Version int32 `json:"version"`
		}{r.Path, dataOf(r.Data), r.Version}
	case *wire.SetACLTxn:
		return struct {
			Path    string    `json:"path"`
			ACL     []jsonACL `json:"acl"`
			Version int32     `json:"version"`
		}{r.Path, aclsOf(r.ACL), r.Version}
	case *wire.CreateSessionTxn:
		return struct {
			TimeOut int32 `json:"timeOut"`
		}{r.TimeOut}
	case *wire.CloseSessionTxn:
		return struct {
			Paths2Delete []string `json:"paths2Delete"`
		}{r.Paths2Delete}
	case *wire.ErrorTxn:
		return struct {
			Err     int32  `json:"err"`
			ErrName string `json:"errName"`
		}{int32(r.Err), r.Err.String()}
	case *wire.CheckVersionTxn:
		return struct {
			Path    string `json:"path"`
			Version int32  `json:"version"`
		}{r.Path, r.Version}
	case *wire.MultiTxn:
		subs := make([]jsonSub, len(r.Txns))
		for i, t := range r.Txns {
			subs[i].Type = t.Type.String()
			if sub, err := wire.DecodeTxn(t.Type, t.Data, 0); err == nil {
				subs[i].Txn = jsonTxn(sub)
			} else {
				subs[i].Raw = base64.StdEncoding.EncodeToString(t.Data)
			}
		}
		return struct {
			Txns []jsonSub `json:"txns"`
		}{subs}
	}
	return rec
}
