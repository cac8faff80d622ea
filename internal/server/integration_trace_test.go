package server_test

import (
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// At debug every request and its reply are traced; at info a request
// leaves no log line at all.
func TestRequestTracing(t *testing.T) {
	for _, level := range []zapcore.Level{zapcore.DebugLevel, zapcore.InfoLevel} {
		t.Run(level.String(), func(t *testing.T) {
			core, logs := observer.New(level)
			s := startServerLogged(t, zap.New(core))
			c := s.connectZK(t)
			defer c.Close()
			_, err := c.Create("/traced", []byte("x"), 0, zk.WorldACL(zk.PermAll))
			require.NoError(t, err)
			_, _, err = c.Get("/traced")
			require.NoError(t, err)
			_, _, err = c.Get("/missing")
			require.ErrorIs(t, err, zk.ErrNoNode)

			requests := logs.FilterMessage("request").All()
			replies := logs.FilterMessage("reply").All()
			if level == zapcore.InfoLevel {
				assert.Empty(t, requests)
				assert.Empty(t, replies)
				return
			}
			ops := map[string]int{}
			for _, e := range requests {
				ops[e.ContextMap()["op"].(string)]++
			}
			assert.Equal(t, 1, ops["create"], "ops traced: %v", ops)
			assert.Equal(t, 2, ops["getData"], "ops traced: %v", ops)
			errs := map[string]int{}
			for _, e := range replies {
				m := e.ContextMap()
				errs[m["err"].(string)]++
				assert.Contains(t, m, "session")
				assert.Contains(t, m, "xid")
			}
			assert.GreaterOrEqual(t, errs["OK"], 2, "replies: %v", errs)
			assert.Equal(t, 1, errs["NoNode"], "replies: %v", errs)
		})
	}
}
