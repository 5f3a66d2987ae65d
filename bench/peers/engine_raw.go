package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// rawFileSize is the zero-filled file the raw engine writes into. Writes
// that would pass its end start again at offset 0 (the ceiling needs no
// more room); reads by index are only served while nothing has wrapped.
// 256 MiB holds the default random-read workload (1 M × 128 B).
var rawFileSize int64 = 256 << 20

// rawEngine is the disk's ceiling: the entries' bytes with no framing,
// pwritten into a preallocated, zero-filled (so fdatasync flushes data
// only) file and fdatasync'd. Append is one pwrite + one fdatasync by the
// caller. Submit hands the bytes to a writer+syncer goroutine that takes
// everything pending, pwrites it in one call, fdatasyncs and wakes every
// waiter covered: group commit with no encoding, the ceiling for
// concurrent and pipelined appenders.
type rawEngine struct {
	f    *os.File
	fd   int
	off  int64 // next write offset (owned by Append, or by the syncer once started)
	size int   // entry size of the first append, for Read's offsets
	wrap bool  // a write wrapped to offset 0: offsets no longer follow indexes

	// The writer+syncer pipeline, started by the first Submit.
	mu       sync.Mutex
	work     *sync.Cond // the syncer waits here for pending bytes or close
	done     *sync.Cond // waiters wait here for durable to pass their seq
	pending  []byte     // bytes submitted and not yet taken by the syncer
	spare    []byte     // the syncer's buffer, swapped with pending
	queued   uint64     // sequence number of the last Submit
	durable  uint64     // highest sequence number written and fdatasync'd
	err      error      // sticky: the first pwrite or fdatasync error
	closing  bool
	started  bool
	finished chan struct{}
}

func (e *rawEngine) Name() string { return "raw" }

func (e *rawEngine) Open(dir string) error {
	f, err := os.Create(filepath.Join(dir, "raw"))
	if err != nil {
		return fmt.Errorf("raw create: %w", err)
	}
	zeros := make([]byte, 1<<20)
	for off := int64(0); off < rawFileSize; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros[:min(int64(len(zeros)), rawFileSize-off)], off); err != nil {
			_ = f.Close()
			return fmt.Errorf("raw zero fill: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("raw sync: %w", err)
	}
	e.f, e.fd = f, int(f.Fd())
	e.work = sync.NewCond(&e.mu)
	e.done = sync.NewCond(&e.mu)
	return nil
}

// write pwrites p at the next offset and fdatasyncs.
func (e *rawEngine) write(p []byte) error {
	if e.off+int64(len(p)) > rawFileSize {
		e.off, e.wrap = 0, true
	}
	if _, err := unix.Pwrite(e.fd, p, e.off); err != nil {
		return fmt.Errorf("raw pwrite at %d: %w", e.off, err)
	}
	if err := unix.Fdatasync(e.fd); err != nil {
		return fmt.Errorf("raw fdatasync: %w", err)
	}
	e.off += int64(len(p))
	return nil
}

func (e *rawEngine) noteSize(b *batch) {
	if e.size == 0 {
		e.size = b.size
	}
}

func (e *rawEngine) Append(b *batch) error {
	if e.started {
		// Appends after Submit go through the syncer so writes stay in order.
		wait, err := e.Submit(b)
		if err != nil {
			return err
		}
		return wait()
	}
	e.noteSize(b)
	return e.write(b.data)
}

func (e *rawEngine) Submit(b *batch) (func() error, error) {
	e.mu.Lock()
	if !e.started {
		e.started = true
		e.finished = make(chan struct{})
		go e.syncLoop()
	}
	e.noteSize(b)
	if e.err != nil {
		err := e.err
		e.mu.Unlock()
		return nil, err
	}
	e.pending = append(e.pending, b.data...)
	e.queued++
	seq := e.queued
	e.work.Signal() // the syncer may be idle
	e.mu.Unlock()
	return func() error {
		e.mu.Lock()
		defer e.mu.Unlock()
		for e.durable < seq && e.err == nil {
			e.done.Wait()
		}
		if e.durable >= seq {
			return nil
		}
		return e.err
	}, nil
}

// syncLoop is the writer+syncer goroutine: while appends are pending it
// takes them all, writes them with one pwrite, fdatasyncs, and publishes
// the new durable sequence number to every waiter. Appends submitted
// during the sync collect in the other buffer for the next round.
func (e *rawEngine) syncLoop() {
	defer close(e.finished)
	e.mu.Lock()
	for {
		for len(e.pending) == 0 && !e.closing {
			e.work.Wait()
		}
		if len(e.pending) == 0 {
			e.mu.Unlock()
			return
		}
		buf, upTo := e.pending, e.queued
		e.pending, e.spare = e.spare[:0], nil
		e.mu.Unlock()

		err := e.write(buf)

		e.mu.Lock()
		e.spare = buf
		if err != nil && e.err == nil {
			e.err = err
		}
		if err == nil {
			e.durable = upTo
		}
		e.done.Broadcast()
		if e.err != nil {
			e.mu.Unlock()
			return
		}
	}
}

func (e *rawEngine) Read(index uint64) ([]byte, error) {
	if e.wrap {
		return nil, fmt.Errorf("raw read %d: the file wrapped, offsets no longer follow indexes", index)
	}
	p := make([]byte, e.size)
	off := int64(index-1) * int64(e.size)
	if _, err := unix.Pread(e.fd, p, off); err != nil {
		return nil, fmt.Errorf("raw pread at %d: %w", off, err)
	}
	return p, nil
}

func (e *rawEngine) Close() error {
	var err error
	if e.started {
		e.mu.Lock()
		e.closing = true
		e.work.Signal()
		e.mu.Unlock()
		<-e.finished
		err = e.err
	}
	return errors.Join(err, e.f.Close())
}
