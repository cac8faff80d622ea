package server

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/zkd/zkd/internal/wire"
)

// A learner's pipeline prepares nothing of its own: a request submitted
// to it (a write or a server-issued close racing a role change) would get
// a zxid the leader hands out too. Other pipelines prepare as usual.
func TestLearnerPipelineRefusesLocalRequests(t *testing.T) {
	cases := []struct {
		name   string
		rep    replicator
		refuse bool
	}{
		{"standalone", nil, false},
		{"leader", &leader{}, false},
		{"follower", &learner{}, true},
		{"observer", &learner{observer: true}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newPipeline(&Server{log: zap.NewNop()})
			if tc.rep != nil {
				p.setReplicator(tc.rep)
			}
			r := &request{op: wire.OpCloseSession, session: 7, internal: true}
			require.Equal(t, tc.refuse, p.refusesLocal(r))
		})
	}
}
