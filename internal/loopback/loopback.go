package loopback

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"
)

// FourLetterWord sends a four-letter word and returns the whole reply.
func FourLetterWord(addr, word string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(word)); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// FreePort returns a loopback port that was free a moment ago, below the
// kernel's ephemeral range: ports from that range are also handed to
// outgoing connections as source ports, and on a busy machine one may be
// taken by a client socket before the server binds it. Below it only
// explicit binds take ports.
//
// A port is handed out at most once per process: an ensemble picks all
// its ports before any member binds one, and a member that is stopped
// and started again binds its old ports, so "free now" is not enough
// (two members of one test ensemble once got the same port). Processes
// running side by side (go test runs packages in parallel) draw from
// different residues of their pid, so they rarely pick the same port.
func FreePort() (int, error) {
	low := ephemeralLow()
	if low > 10000+2*portClasses {
		class := os.Getpid() % portClasses
		span := (low - 10000) / portClasses
		for i := 0; i < 400; i++ {
			port := 10000 + rand.IntN(span)*portClasses + class
			if port >= low || !claim(port) {
				continue
			}
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				continue // claimed for good: it is someone else's now
			}
			ln.Close()
			return port, nil
		}
	}
	for i := 0; i < 100; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if claim(port) {
			return port, nil
		}
	}
	return 0, errors.New("loopback: cannot find a free port")
}

// portClasses is how many residues (mod the pid) split the range below
// the ephemeral ports between processes.
const portClasses = 8

var (
	claimedMu sync.Mutex
	claimed   = map[int]bool{}
)

// claim records port as handed out by this process; false if it already was.
func claim(port int) bool {
	claimedMu.Lock()
	defer claimedMu.Unlock()
	if claimed[port] {
		return false
	}
	claimed[port] = true
	return true
}

// FreePorts returns n distinct free ports.
func FreePorts(n int) ([]int, error) {
	out := make([]int, 0, n)
	for len(out) < n {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux;
// 32768 when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	var low, high int
	if _, err := fmt.Sscan(string(b), &low, &high); err != nil {
		return 32768
	}
	return low
}
