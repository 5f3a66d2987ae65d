// Command pipelined-leader appends the way a Raft leader should: it never
// waits for one batch to be durable before it sends the next. Up to
// -inflight Append calls are outstanding at any time; their futures
// complete in order as the fdatasyncs behind them finish, and many batches
// share one fdatasync. The durable index is printed as it advances, and the
// throughput at the end.
//
//	go run ./examples/pipelined-leader
//	go run ./examples/pipelined-leader -dir /mnt/nvme/tmp/pl -entries 1000000 -batch 64 -size 256 -inflight 128
//
// This is an illustration; for measurements use the bench command.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/raftlog/raftlog"
	"github.com/raftlog/raftlog/pipeline"
)

type config struct {
	dir      string
	entries  int // total entries to append
	batch    int // entries per Append call
	size     int // data bytes per entry
	inflight int // Append calls not yet durable, at most
	reports  int // progress lines over the run
}

func main() {
	var cfg config
	flag.StringVar(&cfg.dir, "dir", "", "log directory (default: a temporary one, removed at exit)")
	flag.IntVar(&cfg.entries, "entries", 200_000, "entries to append")
	flag.IntVar(&cfg.batch, "batch", 64, "entries per Append call")
	flag.IntVar(&cfg.size, "size", 256, "data bytes per entry")
	flag.IntVar(&cfg.inflight, "inflight", 64, "Append calls in flight (not yet durable) at most")
	flag.IntVar(&cfg.reports, "reports", 10, "progress lines")
	flag.Parse()
	if cfg.dir == "" {
		tmp, err := os.MkdirTemp("", "raftlog-pipelined-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer os.RemoveAll(tmp)
		cfg.dir = tmp
	}
	if _, err := run(cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pipelined-leader:", err)
		os.Exit(1)
	}
}

// result is what a run did.
type result struct {
	first, last uint64 // the indexes appended
	completions uint64 // futures completed, counted by their callbacks
	elapsed     time.Duration
}

func run(cfg config, out io.Writer) (result, error) {
	if cfg.entries <= 0 || cfg.batch <= 0 || cfg.size < 0 || cfg.inflight <= 0 {
		return result{}, fmt.Errorf("entries, batch and inflight must be positive, size not negative")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	log, err := raftlog.Open(cfg.dir, raftlog.Options{LogFileSize: 64 << 20})
	if err != nil {
		return result{}, err
	}
	defer log.Close()

	res := result{first: log.LastIndex() + 1}
	res.last = res.first + uint64(cfg.entries) - 1
	term := max(log.LastTerm(), 1)
	data := make([]byte, cfg.size) // Append copies it: one buffer serves every entry
	batch := make([]raftlog.Entry, cfg.batch)
	// window holds the futures of the calls in flight, oldest first.
	window := make(chan *pipeline.Future[uint64], cfg.inflight)
	var completions atomic.Uint64
	reportEvery := max(uint64(cfg.entries/max(cfg.reports, 1)), 1)
	nextReport := res.first - 1 + reportEvery

	fmt.Fprintf(out, "appending entries %d..%d: %d per call, %d bytes each, up to %d calls in flight\n",
		res.first, res.last, cfg.batch, cfg.size, cfg.inflight)
	start := time.Now()
	for next := res.first; next <= res.last; {
		n := min(uint64(cfg.batch), res.last-next+1)
		for i := range batch[:n] {
			batch[i] = raftlog.Entry{Index: next + uint64(i), Term: term, Data: data}
		}
		// Room in the window first: wait for the oldest call, which also
		// means every call before it is durable.
		if len(window) == cap(window) {
			if _, err := (<-window).Wait(ctx); err != nil {
				return res, err
			}
		}
		fut := log.Append(batch[:n])
		// A callback instead of a wait, for whoever tracks completions
		// (a Raft leader would advance its own match index here).
		fut.OnComplete(func(uint64, error) { completions.Add(1) })
		window <- fut
		next += n
		if last := next - 1; last >= nextReport {
			fmt.Fprintf(out, "  appended through %d, durable through %d, %d calls in flight\n",
				last, log.DurableIndex(), len(window))
			nextReport += reportEvery
		}
	}
	for len(window) > 0 {
		if _, err := (<-window).Wait(ctx); err != nil {
			return res, err
		}
	}
	res.elapsed = time.Since(start)
	if d := log.DurableIndex(); d != res.last {
		return res, fmt.Errorf("durable index %d after every future completed, want %d", d, res.last)
	}
	if err := log.Close(); err != nil {
		return res, err
	}
	// Callbacks run after waiters wake; Close has stopped the goroutine
	// that runs them, so every one has run by now.
	res.completions = completions.Load()
	secs := res.elapsed.Seconds()
	fmt.Fprintf(out, "durable through %d: %d entries in %v, %.0f entries/s, %.1f MB/s of entry data\n",
		res.last, cfg.entries, res.elapsed.Round(time.Millisecond),
		float64(cfg.entries)/secs, float64(cfg.entries*cfg.size)/secs/1e6)
	return res, nil
}
