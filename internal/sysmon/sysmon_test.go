package sysmon

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// childEnv makes the test binary act as a server would at startup: call
// KeepAwake, then print the GODEBUG it ended up with.
const childEnv = "ZKD_SYSMON_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := KeepAwake(); err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
		fmt.Printf("GODEBUG=%s\n", os.Getenv("GODEBUG"))
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func TestApplied(t *testing.T) {
	for _, tc := range []struct {
		godebug string
		want    bool
	}{
		{"", false},
		{"madvdontneed=1", false},
		{"schedtrace=0", true},
		{"madvdontneed=1,schedtrace=1000", true},
		{"scheddetail=1", false},
		{"xschedtrace=1", false},
		{"schedtrace", false}, // no value: not a setting the runtime reads
	} {
		assert.Equal(t, tc.want, Applied(tc.godebug), "GODEBUG=%q", tc.godebug)
	}
}

func TestWithSetting(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		want []string
	}{
		{"no GODEBUG", []string{"A=1"}, []string{"A=1", "GODEBUG=" + setting}},
		{"empty GODEBUG", []string{"GODEBUG=", "A=1"}, []string{"GODEBUG=" + setting, "A=1"}},
		{"other settings kept", []string{"GODEBUG=madvdontneed=1"}, []string{"GODEBUG=madvdontneed=1," + setting}},
		// The runtime reads the first GODEBUG entry (getenv); later ones
		// are passed on untouched.
		{"first of two amended", []string{"GODEBUG=a=1", "GODEBUG=b=2"}, []string{"GODEBUG=a=1," + setting, "GODEBUG=b=2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, WithSetting(tc.env))
		})
	}
}

// TestKeepAwakeReexecutes runs the test binary as a child that calls
// KeepAwake: the process that reports back must be the re-executed one,
// with the setting added to whatever GODEBUG it started with, and one
// whose GODEBUG already decides schedtrace must not be touched.
func TestKeepAwakeReexecutes(t *testing.T) {
	for _, tc := range []struct {
		godebug string // "" = unset
		want    string
	}{
		{"", setting},
		{"madvdontneed=1", "madvdontneed=1," + setting},
		{"schedtrace=0", "schedtrace=0"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=1")
		cmd.Env = withoutGODEBUG(cmd.Env)
		if tc.godebug != "" {
			cmd.Env = append(cmd.Env, "GODEBUG="+tc.godebug)
		}
		// Stdout only: a schedtrace line, if the host has been up for
		// longer than its period, goes to stderr.
		out, err := cmd.Output()
		require.NoError(t, err, "child output: %s", out)
		assert.Equal(t, "GODEBUG="+tc.want, strings.TrimSpace(string(out)), "started with GODEBUG=%q", tc.godebug)
	}
}

func withoutGODEBUG(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			out = append(out, kv)
		}
	}
	return out
}
