package snapshot

import (
	"github.com/zkd/zkd/internal/wire"
)

// pipelined hands nodes to another handler on its own goroutine, so that
// decoding a snapshot (reading, checksumming, allocating) and inserting
// its nodes into the tree (hashing, map growth) use two cores: loading a
// large tree at startup takes about half as long. Sessions and the ACL map
// come before the first node and are passed on directly; the channel send
// orders them before every node the consumer sees.
type pipelined struct {
	inner   handler
	batch   []nodeRecord
	batches chan []nodeRecord
	free    chan []nodeRecord // batches handed back for reuse
	done    chan *CorruptError
}

type nodeRecord struct {
	at    int64
	path  string
	data  []byte
	aclID int64
	stat  wire.StatPersisted
}

// pipelineBatch is the number of nodes handed over at once: large enough
// that channel operations cost nothing per node, small enough to keep
// both goroutines busy.
const pipelineBatch = 1024

func newPipelined(inner handler) *pipelined {
	return &pipelined{inner: inner, batch: make([]nodeRecord, 0, pipelineBatch)}
}

// send hands a batch to the consumer, started with the first one (so a
// file that fails before its first node leaves no goroutine behind).
func (p *pipelined) send(b []nodeRecord) {
	if p.batches == nil {
		p.batches = make(chan []nodeRecord, 8)
		p.free = make(chan []nodeRecord, 10)
		p.done = make(chan *CorruptError, 1)
		go p.consume()
	}
	p.batches <- b
}

func (p *pipelined) session(s Session)             { p.inner.session(s) }
func (p *pipelined) acl(id int64, list []wire.ACL) { p.inner.acl(id, list) }

func (p *pipelined) node(at int64, path string, data []byte, aclID int64, stat wire.StatPersisted) error {
	p.batch = append(p.batch, nodeRecord{at, path, data, aclID, stat})
	if len(p.batch) == cap(p.batch) {
		p.send(p.batch)
		select {
		case b := <-p.free:
			p.batch = b
		default:
			p.batch = make([]nodeRecord, 0, pipelineBatch)
		}
	}
	return nil // errors surface in finish, with their offsets
}

// finish hands over the last batch, waits for the consumer and returns
// the first error it met (File is left for the decoder to fill in).
func (p *pipelined) finish() *CorruptError {
	if len(p.batch) > 0 {
		p.send(p.batch)
		p.batch = nil
	}
	if p.batches == nil {
		return nil
	}
	close(p.batches)
	return <-p.done
}

// consume applies every record; after the first error it only drains, as
// the decoder keeps reading to the checksum, which usually explains a
// semantic error better.
func (p *pipelined) consume() {
	var first *CorruptError
	for b := range p.batches {
		if first == nil {
			for i := range b {
				r := &b[i]
				if err := p.inner.node(r.at, r.path, r.data, r.aclID, r.stat); err != nil {
					first = &CorruptError{Offset: r.at, Reason: err.Error()}
					break
				}
			}
		}
		// Hand the batch back: a load then allocates little but the tree.
		clear(b)
		select {
		case p.free <- b[:0]:
		default:
		}
	}
	p.done <- first
}
