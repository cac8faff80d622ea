package zab

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// step is one packet from the leader and the actions the learner must take,
// rendered with LearnerAction.String.
type step struct {
	pkt  QuorumPacket
	want []string
}

func pkt(t PacketType, zxid int64) QuorumPacket { return QuorumPacket{Type: t, Zxid: zxid} }

func prop(zxid int64) QuorumPacket {
	return QuorumPacket{Type: PktProposal, Zxid: zxid, Data: []byte(fmt.Sprintf("txn %x", zxid))}
}

func runSync(t *testing.T, s *LearnerSync, steps []step) {
	t.Helper()
	for i, st := range steps {
		acts, err := s.Step(&st.pkt)
		require.NoError(t, err, "step %d %v", i, &st.pkt)
		got := make([]string, len(acts))
		for j, a := range acts {
			got[j] = a.String()
		}
		if len(st.want) == 0 {
			require.Empty(t, got, "step %d %v", i, &st.pkt)
		} else {
			require.Equal(t, st.want, got, "step %d %v", i, &st.pkt)
		}
	}
}

const e2 = 2

var nl = QuorumPacket{Type: PktNewLeader, Zxid: MakeZxid(e2, 0), Data: []byte("server.1=a:2888:3888:participant\nversion=0")}

// Observed order for an in-sync follower: LEADERINFO, DIFF, NEWLEADER, UPTODATE.
func TestLearnerSyncInSyncDiffKeepsTreeAndAcksTwice(t *testing.T) {
	s := NewLearnerSync(Participant, e2)
	runSync(t, s, []step{
		{pkt(PktDiff, zx(1, 8)), nil},
		{nl, []string{`set-config "server.1=a:2888:3888:participant\nversion=0"`, "persist-current-epoch 2", "send-ack 0x200000000"}},
		{pkt(PktUpToDate, -1), []string{"send-ack 0x200000000", "start-serving"}},
	})
	require.True(t, s.Done())
	require.Equal(t, SyncDiff, s.Mode())
}

// Observed order for a lagging follower: DIFF, (PROPOSAL, COMMIT)x3, NEWLEADER,
// UPTODATE. The txns are held until NEWLEADER, logged before the epoch
// changes, and applied only at UPTODATE.
func TestLearnerSyncLaggingDiffLogsAtNewLeaderAndAppliesAtUpToDate(t *testing.T) {
	s := NewLearnerSync(Participant, e2)
	runSync(t, s, []step{
		{pkt(PktDiff, zx(1, 8)), nil},
		{prop(zx(1, 6)), nil},
		{pkt(PktCommit, zx(1, 6)), nil},
		{prop(zx(1, 7)), nil},
		{pkt(PktCommit, zx(1, 7)), nil},
		{prop(zx(1, 8)), nil},
		{pkt(PktCommit, zx(1, 8)), nil},
		{QuorumPacket{Type: PktNewLeader, Zxid: MakeZxid(e2, 0)}, []string{
			"log 0x100000006 0x100000007 0x100000008",
			"persist-current-epoch 2",
			"send-ack 0x200000000",
			"send-ack 0x100000006", "send-ack 0x100000007", "send-ack 0x100000008",
		}},
		{pkt(PktUpToDate, -1), []string{"apply 0x100000006 0x100000007 0x100000008", "send-ack 0x200000000", "start-serving"}},
	})
}

