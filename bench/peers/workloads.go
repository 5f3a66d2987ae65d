package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Workload kinds.
const (
	kindBatchWait  = "batch-wait"
	kindConcurrent = "concurrent"
	kindPipelined  = "pipelined"
	kindRead       = "read"
)

// workload is one measured scenario.
type workload struct {
	kind     string
	batch    int // entries per call (batch-wait, pipelined)
	size     int // bytes per entry
	conc     int // concurrent: goroutines, each appending 1 entry and waiting
	inflight int // pipelined: most entries submitted and not yet durable
	readN    int // read: entries written before the random reads
}

func (w workload) String() string {
	switch w.kind {
	case kindConcurrent:
		return fmt.Sprintf("concurrent %d goroutines × 1×%dB", w.conc, w.size)
	case kindPipelined:
		return fmt.Sprintf("pipelined %d×%dB ≤%d in flight", w.batch, w.size, w.inflight)
	case kindRead:
		return fmt.Sprintf("random read (warm) of %d×%dB", w.readN, w.size)
	}
	return fmt.Sprintf("batch-wait %d×%dB", w.batch, w.size)
}

// limits end a run: after duration, or once maxEntries have completed
// (0: no count limit; the tests use it to run a known, small amount).
// after is the last index already in the log (a warm-up run's), so the
// run appends from after+1.
type limits struct {
	duration   time.Duration
	maxEntries int64
	after      uint64
}

// run is what one engine did in one workload run.
type run struct {
	entries   int64 // entries appended durably (or read)
	bytes     int64 // their payload bytes
	elapsed   time.Duration
	latencies []time.Duration // one per call (Append, Submit→durable, or Read)
	lastIndex uint64          // highest index appended
	skipped   string          // why the engine cannot run this workload
}

// meter counts completed calls and tells the loops when to stop.
type meter struct {
	timeUp  atomic.Bool
	max     int64
	entries atomic.Int64
	bytes   atomic.Int64
}

func newMeter(l limits) (*meter, func()) {
	m := &meter{max: l.maxEntries}
	t := time.AfterFunc(l.duration, func() { m.timeUp.Store(true) })
	return m, func() { t.Stop() }
}

func (m *meter) stop() bool {
	return m.timeUp.Load() || (m.max > 0 && m.entries.Load() >= m.max)
}

func (m *meter) add(entries, bytes int) {
	m.entries.Add(int64(entries))
	m.bytes.Add(int64(bytes))
}

func (m *meter) result(start time.Time, lat []time.Duration, last uint64) run {
	return run{entries: m.entries.Load(), bytes: m.bytes.Load(), elapsed: time.Since(start), latencies: lat, lastIndex: last}
}

// runWorkload runs w against the open engine e.
func runWorkload(e engine, w workload, l limits) (run, error) {
	switch w.kind {
	case kindBatchWait:
		return batchWait(e, w, l)
	case kindConcurrent:
		return concurrent(e, w, l)
	case kindPipelined:
		sub, ok := e.(submitter)
		if !ok {
			return run{skipped: "no non-blocking append"}, nil
		}
		return pipelined(sub, w, l)
	case kindRead:
		return randomRead(e, w, l)
	}
	return run{}, fmt.Errorf("unknown workload %q", w.kind)
}

// batchWait appends one batch at a time and waits for each.
func batchWait(e engine, w workload, l limits) (run, error) {
	b := newBatch(w.batch, w.size)
	m, done := newMeter(l)
	defer done()
	lat := make([]time.Duration, 0, 1<<16)
	next := l.after + 1
	start := time.Now()
	for !m.stop() {
		b.number(next)
		t := time.Now()
		if err := e.Append(b); err != nil {
			return run{}, err
		}
		lat = append(lat, time.Since(t))
		m.add(b.n, len(b.data))
		next += uint64(b.n)
	}
	return m.result(start, lat, next-1), nil
}

