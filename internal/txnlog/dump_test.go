package txnlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

func writeKinds(t *testing.T, dir string, n int) []*wire.TxnEntry {
	t.Helper()
	l := openLog(t, dir, Options{PreAllocSize: 4096})
	var want []*wire.TxnEntry
	for i := range n {
		want = append(want, txnOfKind(i, int64(wire.MakeZxid(2, uint32(i+1))), true))
	}
	require.NoError(t, l.Append(want...))
	require.NoError(t, l.Close())
	return want
}

// The text dump reads like ZooKeeper's TxnLogToolkit.
func TestDumpText(t *testing.T) {
	dir := t.TempDir()
	writeKinds(t, dir, 15)
	it, err := OpenFile(filepath.Join(dir, "log.200000001"), 0)
	require.NoError(t, err)
	var out bytes.Buffer
	n, err := Dump(&out, it, DumpOptions{Location: time.UTC})
	require.NoError(t, err)
	require.Equal(t, 15, n)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 15)
	want := map[int]string{
		0:  "11/14/23, 10:13:20 PM UTC session 0x100001d16f70000 cxid 0x0 zxid 0x200000001 createSession 30000",
		1:  "11/14/23, 10:13:20 PM UTC session 0x100001d16f70000 cxid 0x1 zxid 0x200000002 create /n1,data-1,[31,s{'world,'anyone}],false,1",
		2:  "11/14/23, 10:13:20 PM UTC session 0x100001d16f70000 cxid 0x2 zxid 0x200000003 create2 /n2-e,,[31,s{'auth,'}],true,3",
		3:  "11/14/23, 10:13:20 PM UTC session 0x100001d16f70000 cxid 0x3 zxid 0x200000004 createContainer /n3,#000102ff,[1,s{'world,'anyone}],4",
		4:  "11/14/23, 10:13:20 PM UTC session 0x100001d16f70000 cxid 0x4 zxid 0x200000005 createTtl /n4,data-4,[31,s{'world,'anyone}],5,60000",
		6:  "11/14/23, 10:13:20 PM UTC session 0x100001d16f70000 cxid 0x6 zxid 0x200000007 setACL '/n6,v{s{31,s{'digest,'user:smGaoVKd/cQkjm7b88GyorAUz20=}}},1",
		7:  "11/14/23, 10:13:20 PM UTC session 0x100001d16f70000 cxid 0x7 zxid 0x200000008 delete '/n7",
		9:  "11/14/23, 10:13:20 PM UTC session 0x100001d16f70000 cxid 0x9 zxid 0x20000000a error -110",
		10: "11/14/23, 10:13:20 PM UTC session 0x100001d16f70000 cxid 0xa zxid 0x20000000b multi create:/n10/a,data-10,[31,s{'world,'anyone}],false,1;setData:/n10,,7;check:'/n10,7;delete:'/n10/b",
		13: "11/14/23, 10:13:20 PM UTC session 0x100001d16f70000 cxid 0xd zxid 0x20000000e closeSession v{'/n13-e,'/other}",
	}
	for i, w := range want {
		require.Equal(t, w, lines[i])
	}
}

func TestDumpJSON(t *testing.T) {
	dir := t.TempDir()
	writeKinds(t, dir, 15)
	it, err := OpenFile(filepath.Join(dir, "log.200000001"), 0)
	require.NoError(t, err)
	var out bytes.Buffer
	n, err := Dump(&out, it, DumpOptions{JSON: true})
	require.NoError(t, err)
	require.Equal(t, 15, n)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 15)
	var objs []map[string]any
	for _, l := range lines {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		objs = append(objs, m)
	}
	require.JSONEq(t, `{"zxid":"0x200000002","time":1700000000001,"session":"0x100001d16f70000","cxid":1,"type":"create",
		"txn":{"path":"/n1","data":"data-1","acl":[{"perms":31,"scheme":"world","id":"anyone"}],"ephemeral":false,"parentCVersion":1},
		"digest":{"version":2,"treeDigest":"0x6f566b6f2"}}`, lines[1])
	require.JSONEq(t, `{"path":"/n3","data":null,"dataBase64":"AAEC/w==","acl":[{"perms":1,"scheme":"world","id":"anyone"}],"parentCVersion":4}`,
		mustJSON(t, objs[3]["txn"]))
	require.JSONEq(t, `{"err":-110,"errName":"NodeExists"}`, mustJSON(t, objs[9]["txn"]))
	require.Nil(t, objs[9]["digest"], "error txns carry no digest")
	require.JSONEq(t, `{"txns":[{"type":"create","txn":{"path":"/n11/m2","data":null,"acl":[{"perms":31,"scheme":"world","id":"anyone"}],"ephemeral":false,"parentCVersion":1}},
		{"type":"error","txn":{"err":-103,"errName":"BadVersion"}},{"type":"error","txn":{"err":-2,"errName":"RuntimeInconsistency"}}]}`,
		mustJSON(t, objs[11]["txn"]))
	require.Equal(t, "check", objs[14]["type"])
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// Dump prints what precedes corruption, then returns the error.
func TestDumpStopsAtCorruption(t *testing.T) {
	dir := t.TempDir()
	_, paths := writeFiles(t, dir, []int64{1}, []int{4})
	flip(t, paths[0], entryOff(2)+50)
	it, err := OpenFile(paths[0], 0)
	require.NoError(t, err)
	var out bytes.Buffer
	n, err := Dump(&out, it, DumpOptions{})
	var ce *CorruptError
	require.True(t, errors.As(err, &ce))
	require.Equal(t, 2, n)
	require.Equal(t, 2, strings.Count(out.String(), "\n"))
}

func TestOpenFileReportsTornTail(t *testing.T) {
	dir := t.TempDir()
	_, paths := writeFiles(t, dir, []int64{1}, []int{4})
	require.NoError(t, os.Truncate(paths[0], entryOff(3)+20))
	it, err := OpenFile(paths[0], 0)
	require.NoError(t, err)
	n, err := Dump(&bytes.Buffer{}, it, DumpOptions{})
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Equal(t, entryOff(3), it.TornTail().Offset)

	_, err = OpenFile(filepath.Join(dir, "nope"), 0)
	require.Error(t, err)
}
