package txnlog

import (
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/zkd/zkd/internal/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testSession = int64(0x100001d16f70000)

// txnOfKind returns the i-th txn in a cycle over every txn type a log can
// hold (storage.md §3.5), with a digest on the non-error ones as 3.8
// writes them. topLevelCheck includes the bare check txn that Java 3.8
// writes but cannot read back.
func txnOfKind(i int, zxid int64, topLevelCheck bool) *wire.TxnEntry {
	path := fmt.Sprintf("/n%d", i)
	data := []byte(fmt.Sprintf("data-%d", i))
	var t wire.OpCode
	var rec wire.Record
	kinds := 15
	if !topLevelCheck {
		kinds = 14
	}
	switch i % kinds {
	case 0:
		t, rec = wire.OpCreateSession, &wire.CreateSessionTxn{TimeOut: 30000}
	case 1:
		t, rec = wire.OpCreate, &wire.CreateTxn{Path: path, Data: data, ACL: wire.OpenACLUnsafe, ParentCVersion: int32(i)}
	case 2:
		t, rec = wire.OpCreate2, &wire.CreateTxn{Path: path + "-e", Data: nil, ACL: wire.CreatorAllACL, Ephemeral: true, ParentCVersion: 3}
	case 3:
		t, rec = wire.OpCreateContainer, &wire.CreateContainerTxn{Path: path, Data: []byte{0, 1, 2, 0xff}, ACL: wire.ReadACLUnsafe, ParentCVersion: 4}
	case 4:
		t, rec = wire.OpCreateTTL, &wire.CreateTTLTxn{Path: path, Data: data, ACL: wire.OpenACLUnsafe, ParentCVersion: 5, TTL: 60000}
	case 5:
		t, rec = wire.OpSetData, &wire.SetDataTxn{Path: path, Data: data, Version: 2}
	case 6:
		t, rec = wire.OpSetACL, &wire.SetACLTxn{Path: path, ACL: []wire.ACL{{Perms: wire.PermAll, ID: wire.Id{Scheme: "digest", ID: "user:smGaoVKd/cQkjm7b88GyorAUz20="}}}, Version: 1}
	case 7:
		t, rec = wire.OpDelete, &wire.DeleteTxn{Path: path}
	case 8:
		t, rec = wire.OpDeleteContainer, &wire.DeleteTxn{Path: path}
	case 9:
		t, rec = wire.OpError, &wire.ErrorTxn{Err: wire.ErrNodeExists}
	case 10:
		t, rec = wire.OpMulti, wire.WrapMultiTxn([]wire.SubTxn{
			{Type: wire.OpCreate, Rec: &wire.CreateTxn{Path: path + "/a", Data: data, ACL: wire.OpenACLUnsafe, ParentCVersion: 1}},
			{Type: wire.OpSetData, Rec: &wire.SetDataTxn{Path: path, Data: nil, Version: 7}},
			{Type: wire.OpCheck, Rec: &wire.CheckVersionTxn{Path: path, Version: 7}},
			{Type: wire.OpDelete, Rec: &wire.DeleteTxn{Path: path + "/b"}},
		})
	case 11:
		// A failed multi is logged too (storage.md §3.7).
		t, rec = wire.OpMulti, wire.WrapMultiTxn([]wire.SubTxn{
			{Type: wire.OpCreate, Rec: &wire.CreateTxn{Path: path + "/m2", ACL: wire.OpenACLUnsafe, ParentCVersion: 1}},
			{Type: wire.OpError, Rec: &wire.ErrorTxn{Err: wire.ErrBadVersion}},
			{Type: wire.OpError, Rec: &wire.ErrorTxn{Err: wire.ErrRuntimeInconsistency}},
		})
	case 12:
		t, rec = wire.OpReconfig, &wire.SetDataTxn{Path: "/zookeeper/config", Data: []byte("server.1=a:2888:3888\nversion=100000000"), Version: -1}
	case 13:
		t, rec = wire.OpCloseSession, &wire.CloseSessionTxn{Paths2Delete: []string{path + "-e", "/other"}}
	case 14:
		t, rec = wire.OpCheck, &wire.CheckVersionTxn{Path: path, Version: 1}
	}
	ent := &wire.TxnEntry{
		Header: wire.TxnHeader{ClientID: testSession, Cxid: int32(i), Zxid: zxid, Time: 1700000000000 + int64(i), Type: t},
		Txn:    rec,
	}
	if t != wire.OpError {
		ent.Digest = &wire.TxnDigest{Version: 2, TreeDigest: 0x6f566b6f1 + int64(i)}
	}
	return ent
}

// sized returns a setData entry whose framed size on disk is exactly
// frame bytes (at least 67).
func sized(zxid int64, frame int) *wire.TxnEntry {
	ent := &wire.TxnEntry{
		Header: wire.TxnHeader{ClientID: testSession, Cxid: 1, Zxid: zxid, Time: 1700000000000, Type: wire.OpSetData},
		Txn:    &wire.SetDataTxn{Path: "/p"},
	}
	base := frameOverhead + len(wire.AppendTxnEntry(nil, ent))
	ent.Txn.(*wire.SetDataTxn).Data = make([]byte, frame-base)
	return ent
}

func encoded(e *wire.TxnEntry) []byte { return wire.AppendTxnEntry(nil, e) }

func openLog(t testing.TB, dir string, opts Options) *Log {
	t.Helper()
	l, err := Open(dir, opts, zaptest.NewLogger(t))
	require.NoError(t, err)
	return l
}

// readAll returns every txn >= from in dir and the iterator's torn tail.
func readAll(t testing.TB, dir string, from int64) ([]*wire.TxnEntry, *Torn, error) {
	t.Helper()
	it, err := NewIterator(dir, from, 1<<20)
	require.NoError(t, err)
	defer it.Close()
	var out []*wire.TxnEntry
	for {
		e, err := it.Next()
		if err == io.EOF {
			return out, it.TornTail(), nil
		}
		if err != nil {
			return out, it.TornTail(), err
		}
		out = append(out, e)
	}
}

func requireSameEntries(t testing.TB, want, got []*wire.TxnEntry) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, encoded(want[i]), encoded(got[i]), "entry %d (zxid %v)", i, wire.Zxid(want[i].Header.Zxid))
	}
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	require.NoError(t, err)
	return st.Size()
}

// faultDisk hands out real files whose writes fail with ENOSPC once a
// byte budget runs out (a tiny tmpfs filling up) and whose fsync can be
// made to fail.
type faultDisk struct {
	budget   int64 // bytes writable before ENOSPC; < 0 means no limit
	syncErr  error
	writeErr error // if set, every write fails with it
}

func newFaultDisk() *faultDisk { return &faultDisk{budget: -1} }

func (d *faultDisk) create(path string) (logFile, error) {
	f, err := createOS(path)
	if err != nil {
		return nil, err
	}
	return &faultFile{osFile: f.(osFile), d: d}, nil
}

type faultFile struct {
	osFile
	d *faultDisk
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	if f.d.writeErr != nil {
		return 0, &os.PathError{Op: "write", Path: f.Name(), Err: f.d.writeErr}
	}
	if f.d.budget >= 0 && int64(len(p)) > f.d.budget {
		n, err := f.osFile.WriteAt(p[:f.d.budget], off)
		f.d.budget = 0
		if err == nil {
			err = &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
		}
		return n, err
	}
	if f.d.budget >= 0 {
		f.d.budget -= int64(len(p))
	}
	return f.osFile.WriteAt(p, off)
}

func (f *faultFile) Sync() error {
	if f.d.syncErr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: f.d.syncErr}
	}
	return f.osFile.Sync()
}