// Observed order for an empty follower: SNAP, <snapshot>, NEWLEADER, [PING],
// UPTODATE; here with in-flight proposals around NEWLEADER.
func TestLearnerSyncSnapAppliesDirectlyUntilNewLeader(t *testing.T) {
	s := NewLearnerSync(Participant, e2)
	runSync(t, s, []step{
		{pkt(PktSnap, zx(1, 8)), []string{"load-snapshot 0x100000008"}},
		{prop(zx(2, 1)), nil},
		{pkt(PktCommit, zx(2, 1)), []string{"apply 0x200000001"}},
		{prop(zx(2, 2)), nil}, // outstanding at the leader: no COMMIT yet
		{QuorumPacket{Type: PktNewLeader, Zxid: MakeZxid(e2, 0), Data: []byte{}}, []string{
			"take-snapshot",
			"log 0x200000002",
			"persist-current-epoch 2",
			"send-ack 0x200000000",
			"send-ack 0x200000002",
		}},
		{pkt(PktPing, zx(2, 2)), nil},
		{pkt(PktCommit, zx(2, 2)), nil},
		{prop(zx(2, 3)), []string{"log 0x200000003", "send-ack 0x200000003"}},
		{pkt(PktUpToDate, -1), []string{"apply 0x200000002", "send-ack 0x200000000", "start-serving 0x200000003"}},
	})
}

func TestLearnerSyncTruncThenTxnsAppliedDirectly(t *testing.T) {
	s := NewLearnerSync(Participant, e2)
	runSync(t, s, []step{
		{pkt(PktTrunc, zx(1, 5)), []string{"truncate 0x100000005"}},
		{prop(zx(1, 6)), nil},
		{pkt(PktCommit, zx(1, 6)), []string{"apply 0x100000006"}},
		{QuorumPacket{Type: PktNewLeader, Zxid: MakeZxid(e2, 0)}, []string{"take-snapshot", "persist-current-epoch 2", "send-ack 0x200000000"}},
		{pkt(PktUpToDate, -1), []string{"send-ack 0x200000000", "start-serving"}},
	})
	require.Equal(t, SyncTrunc, s.Mode())
}

func TestLearnerSyncObserverNeverAcksProposals(t *testing.T) {
	s := NewLearnerSync(Observer, e2)
	runSync(t, s, []step{
		{pkt(PktDiff, zx(1, 8)), nil},
		{prop(zx(1, 7)), nil},
		{pkt(PktCommit, zx(1, 7)), nil},
		{QuorumPacket{Type: PktNewLeader, Zxid: MakeZxid(e2, 0)}, []string{"log 0x100000007", "persist-current-epoch 2", "send-ack 0x200000000"}},
		{QuorumPacket{Type: PktInform, Zxid: zx(2, 1), Data: []byte("t")}, []string{"log 0x200000001"}},
		{QuorumPacket{Type: PktInformAndActivate, Zxid: zx(2, 2), Data: EncodeActivate(1, []byte("r"))}, []string{"log 0x200000002"}},
		{pkt(PktUpToDate, -1), []string{"apply 0x100000007 0x200000001 0x200000002", "send-ack 0x200000000", "start-serving"}},
	})
}

func TestLearnerSyncObserverInformAfterSnapAppliesDirectly(t *testing.T) {
	s := NewLearnerSync(Observer, e2)
	runSync(t, s, []step{
		{pkt(PktSnap, zx(2, 0)), []string{"load-snapshot 0x200000000"}},
		{QuorumPacket{Type: PktInform, Zxid: zx(2, 1), Data: []byte("t")}, []string{"apply 0x200000001"}},
	})
}

func TestLearnerSyncStripsActivationPrefixFromInform(t *testing.T) {
	s := NewLearnerSync(Observer, e2)
	_, err := s.Step(&QuorumPacket{Type: PktSnap, Zxid: zx(2, 0)})
	require.NoError(t, err)
	acts, err := s.Step(&QuorumPacket{Type: PktInformAndActivate, Zxid: zx(2, 1), Data: EncodeActivate(3, []byte("txn"))})
	require.NoError(t, err)
	require.Equal(t, []Txn{{Zxid: zx(2, 1), Data: []byte("txn")}}, acts[0].Txns)
	_, err = s.Step(&QuorumPacket{Type: PktInformAndActivate, Zxid: zx(2, 2), Data: []byte{1}})
	require.ErrorIs(t, err, ErrBadPayload)
}

