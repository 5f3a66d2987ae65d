// Command peers measures raftlog side by side with the other Go log
// engines, each through its public API and configured durable, on a real
// disk:
//
//	raftlog        raftlog.Open + Append(...).Wait, default Options
//	etcd-wal       go.etcd.io/etcd/server/v3/storage/wal: Save(hardState, entries)
//	raft-wal       github.com/hashicorp/raft-wal: StoreLogs / GetLog
//	raft-boltdb    github.com/hashicorp/raft-boltdb/v2: StoreLogs / GetLog, NoSync false
//	pebble-record  github.com/cockroachdb/pebble/record.LogWriter: SyncRecord + WaitGroup
//	tidwall-wal    github.com/tidwall/wal: WriteBatch / Read, NoSync false
//	raw            pwrite + fdatasync of the bare bytes (and a writer+syncer
//	               group-commit pipeline for concurrent and pipelined appends)
//
// Workloads: batch-wait (one call of B entries of S bytes at a time, each
// waited for), concurrent (C goroutines each appending one entry and
// waiting), pipelined (engines with a non-blocking append only: up to N
// entries in flight), and random read of one entry by index after writing
// many (engines that have such a read).
//
// Engines run interleaved — every workload visits every engine in turn,
// and the whole sequence repeats -rounds times — each run in a fresh
// directory under -dir, so disk noise falls on all of them alike. Each
// table reports, per engine, the run with the median entries/s.
//
//	go run .                              # the default set, 1 round
//	go run . -rounds 3 -duration 5s -json results.json
//	go run . -workloads batch-wait -batchwait 64x128 -engines raftlog,raw
//
// See README.md for how each engine is configured.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/raftlog/raftlog"
	"golang.org/x/sys/unix"
)

type config struct {
	dir       string
	rounds    int
	duration  time.Duration
	warmup    time.Duration
	workloads string
	engines   string
	batchWait string
	conc      int
	concSize  int
	pipeBatch int
	pipeSize  int
	inflight  int
	readN     int
	readSize  int
	jsonPath  string
	fileSize  int64
	keep      bool
}

