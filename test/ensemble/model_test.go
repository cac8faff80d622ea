package ensemble

import (
	"fmt"
	"sort"
	"strings"

	"github.com/anishathalye/porcupine"
)

// The sequential specification the linearizability test checks histories
// against: a fixed set of znodes, each a register of (data, data version).
// setData with version -1 sets the data and increments the version; setData
// with a version succeeds iff it equals the current version; getData
// returns both. Partitioned by key: each znode is checked on its own.

type opKind uint8

const (
	opRead  opKind = iota // sync + getData
	opWrite               // setData(path, value, -1)
	opCAS                 // setData(path, value, expected)
)

func (k opKind) String() string {
	switch k {
	case opRead:
		return "read"
	case opWrite:
		return "write"
	default:
		return "cas"
	}
}

// regInput is an operation's argument.
type regInput struct {
	Key      string
	Kind     opKind
	Value    string // write, cas
	Expected int32  // cas
}

// regOutput is what the operation returned.
type regOutput struct {
	// Unknown: the call ended with an error that leaves its outcome open
	// (connection loss, session expiry, timeout). Such an operation gets
	// Return = end of history: the checker may place it anywhere after its
	// call, including after everything else, i.e. "never happened".
	Unknown bool
	OK      bool   // write/cas: applied; cas false: ZBADVERSION
	NoNode  bool   // the znode was missing (never legal: keys are never deleted)
	Value   string // read: data
	Version int32  // read: data version; write/cas OK: new version
}

// regState is one znode.
type regState struct {
	Value   string
	Version int32
}

func regStep(state, input, output interface{}) (bool, interface{}) {
	st := state.(regState)
	in := input.(regInput)
	out := output.(regOutput)
	if out.NoNode {
		return false, st
	}
	switch in.Kind {
	case opRead:
		return out.Value == st.Value && out.Version == st.Version, st
	case opWrite:
		next := regState{Value: in.Value, Version: st.Version + 1}
		if out.Unknown {
			return true, next
		}
		return out.OK && out.Version == next.Version, next
	case opCAS:
		if st.Version != in.Expected {
			// Not applicable here: a definite success cannot be placed
			// here; an unknown one may take effect as a failed CAS.
			return out.Unknown || !out.OK, st
		}
		next := regState{Value: in.Value, Version: st.Version + 1}
		if out.Unknown {
			return true, next
		}
		return out.OK && out.Version == next.Version, next
	}
	return false, st
}

// partitionByKey splits a history into one per znode.
func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	for _, op := range history {
		k := op.Input.(regInput).Key
		byKey[k] = append(byKey[k], op)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][]porcupine.Operation, 0, len(keys))
	for _, k := range keys {
		out = append(out, byKey[k])
	}
	return out
}

// partitionEventsByKey is partitionByKey for the Event form of histories.
func partitionEventsByKey(history []porcupine.Event) [][]porcupine.Event {
	keyOf := map[int]string{}
	byKey := map[string][]porcupine.Event{}
	var keys []string
	for _, ev := range history {
		if ev.Kind == porcupine.CallEvent {
			keyOf[ev.Id] = ev.Value.(regInput).Key
		}
		k := keyOf[ev.Id]
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], ev)
	}
	sort.Strings(keys)
	out := make([][]porcupine.Event, 0, len(keys))
	for _, k := range keys {
		out = append(out, byKey[k])
	}
	return out
}

func describeOp(input, output interface{}) string {
	in := input.(regInput)
	out := output.(regOutput)
	var res string
	switch {
	case out.NoNode:
		res = "NoNode"
	case out.Unknown:
		res = "unknown"
	case in.Kind == opRead:
		res = fmt.Sprintf("%q v%d", out.Value, out.Version)
	case out.OK:
		res = fmt.Sprintf("ok v%d", out.Version)
	default:
		res = "BadVersion"
	}
	switch in.Kind {
	case opRead:
		return fmt.Sprintf("get(%s) -> %s", in.Key, res)
	case opWrite:
		return fmt.Sprintf("set(%s, %q) -> %s", in.Key, in.Value, res)
	default:
		return fmt.Sprintf("cas(%s, v%d, %q) -> %s", in.Key, in.Expected, in.Value, res)
	}
}

// registerModel is the porcupine model; initial is every key's data at
// version 0 as created by the test.
func registerModel(initial string) porcupine.Model {
	return porcupine.Model{
		Partition:      partitionByKey,
		PartitionEvent: partitionEventsByKey,
		Init:           func() interface{} { return regState{Value: initial} },
		Step:           regStep,
		Equal:          func(a, b interface{}) bool { return a.(regState) == b.(regState) },
		Hash: func(s interface{}) uint64 {
			st := s.(regState)
			h := uint64(14695981039346656037)
			for i := 0; i < len(st.Value); i++ {
				h = (h ^ uint64(st.Value[i])) * 1099511628211
			}
			return h ^ uint64(uint32(st.Version))*0x9E3779B97F4A7C15
		},
		DescribeOperation: describeOp,
		DescribeState: func(s interface{}) string {
			st := s.(regState)
			return fmt.Sprintf("%q v%d", st.Value, st.Version)
		},
		DescribeOperationMetadata: func(info interface{}) string {
			if info == nil {
				return ""
			}
			return fmt.Sprint(info)
		},
	}
}

// formatOps renders operations for a failure message.
func formatOps(ops []porcupine.Operation) string {
	var b strings.Builder
	for _, op := range ops {
		ret := fmt.Sprintf("%d", op.Return)
		if op.Return == endOfTime {
			ret = "∞"
		}
		fmt.Fprintf(&b, "  c%-2d [%d, %s] %s  %v\n", op.ClientId, op.Call, ret, describeOp(op.Input, op.Output), op.Metadata)
	}
	return b.String()
}
