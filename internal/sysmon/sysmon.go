// Package sysmon keeps the Go runtime's system monitor from parking, which
// on a server with bursts of short requests costs a quarter of its CPU.
//
// The runtime's monitor thread (sysmon) parks when every P is idle, and
// the next system call that any goroutine enters wakes it. Once woken it
// polls every 20 µs and only backs off, doubling up to 10 ms, after some 50
// polls found nothing to do. A coordination server at moderate load goes
// idle between requests many times a second, so sysmon spends most of its
// life in the 20 µs phase: each poll is a nanosleep and a context switch.
// Measured on a 3-node ensemble at 1,000 setData/s (2 vCPU VM): the members
// used 68-73% of a CPU and switched threads 40 times per setData; with
// sysmon kept from parking, 53-54% and 24 times (docs/benchmarking.md).
//
// The runtime has no setting for this (golang/go#18236). Its only way to
// keep sysmon from parking is the schedtrace debug variable, which must be
// in GODEBUG when the process starts: so KeepAwake re-executes the binary
// with schedtrace set to its largest period. sysmon then never parks; with
// nothing to do it sleeps its longest interval, 10 ms. The trace line that
// schedtrace prints comes once every 2^31 ms (24.8 days of the host's
// uptime; the first at start when the host has been up longer than that).
//
// A GODEBUG that already names schedtrace is left alone: that is how the
// re-executed process knows it is done, and how an operator opts out
// (GODEBUG=schedtrace=0) or traces the scheduler.
package sysmon

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// setting keeps sysmon from parking; the period is the largest schedtrace
// takes (an int32 of milliseconds).
const setting = "schedtrace=2147483647"

// Applied reports whether the GODEBUG value godebug already decides
// schedtrace, so that KeepAwake has nothing to do.
func Applied(godebug string) bool {
	for _, field := range strings.Split(godebug, ",") {
		if k, _, ok := strings.Cut(field, "="); ok && strings.TrimSpace(k) == "schedtrace" {
			return true
		}
	}
	return false
}

// WithSetting returns env (KEY=VALUE entries) with the setting added to
// GODEBUG, keeping its other settings, or a GODEBUG entry appended.
func WithSetting(env []string) []string {
	out := make([]string, 0, len(env)+1)
	found := false
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok && !found {
			found = true
			if v != "" {
				kv = "GODEBUG=" + v + "," + setting
			} else {
				kv = "GODEBUG=" + setting
			}
		}
		out = append(out, kv)
	}
	if !found {
		out = append(out, "GODEBUG="+setting)
	}
	return out
}

// KeepAwake re-executes the running binary with the same arguments and the
// setting added to GODEBUG, unless GODEBUG already decides schedtrace. It
// returns only when it did nothing (nil) or the exec failed (an error; the
// caller can go on without the setting). Call it before the process opens
// anything it would lose: listeners, the data directory's lock.
func KeepAwake() error {
	if Applied(os.Getenv("GODEBUG")) {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("keep sysmon awake: find own executable: %w", err)
	}
	if err := syscall.Exec(exe, os.Args, WithSetting(os.Environ())); err != nil {
		return fmt.Errorf("keep sysmon awake: re-execute %s with GODEBUG=%s: %w", exe, setting, err)
	}
	return nil // not reached
}
