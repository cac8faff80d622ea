package loadgen

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/zkd/zkd/internal/fsutil"
	"github.com/zkd/zkd/internal/histogram"
)

// RunFsync measures the disk under cfg.Dir the way a txn log uses it:
// cfg.Count appends of 100-500 bytes into a preallocated file, each
// followed by fdatasync (the call internal/txnlog makes). Latency is one
// write + fdatasync. The file is removed afterwards.
func RunFsync(cfg Config) (*Result, error) {
	if cfg.Dir == "" {
		return nil, errors.New("fsync: --dir is required")
	}
	if cfg.Count <= 0 {
		cfg.Count = 1000
	}
	f, err := os.CreateTemp(cfg.Dir, "zkd-bench-fsync-*.log")
	if err != nil {
		return nil, fmt.Errorf("fsync: %w", err)
	}
	name := f.Name()
	defer os.Remove(name)
	defer f.Close()
	// Preallocate with real zeros, as a txn log does, so the measured
	// fdatasyncs do not also allocate blocks and grow the file size.
	size := int64(cfg.Count) * 512
	zeros := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(zeros)) {
		if _, err := f.Write(zeros); err != nil {
			return nil, fmt.Errorf("fsync: preallocate %s: %w", name, err)
		}
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("fsync: %w", err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rec := make([]byte, 500)
	for i := range rec {
		rec[i] = byte(rng.Uint32())
	}
	h := histogram.New()
	r := &Result{Tool: "zkd-bench", Workload: "fsync", Sessions: 1, Inflight: 1,
		Time: time.Now().UTC().Format(time.RFC3339), Dir: cfg.Dir, DataSize: 300}
	begin := time.Now()
	var off int64
	for i := 0; i < cfg.Count; i++ {
		n := 100 + rng.IntN(401)
		start := time.Now()
		_, err := f.WriteAt(rec[:n], off)
		if err == nil {
			err = fsutil.Fdatasync(f)
		}
		if err != nil {
			r.Errors++
			r.note(orDiscard(cfg.Log), "fsync %s: %v", filepath.Base(name), err)
			break
		}
		h.Record(time.Since(start))
		off += int64(n)
		r.Ops++
		if cfg.Progress != nil && i%100 == 99 {
			cfg.Progress(r.Ops, time.Since(begin))
		}
	}
	r.finish(h, time.Since(begin))
	return r, nil
}
