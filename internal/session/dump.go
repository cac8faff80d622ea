package session

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/zkd/zkd/internal/wire"
)

// javaDateLayout is java.util.Date.toString's "EEE MMM dd HH:mm:ss zzz yyyy"
// in Go notation.
const javaDateLayout = "Mon Jan 02 15:04:05 MST 2006"

// DumpBucket is one expiry bucket in a Dump.
type DumpBucket struct {
	// Deadline is when the bucket expires, in the tracker's clock ms.
	Deadline int64
	// IDs are the bucket's sessions, sorted ascending.
	IDs []wire.SessionID
}

// Dump is the tracker state shown by the `dump` four-letter word.
type Dump struct {
	// Now is the clock reading the dump was taken at.
	Now int64
	// Sessions counts all tracked sessions, including closing ones that
	// have left the expiry queue (ZooKeeper counts its elemMap, which keeps
	// them until removeSession).
	Sessions int
	// Buckets are the non-empty expiry buckets, earliest first.
	Buckets []DumpBucket
}

// Dump captures the expiry buckets for the `dump` command. ZooKeeper also
// lists buckets emptied by touches until they expire; zkd drops empty
// buckets eagerly, so its count can be lower for the same sessions.
func (t *Tracker) Dump(now int64) Dump {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := Dump{Now: now, Sessions: len(t.sessions)}
	for _, b := range t.queue.Buckets() {
		ids := slices.Clone(b.Items)
		slices.SortFunc(ids, cmpID)
		d.Buckets = append(d.Buckets, DumpBucket{Deadline: b.Deadline, IDs: ids})
	}
	return d
}

// WriteDump writes d in the text form of ZooKeeper's
// SessionTrackerImpl.dumpSessions:
//
//	Session Sets (<buckets>)/(<sessions>):
//	<n> expire at <date>:
//		0x<id>
//
// Deadlines are taken as Unix epoch ms (true of RealClock) and printed like
// java.util.Date.toString in loc (time.Local if nil), which is what a JVM
// prints in its default time zone. The "SessionTracker dump:" heading is the
// caller's, as in ZooKeeper's DumpCommand.
func WriteDump(w io.Writer, d Dump, loc *time.Location) error {
	if loc == nil {
		loc = time.Local
	}
	// Buffer so a dump is a handful of writes to the socket, not one per
	// session; fmt errors are sticky in bufio and surface at Flush.
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Session Sets (%d)/(%d):\n", len(d.Buckets), d.Sessions)
	for _, b := range d.Buckets {
		date := time.UnixMilli(b.Deadline).In(loc).Format(javaDateLayout)
		fmt.Fprintf(bw, "%d expire at %s:\n", len(b.IDs), date)
		for _, id := range b.IDs {
			fmt.Fprintf(bw, "\t%s\n", id)
		}
	}
	return bw.Flush()
}
