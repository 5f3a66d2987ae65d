package main

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// sampleInterval is the spacing of the throughput-over-time samples.
const sampleInterval = 100 * time.Millisecond

// recorder collects per-operation latencies and counts from many goroutines.
type recorder struct {
	mu        sync.Mutex
	latencies []time.Duration
	entries   atomic.Int64
	bytes     atomic.Int64
	fsyncs    atomic.Int64 // raw bounds count their own fdatasyncs
	// longestCall is the longest time one Append call took to return
	// (pipelined), as opposed to the time to durability in latencies.
	longestCall atomic.Int64
}

// call records how long one call took to return.
func (r *recorder) call(d time.Duration) {
	for {
		cur := r.longestCall.Load()
		if int64(d) <= cur || r.longestCall.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

func newRecorder() *recorder { return &recorder{latencies: make([]time.Duration, 0, 1<<16)} }

func (r *recorder) done(start time.Time, entries, bytes int) {
	r.doneAfter(time.Since(start), entries, bytes)
}

func (r *recorder) doneAfter(d time.Duration, entries, bytes int) {
	r.mu.Lock()
	r.latencies = append(r.latencies, d)
	r.mu.Unlock()
	r.entries.Add(int64(entries))
	r.bytes.Add(int64(bytes))
}

// measure runs body until it returns (it polls stop, set after the
// configured duration), sampling the entries completed every 100 ms and
// keeping a progress line on a terminal.
func measure(key, name string, d time.Duration, body func(stop *atomic.Bool, rec *recorder) error) (result, error) {
	var stop atomic.Bool
	rec := newRecorder()
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	ticker := time.NewTicker(sampleInterval)
	defer ticker.Stop()
	tty := isTerminal(os.Stderr)
	start := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- body(&stop, rec) }()
	var samples []float64
	var last int64
	for {
		select {
		case err := <-errc:
			elapsed := time.Since(start)
			if tty {
				fmt.Fprint(os.Stderr, "\r\033[K")
			}
			if err != nil {
				return result{}, fmt.Errorf("%s: %w", name, err)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			return result{
				Key: key, Name: name, Entries: rec.entries.Load(), Bytes: rec.bytes.Load(), Fsyncs: rec.fsyncs.Load(),
				Elapsed: elapsed, latencies: quantileGrid(rec.latencies), Throughput: samples,
				LongestCall: time.Duration(rec.longestCall.Load()),
			}, nil
		case <-ticker.C:
			n := rec.entries.Load()
			samples = append(samples, float64(n-last)/sampleInterval.Seconds())
			last = n
			if tty && len(samples)%5 == 0 { // twice a second is enough to read
				s := time.Since(start).Seconds()
				fmt.Fprintf(os.Stderr, "\r\033[K%s: %.1fs, %.0f entries/s", name, s, float64(n)/s)
			}
		}
	}
}

// isTerminal reports whether f is a terminal, where a progress line that
// rewrites itself is readable; in a pipe or a file it would be noise.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// quantileSteps is how many steps quantileGrid keeps between the fastest
// and the slowest operation.
const quantileSteps = 10000

// quantileGrid sorts lat and, when there are more than quantileSteps+1
// samples, keeps only the quantiles 0, 1/quantileSteps, ..., 1 (the max):
// enough for p50, p99, p99.9 and the latency charts, in 80 KB instead of
// a sample per operation. Holding every sample of every workload until the
// report raised the later workloads' peak RSS by their garbage-collection
// headroom (a 128-goroutine run alone leaves 700 k samples).
func quantileGrid(lat []time.Duration) []time.Duration {
	slices.Sort(lat)
	n := len(lat)
	if n <= quantileSteps+1 {
		return lat
	}
	grid := make([]time.Duration, quantileSteps+1)
	for i := range grid {
		grid[i] = lat[i*(n-1)/quantileSteps]
	}
	return grid
}
