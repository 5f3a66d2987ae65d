package idxqueue

import (
	"fmt"

	"github.com/raftlog/raftlog/pipeline"
)

// CompactTo drops the positions of every index below first: the log entries
// there are applied and snapshotted, and the caller moves its first index to
// first. At once, Position of an index below first returns an error matching
// ErrCompacted (and ErrNotFound), the map forgets those positions, and the
// persisted index is raised to first−1 if it was lower, in memory only (the
// caller records its first index, which makes the files below irrelevant
// after a crash). The flush never writes a position below first, so it never
// re-creates a removed file.
//
// Index files whose whole range is below first are closed and removed in the
// background and the directory synced; the file holding first is kept. The
// future completes with the number of files removed, or with the errors met
// (a failed removal fails the future, not the queue). Close waits for it.
//
// first ≤ FirstIndex changes nothing (value 0); first above the index the
// next Put must carry fails with ErrOutOfRange (use Reset). It waits for a
// flush in progress, like TruncateTail, and must not be called from
// OnPersisted or OnFlush. Called after Start, from any goroutine.
func (q *Queue) CompactTo(first uint64) *pipeline.Future[int] {
	q.flushMu.Lock()
	defer q.flushMu.Unlock()
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.unusableLocked(); err != nil {
		return pipeline.Failed[int](err)
	}
	if first <= q.first.Load() {
		return pipeline.Completed(0, nil)
	}
	if first > q.next {
		return pipeline.Failed[int](fmt.Errorf("%w: CompactTo(%d) is above the next index %d", ErrOutOfRange, first, q.next))
	}
	q.first.Store(first)
	q.m.RemoveHead(first - 1)
	if q.persisted.Load() < first-1 {
		q.persisted.Store(first - 1)
	}
	q.raiseDurable(first - 1)
	q.wakeLocked() // the map may have shrunk
	return q.removeBelowLocked(first)
}

// Reset prepares the queue for a log that continues at first after a
// snapshot install: every position is dropped (the map is cleared), the
// persisted and durable indexes become first−1 in memory only, FirstIndex
// becomes first, the next Put must carry first, and the index files below
// first are removed in the background as by CompactTo (the future completes
// with their number). Files at or above first keep stale positions, which
// are never read (they are above the persisted index) and are overwritten
// as the log grows again.
//
// first may be lower than FirstIndex. first 0 fails with ErrOutOfRange.
// Ordering with Put and Durable is as for TruncateTail; it waits for a flush
// in progress and must not be called from OnPersisted or OnFlush.
func (q *Queue) Reset(first uint64) *pipeline.Future[int] {
	if first == 0 {
		return pipeline.Failed[int](fmt.Errorf("%w: Reset(0): index 0 is never used", ErrOutOfRange))
	}
	q.flushMu.Lock()
	defer q.flushMu.Unlock()
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.unusableLocked(); err != nil {
		return pipeline.Failed[int](err)
	}
	q.m.clear()
	q.first.Store(first)
	q.next = first
	q.lastPut.Store(first - 1)
	q.persisted.Store(first - 1)
	q.durable.Store(first - 1)
	q.wakeLocked()
	return q.removeBelowLocked(first)
}
