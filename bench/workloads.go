package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
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

// recyclableWorkloads are the append workloads -recycled applies to.
var recyclableWorkloads = []string{"batch-wait", "pipelined", "concurrent"}

// runAppend runs one append workload on a new log in dir.
func runAppend(dir, workload string, c config) (result, appendStats, error) {
	fileSize := c.fileSize
	switch {
	case workload == "rotation":
		fileSize = rotationFileSize
	case (workload == "steady" || c.recycled) && fileSize == 0:
		fileSize = steadyFileSize
	}
	recycled := c.recycled && slices.Contains(recyclableWorkloads, workload)
	opts, err := options(c, fileSize)
	if err != nil {
		return result{}, appendStats{}, err
	}
	log, err := raftlog.Open(dir, opts)
	if err != nil {
		return result{}, appendStats{}, fmt.Errorf("open: %w", err)
	}
	// With -recycled the workload compacts behind itself, after a warm-up
	// that leaves it writing into recycled files only.
	var after func() error
	var k *compactor
	if recycled {
		if opts.SpareLogFiles < 0 {
			log.Close()
			return result{}, appendStats{}, errors.New("-recycled needs spare log files (-spares ≥ 0)")
		}
		k = newCompactor(log, fileSize, c.size)
		if err := warmRecycled(log, c, fileSize, cmp.Or(opts.SpareLogFiles, raftlog.DefaultSpareLogFiles), k); err != nil {
			log.Close()
			return result{}, appendStats{}, err
		}
		after = k.maybe
	}
	var body func(stop *atomic.Bool, rec *recorder) error
	var name string
	switch workload {
	case "batch-wait":
		name = fmt.Sprintf("raftlog batch-wait %d×%dB", c.batch, c.size)
		body = func(stop *atomic.Bool, rec *recorder) error { return batchWait(log, c, stop, rec, after) }
	case "pipelined":
		name = fmt.Sprintf("raftlog pipelined %d×%dB ≤%d in flight", c.batch, c.size, c.inflight)
		body = func(stop *atomic.Bool, rec *recorder) error { return pipelinedWith(log, c, stop, rec, after) }
	case "concurrent":
		name = fmt.Sprintf("raftlog concurrent %d goroutines × 1×%dB", c.conc, c.size)
		body = func(stop *atomic.Bool, rec *recorder) error { return concurrent(log, c, stop, rec, after) }
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
	if recycled {
		name += ", recycled"
	}
	before := log.Metrics()
	rssKnown := resetPeakRSS()
	r, err := measure(workload, name, c.duration, body)
	metricsAfter := log.Metrics()
	if rssKnown {
		r.PeakRSS = peakRSS()
	}
	if cerr := log.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	if err == nil && k != nil {
		err = k.failure()
	}
	if err != nil {
		return result{}, appendStats{}, err
	}
	st := statsBetween(before, metricsAfter)
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
			time.Duration(metricsAfter.WriteLatency.Max*1e9).Round(time.Microsecond),
			time.Duration(metricsAfter.FsyncLatency.Max*1e9).Round(time.Microsecond))
	}
	if recycled {
		r.Note += fmt.Sprintf(", %s files, %d freed by compaction", binarySize(fileSize), st.logFilesDeleted)
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
	return fmt.Sprintf("%v (recovery %v: %d B scanned, %d B zeroed past the end)", took.Round(10*time.Microsecond),
		time.Duration(m.RecoveryDuration*1e9).Round(10*time.Microsecond), int64(m.RecoveryScannedBytes), int64(m.TornBytesCut)), nil
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

// steady is pipelined with compaction behind it (see compactor), so that
// whole files are freed, and come back as new ones, while it appends.
func steady(log *raftlog.Log, c config, keepBytes int64, stop *atomic.Bool, rec *recorder) error {
	k := newCompactor(log, keepBytes, c.size)
	if err := pipelinedWith(log, c, stop, rec, k.maybe); err != nil {
		return err
	}
	return k.failure()
}

// compactor compacts a log the way a leader that applies and snapshots
// does: whenever a quarter of keep entries more have been appended, it
// compacts to keep the last keep entries (keepBytes worth), without
// waiting for the compaction.
type compactor struct {
	log        *raftlog.Log
	keep, next uint64
	err        atomic.Pointer[error]
}

func newCompactor(log *raftlog.Log, keepBytes int64, size int) *compactor {
	keep := uint64(max(1, keepBytes/logqueue.EncodedSize(0, size)))
	return &compactor{log: log, keep: keep, next: log.LastIndex() + keep + keep/4}
}

// maybe compacts if it is time to. It is called after each Append, by one
// goroutine at a time, and returns the failure of an earlier compaction.
func (k *compactor) maybe() error {
	if err := k.failure(); err != nil {
		return err
	}
	last := k.log.LastIndex()
	if last < k.next {
		return nil
	}
	k.next = last + k.keep/4
	k.log.CompactTo(last - k.keep).OnComplete(func(_ uint64, err error) {
		if err != nil {
			k.err.CompareAndSwap(nil, &err)
		}
	})
	return nil
}

func (k *compactor) failure() error {
	if p := k.err.Load(); p != nil {
		return fmt.Errorf("compaction: %w", *p)
	}
	return nil
}

// warmRecycled appends to log, untimed and compacting behind (k), until
// spares+2 files have been written past where it started: the files the
// timed run then writes into are compacted files recycled, not new ones.
func warmRecycled(log *raftlog.Log, c config, fileSize int64, spares int, k *compactor) error {
	wc := c
	wc.batch, wc.inflight = 64, 4096
	per := logqueue.EncodedSize(0, c.size)
	wc.stopAt = log.LastIndex() + uint64(int64(spares+2)*fileSize/per)
	var never atomic.Bool
	if err := pipelinedWith(log, wc, &never, newRecorder(), k.maybe); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	return k.failure()
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

// batchWait appends c.batch entries at a time and waits for each call
// (AppendWait, which writes and syncs on this goroutine when nothing else
// is in flight), calling after (when set) after each one.
func batchWait(log *raftlog.Log, c config, stop *atomic.Bool, rec *recorder, after func() error) error {
	es := makeEntries(c.batch, c.size)
	ctx := context.Background()
	for !stop.Load() {
		number(es, log.LastIndex()+1)
		start := time.Now()
		if _, err := log.AppendWait(ctx, es); err != nil {
			return err
		}
		rec.done(start, c.batch, c.batch*c.size)
		if after != nil {
			if err := after(); err != nil {
				return err
			}
		}
	}
	return nil
}

// concurrent runs c.conc goroutines that each append one entry and wait
// for it, calling after (when set) after each Append, one at a time.
func concurrent(log *raftlog.Log, c config, stop *atomic.Bool, rec *recorder, after func() error) error {
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
				var err error
				if after != nil {
					err = after()
				}
				mu.Unlock()
				if err != nil {
					errs[g] = err
					return
				}
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

// binarySize writes n bytes as "64 MiB", "64 KiB" or "100 B".
func binarySize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
