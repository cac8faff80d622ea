package loopback

import (
	"net"
	"strconv"
	"testing"
)

func TestFreePortsAreDistinctAndBindable(t *testing.T) {
	ports, err := FreePorts(6)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("port %d handed out twice: %v", p, ports)
		}
		seen[p] = true
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d does not bind: %v", p, err)
		}
		ln.Close()
	}
}

func TestFreePortIsBelowTheEphemeralRange(t *testing.T) {
	low := ephemeralLow()
	if low <= 11000 {
		t.Skipf("ephemeral range starts at %d: no room below it", low)
	}
	p, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if p >= low {
		t.Fatalf("port %d is in the ephemeral range (from %d)", p, low)
	}
}

// TestFreePortNeverRepeats asks for more ports, one at a time, than a
// test ever holds: none may come back twice, even after being released.
func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for i := 0; i < 300; i++ {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice (after %d ports)", p, i)
		}
		seen[p] = true
	}
}
