package main

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/raftlog/raftlog"
)

// readEntrySize is the data size of the entries of the read log.
const readEntrySize = 1 << 10

// readLog is the log the reopen, seq-read and random-read workloads share:
// written once by fill, then closed and opened again.
type readLog struct {
	dir          string
	opts         raftlog.Options
	log          *raftlog.Log // open after reopen
	first, last  uint64
	encodedBytes int64 // log bytes written, headers and CRCs included
}

// fill writes c.reopenSize bytes of 1 KiB entries with pipelined appends;
// its figures are a row of their own, bounded by sequential write bandwidth.
func fill(dir string, c config) (*readLog, result, error) {
	opts, err := options(c, c.fileSize)
	if err != nil {
		return nil, result{}, err
	}
	log, err := raftlog.Open(dir, opts)
	if err != nil {
		return nil, result{}, fmt.Errorf("open: %w", err)
	}
	fc := c
	fc.size = readEntrySize
	fc.batch = 64
	fc.inflight = 4096
	fc.stopAt = uint64(max(1, c.reopenSize/readEntrySize))
	name := fmt.Sprintf("raftlog fill %d MiB, pipelined 64×1KiB", c.reopenSize>>20)
	// Stop at the size, not the clock: the duration is only a safety cap.
	before := log.Metrics()
	r, err := measure("fill", name, time.Hour, func(stop *atomic.Bool, rec *recorder) error {
		return pipelined(log, fc, stop, rec)
	})
	after := log.Metrics()
	if err != nil {
		log.Close()
		return nil, result{}, err
	}
	st := statsBetween(before, after)
	r.Fsyncs = st.fsyncs
	rl := &readLog{dir: dir, opts: opts, first: log.FirstIndex(), last: log.LastIndex(), encodedBytes: st.encodedBytes}
	if err := log.Close(); err != nil {
		return nil, result{}, fmt.Errorf("close: %w", err)
	}
	return rl, r, nil
}

// reopen times Open of the filled log, c.reopens times, each after a clean
// Close; the log stays open for the read workloads.
func (rl *readLog) reopen(c config) (result, error) {
	rec := newRecorder()
	n := max(1, c.reopens)
	start := time.Now()
	for i := range n {
		t := time.Now()
		log, err := raftlog.Open(rl.dir, rl.opts)
		if err != nil {
			return result{}, fmt.Errorf("reopen: %w", err)
		}
		rec.done(t, 0, 0)
		if i < n-1 {
			if err := log.Close(); err != nil {
				return result{}, fmt.Errorf("close: %w", err)
			}
			continue
		}
		rl.log = log
		if log.FirstIndex() != rl.first || log.LastIndex() != rl.last {
			return result{}, fmt.Errorf("reopen: log holds [%d, %d], want [%d, %d]", log.FirstIndex(), log.LastIndex(), rl.first, rl.last)
		}
		m := log.Metrics()
		return result{
			Key: "reopen", Name: fmt.Sprintf("raftlog reopen %d MiB log (%d runs)", rl.encodedBytes>>20, n),
			Entries: int64(rl.last - rl.first + 1), Elapsed: time.Since(start), NoRate: true, latencies: rec.latencies,
			Note: fmt.Sprintf("open time of a clean %d-entry log; the last recovery scanned %.0f B in %.3f ms",
				rl.last-rl.first+1, m.RecoveryScannedBytes, m.RecoveryDuration*1e3),
		}, nil
	}
	panic("unreachable")
}

func (rl *readLog) close() error {
	if rl.log == nil {
		return nil
	}
	err := rl.log.Close()
	rl.log = nil
	return err
}

// seqRead iterates the whole log once; each Next call is one latency sample.
// It reads as a replication loop does, done with each batch before asking
// for the next, so with ReuseBuffers.
func (rl *readLog) seqRead() (result, error) {
	name := "raftlog seq-read Next(1024, 1 MiB) ReuseBuffers"
	return measure("seq-read", name, time.Hour, func(_ *atomic.Bool, rec *recorder) error {
		it := rl.log.NewIterator(rl.first, raftlog.IterOptions{ReuseBuffers: true})
		defer it.Close()
		next := rl.first
		for next <= rl.last {
			t := time.Now()
			es, err := it.Next(1024, 1<<20)
			if err != nil {
				return fmt.Errorf("next at %d: %w", next, err)
			}
			if len(es) == 0 {
				return fmt.Errorf("iterator stopped at %d, log ends at %d", next, rl.last)
			}
			if es[0].Index != next {
				return fmt.Errorf("iterator returned %d, want %d", es[0].Index, next)
			}
			b := 0
			for _, e := range es {
				b += len(e.Data)
			}
			rec.done(t, len(es), b)
			next += uint64(len(es))
		}
		return nil
	})
}

// randomRead reads entries at uniformly random indexes until stopped.
func (rl *readLog) randomRead(c config) (result, error) {
	name := "raftlog random-read Entry, 1 KiB, warm"
	return measure("random-read", name, c.duration, func(stop *atomic.Bool, rec *recorder) error {
		rng := rand.New(rand.NewPCG(1, 2))
		n := rl.last - rl.first + 1
		for !stop.Load() {
			idx := rl.first + rng.Uint64N(n)
			t := time.Now()
			e, err := rl.log.Entry(idx)
			if err != nil {
				return fmt.Errorf("entry %d: %w", idx, err)
			}
			if e.Index != idx {
				return fmt.Errorf("entry %d returned index %d", idx, e.Index)
			}
			rec.done(t, 1, len(e.Data))
		}
		return nil
	})
}