// concurrent runs w.conc goroutines, each appending one entry and waiting.
// One lock hands out indexes in the order the engine sees the calls; an
// engine with group commit (submitter) is given the call under the lock
// and waited on outside it, so the waits overlap; any other engine is
// called under the lock, so its calls serialize — which is what its own
// lock does to them anyway.
func concurrent(e engine, w workload, l limits) (run, error) {
	sub, group := e.(submitter)
	m, done := newMeter(l)
	defer done()
	var (
		mu   sync.Mutex
		next = l.after + 1
		wg   sync.WaitGroup
		errs = make([]error, w.conc)
		lats = make([][]time.Duration, w.conc)
	)
	start := time.Now()
	for g := range w.conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := newBatch(1, w.size)
			lat := make([]time.Duration, 0, 1<<12)
			defer func() { lats[g] = lat }()
			for !m.stop() {
				t := time.Now()
				mu.Lock()
				b.number(next)
				next++
				var err error
				if group {
					var wait func() error
					wait, err = sub.Submit(b)
					mu.Unlock()
					if err == nil {
						err = wait()
					}
				} else {
					err = e.Append(b)
					mu.Unlock()
				}
				if err != nil {
					errs[g] = err
					return
				}
				lat = append(lat, time.Since(t))
				m.add(1, w.size)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return run{}, err
	}
	var all []time.Duration
	for _, lat := range lats {
		all = append(all, lat...)
	}
	return m.result(start, all, next-1), nil
}

// pipelined submits batches without waiting, keeping at most w.inflight
// entries submitted and not yet durable; one goroutine waits for them in
// submission order (the order every submitter completes them in).
func pipelined(sub submitter, w workload, l limits) (run, error) {
	type call struct {
		wait  func() error
		start time.Time
	}
	slots := max(1, w.inflight/w.batch)
	sem := make(chan struct{}, slots)
	calls := make(chan call, slots)
	m, done := newMeter(l)
	defer done()
	var (
		lat      = make([]time.Duration, 0, 1<<16)
		waitErr  error
		finished = make(chan struct{})
		failed   atomic.Bool
	)
	go func() {
		defer close(finished)
		for c := range calls {
			if err := c.wait(); err != nil && waitErr == nil {
				waitErr = err
				failed.Store(true)
			}
			lat = append(lat, time.Since(c.start))
			m.add(w.batch, w.batch*w.size)
			<-sem
		}
	}()
	b := newBatch(w.batch, w.size)
	next := l.after + 1
	start := time.Now()
	var submitErr error
	for !m.stop() && !failed.Load() {
		sem <- struct{}{}
		b.number(next)
		t := time.Now()
		wait, err := sub.Submit(b)
		if err != nil {
			submitErr = err
			break
		}
		calls <- call{wait, t}
		next += uint64(b.n)
	}
	close(calls)
	<-finished
	if err := errors.Join(submitErr, waitErr); err != nil {
		return run{}, err
	}
	return m.result(start, lat, next-1), nil
}

// readFillBatch is the batch size used to write the entries that the
// random-read workload then reads; the fill is not timed.
const readFillBatch = 1024

// randomRead writes w.readN entries, then reads random indexes among
// them, one at a time, each checked for the index it carries. It always
// starts on an empty log (l.after is ignored).
func randomRead(e engine, w workload, l limits) (run, error) {
	next := uint64(1)
	for left := w.readN; left > 0; {
		b := newBatch(min(left, readFillBatch), w.size)
		b.number(next)
		if err := e.Append(b); err != nil {
			return run{}, fmt.Errorf("filling: %w", err)
		}
		if next == 1 {
			if _, err := e.Read(1); errors.Is(err, errNoRandomRead) {
				return run{skipped: err.Error()}, nil
			}
		}
		next += uint64(b.n)
		left -= b.n
	}
	n := next - 1
	rng := rand.New(rand.NewPCG(1, 2)) // the same index sequence for every engine
	m, done := newMeter(l)
	defer done()
	lat := make([]time.Duration, 0, 1<<20)
	start := time.Now()
	for !m.stop() {
		idx := 1 + rng.Uint64N(n)
		t := time.Now()
		data, err := e.Read(idx)
		d := time.Since(t)
		if err != nil {
			return run{}, err
		}
		if err := checkStamp(idx, data); err != nil {
			return run{}, err
		}
		lat = append(lat, d)
		m.add(1, len(data))
	}
	return m.result(start, lat, n), nil
}

// parseBatchSizes parses "1024x128,1x128" into (batch, size) pairs.
func parseBatchSizes(s string) ([][2]int, error) {
	var out [][2]int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		var b, sz int
		if _, err := fmt.Sscanf(strings.ReplaceAll(f, "×", "x"), "%dx%d", &b, &sz); err != nil || b < 1 || sz < 1 {
			return nil, fmt.Errorf("bad batch×size %q (want like 1024x128)", f)
		}
		out = append(out, [2]int{b, sz})
	}
	return out, nil
}
