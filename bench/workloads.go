package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftlog/raftlog"
	"github.com/raftlog/raftlog/logqueue"
	"github.com/raftlog/raftlog/metrics"
)

// rotationFileSize is the log file size of the rotation workload: small
// enough that a run rotates hundreds of times.
const rotationFileSize = 1 << 20

// steadyFileSize is the steady workload's log file size (unless -filesize
// is given): small enough that compaction frees several files in a few
// seconds. It keeps one file's worth of entries.
const steadyFileSize = 64 << 20

func options(c config, fileSize int64) (raftlog.Options, error) {
	// Warnings (slow fdatasyncs, failures) stay visible; the info lines of
	// every Open would break up the table.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := raftlog.Options{LogFileSize: fileSize, Logger: logger}
	mode, err := logqueue.ParsePreallocMode(c.prealloc)
	if err != nil {
		return opts, fmt.Errorf("-prealloc: %w", err)
	}
	opts.Prealloc = mode
	opts.SpareLogFiles = c.spares
	return opts, nil
}

// appendStats is what Log.Metrics says about a run: the fdatasyncs counted
// by the engine, not guessed from the workload.
type appendStats struct {
	fsyncs          int64
	encodedBytes    int64 // encoded bytes appended (headers and CRCs included)
	entries         int64
	fsyncBytes      float64 // bytes made durable by those fdatasyncs
	fsyncSeconds    float64 // time spent in those fdatasyncs
	rotations       uint64
	allocWaits      uint64
	idxRoomWaits    uint64
	logFilesDeleted uint64
	appendLatency   metrics.HistogramSnapshot
}

func statsBetween(before, after metrics.Snapshot) appendStats {
	return appendStats{
		fsyncs:          int64(after.FsyncLatency.Count - before.FsyncLatency.Count),
		encodedBytes:    int64(after.BytesAppended - before.BytesAppended),
		entries:         int64(after.EntriesAppended - before.EntriesAppended),
		fsyncBytes:      after.FsyncBytes.Sum - before.FsyncBytes.Sum,
		fsyncSeconds:    after.FsyncLatency.Sum - before.FsyncLatency.Sum,
		rotations:       after.FileRotations - before.FileRotations,
		allocWaits:      after.FileAllocWaits - before.FileAllocWaits,
		idxRoomWaits:    after.IdxRoomWaits - before.IdxRoomWaits,
		logFilesDeleted: after.LogFilesDeleted - before.LogFilesDeleted,
		appendLatency:   after.AppendLatency,
	}
}

// itemSize is the mean encoded size of an entry, what a raw bound writes
// per entry to move the same bytes.
func (s appendStats) itemSize() int {
	if s.entries == 0 {
		return 0
	}
	return int(s.encodedBytes / s.entries)
}

// bytesPerFsync is the mean bytes one fdatasync made durable.
func (s appendStats) bytesPerFsync() int {
	if s.fsyncs == 0 {
		return 0
	}
	return int(s.fsyncBytes / float64(s.fsyncs))
}

