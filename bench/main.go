// Command bench measures raftlog on a real disk, next to the disk's own
// limits measured in the same run, and prints each raftlog figure beside the
// limit that bounds it as a ratio ("vs raw").
//
//	go run ./bench                       # temporary directory on the local disk
//	go run ./bench -dir /mnt/nvme/tmp    # a directory on the disk to test
//	go run ./bench -workload batch-wait -batch 1024 -size 128
//	go run ./bench -json out.json -out charts/
//	go run ./bench -recycled -workload batch-wait,pipelined   # steady state
//
// Workloads (-workload, default all):
//
//	batch-wait   one Append call of -batch entries at a time, each waited for
//	pipelined    keep up to -inflight entries not yet durable, -batch entries of
//	             -size bytes per Append call, never waiting before the next call
//	concurrent   -conc goroutines, each appending one entry and waiting
//	rotation     pipelined with 1 MiB log files: the cost of rotating files
//	steady       pipelined on 64 MiB log files with compaction behind it,
//	             keeping the last 64 MiB of entries: a leader that
//	             snapshots, freeing whole files as it appends, which come
//	             back as new ones (recycled); then one timed reopen
//	reopen       Open of a log of -reopen-size bytes of 1 KiB entries after a
//	             clean Close (the log is written first, untimed, as "fill")
//	seq-read     an Iterator (ReuseBuffers) over everything in that log (warm
//	             page cache)
//	random-read  Entry of random indexes of that log (warm page cache)
//
// The raw lines are what the directory's disk does without raftlog, one
// bound per raftlog line: pwrite+fdatasync of the bytes raftlog made durable
// per fdatasync (batch-wait, concurrent), a writer goroutine and an
// fdatasync goroutine over the same bytes (pipelined, rotation, steady), 1 MiB
// sequential pwrites (fill), 1 MiB preads of the log files just written
// (seq-read) and preads of one item's size at random offsets (random-read).
// The reads are warm: dropping the page cache needs root.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

type config struct {
	dir        string
	workload   string
	duration   time.Duration
	batch      int
	size       int
	inflight   int
	conc       int
	fileSize   int64
	raw        bool
	keep       bool
	prealloc   string
	spares     int
	recycled   bool
	reopenSize int64
	reopens    int
	jsonPath   string
	outDir     string
	quiet      bool   // no table on stdout (tests)
	stopAt     uint64 // pipelined: stop once LastIndex reaches it (fill)
}

// knownWorkloads is every workload, in the order they run: the append
// workloads, then the read workloads, which share one written log.
var knownWorkloads = []string{"batch-wait", "pipelined", "concurrent", "rotation", "steady", "reopen", "seq-read", "random-read"}

// workloadOrder is -workload all.
var workloadOrder = knownWorkloads

func main() {
	var c config
	flag.StringVar(&c.dir, "dir", "", "directory to run in (default: a new temporary directory on the local disk, removed afterwards)")
	flag.StringVar(&c.workload, "workload", "all", "comma-separated list of "+strings.Join(knownWorkloads, ", ")+", or all")
	flag.DurationVar(&c.duration, "duration", 3*time.Second, "how long each timed workload (and its raw bound) runs")
	flag.IntVar(&c.batch, "batch", 64, "entries per Append call")
	flag.IntVar(&c.size, "size", 128, "bytes of data per entry (append workloads)")
	flag.IntVar(&c.inflight, "inflight", 4096, "pipelined, rotation: most entries appended but not yet durable")
	flag.IntVar(&c.conc, "conc", 128, "concurrent: appending goroutines")
	flag.Int64Var(&c.fileSize, "filesize", 0, "log file size in bytes (0: raftlog's default, 1 GiB); rotation always uses 1 MiB")
	flag.BoolVar(&c.raw, "raw", true, "also measure the raw disk limits for comparison")
	flag.BoolVar(&c.keep, "keep", false, "keep the data directories")
	flag.StringVar(&c.prealloc, "prealloc", "zeroahead", "how new log files are preallocated: zeroahead, fallocate, zerofill or sparse")
	flag.IntVar(&c.spares, "spares", 0, "compacted log files kept for reuse as new ones (raftlog's SpareLogFiles: 0 the default, 2; -1 none); only steady compacts")
	flag.BoolVar(&c.recycled, "recycled", false, "batch-wait, pipelined, concurrent: 64 MiB files (unless -filesize) with compaction behind the appender, after an untimed warm-up, so that every file the run writes is a recycled one (a Raft log in steady state)")
	flag.Int64Var(&c.reopenSize, "reopen-size", 256<<20, "reopen, seq-read, random-read: bytes of 1 KiB entries in the log")
	flag.IntVar(&c.reopens, "reopens", 3, "reopen: how many times the log is closed and opened")
	flag.StringVar(&c.jsonPath, "json", "", "write all results as JSON to this file")
	flag.StringVar(&c.outDir, "out", "", "write SVG charts (latency CDF, throughput over time) into this directory")
	tracePath := flag.String("trace", "", "write a Go execution trace of the whole run to this file (go tool trace; -pprof=sched for scheduler latency)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	flag.Parse()
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer stop()
	}
	if *tracePath != "" {
		stop, err := startTrace(*tracePath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer stop()
	}
	if _, err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// startTrace starts a runtime execution trace into path and returns what
// stops it and closes the file.
func startTrace(path string) (func(), error) {
	return startRecording(path, "trace", trace.Start, trace.Stop)
}

// startCPUProfile starts a CPU profile into path and returns what stops it
// and closes the file.
func startCPUProfile(path string) (func(), error) {
	return startRecording(path, "cpu profile", pprof.StartCPUProfile, pprof.StopCPUProfile)
}

// startRecording creates path, starts a recording into it and returns what
// stops the recording and closes the file.
func startRecording(path, what string, start func(io.Writer) error, stop func()) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		stop()
		if err := f.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s: %v\n", what, err)
		}
	}, nil
}

// selectWorkloads expands -workload into the workloads to run, in the
// canonical order whatever the order given.
func selectWorkloads(spec string) ([]string, error) {
	if spec == "all" || spec == "" {
		return workloadOrder, nil
	}
	want := strings.Split(spec, ",")
	for _, w := range want {
		if !slices.Contains(knownWorkloads, strings.TrimSpace(w)) {
			return nil, fmt.Errorf("unknown workload %q (want %s or all)", w, strings.Join(knownWorkloads, ", "))
		}
	}
	var ws []string
	for _, w := range knownWorkloads {
		if slices.ContainsFunc(want, func(s string) bool { return strings.TrimSpace(s) == w }) {
			ws = append(ws, w)
		}
	}
	return ws, nil
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