func TestLearnerSyncRejectsProtocolViolations(t *testing.T) {
	cases := []struct {
		name  string
		steps []QuorumPacket
	}{
		{"first packet must be DIFF, TRUNC or SNAP", []QuorumPacket{prop(zx(1, 1))}},
		{"UPTODATE before NEWLEADER (pre-Zab-1.0) is not supported", []QuorumPacket{pkt(PktDiff, 0), pkt(PktUpToDate, -1)}},
		{"two NEWLEADERs", []QuorumPacket{pkt(PktDiff, 0), nl, nl}},
		{"after SNAP a COMMIT must name the oldest pending proposal", []QuorumPacket{pkt(PktSnap, 0), prop(zx(1, 1)), prop(zx(1, 2)), pkt(PktCommit, zx(1, 2))}},
		{"after SNAP a COMMIT without a proposal", []QuorumPacket{pkt(PktSnap, 0), pkt(PktCommit, zx(1, 1))}},
		{"after DIFF a remembered COMMIT must match the held proposals", []QuorumPacket{pkt(PktDiff, 0), prop(zx(1, 1)), pkt(PktCommit, zx(1, 2)), nl, pkt(PktUpToDate, -1)}},
		{"nothing after UPTODATE", []QuorumPacket{pkt(PktDiff, 0), nl, pkt(PktUpToDate, -1), prop(zx(2, 1))}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := NewLearnerSync(Participant, e2)
			var err error
			for i := range c.steps {
				if _, err = s.Step(&c.steps[i]); err != nil {
					require.Equal(t, len(c.steps)-1, i, "failed early at step %d: %v", i, err)
				}
			}
			require.ErrorIs(t, err, ErrUnexpectedPacket)
		})
	}
}

// End to end without the network: what DecideSync tells the leader to send,
// LearnerSync turns into the learner's history, for every kind of learner.
func TestLeaderPlanAndLearnerSyncAgreeOnHistory(t *testing.T) {
	committed := append(zxids(1, 1, 2, 3, 4, 5), zxids(2, 1, 2)...)
	h := &MemHistory{Processed: zx(2, 2), Committed: committed}
	for _, peer := range []int64{0, zx(1, 3), zx(1, 5), zx(2, 2), zx(2, 4), zx(1, 9)} {
		t.Run(fmt.Sprintf("peer 0x%x", peer), func(t *testing.T) {
			plan := DecideSync(peer, h)
			s := NewLearnerSync(Participant, 3)
			kind := map[SyncKind]PacketType{SyncDiff: PktDiff, SyncTrunc: PktTrunc, SyncSnap: PktSnap}[plan.Kind]
			packets := []QuorumPacket{pkt(kind, plan.Zxid)}
			for _, z := range committed {
				if z > plan.SendFrom && z <= plan.SendTo {
					packets = append(packets, prop(z), pkt(PktCommit, z))
				}
			}
			packets = append(packets, QuorumPacket{Type: PktNewLeader, Zxid: MakeZxid(3, 0)}, pkt(PktUpToDate, -1))

			// The learner's history: its own prefix (cut by TRUNC/replaced by
			// SNAP), then what it applied.
			var hist []int64
			for _, z := range committed {
				if z <= peer {
					hist = append(hist, z)
				}
			}
			if peer != 0 && (len(hist) == 0 || hist[len(hist)-1] != peer) {
				hist = append(hist, peer) // a txn only this learner logged
			}
			for i := range packets {
				acts, err := s.Step(&packets[i])
				require.NoError(t, err)
				for _, a := range acts {
					switch a.Kind {
					case ActTruncate:
						var cut []int64
						for _, z := range hist {
							if z <= a.Zxid {
								cut = append(cut, z)
							}
						}
						hist = cut
					case ActLoadSnapshot:
						hist = nil
						for _, z := range committed {
							if z <= a.Zxid {
								hist = append(hist, z)
							}
						}
					case ActApply:
						for _, t := range a.Txns {
							hist = append(hist, t.Zxid)
						}
					}
				}
			}
			require.True(t, s.Done())
			require.Equal(t, committed, hist, "plan %v", plan)
		})
	}
}