// runAppend runs one append workload on a new log in dir.
func runAppend(dir, workload string, c config) (result, appendStats, error) {
	fileSize := c.fileSize
	switch {
	case workload == "rotation":
		fileSize = rotationFileSize
	case workload == "steady" && fileSize == 0:
		fileSize = steadyFileSize
	}
	opts, err := options(c, fileSize)
	if err != nil {
		return result{}, appendStats{}, err
	}
	log, err := raftlog.Open(dir, opts)
	if err != nil {
		return result{}, appendStats{}, fmt.Errorf("open: %w", err)
	}
	var body func(stop *atomic.Bool, rec *recorder) error
	var name string
	switch workload {
	case "batch-wait":
		name = fmt.Sprintf("raftlog batch-wait %d×%dB", c.batch, c.size)
		body = func(stop *atomic.Bool, rec *recorder) error { return batchWait(log, c, stop, rec) }
	case "pipelined":
		name = fmt.Sprintf("raftlog pipelined %d×%dB ≤%d in flight", c.batch, c.size, c.inflight)
		body = func(stop *atomic.Bool, rec *recorder) error { return pipelined(log, c, stop, rec) }
	case "concurrent":
		name = fmt.Sprintf("raftlog concurrent %d goroutines × 1×%dB", c.conc, c.size)
		body = func(stop *atomic.Bool, rec *recorder) error { return concurrent(log, c, stop, rec) }
	case "rotation":
		name = fmt.Sprintf("raftlog rotation 1 MiB files, pipelined %d×%dB", c.batch, c.size)
		body = func(stop *atomic.Bool, rec *recorder) error { return pipelined(log, c, stop, rec) }
	case "steady":
		name = fmt.Sprintf("raftlog steady %d MiB files, compacting, %d×%dB", fileSize>>20, c.batch, c.size)
		body = func(stop *atomic.Bool, rec *recorder) error { return steady(log, c, fileSize, stop, rec) }
	default:
		log.Close()
		return result{}, appendStats{}, fmt.Errorf("unknown append workload %q", workload)
	}
	before := log.Metrics()
	rssKnown := resetPeakRSS()
	r, err := measure(workload, name, c.duration, body)
	after := log.Metrics()
	if rssKnown {
		r.PeakRSS = peakRSS()
	}
	if cerr := log.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	if err != nil {
		return result{}, appendStats{}, err
	}
	st := statsBetween(before, after)
	r.Fsyncs = st.fsyncs
	r.Note = fmt.Sprintf("%d B per entry encoded, %d B per fdatasync", st.itemSize(), st.bytesPerFsync())
	if st.fsyncs > 0 {
		r.Note += fmt.Sprintf(" taking %v on average", time.Duration(st.fsyncSeconds/float64(st.fsyncs)*1e9).Round(time.Microsecond))
	}
	if r.PeakRSS > 0 {
		r.Note += fmt.Sprintf(", peak RSS %.1f MiB", float64(r.PeakRSS)/(1<<20))
	}
	if r.LongestCall > 0 {
		// What the call may have waited behind: the longest write and sync
		// as their goroutines timed them (since Open).
		r.Note += fmt.Sprintf(", longest Append call %v (longest pwritev %v, fdatasync %v)",
			r.LongestCall.Round(time.Microsecond),
			time.Duration(after.WriteLatency.Max*1e9).Round(time.Microsecond),
			time.Duration(after.FsyncLatency.Max*1e9).Round(time.Microsecond))
	}
	if workload == "steady" {
		r.Note += fmt.Sprintf(", %d log files freed by compaction", st.logFilesDeleted)
		// The log now ends in a recycled file (unless -spares -1), where
		// recovery meets old bytes, not zeros, past the end.
		reopened, err := reopenOnce(dir, opts)
		if err != nil {
			return result{}, appendStats{}, err
		}
		r.Note += ", reopened in " + reopened
	}
	if st.rotations > 0 || st.allocWaits > 0 || st.idxRoomWaits > 0 {
		r.Note += fmt.Sprintf(", %d file rotations, FileAllocWaits %d, IdxRoomWaits %d",
			st.rotations, st.allocWaits, st.idxRoomWaits)
	}
	return r, st, nil
}

// reopenOnce opens the log in dir and closes it, and says how long the
// Open took and what its recovery did.
func reopenOnce(dir string, opts raftlog.Options) (string, error) {
	t0 := time.Now()
	log, err := raftlog.Open(dir, opts)
	took := time.Since(t0)
	if err != nil {
		return "", fmt.Errorf("reopen: %w", err)
	}
	m := log.Metrics()
	if err := log.Close(); err != nil {
		return "", fmt.Errorf("close after reopen: %w", err)
	}
	return fmt.Sprintf("%v (recovery %v, %d B zeroed past the end)", took.Round(10*time.Microsecond),
		time.Duration(m.RecoveryDuration*1e9).Round(10*time.Microsecond), int64(m.TornBytesCut)), nil
}

