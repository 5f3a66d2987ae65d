// Command bench measures raftlog's durable append throughput and latency on
// a real disk, next to the disk's own limit measured in the same run.
//
//	go run ./bench                       # temporary directory on the local disk
//	go run ./bench -dir /mnt/nvme/tmp    # a directory on the disk to test
//	go run ./bench -workload batch-wait -batch 1024 -size 128
//
// Workloads:
//
//	pipelined   keep up to -inflight entries not yet durable, -batch entries of
//	            -size bytes per Append call, never waiting before the next call
//	batch-wait  one Append call of -batch entries at a time, each waited for
//	concurrent  -conc goroutines, each appending -batch entries and waiting
//
// The raw line is what the directory's disk does with pwrite+fdatasync of the
// same bytes per sync, one writer, no encoding: the ceiling for batch-wait.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftlog/raftlog"
	"github.com/raftlog/raftlog/logqueue"
	"golang.org/x/sys/unix"
)

type config struct {
	dir      string
	workload string
	duration time.Duration
	batch    int
	size     int
	inflight int
	conc     int
	fileSize int64
	raw      bool
	keep     bool
	prealloc string
}

func main() {
	var c config
	flag.StringVar(&c.dir, "dir", "", "directory to run in (default: a new temporary directory on the local disk, removed afterwards)")
	flag.StringVar(&c.workload, "workload", "all", "pipelined, batch-wait, concurrent or all")
	flag.DurationVar(&c.duration, "duration", 3*time.Second, "how long each workload runs")
	flag.IntVar(&c.batch, "batch", 64, "entries per Append call")
	flag.IntVar(&c.size, "size", 128, "bytes of data per entry")
	flag.IntVar(&c.inflight, "inflight", 4096, "pipelined: most entries appended but not yet durable")
	flag.IntVar(&c.conc, "conc", 128, "concurrent: appending goroutines")
	flag.Int64Var(&c.fileSize, "filesize", 0, "log file size in bytes (0: raftlog's default, 1 GiB)")
	flag.BoolVar(&c.raw, "raw", true, "also measure the raw disk (pwrite+fdatasync) for comparison")
	flag.BoolVar(&c.keep, "keep", false, "keep the data directories")
	flag.StringVar(&c.prealloc, "prealloc", "fallocate", "how new log files are preallocated: fallocate, zerofill or sparse")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	base := c.dir
	if base == "" {
		base = localTempDir()
	}
	root, err := os.MkdirTemp(base, "raftlog-bench-")
	if err != nil {
		return err
	}
	if !c.keep {
		defer os.RemoveAll(root)
	}
	fmt.Printf("raftlog bench: dir %s, %s per workload, %d B entries\n\n", root, c.duration, c.size)

	workloads := []string{c.workload}
	if c.workload == "all" {
		workloads = []string{"batch-wait", "pipelined", "concurrent"}
	}
	var rows []result
	for _, w := range workloads {
		batch := c.batch
		if w == "concurrent" {
			batch = 1
		}
		if c.raw && w == "batch-wait" {
			r, err := rawDisk(filepath.Join(root, "raw-"+w), c.duration, batch, c.size)
			if err != nil {
				return err
			}
			rows = append(rows, r)
		}
		r, err := runWorkload(filepath.Join(root, w), w, c, batch)
		if err != nil {
			return fmt.Errorf("%s: %w", w, err)
		}
		rows = append(rows, r)
	}
	printTable(rows)
	return nil
}

// localTempDir is the system's temporary directory unless it lives in
// memory (tmpfs), where fdatasync costs nothing and the figures would be
// meaningless; then the working directory, which is on a disk.
func localTempDir() string {
	tmp := os.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(tmp, &st); err == nil && st.Type != unix.TMPFS_MAGIC {
		return tmp
	}
	if wd, err := os.Getwd(); err == nil {
		return wd
	}
	return tmp
}

type result struct {
	name      string
	entries   int64
	bytes     int64
	elapsed   time.Duration
	latencies []time.Duration
}

func (r result) perSec(n int64) float64 { return float64(n) / r.elapsed.Seconds() }

func runWorkload(dir, workload string, c config, batch int) (result, error) {
	opts := raftlog.Options{LogFileSize: c.fileSize}
	switch c.prealloc {
	case "zerofill":
		opts.Prealloc = logqueue.ZeroFill
	case "fallocate":
		opts.Prealloc = logqueue.Fallocate
	case "sparse":
		opts.Prealloc = logqueue.Sparse
	default:
		return result{}, fmt.Errorf("unknown -prealloc %q", c.prealloc)
	}
	log, err := raftlog.Open(dir, opts)
	if err != nil {
		return result{}, err
	}
	defer log.Close()
	name := fmt.Sprintf("raftlog %s %d×%dB", workload, batch, c.size)
	switch workload {
	case "pipelined":
		name = fmt.Sprintf("raftlog pipelined %d×%dB ≤%d in flight", batch, c.size, c.inflight)
		return measure(name, c, func(stop *atomic.Bool, rec *recorder) error { return pipelined(log, c, batch, stop, rec) })
	case "batch-wait":
		return measure(name, c, func(stop *atomic.Bool, rec *recorder) error { return batchWait(log, c, batch, stop, rec) })
	case "concurrent":
		name = fmt.Sprintf("raftlog %d goroutines × 1×%dB", c.conc, c.size)
		return measure(name, c, func(stop *atomic.Bool, rec *recorder) error { return concurrent(log, c, stop, rec) })
	}
	return result{}, fmt.Errorf("unknown workload %q", workload)
}

