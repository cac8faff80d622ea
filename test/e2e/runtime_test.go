package e2e

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/test/harness"
)

// TestServerKeepsSysmonAwake: `zkd server` re-executes itself with
// GODEBUG=schedtrace set (internal/sysmon) and then serves as usual;
// zkd.sysmon.awake=false leaves the environment alone.
func TestServerKeepsSysmonAwake(t *testing.T) {
	if serverKind != "zkd" {
		t.Skip("a zkd-only setting")
	}
	for _, tc := range []struct {
		extra string
		want  bool
	}{
		{"", true},
		{"zkd.sysmon.awake=false", false},
	} {
		p := harness.StartZkd(t, tc.extra)
		env, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID()) + "/environ")
		require.NoError(t, err)
		awake := false
		for _, kv := range strings.Split(string(env), "\x00") {
			if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok && strings.Contains(v, "schedtrace=2147483647") {
				awake = true
			}
		}
		assert.Equal(t, tc.want, awake, "config %q: GODEBUG of the serving process", tc.extra)
		out, err := harness.FourLetterWord(p.Addr, "ruok", 2*time.Second)
		require.NoError(t, err)
		assert.Equal(t, "imok", out)
		p.Stop()
	}
}