func main() {
	var c config
	flag.StringVar(&c.dir, "dir", "", "directory on the disk to test (default: the system temp directory unless it is tmpfs, else the working directory)")
	flag.IntVar(&c.rounds, "rounds", 1, "times to repeat the whole interleaved sequence; tables show the median run")
	flag.DurationVar(&c.duration, "duration", 2*time.Second, "how long each engine runs each workload")
	flag.DurationVar(&c.warmup, "warmup", 0, "run each append workload this long, unmeasured, on the same log before measuring (0: measure from a fresh log)")
	flag.StringVar(&c.workloads, "workloads", "batch-wait,concurrent,pipelined,read", "workloads to run, comma separated")
	flag.StringVar(&c.engines, "engines", "all", "engines to run, comma separated (raftlog always runs: ratios are to it)")
	flag.StringVar(&c.batchWait, "batchwait", "1024x128,1024x1024,1x128", "batch-wait: entries×bytes per call, comma separated")
	flag.IntVar(&c.conc, "conc", 128, "concurrent: appending goroutines")
	flag.IntVar(&c.concSize, "concsize", 128, "concurrent: bytes per entry")
	flag.IntVar(&c.pipeBatch, "pipebatch", 64, "pipelined: entries per call")
	flag.IntVar(&c.pipeSize, "pipesize", 128, "pipelined: bytes per entry")
	flag.IntVar(&c.inflight, "inflight", 4096, "pipelined: most entries submitted but not yet durable")
	flag.IntVar(&c.readN, "readn", 1_000_000, "read: entries written before the random reads")
	flag.IntVar(&c.readSize, "readsize", 128, "read: bytes per entry")
	flag.Int64Var(&c.fileSize, "raftlogfilesize", 0, "also run a second raftlog engine with this LogFileSize (bytes, a power of two), next to the default one")
	flag.StringVar(&c.jsonPath, "json", "", "also write every run and the medians to this JSON file")
	flag.BoolVar(&c.keep, "keep", false, "keep the data directories")
	flag.Parse()
	if err := runAll(c); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

// plan turns the flags into the workloads and engine factories to run.
func plan(c config) ([]workload, []func() engine, error) {
	if c.rounds < 1 || c.duration <= 0 || c.conc < 1 || c.pipeBatch < 1 || c.readN < 1 ||
		c.concSize < 1 || c.pipeSize < 1 || c.readSize < 1 {
		return nil, nil, errors.New("-rounds, -duration, -conc, -pipebatch, -readn and the sizes must be positive")
	}
	if int64(c.readN)*int64(c.readSize) > rawFileSize {
		// The raw engine's file would wrap and lose its index→offset map.
		rawFileSize = int64(c.readN) * int64(c.readSize)
	}
	var ws []workload
	for _, k := range strings.Split(c.workloads, ",") {
		switch k = strings.TrimSpace(k); k {
		case kindBatchWait:
			pairs, err := parseBatchSizes(c.batchWait)
			if err != nil {
				return nil, nil, err
			}
			for _, p := range pairs {
				ws = append(ws, workload{kind: kindBatchWait, batch: p[0], size: p[1]})
			}
		case kindConcurrent:
			ws = append(ws, workload{kind: kindConcurrent, batch: 1, size: c.concSize, conc: c.conc})
		case kindPipelined:
			ws = append(ws, workload{kind: kindPipelined, batch: c.pipeBatch, size: c.pipeSize, inflight: c.inflight})
		case kindRead:
			ws = append(ws, workload{kind: kindRead, size: c.readSize, readN: c.readN})
		case "":
		default:
			return nil, nil, fmt.Errorf("unknown workload %q", k)
		}
	}
	all := engineFactories
	if c.fileSize != 0 {
		name := fmt.Sprintf("raftlog-%dM", c.fileSize>>20)
		variant := func() engine { return &raftlogEngine{name: name, opts: raftlog.Options{LogFileSize: c.fileSize}} }
		all = slices.Insert(slices.Clone(all), 1, variant)
	}
	if c.engines == "all" {
		return ws, all, nil
	}
	want := map[string]bool{"raftlog": true}
	if c.fileSize != 0 {
		want[all[1]().Name()] = true
	}
	for _, n := range strings.Split(c.engines, ",") {
		want[strings.TrimSpace(n)] = true
	}
	var fs []func() engine
	for _, f := range all {
		if name := f().Name(); want[name] {
			fs = append(fs, f)
			delete(want, name)
		}
	}
	delete(want, "")
	if len(want) > 0 {
		return nil, nil, fmt.Errorf("unknown engines %v", slices.Sorted(func(yield func(string) bool) {
			for n := range want {
				if !yield(n) {
					return
				}
			}
		}))
	}
	return ws, fs, nil
}

func runAll(c config) error {
	ws, fs, err := plan(c)
	if err != nil {
		return err
	}
	base := c.dir
	if base == "" {
		base = localTempDir()
	}
	root, err := os.MkdirTemp(base, "raftlog-peers-")
	if err != nil {
		return err
	}
	if !c.keep {
		defer os.RemoveAll(root)
	}
	fmt.Printf("peers: dir %s, %s per run (after %s warm-up), %d round(s), %d workload(s) × %d engine(s)\n\n",
		root, c.duration, c.warmup, c.rounds, len(ws), len(fs))

	var results []result
	for round := 1; round <= c.rounds; round++ {
		for wi, w := range ws {
			for _, f := range fs {
				r, err := runOne(root, f(), w, round, c)
				if err != nil {
					return fmt.Errorf("round %d, %s: %w", round, w, err)
				}
				r.workloadIndex = wi
				results = append(results, r)
				progress(r)
			}
		}
	}
	fmt.Fprintln(os.Stderr)
	sums := summarize(ws, results)
	printTables(os.Stdout, ws, sums, c)
	if c.jsonPath != "" {
		if err := writeJSON(c.jsonPath, c, results, sums); err != nil {
			return err
		}
	}
	return nil
}

// runOne runs one engine through one workload in a new directory, then
// removes the directory and syncs the file system, so the next engine does
// not pay for this one's writeback.
func runOne(root string, e engine, w workload, round int, c config) (result, error) {
	dir, err := os.MkdirTemp(root, e.Name()+"-")
	if err != nil {
		return result{}, err
	}
	if err := e.Open(dir); err != nil {
		return result{}, err
	}
	l := limits{duration: c.duration}
	var runErr error
	if c.warmup > 0 && w.kind != kindRead {
		var warm run
		warm, runErr = runWorkload(e, w, limits{duration: c.warmup})
		l.after = warm.lastIndex
	}
	var r run
	if runErr == nil {
		r, runErr = runWorkload(e, w, l)
	}
	closeErr := e.Close()
	if err := errors.Join(runErr, closeErr); err != nil {
		return result{}, fmt.Errorf("%s: %w", e.Name(), err)
	}
	if !c.keep {
		if err := os.RemoveAll(dir); err != nil {
			return result{}, err
		}
	}
	unix.Sync()
	return newResult(e.Name(), w, round, r), nil
}

// progress prints one line per run on stderr, so a long run shows where
// it is.
func progress(r result) {
	if r.Skipped != "" {
		fmt.Fprintf(os.Stderr, "  round %d  %-40s %-14s skipped: %s\n", r.Round, r.Workload, r.Engine, r.Skipped)
		return
	}
	fmt.Fprintf(os.Stderr, "  round %d  %-40s %-14s %12.0f entries/s\n", r.Round, r.Workload, r.Engine, r.EntriesPerSec)
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