// recorder collects per-call latencies and counts from many goroutines.
type recorder struct {
	mu        sync.Mutex
	latencies []time.Duration
	entries   atomic.Int64
	bytes     atomic.Int64
}

func (r *recorder) done(start time.Time, entries, bytes int) {
	d := time.Since(start)
	r.mu.Lock()
	r.latencies = append(r.latencies, d)
	r.mu.Unlock()
	r.entries.Add(int64(entries))
	r.bytes.Add(int64(bytes))
}

func measure(name string, c config, body func(stop *atomic.Bool, rec *recorder) error) (result, error) {
	var stop atomic.Bool
	rec := &recorder{latencies: make([]time.Duration, 0, 1<<20)}
	timer := time.AfterFunc(c.duration, func() { stop.Store(true) })
	defer timer.Stop()
	progress := time.NewTicker(time.Second)
	defer progress.Stop()
	tty := isTerminal(os.Stderr)
	start := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- body(&stop, rec) }()
	for {
		select {
		case err := <-errc:
			elapsed := time.Since(start)
			if tty {
				fmt.Fprint(os.Stderr, "\r\033[K")
			}
			if err != nil {
				return result{}, err
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			return result{name: name, entries: rec.entries.Load(), bytes: rec.bytes.Load(), elapsed: elapsed, latencies: rec.latencies}, nil
		case <-progress.C:
			if tty {
				s := time.Since(start).Seconds()
				fmt.Fprintf(os.Stderr, "\r\033[K%s: %.0fs, %.0f entries/s", name, s, float64(rec.entries.Load())/s)
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

func pipelined(log *raftlog.Log, c config, batch int, stop *atomic.Bool, rec *recorder) error {
	es := makeEntries(batch, c.size)
	slots := max(1, c.inflight/batch)
	sem := make(chan struct{}, slots)
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	for !stop.Load() {
		if p := firstErr.Load(); p != nil {
			return *p
		}
		sem <- struct{}{}
		number(es, log.LastIndex()+1)
		start := time.Now()
		wg.Add(1)
		log.Append(es).OnComplete(func(_ uint64, err error) {
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

func batchWait(log *raftlog.Log, c config, batch int, stop *atomic.Bool, rec *recorder) error {
	es := makeEntries(batch, c.size)
	ctx := context.Background()
	for !stop.Load() {
		number(es, log.LastIndex()+1)
		start := time.Now()
		if _, err := log.Append(es).Wait(ctx); err != nil {
			return err
		}
		rec.done(start, batch, batch*c.size)
	}
	return nil
}

func concurrent(log *raftlog.Log, c config, stop *atomic.Bool, rec *recorder) error {
	var mu sync.Mutex // orders index assignment with the Append call
	var wg sync.WaitGroup
	errc := make(chan error, c.conc)
	for g := 0; g < c.conc; g++ {
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
					errc <- err
					return
				}
				rec.done(start, 1, c.size)
			}
		}()
	}
	wg.Wait()
	close(errc)
	return errors.Join(slices.Collect(func(yield func(error) bool) {
		for err := range errc {
			if !yield(err) {
				return
			}
		}
	})...)
}

// rawDisk is the ceiling: the same bytes per sync written with pwrite and
// fdatasync into a zero-filled file, one writer, nothing else.
func rawDisk(dir string, d time.Duration, batch, size int) (result, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return result{}, err
	}
	const fileSize = 256 << 20
	f, err := os.Create(filepath.Join(dir, "raw"))
	if err != nil {
		return result{}, err
	}
	defer f.Close()
	zeros := make([]byte, 1<<20)
	for off := int64(0); off < fileSize; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros, off); err != nil {
			return result{}, err
		}
	}
	if err := f.Sync(); err != nil {
		return result{}, err
	}
	buf := make([]byte, batch*size)
	fd := int(f.Fd())
	rec := &recorder{}
	var off int64
	start := time.Now()
	for time.Since(start) < d {
		t := time.Now()
		if off+int64(len(buf)) > fileSize {
			off = 0
		}
		if _, err := unix.Pwrite(fd, buf, off); err != nil {
			return result{}, err
		}
		if err := unix.Fdatasync(fd); err != nil {
			return result{}, err
		}
		off += int64(len(buf))
		rec.done(t, batch, len(buf))
	}
	return result{name: fmt.Sprintf("raw disk pwrite+fdatasync %d×%dB", batch, size), entries: rec.entries.Load(),
		bytes: rec.bytes.Load(), elapsed: time.Since(start), latencies: rec.latencies}, nil
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i]
}

func printTable(rows []result) {
	fmt.Printf("%-48s %12s %9s %9s %9s %9s %9s\n", "workload", "entries/s", "MB/s", "p50", "p99", "p99.9", "max")
	for _, r := range rows {
		lat := slices.Clone(r.latencies)
		slices.Sort(lat)
		fmt.Printf("%-48s %12.0f %9.1f %9s %9s %9s %9s\n", r.name, r.perSec(r.entries), r.perSec(r.bytes)/1e6,
			round(percentile(lat, 0.50)), round(percentile(lat, 0.99)), round(percentile(lat, 0.999)), round(percentile(lat, 1)))
	}
}

func round(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}
