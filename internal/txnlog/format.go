package txnlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// On-disk constants (storage.md §2, §3).
const (
	// Magic is the FileHeader magic of a transaction log: "ZKLG".
	Magic int32 = 0x5A4B4C47
	// Version is the log format version written in the FileHeader.
	Version int32 = 2
	// DBID is the dbid written in a log's FileHeader.
	DBID int64 = 0

	// FilePrefix starts every log file name: log.<hex zxid>.
	FilePrefix = "log"

	// TornPrefix starts the name of a file holding bytes that
	// RepairTornTail cut off a log: torn.<log name>.<offset>. The name
	// deliberately does not start with "log.": Java's Util.getZxidFromName
	// reads only the first two dot-separated parts, so "log.5.torn.9" would
	// look like a second log.5 to a Java server sharing the directory.
	TornPrefix = "torn"

	// DefaultPreAllocSize is ZooKeeper's default zookeeper.preAllocSize
	// (65536 KiB).
	DefaultPreAllocSize int64 = 64 << 20

	headerSize = 16 // magic int, version int, dbid long
	// frameOverhead is what surrounds the entry bytes: checksum long,
	// length int before, the 'B' end-of-record byte after.
	frameOverhead = 8 + 4 + 1
	// eor is the end-of-record byte after every entry.
	eor = 'B'
	// txnHeaderSize is the encoded size of wire.TxnHeader; zxid sits at
	// offset 12 (after clientId long, cxid int).
	txnHeaderSize = 8 + 4 + 8 + 8 + 4
	zxidOffset    = 12

	// padMargin is FilePadding's "close to the end" distance.
	padMargin = 4096
)

// File is one transaction log file and the zxid in its name, which is the
// zxid of its first entry (a lower bound for every entry in it).
type File struct {
	Path string
	Zxid int64
}

// FileName is the base name of the log whose first txn is zxid:
// "log." + lowercase hex without leading zeros, as Long.toHexString.
func FileName(zxid int64) string {
	return FilePrefix + "." + strconv.FormatInt(zxid, 16)
}

// ParseName returns the zxid of a log file base name such as "log.1a".
// It is stricter than Java's Util.getZxidFromName, which accepts any
// further suffix ("log.1a.chopped9"): here only prefix and hex zxid are a
// log, so side files (torn pieces, chop output) are never read as logs.
func ParseName(name string) (zxid int64, ok bool) {
	rest, found := strings.CutPrefix(name, FilePrefix+".")
	if !found || rest == "" || strings.ContainsAny(rest, ".+-") {
		return 0, false
	}
	z, err := strconv.ParseInt(rest, 16, 64)
	if err != nil {
		return 0, false
	}
	return z, true
}

// ListLogs returns the log files in dir (a version-2 directory) sorted by
// zxid, oldest first. A missing directory has no logs.
func ListLogs(dir string) ([]File, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("txnlog: list %s: %w", dir, err)
	}
	var out []File
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if z, ok := ParseName(e.Name()); ok {
			out = append(out, File{Path: filepath.Join(dir, e.Name()), Zxid: z})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Zxid < out[j].Zxid })
	return out, nil
}

// selectLogs picks the files that can hold txns >= from, following
// FileTxnLog.getLogFiles: the newest file whose start zxid is <= from
// (it may contain from) and every later one. storage.md §5 step 2 words
// it as "start < from"; the two differ only when a file starts exactly at
// from, and then the older file cannot hold anything >= from.
func selectLogs(files []File, from int64) []File {
	first := 0
	for i, f := range files {
		if f.Zxid <= from {
			first = i
		}
	}
	return files[first:]
}

// appendHeader appends the 16-byte log FileHeader.
func appendHeader(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(Magic))
	b = binary.BigEndian.AppendUint32(b, uint32(Version))
	return binary.BigEndian.AppendUint64(b, uint64(DBID))
}

// paddedSize is FilePadding.calculateFileSizeWithPadding: the size the
// file must have before an entry is written at position, given its
// current size. It grows only when position is within 4 KiB of the end:
// by preAlloc normally, or up to the next multiple of preAlloc above
// position when writes already ran past the preallocated end.
func paddedSize(position, size, preAlloc int64) int64 {
	if preAlloc <= 0 || position+padMargin < size {
		return size
	}
	if position > size {
		n := position + preAlloc
		return n - n%preAlloc
	}
	return size + preAlloc
}
