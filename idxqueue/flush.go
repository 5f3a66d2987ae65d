package idxqueue

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/raftlog/raftlog/vfs"
)

// flushChunk bounds how many positions are copied out of the map per hold of
// the mutex, so that a large flush never stalls Put for long.
const flushChunk = 4096

// flushBufs are the flush goroutine's reused buffers.
type flushBufs struct {
	vals  []int64    // positions copied out of the map, flushChunk at a time
	wbuf  []byte     // one run encoded for one pwrite; grows to the largest run
	dirty []vfs.File // files written in this flush, to be synced
}

// flushLoop is the flush goroutine. It flushes when woken by signal (enough
// durable positions wait, the map is more than half full, or someone waits
// for room), when the interval ticks, and a last time on Close. After the
// first error it flushes nothing more: the error is sticky and it returns.
func (q *Queue) flushLoop() {
	defer close(q.done)
	t := time.NewTicker(q.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-q.quit:
			if !q.failed.Load() {
				if err := q.flush(); err != nil {
					q.fail(err)
				}
			}
			return
		case <-q.kick:
		case <-t.C:
		}
		if err := q.flush(); err != nil {
			q.fail(err)
			return
		}
	}
}

// flush writes the positions of (persisted, min(durable, last put)] to the
// index files, syncs every file written, reports the new persisted index
// through OnPersisted, publishes it and only then drops those positions from
// the map and wakes WaitRoom. The order matters twice: OnPersisted must
// never name an index whose position is not synced (after a crash the
// status file would point past the index files), and Position relies on
// persisted being published before the map forgets an index.
//
// The whole flush holds flushMu, so TruncateTail, CompactTo and Reset wait
// for a flush in progress and keep the next one from starting: the range
// (p, d] read at the start stays held in the map, no OnPersisted call names
// an index that TruncateTail cut off after it returned, and no write lands
// below the first index (which could re-create a removed file).
func (q *Queue) flush() error {
	q.flushMu.Lock()
	defer q.flushMu.Unlock()
	start := time.Now()
	p := q.persisted.Load()
	q.mu.Lock()
	held := q.m.Len() > 0
	last := q.m.LastKey()
	q.mu.Unlock()
	if !held {
		return nil
	}
	d := min(q.durable.Load(), last)
	if d <= p {
		return nil
	}

	clear(q.dirty)
	q.dirty = q.dirty[:0]
	mask := q.files.itemsPerFile - 1
	for from := p + 1; from <= d; {
		end := min(d, from|mask) // one run per file
		f, err := q.files.ensure(from)
		if err != nil {
			return err
		}
		if err := q.writeRun(f, from, end); err != nil {
			return err
		}
		q.dirty = append(q.dirty, f)
		from = end + 1
	}
	for _, f := range q.dirty {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("idxqueue: sync %s: %w", f.Name(), err)
		}
	}
	if cb := q.opts.OnPersisted; cb != nil {
		if err := cb(d); err != nil {
			return fmt.Errorf("idxqueue: OnPersisted(%d): %w", d, err)
		}
	}
	q.persisted.Store(d)
	q.mu.Lock()
	q.m.RemoveHead(d)
	q.wakeLocked()
	q.mu.Unlock()
	if cb := q.opts.OnFlush; cb != nil {
		cb(int(d-p), time.Since(start).Nanoseconds())
	}
	return q.prepareAhead(d + 1)
}

// writeRun writes the positions of [from, end], all in file f, with one
// pwrite. The mutex is held only while copying out of the map.
func (q *Queue) writeRun(f vfs.File, from, end uint64) error {
	n := int(end - from + 1)
	if cap(q.wbuf) < n*slotSize {
		q.wbuf = make([]byte, n*slotSize)
	}
	if q.vals == nil {
		q.vals = make([]int64, flushChunk)
	}
	b := q.wbuf[:n*slotSize]
	for done := 0; done < n; done += flushChunk {
		c := min(flushChunk, n-done)
		q.mu.Lock()
		q.m.copyRange(q.vals[:c], from+uint64(done))
		q.mu.Unlock()
		out := b[done*slotSize:]
		for i, v := range q.vals[:c] {
			binary.LittleEndian.PutUint64(out[i*slotSize:], uint64(v))
		}
	}
	off := q.files.slotOffset(from)
	if _, err := f.WriteAt(b, off); err != nil {
		return fmt.Errorf("idxqueue: write %d positions [%d, %d] to %s at offset %d: %w",
			n, from, end, f.Name(), off, err)
	}
	return nil
}

// prepareAhead creates, before any flush needs them, the file that will
// receive next and, once next is in the second half of its file, the file
// after it, so that creating and zero-filling a file is rarely on the path
// from Durable to free room.
func (q *Queue) prepareAhead(next uint64) error {
	if _, err := q.files.ensure(next); err != nil {
		return err
	}
	if next&(q.files.itemsPerFile-1) >= q.files.itemsPerFile/2 {
		if _, err := q.files.ensure((next | (q.files.itemsPerFile - 1)) + 1); err != nil {
			return err
		}
	}
	return nil
}