func makeEntries(n, size int) []raftlog.Entry {
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i)
	}
	es := make([]raftlog.Entry, n)
	for i := range es {
		es[i] = raftlog.Entry{Term: 1, Data: data}
	}
	return es
}

func number(es []raftlog.Entry, first uint64) {
	for i := range es {
		es[i].Index = first + uint64(i)
	}
}

// pipelined keeps appending batches without waiting, holding at most
// c.inflight entries not yet durable; each batch's latency runs from its
// Append call to its future's completion.
func pipelined(log *raftlog.Log, c config, stop *atomic.Bool, rec *recorder) error {
	return pipelinedWith(log, c, stop, rec, nil)
}

// steady is pipelined with compaction behind it, as a leader that applies
// and snapshots: whenever a quarter of a file's worth more has been
// appended, it compacts to keep the last keepBytes worth of entries,
// without waiting, so that whole files are freed while it appends.
func steady(log *raftlog.Log, c config, keepBytes int64, stop *atomic.Bool, rec *recorder) error {
	keep := uint64(max(1, keepBytes/logqueue.EncodedSize(0, c.size)))
	next := log.LastIndex() + keep + keep/4
	var compactErr atomic.Pointer[error]
	err := pipelinedWith(log, c, stop, rec, func() error {
		if p := compactErr.Load(); p != nil {
			return *p
		}
		last := log.LastIndex()
		if last < next {
			return nil
		}
		next = last + keep/4
		log.CompactTo(last - keep).OnComplete(func(_ uint64, err error) {
			if err != nil {
				compactErr.CompareAndSwap(nil, &err)
			}
		})
		return nil
	})
	if err != nil {
		return err
	}
	if p := compactErr.Load(); p != nil {
		return fmt.Errorf("compaction: %w", *p)
	}
	return nil
}

// pipelinedWith is pipelined, calling after (when set) after each Append.
func pipelinedWith(log *raftlog.Log, c config, stop *atomic.Bool, rec *recorder, after func() error) error {
	batch := c.batch
	es := makeEntries(batch, c.size)
	slots := max(1, c.inflight/batch)
	sem := make(chan struct{}, slots)
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	for !stop.Load() && (c.stopAt == 0 || log.LastIndex() < c.stopAt) {
		if p := firstErr.Load(); p != nil {
			break
		}
		sem <- struct{}{}
		number(es, log.LastIndex()+1)
		start := time.Now()
		wg.Add(1)
		fut := log.Append(es)
		// Append returns at once unless back-pressure holds it: the
		// longest call is the longest stall the leader would see.
		rec.call(time.Since(start))
		if after != nil {
			if err := after(); err != nil {
				firstErr.CompareAndSwap(nil, &err)
			}
		}
		fut.OnComplete(func(_ uint64, err error) {
			if err != nil {
				firstErr.CompareAndSwap(nil, &err)
			} else {
				rec.done(start, batch, batch*c.size)
			}
			<-sem
			wg.Done()
		})
	}
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		return *p
	}
	return nil
}

func batchWait(log *raftlog.Log, c config, stop *atomic.Bool, rec *recorder) error {
	es := makeEntries(c.batch, c.size)
	ctx := context.Background()
	for !stop.Load() {
		number(es, log.LastIndex()+1)
		start := time.Now()
		if _, err := log.Append(es).Wait(ctx); err != nil {
			return err
		}
		rec.done(start, c.batch, c.batch*c.size)
	}
	return nil
}

func concurrent(log *raftlog.Log, c config, stop *atomic.Bool, rec *recorder) error {
	var mu sync.Mutex // orders index assignment with the Append call
	var wg sync.WaitGroup
	errs := make([]error, c.conc)
	for g := range c.conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			es := makeEntries(1, c.size)
			ctx := context.Background()
			for !stop.Load() {
				start := time.Now()
				mu.Lock()
				number(es, log.LastIndex()+1)
				f := log.Append(es)
				mu.Unlock()
				if _, err := f.Wait(ctx); err != nil {
					errs[g] = err
					return
				}
				rec.done(start, 1, c.size)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
