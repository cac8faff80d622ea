package main

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// fakeFourLW answers one connection per call: it reads the request bytes
// it expects and replies with reply.
func fakeFourLW(t *testing.T, reqLen int, reply string) (string, <-chan []byte) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	got := make(chan []byte, 1)
	go func() {
		defer ln.Close()
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b := make([]byte, reqLen)
		_, _ = io.ReadFull(c, b)
		got <- b
		_, _ = c.Write([]byte(reply))
	}()
	return ln.Addr().String(), got
}

func TestFourLW(t *testing.T) {
	defer goleak.VerifyNone(t)
	tests := []struct {
		name    string
		args    []string
		reqLen  int
		reply   string
		wantReq []byte
		wantErr bool
		refused bool // the server answers, the command fails
	}{
		{"ruok", []string{"ruok"}, 4, "imok", []byte("ruok"), false, false},
		{"srvr", []string{"srvr"}, 4, "Zookeeper version: x\n", []byte("srvr"), false, false},
		{"stmk", []string{"stmk", "7"}, 12, "7", append([]byte("stmk"), 0, 0, 0, 0, 0, 0, 0, 7), false, false},
		{"bad word", []string{"toolong"}, 0, "", nil, true, false},
		{"stmk without mask", []string{"stmk"}, 0, "", nil, true, false},
		{"not whitelisted", []string{"ruok"}, 4, "ruok is not executed because it is not in the whitelist.\n", []byte("ruok"), false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := "127.0.0.1:1"
			var got <-chan []byte
			if !tc.wantErr {
				addr, got = fakeFourLW(t, tc.reqLen, tc.reply)
			}
			cmd := fourlwCmd()
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetArgs(append([]string{addr}, tc.args...))
			cmd.SetErr(io.Discard)
			err := cmd.Execute()
			if tc.wantErr {
				assert.Error(t, err)
				return
			}
			if tc.refused {
				require.ErrorContains(t, err, "4lw.commands.whitelist")
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.wantReq, <-got)
			assert.Equal(t, tc.reply, out.String())
		})
	}
}

// writeZooCfg writes a zoo.cfg with the given extra lines and returns its path.
func writeZooCfg(t *testing.T, lines ...string) string {
	t.Helper()
	dir := t.TempDir()
	text := "tickTime=2000\ndataDir=" + filepath.Join(dir, "data") + "\n" + strings.Join(lines, "\n") + "\n"
	path := filepath.Join(dir, "zoo.cfg")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

// TestFourLWConfig: with --config the word goes to the zoo.cfg's client
// port (the container HEALTHCHECK relies on it when a zoo.cfg with another
// clientPort is mounted).
func TestFourLWConfig(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, bind := range []string{"", "clientPortAddress=0.0.0.0", "clientPortAddress=127.0.0.1"} {
		t.Run("bind="+bind, func(t *testing.T) {
			addr, got := fakeFourLW(t, 4, "imok")
			_, port, err := net.SplitHostPort(addr)
			require.NoError(t, err)
			cfg := writeZooCfg(t, "clientPort="+port, bind)
			cmd := fourlwCmd()
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetArgs([]string{"--config", cfg, "ruok"})
			require.NoError(t, cmd.Execute())
			assert.Equal(t, []byte("ruok"), <-got)
			assert.Equal(t, "imok", out.String())
		})
	}

	t.Run("stmk", func(t *testing.T) {
		addr, got := fakeFourLW(t, 12, "7")
		_, port, err := net.SplitHostPort(addr)
		require.NoError(t, err)
		cmd := fourlwCmd()
		cmd.SetOut(io.Discard)
		cmd.SetArgs([]string{"--config", writeZooCfg(t, "clientPort="+port), "stmk", "7"})
		require.NoError(t, cmd.Execute())
		assert.Equal(t, append([]byte("stmk"), 0, 0, 0, 0, 0, 0, 0, 7), <-got)
	})

	for name, args := range map[string][]string{
		"no clientPort":       {"--config", writeZooCfg(t), "ruok"},
		"missing file":        {"--config", filepath.Join(t.TempDir(), "none.cfg"), "ruok"},
		"address and config":  {"--config", writeZooCfg(t, "clientPort=1"), "127.0.0.1:1", "ruok"},
		"no word with config": {"--config", writeZooCfg(t, "clientPort=1")},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := fourlwCmd()
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			cmd.SetArgs(args)
			assert.Error(t, cmd.Execute())
		})
	}
}

func TestClientAddrFromConfig(t *testing.T) {
	for bind, want := range map[string]string{
		"":                            "127.0.0.1:2999",
		"clientPortAddress=0.0.0.0":   "127.0.0.1:2999",
		"clientPortAddress=::":        "[::1]:2999",
		"clientPortAddress=10.1.2.3":  "10.1.2.3:2999",
		"clientPortAddress=zk1.local": "zk1.local:2999",
	} {
		got, err := clientAddrFromConfig(writeZooCfg(t, "clientPort=2999", bind))
		require.NoError(t, err, bind)
		assert.Equal(t, want, got, bind)
	}
}
