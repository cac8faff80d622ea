package zab

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func writeRaw(t *testing.T, dir, name, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
}

func readRaw(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	return string(b)
}

func TestEpochFileIsDecimalWithoutNewline(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, WriteEpochFile(dir, CurrentEpochFile, 12))
	require.Equal(t, "12", readRaw(t, dir, CurrentEpochFile))
	_, err := os.Stat(filepath.Join(dir, CurrentEpochFile+".tmp"))
	require.ErrorIs(t, err, fs.ErrNotExist, "the temp file is renamed away")

	v, err := ReadEpochFile(dir, CurrentEpochFile)
	require.NoError(t, err)
	require.Equal(t, int64(12), v)

	// Java reads the first line, so a hand-written file with a newline works.
	writeRaw(t, dir, AcceptedEpochFile, "7\n")
	v, err = ReadEpochFile(dir, AcceptedEpochFile)
	require.NoError(t, err)
	require.Equal(t, int64(7), v)

	writeRaw(t, dir, AcceptedEpochFile, "x")
	_, err = ReadEpochFile(dir, AcceptedEpochFile)
	require.Error(t, err)

	_, err = ReadEpochFile(dir, "missing")
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestLoadEpochsStartupRules(t *testing.T) {
	last := MakeZxid(3, 9) // last logged txn is in epoch 3
	cases := []struct {
		name     string
		files    map[string]string
		want     Epochs
		wantErr  bool
		wantDisk map[string]string
	}{
		{
			name:     "missing files default to the epoch of the last zxid and are written",
			want:     Epochs{Accepted: 3, Current: 3},
			wantDisk: map[string]string{CurrentEpochFile: "3", AcceptedEpochFile: "3"},
		},
		{
			name:  "accepted ahead of current is normal (epoch accepted, NEWLEADER not yet seen)",
			files: map[string]string{CurrentEpochFile: "3", AcceptedEpochFile: "4"},
			want:  Epochs{Accepted: 4, Current: 3},
		},
		{
			name:    "current behind the log without a tmp file refuses to start",
			files:   map[string]string{CurrentEpochFile: "2", AcceptedEpochFile: "3"},
			wantErr: true,
		},
		{
			name:     "current behind the log is recovered from currentEpoch.tmp",
			files:    map[string]string{CurrentEpochFile: "2", CurrentEpochFile + ".tmp": "3", AcceptedEpochFile: "3"},
			want:     Epochs{Accepted: 3, Current: 3},
			wantDisk: map[string]string{CurrentEpochFile: "3"},
		},
		{
			name:    "a currentEpoch.tmp that is still behind the log is not trusted",
			files:   map[string]string{CurrentEpochFile: "2", CurrentEpochFile + ".tmp": "2", AcceptedEpochFile: "3"},
			wantErr: true,
		},
		{
			name:    "accepted behind current refuses to start",
			files:   map[string]string{CurrentEpochFile: "5", AcceptedEpochFile: "4"},
			wantErr: true,
		},
		{
			name:     "missing accepted defaults to the log epoch and then must not be behind current",
			files:    map[string]string{CurrentEpochFile: "3"},
			want:     Epochs{Accepted: 3, Current: 3},
			wantDisk: map[string]string{AcceptedEpochFile: "3"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, v := range c.files {
				writeRaw(t, dir, n, v)
			}
			got, err := LoadEpochs(dir, last)
			if c.wantErr {
				require.ErrorIs(t, err, ErrEpochState)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got)
			for n, v := range c.wantDisk {
				require.Equal(t, v, readRaw(t, dir, n), n)
			}
		})
	}
}

func TestLoadEpochsOnEmptyDataDirStartsAtZero(t *testing.T) {
	dir := t.TempDir()
	got, err := LoadEpochs(dir, 0)
	require.NoError(t, err)
	require.Equal(t, Epochs{}, got)
	require.Equal(t, "0", readRaw(t, dir, AcceptedEpochFile))
}

func TestZxidHelpers(t *testing.T) {
	z := MakeZxid(2, 0x25a)
	require.Equal(t, int64(0x20000025a), z)
	require.Equal(t, int64(2), EpochOf(z))
	require.Equal(t, int64(0x25a), CounterOf(z))
	require.Equal(t, int64(0xffffffff), EpochOf(-1))
}
