package raftlog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/raftlog/raftlog/logqueue"
	"golang.org/x/sys/unix"
)

// appendWaitCases are the batch-then-wait shapes of the performance issue:
// each iteration appends batch entries of size bytes and waits for them.
var appendWaitCases = []struct{ batch, size int }{
	{1, 128}, {64, 128}, {1024, 128}, {1024, 1024},
}

// BenchmarkAppendWait is batch-then-wait: one Append call, then wait for its
// future, nothing else in flight. It reports the p50 and p99 of the call's
// latency, entries/s, and the p50 of the Append call alone (append-p50-ns:
// the encoding, which holds the caller before the write can start).
// BenchmarkRawWriteSync is the same bytes through pwrite+fdatasync, for the
// ratio (run both in one invocation).
func BenchmarkAppendWait(b *testing.B) {
	calls := make([]time.Duration, 0, 1024)
	benchBatchThenWait(b, func(l *Log, es []Entry) error {
		t := time.Now()
		f := l.Append(es)
		calls = append(calls, time.Since(t))
		_, err := f.Wait(context.Background())
		return err
	}, func(b *testing.B, _ *Log) {
		slices.Sort(calls)
		b.ReportMetric(float64(calls[len(calls)/2].Nanoseconds()), "append-p50-ns")
		calls = calls[:0]
	})
}

// BenchmarkAppendWaitCall is BenchmarkAppendWait through Log.AppendWait,
// which writes and syncs on the calling goroutine when nothing else is in
// flight (always, here). on-caller is the share of calls that did.
func BenchmarkAppendWaitCall(b *testing.B) {
	benchBatchThenWait(b, func(l *Log, es []Entry) error {
		_, err := l.AppendWait(context.Background(), es)
		return err
	}, func(b *testing.B, l *Log) {
		// A new log per run of the case: its counter holds this run's calls.
		b.ReportMetric(float64(l.Metrics().AppendsOnCaller)/float64(b.N), "on-caller")
	})
}

// benchBatchThenWait runs appendWaitCases, each iteration one batch given
// to appendAndWait on a new log, and reports latency and entries/s; report,
// if set, adds its own metrics at the end of each case.
func benchBatchThenWait(b *testing.B, appendAndWait func(*Log, []Entry) error, report func(*testing.B, *Log)) {
	for _, c := range appendWaitCases {
		b.Run(fmt.Sprintf("batch=%d/size=%d", c.batch, c.size), func(b *testing.B) {
			l := openLog(b, b.TempDir(), benchOptions())
			defer l.Close()
			data := make([]byte, c.size)
			es := make([]Entry, c.batch)
			for i := range es {
				es[i] = Entry{Term: 1, Data: data}
			}
			lat := make([]time.Duration, 0, b.N)
			next := uint64(1)
			b.SetBytes(int64(c.batch * c.size))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				for j := range es {
					es[j].Index = next
					next++
				}
				t := time.Now()
				if err := appendAndWait(l, es); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t))
			}
			reportLatency(b, lat, c.batch)
			if report != nil {
				report(b, l)
			}
		})
	}
}

// BenchmarkRawWriteSync writes the bytes an AppendWait iteration encodes
// (EncodedSize per entry) with one pwrite and one fdatasync into a
// zero-filled file: the disk's limit for batch-then-wait.
func BenchmarkRawWriteSync(b *testing.B) {
	for _, c := range appendWaitCases {
		b.Run(fmt.Sprintf("batch=%d/size=%d", c.batch, c.size), func(b *testing.B) {
			const fileSize = 256 << 20
			f, err := os.Create(filepath.Join(b.TempDir(), "raw"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			zeros := make([]byte, 1<<20)
			for off := int64(0); off < fileSize; off += int64(len(zeros)) {
				if _, err := f.WriteAt(zeros, off); err != nil {
					b.Fatal(err)
				}
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, c.batch*int(logqueue.EncodedSize(0, c.size)))
			fd := int(f.Fd())
			lat := make([]time.Duration, 0, b.N)
			var off int64
			b.SetBytes(int64(c.batch * c.size))
			b.ResetTimer()
			for range b.N {
				if off+int64(len(buf)) > fileSize {
					off = 0
				}
				t := time.Now()
				if _, err := unix.Pwrite(fd, buf, off); err != nil {
					b.Fatal(err)
				}
				if err := unix.Fdatasync(fd); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t))
				off += int64(len(buf))
			}
			reportLatency(b, lat, c.batch)
		})
	}
}

// benchOptions are the options of the append benchmarks; the environment
// variable RAFTLOG_BENCH_PREALLOC picks the preallocation mode to compare.
func benchOptions() Options {
	var o Options
	if name := os.Getenv("RAFTLOG_BENCH_PREALLOC"); name != "" {
		mode, err := logqueue.ParsePreallocMode(name)
		if err != nil {
			panic("RAFTLOG_BENCH_PREALLOC: " + err.Error())
		}
		o.Prealloc = mode
	}
	return o
}

func reportLatency(b *testing.B, lat []time.Duration, batch int) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(len(lat)*batch)/b.Elapsed().Seconds(), "entries/s")
}
