package raftlog

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The read benchmarks share one log of readBenchEntries entries of
// readBenchSize data bytes, written once, closed and opened again so that
// every read comes from the page cache (warm), as in the bench command's
// seq-read and random-read. The Raw benchmarks read the same log files with
// bare preads in the same run: the ratios of the issue are taken against
// them (Entry against RawPread, Iterator against RawSeqRead).
const (
	readBenchEntries = 64 << 10
	readBenchSize    = 1 << 10
	// readBenchFileSize holds the whole log in one file, which the Raw
	// benchmarks read.
	readBenchFileSize = 128 << 20
)

var readBench struct {
	once sync.Once
	dir  string
	err  error
}

// readBenchLog opens the shared log (writing it on first use). It lives in
// a directory of its own, which TestMain removes.
func readBenchLog(b *testing.B) *Log {
	b.Helper()
	readBench.once.Do(func() {
		dir, err := os.MkdirTemp("", "raftlog-readbench-")
		if err != nil {
			readBench.err = err
			return
		}
		readBench.dir = dir
		l := openLog(b, dir, Options{LogFileSize: readBenchFileSize})
		data := make([]byte, readBenchSize)
		es := make([]Entry, 256)
		next := uint64(1)
		var f interface {
			Wait(context.Context) (uint64, error)
		}
		for next <= readBenchEntries {
			for i := range es {
				data[0] = byte(next)
				es[i] = Entry{Index: next, Term: 1, Data: data}
				next++
			}
			f = l.Append(es)
		}
		if _, err := f.Wait(context.Background()); err != nil {
			readBench.err = err
			return
		}
		readBench.err = l.Close()
	})
	require.NoError(b, readBench.err)
	l := openLog(b, readBench.dir, Options{LogFileSize: readBenchFileSize})
	b.Cleanup(func() { l.Close() })
	return l
}

// TestMain removes the read benchmarks' log after all tests and benchmarks.
func TestMain(m *testing.M) {
	code := m.Run()
	if readBench.dir != "" {
		os.RemoveAll(readBench.dir)
	}
	os.Exit(code)
}

// BenchmarkEntry reads entries at uniformly random indexes (warm).
func BenchmarkEntry(b *testing.B) {
	l := readBenchLog(b)
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(readBenchSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		idx := 1 + rng.Uint64N(readBenchEntries)
		e, err := l.Entry(idx)
		if err != nil {
			b.Fatal(err)
		}
		if e.Index != idx || len(e.Data) != readBenchSize {
			b.Fatalf("entry %d: got index %d, %d bytes", idx, e.Index, len(e.Data))
		}
	}
}

// BenchmarkTerm asks for the term of random indexes below the ones whose
// terms are kept in memory (the log was reopened: none are).
func BenchmarkTerm(b *testing.B) {
	l := readBenchLog(b)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t, err := l.Term(1 + rng.Uint64N(readBenchEntries))
		if err != nil || t != 1 {
			b.Fatal(t, err)
		}
	}
}

// BenchmarkEntries reads runs of 64 entries from random places, as a leader
// building an append message for a follower does.
func BenchmarkEntries(b *testing.B) {
	l := readBenchLog(b)
	rng := rand.New(rand.NewPCG(1, 2))
	const run = 64
	b.SetBytes(run * readBenchSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lo := 1 + rng.Uint64N(readBenchEntries-run)
		es, err := l.Entries(lo, lo+run, 0)
		if err != nil {
			b.Fatal(err)
		}
		if len(es) != run || es[run-1].Index != lo+run-1 {
			b.Fatalf("entries [%d, %d): got %d", lo, lo+run, len(es))
		}
	}
}

// BenchmarkIterator iterates the whole log with Next(1024, 1 MiB), the bench
// command's seq-read, at the default read-ahead; one iteration is one entry.
// (A read-ahead of 64 KiB or 256 KiB measured slower than the 1 MiB
// default on the machine of issue 6.)
func BenchmarkIterator(b *testing.B) { benchIterator(b, IterOptions{}) }

// BenchmarkIteratorReuse is BenchmarkIterator with ReuseBuffers, as a
// replication loop that is done with each batch before the next would read.
func BenchmarkIteratorReuse(b *testing.B) { benchIterator(b, IterOptions{ReuseBuffers: true}) }

func benchIterator(b *testing.B, opts IterOptions) {
	l := readBenchLog(b)
	b.SetBytes(readBenchSize)
	b.ReportAllocs()
	b.ResetTimer()
	var it *Iterator
	for n := 0; n < b.N; {
		if it == nil {
			it = l.NewIterator(1, opts)
		}
		es, err := it.Next(min(1024, b.N-n), 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		if len(es) == 0 {
			it.Close()
			it = nil
			continue
		}
		n += len(es)
	}
	if it != nil {
		it.Close()
	}
}

// rawLogFiles opens the log files of the shared log (read-only).
func rawLogFiles(b *testing.B) []*os.File {
	readBenchLog(b)
	ents, err := os.ReadDir(readBench.dir)
	require.NoError(b, err)
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".log") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	var fs []*os.File
	for _, n := range names {
		f, err := os.Open(filepath.Join(readBench.dir, n))
		require.NoError(b, err)
		b.Cleanup(func() { f.Close() })
		fs = append(fs, f)
	}
	return fs
}

// readBenchBytes is what the shared log holds: one encoded item per entry.
const readBenchBytes = readBenchEntries * (readBenchSize + 60)

// BenchmarkRawPread is BenchmarkEntry's bound: one pread of an encoded
// item's size at a random offset of the first log file.
func BenchmarkRawPread(b *testing.B) {
	f := rawLogFiles(b)[0]
	fd := int(f.Fd())
	rng := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, readBenchSize+60)
	b.SetBytes(readBenchSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := unix.Pread(fd, buf, rng.Int64N(readBenchBytes-int64(len(buf)))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawSeqRead is BenchmarkIterator's bound: 1 MiB preads over the
// log's bytes, counted per item.
func BenchmarkRawSeqRead(b *testing.B) {
	f := rawLogFiles(b)[0]
	fd := int(f.Fd())
	buf := make([]byte, 1<<20)
	const item = readBenchSize + 60
	b.SetBytes(readBenchSize)
	b.ReportAllocs()
	b.ResetTimer()
	var off int64
	for n := 0; n < b.N; {
		if off+int64(len(buf)) > readBenchBytes {
			off = 0
		}
		if _, err := unix.Pread(fd, buf, off); err != nil {
			b.Fatal(err)
		}
		off += int64(len(buf))
		n += len(buf) / item
	}
}
