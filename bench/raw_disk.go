package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// rawFileSize is the size of the zero-filled file the raw write bounds
// write into, wrapping around: written once, so fdatasync never has
// unwritten extents to convert (the best case raftlog's preallocation aims at).
const rawFileSize = 64 << 20

// rawFile creates the zero-filled file of the raw write bounds.
func rawFile(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("raw dir: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, "raw"))
	if err != nil {
		return nil, fmt.Errorf("raw file: %w", err)
	}
	zeros := make([]byte, 1<<20)
	for off := int64(0); off < rawFileSize; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros, off); err != nil {
			f.Close()
			return nil, fmt.Errorf("zero fill raw file: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync raw file: %w", err)
	}
	return f, nil
}

// rawSyncEach is the bound of batch-wait and concurrent: pwrite of
// bytesPerSync then fdatasync, one writer, nothing else. Each sync counts as
// entriesPerSync entries, as many as raftlog made durable per fdatasync, so
// the entries/s of both lines compare.
func rawSyncEach(f *os.File, d time.Duration, key string, bytesPerSync int, entriesPerSync float64) (result, error) {
	bytesPerSync = max(1, bytesPerSync)
	name := fmt.Sprintf("raw pwrite+fdatasync %d B per sync", bytesPerSync)
	buf := make([]byte, bytesPerSync)
	fd := int(f.Fd())
	var fsyncs int64
	r, err := measure(key, name, d, func(stop *atomic.Bool, rec *recorder) error {
		var off int64
		var owed float64 // fractional entries carried to the next sync
		for !stop.Load() {
			t := time.Now()
			if off+int64(len(buf)) > rawFileSize {
				off = 0
			}
			if _, err := unix.Pwrite(fd, buf, off); err != nil {
				return fmt.Errorf("pwrite: %w", err)
			}
			if err := unix.Fdatasync(fd); err != nil {
				return fmt.Errorf("fdatasync: %w", err)
			}
			off += int64(len(buf))
			fsyncs++
			owed += entriesPerSync
			n := int(owed)
			owed -= float64(n)
			rec.done(t, n, len(buf))
		}
		return nil
	})
	r.Raw, r.Fsyncs = true, fsyncs
	return r, err
}

// rawPipeline is the bound of pipelined and rotation: a writer goroutine
// pwrites chunks of chunkBytes (one Append call's encoded bytes) while a
// syncer goroutine runs fdatasync in a loop, each covering everything written
// before it started; at most inflightChunks are written and not yet synced,
// as raftlog's pipelined workload holds. A chunk's latency runs from the
// start of its pwrite to the end of the fdatasync that covered it.
func rawPipeline(f *os.File, d time.Duration, key string, chunkBytes, entriesPerChunk, inflightChunks int) (result, error) {
	chunkBytes = max(1, chunkBytes)
	inflightChunks = max(1, inflightChunks)
	name := fmt.Sprintf("raw writer+syncer %d B writes, ≤%d unsynced", chunkBytes, inflightChunks)
	fd := int(f.Fd())
	var fsyncs int64
	r, err := measure(key, name, d, func(stop *atomic.Bool, rec *recorder) error {
		var (
			mu      sync.Mutex
			cond    = sync.NewCond(&mu)
			starts  []time.Time // start of every chunk written, not yet synced
			synced  int         // chunks covered by a finished fdatasync
			written int
			done    bool
			werr    error
		)
		var wg sync.WaitGroup
		defer wg.Wait() // the writer never outlives the body, even on error
		wg.Add(1)
		go func() { // writer
			defer wg.Done()
			buf := make([]byte, chunkBytes)
			var off int64
			for !stop.Load() {
				mu.Lock()
				for written-synced >= inflightChunks && werr == nil {
					cond.Wait()
				}
				failed := werr != nil
				mu.Unlock()
				if failed {
					break
				}
				t := time.Now()
				if off+int64(chunkBytes) > rawFileSize {
					off = 0
				}
				_, err := unix.Pwrite(fd, buf, off)
				off += int64(chunkBytes)
				mu.Lock()
				if err != nil {
					werr = fmt.Errorf("pwrite: %w", err)
				}
				starts = append(starts, t)
				written++
				cond.Broadcast()
				mu.Unlock()
			}
			mu.Lock()
			done = true
			cond.Broadcast()
			mu.Unlock()
		}()
		for { // syncer
			mu.Lock()
			for written == synced && !done {
				cond.Wait()
			}
			if written == synced && done || werr != nil {
				err := werr
				mu.Unlock()
				return err
			}
			upTo := written
			mu.Unlock()
			err := unix.Fdatasync(fd)
			now := time.Now()
			fsyncs++
			mu.Lock()
			if err != nil {
				werr = fmt.Errorf("fdatasync: %w", err)
				cond.Broadcast()
				mu.Unlock()
				return werr
			}
			covered := starts[:upTo-synced]
			for _, t := range covered {
				rec.doneAfter(now.Sub(t), entriesPerChunk, chunkBytes)
			}
			starts = starts[upTo-synced:]
			synced = upTo
			cond.Broadcast()
			mu.Unlock()
		}
	})
	r.Raw, r.Fsyncs = true, fsyncs
	return r, err
}

