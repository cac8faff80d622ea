package server

import "testing"

// mntr and a Prometheus scrape may reach a leader still in discovery,
// before its sync queue exists; that used to panic and kill the server.
func TestLeaderStatsBeforeEpochAcked(t *testing.T) {
	l := &leader{}
	learners, followers, observers, syncs := l.stats()
	if learners != 0 || followers != 0 || observers != 0 || syncs != 0 {
		t.Fatalf("stats of a leader in discovery: %d %d %d %d", learners, followers, observers, syncs)
	}
}
