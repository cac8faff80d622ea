package main

import (
	"bytes"
	"io"
	"net"
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
	}{
		{"ruok", []string{"ruok"}, 4, "imok", []byte("ruok"), false},
		{"srvr", []string{"srvr"}, 4, "Zookeeper version: x\n", []byte("srvr"), false},
		{"stmk", []string{"stmk", "7"}, 12, "7", append([]byte("stmk"), 0, 0, 0, 0, 0, 0, 0, 7), false},
		{"bad word", []string{"toolong"}, 0, "", nil, true},
		{"stmk without mask", []string{"stmk"}, 0, "", nil, true},
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
			err := cmd.Execute()
			if tc.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantReq, <-got)
			assert.Equal(t, tc.reply, out.String())
		})
	}
}
