package snapshot

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/zkd/zkd/internal/datatree"
	"github.com/zkd/zkd/internal/wire"
)

// DumpOptions selects what Dump prints.
type DumpOptions struct {
	// JSON prints one JSON document (sessions, ACL map, nodes with their
	// data) instead of SnapshotFormatter's text.
	JSON bool
	// Data prints each node's data (base64) instead of its length in the
	// text format, as SnapshotFormatter -d does. JSON always has the data.
	Data bool
	// Max bounds buffer and string lengths as in Read (0: file size only).
	Max int
	// Location is the time zone of ctime/mtime in the text format;
	// nil means local time, as Java's Date.toString.
	Location *time.Location
}

// Dump prints the snapshot at path. The file is read and verified in full
// before anything is printed, so a corrupt file prints nothing and returns
// its *CorruptError.
//
// The text format follows ZooKeeper's SnapshotFormatter: every node in
// file order (pre-order; the root printed as "/") with its stat, then the
// sessions with their timeout and ephemeral count, then the last zxid.
// Line for line it matches Java's output on the same file except for the
// order of siblings and of sessions, which Java takes from hash sets.
func Dump(w io.Writer, path string, opt DumpOptions) error {
	c := &collector{acls: map[int64][]wire.ACL{}, ephemerals: map[int64]int{}}
	dg, err := decodeFile(path, opt.Max, c)
	if err != nil {
		return err
	}
	z, ok := ParseName(filepath.Base(path))
	if !ok {
		z = -1
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	if opt.JSON {
		err = c.printJSON(bw, path, z, dg)
	} else {
		loc := opt.Location
		if loc == nil {
			loc = time.Local
		}
		c.printText(bw, z, opt.Data, loc)
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

// collector is the handler Dump decodes into: the file's content as is,
// ACL ids unresolved.
type collector struct {
	sessions   []Session
	aclIDs     []int64
	acls       map[int64][]wire.ACL
	nodes      []dumpNode
	ephemerals map[int64]int // owner -> ephemeral count
}

type dumpNode struct {
	path  string
	data  []byte
	aclID int64
	stat  wire.StatPersisted
}

func (c *collector) session(s Session) { c.sessions = append(c.sessions, s) }

func (c *collector) acl(id int64, list []wire.ACL) {
	if _, dup := c.acls[id]; !dup {
		c.aclIDs = append(c.aclIDs, id)
	}
	c.acls[id] = list
}

func (c *collector) node(_ int64, path string, data []byte, aclID int64, stat wire.StatPersisted) error {
	if aclID != openACLID {
		if _, ok := c.acls[aclID]; !ok {
			return fmt.Errorf("node %q refers to ACL id %d, which is not in the ACL map", path, aclID)
		}
	}
	if datatree.KindOf(stat.EphemeralOwner) == datatree.Ephemeral {
		c.ephemerals[stat.EphemeralOwner]++
	}
	c.nodes = append(c.nodes, dumpNode{path: path, data: data, aclID: aclID, stat: stat})
	return nil
}

// javaHex formats like Java's String.format("%#016x", long): the width
// counts the "0x", and negative values print as unsigned.
func javaHex(v int64) string {
	s := strconv.FormatUint(uint64(v), 16)
	if len(s) < 14 {
		s = strings.Repeat("0", 14-len(s)) + s
	}
	return "0x" + s
}

// javaDate formats like java.util.Date.toString.
func javaDate(ms int64, loc *time.Location) string {
	return time.UnixMilli(ms).In(loc).Format("Mon Jan 02 15:04:05 MST 2006")
}

func displayPath(p string) string {
	if p == "" {
		return datatree.RootPath
	}
	return p
}

func (c *collector) printText(w *bufio.Writer, fileZxid int64, withData bool, loc *time.Location) {
	// DataTree counts the root twice ("" and "/").
	fmt.Fprintf(w, "ZNode Details (count=%d):\n", len(c.nodes)+1)
	lastZxid := fileZxid
	for _, n := range c.nodes {
		st := &n.stat
		lastZxid = max(lastZxid, st.Mzxid, st.Pzxid)
		fmt.Fprintf(w, "----\n%s\n", displayPath(n.path))
		fmt.Fprintf(w, "  cZxid = %s\n  ctime = %s\n", javaHex(st.Czxid), javaDate(st.Ctime, loc))
		fmt.Fprintf(w, "  mZxid = %s\n  mtime = %s\n", javaHex(st.Mzxid), javaDate(st.Mtime, loc))
		fmt.Fprintf(w, "  pZxid = %s\n  cversion = %d\n  dataVersion = %d\n  aclVersion = %d\n",
			javaHex(st.Pzxid), st.Cversion, st.Version, st.Aversion)
		fmt.Fprintf(w, "  ephemeralOwner = %s\n", javaHex(st.EphemeralOwner))
		if withData {
			fmt.Fprintf(w, "  data = %s\n", base64.StdEncoding.EncodeToString(n.data))
		} else {
			fmt.Fprintf(w, "  dataLength = %d\n", len(n.data))
		}
	}
	fmt.Fprintf(w, "----\nSession Details (sid, timeout, ephemeralCount):\n")
	for _, s := range c.sortedSessions() {
		fmt.Fprintf(w, "%s, %d, %d\n", javaHex(s.ID), s.Timeout, c.ephemerals[s.ID])
	}
	fmt.Fprintf(w, "----\nLast zxid: 0x%s\n", strconv.FormatUint(uint64(lastZxid), 16))
}

func (c *collector) sortedSessions() []Session {
	ss := append([]Session(nil), c.sessions...)
	sort.Slice(ss, func(i, j int) bool { return ss[i].ID < ss[j].ID })
	return ss
}

// JSON shapes of Dump.
type (
	jsonSession struct {
		ID         int64  `json:"id"`
		IDHex      string `json:"idHex"`
		Timeout    int32  `json:"timeout"`
		Ephemerals int    `json:"ephemerals"`
	}
	jsonACL struct {
		Perms  int32  `json:"perms"`
		Scheme string `json:"scheme"`
		ID     string `json:"id"`
	}
	jsonACLEntry struct {
		ID  int64     `json:"id"`
		ACL []jsonACL `json:"acl"`
	}
	jsonStat struct {
		Czxid          int64 `json:"czxid"`
		Mzxid          int64 `json:"mzxid"`
		Pzxid          int64 `json:"pzxid"`
		Ctime          int64 `json:"ctime"`
		Mtime          int64 `json:"mtime"`
		Version        int32 `json:"version"`
		Cversion       int32 `json:"cversion"`
		Aversion       int32 `json:"aversion"`
		EphemeralOwner int64 `json:"ephemeralOwner"`
	}
	jsonNode struct {
		Path string `json:"path"`
		// Kind is persistent, ephemeral, container or ttl.
		Kind  string   `json:"kind"`
		TTL   int64    `json:"ttl,omitempty"`
		ACLID int64    `json:"aclId"`
		Stat  jsonStat `json:"stat"`
		// Data is base64, null for a null buffer; DataString is set too
		// when the data is printable UTF-8.
		DataLength int     `json:"dataLength"`
		Data       *string `json:"data"`
		DataString *string `json:"dataString,omitempty"`
	}
	jsonDigest struct {
		Zxid    int64 `json:"zxid"`
		Version int32 `json:"version"`
		Value   int64 `json:"value"`
	}
)

var kindNames = map[datatree.Kind]string{
	datatree.Persistent: "persistent",
	datatree.Ephemeral:  "ephemeral",
	datatree.Container:  "container",
	datatree.TTL:        "ttl",
}

func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if !unicode.IsPrint(r) && r != '\n' && r != '\t' && r != '\r' {
			return false
		}
	}
	return true
}

// printJSON streams one document; nodes are marshalled one at a time so a
// large snapshot is never held twice.
func (c *collector) printJSON(w *bufio.Writer, path string, fileZxid int64, dg *Digest) error {
	put := func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		w.Write(b)
		return nil
	}
	w.WriteString(`{"file":`)
	put(path)
	fmt.Fprintf(w, `,"zxid":%d,"zxidHex":"0x%s","sessions":[`, fileZxid, strconv.FormatUint(uint64(fileZxid), 16))
	for i, s := range c.sortedSessions() {
		if i > 0 {
			w.WriteByte(',')
		}
		put(jsonSession{ID: s.ID, IDHex: "0x" + strconv.FormatUint(uint64(s.ID), 16), Timeout: s.Timeout, Ephemerals: c.ephemerals[s.ID]})
	}
	w.WriteString(`],"acls":[`)
	ids := append([]int64(nil), c.aclIDs...)
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for i, id := range ids {
		if i > 0 {
			w.WriteByte(',')
		}
		e := jsonACLEntry{ID: id, ACL: []jsonACL{}}
		for _, a := range c.acls[id] {
			e.ACL = append(e.ACL, jsonACL{Perms: a.Perms, Scheme: a.ID.Scheme, ID: a.ID.ID})
		}
		put(e)
	}
	w.WriteString(`],"nodes":[`)
	for i, n := range c.nodes {
		if i > 0 {
			w.WriteByte(',')
		}
		st := n.stat
		k := datatree.KindOf(st.EphemeralOwner)
		jn := jsonNode{
			Path: displayPath(n.path), Kind: kindNames[k], ACLID: n.aclID,
			Stat: jsonStat{
				Czxid: st.Czxid, Mzxid: st.Mzxid, Pzxid: st.Pzxid, Ctime: st.Ctime, Mtime: st.Mtime,
				Version: st.Version, Cversion: st.Cversion, Aversion: st.Aversion, EphemeralOwner: st.EphemeralOwner,
			},
			DataLength: len(n.data),
		}
		if k == datatree.TTL {
			jn.TTL = datatree.TTLOf(st.EphemeralOwner)
		}
		if n.data != nil {
			b64 := base64.StdEncoding.EncodeToString(n.data)
			jn.Data = &b64
			if printable(n.data) {
				s := string(n.data)
				jn.DataString = &s
			}
		}
		if err := put(jn); err != nil {
			return err
		}
	}
	w.WriteString(`],"digest":`)
	if dg == nil {
		w.WriteString("null")
	} else {
		put(jsonDigest{Zxid: dg.Zxid, Version: dg.Version, Value: dg.Value})
	}
	w.WriteString("}\n")
	return nil
}