// rawSeqWrite is the bound of fill: totalBytes written sequentially to a new
// file in 1 MiB pwrites, then one fdatasync. The file is fallocated first,
// as raftlog's log files are by default, so both pay the same extent
// conversion. Entries are counted at itemSize bytes each, as raftlog encodes
// them.
func rawSeqWrite(dir string, totalBytes int64, itemSize int) (result, error) {
	f, err := os.Create(filepath.Join(dir, "raw-seq"))
	if err != nil {
		return result{}, fmt.Errorf("raw seq file: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	fd := int(f.Fd())
	if err := unix.Fallocate(fd, 0, 0, totalBytes); err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
		return result{}, fmt.Errorf("fallocate raw seq file: %w", err)
	}
	buf := make([]byte, 1<<20)
	name := fmt.Sprintf("raw seq write 1 MiB pwrites, %d MiB, 1 fdatasync", totalBytes>>20)
	r, err := measure("raw-seq-write", name, time.Hour, func(_ *atomic.Bool, rec *recorder) error {
		var off int64
		for off < totalBytes {
			n := min(int64(len(buf)), totalBytes-off)
			t := time.Now()
			if _, err := unix.Pwrite(fd, buf[:n], off); err != nil {
				return fmt.Errorf("pwrite: %w", err)
			}
			off += n
			rec.done(t, int(n)/max(1, itemSize), int(n))
		}
		t := time.Now()
		if err := unix.Fdatasync(fd); err != nil {
			return fmt.Errorf("fdatasync: %w", err)
		}
		rec.done(t, 0, 0)
		return nil
	})
	r.Raw, r.Fsyncs = true, 1
	return r, err
}

// segment is the written part of one log file.
type segment struct {
	f   *os.File
	len int64
}

// openLogFiles opens the log files of dir in position order and keeps the
// first totalBytes of them: the bytes raftlog wrote.
func openLogFiles(dir string, totalBytes int64) ([]segment, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list log files: %w", err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".log") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names) // zero-padded start positions sort numerically
	var segs []segment
	left := totalBytes
	for _, n := range names {
		if left <= 0 {
			break
		}
		f, err := os.Open(filepath.Join(dir, n))
		if err != nil {
			closeSegments(segs)
			return nil, fmt.Errorf("open log file: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			closeSegments(segs)
			return nil, fmt.Errorf("stat log file: %w", err)
		}
		l := min(st.Size(), left)
		segs = append(segs, segment{f: f, len: l})
		left -= l
	}
	return segs, nil
}

func closeSegments(segs []segment) {
	for _, s := range segs {
		s.f.Close()
	}
}

// rawSeqRead is the bound of seq-read: 1 MiB preads of the log files just
// written, from the page cache (warm). Entries are counted at itemSize.
func rawSeqRead(segs []segment, itemSize int) (result, error) {
	buf := make([]byte, 1<<20)
	r, err := measure("raw-seq-read", "raw seq read 1 MiB preads of the log files, warm", time.Hour, func(_ *atomic.Bool, rec *recorder) error {
		for _, s := range segs {
			fd := int(s.f.Fd())
			for off := int64(0); off < s.len; {
				n := min(int64(len(buf)), s.len-off)
				t := time.Now()
				if _, err := unix.Pread(fd, buf[:n], off); err != nil {
					return fmt.Errorf("pread: %w", err)
				}
				off += n
				rec.done(t, int(n)/max(1, itemSize), int(n))
			}
		}
		return nil
	})
	r.Raw = true
	return r, err
}

// rawRandomRead is the bound of random-read: preads of itemSize bytes at
// uniformly random offsets of the log files just written (warm).
func rawRandomRead(segs []segment, itemSize int, d time.Duration) (result, error) {
	var total int64
	for _, s := range segs {
		total += s.len
	}
	name := fmt.Sprintf("raw pread %d B at random offsets, warm", itemSize)
	r, err := measure("raw-random-read", name, d, func(stop *atomic.Bool, rec *recorder) error {
		if total <= int64(itemSize) {
			return fmt.Errorf("log files hold %d B, less than one item", total)
		}
		rng := rand.New(rand.NewPCG(3, 4))
		buf := make([]byte, itemSize)
		for !stop.Load() {
			off := rng.Int64N(total - int64(itemSize))
			i := 0
			for off+int64(itemSize) > segs[i].len {
				if off < segs[i].len { // would straddle two files: start at the next one
					off = 0
				} else {
					off -= segs[i].len
				}
				i++
				if i == len(segs) {
					i, off = 0, 0
				}
			}
			t := time.Now()
			if _, err := unix.Pread(int(segs[i].f.Fd()), buf, off); err != nil {
				return fmt.Errorf("pread: %w", err)
			}
			rec.done(t, 1, itemSize)
		}
		return nil
	})
	r.Raw = true
	return r, err
}
