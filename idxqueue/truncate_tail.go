package idxqueue

import "fmt"

// TruncateTail forgets the positions of every index ≥ index: a Raft
// follower cuts a conflicting suffix, and the next Put must carry index.
//
// It waits for a flush in progress to finish (OnPersisted included) and
// keeps the next one from starting until it is done, then cuts the map and
// lowers the persisted and durable indexes to at most index−1. It returns
// the new persisted index. No OnPersisted call after it returns names an
// index ≥ index until positions for such indexes are Put again and reported
// through Durable; the first such call may be lower than the one before the
// truncation.
//
// The slots of the cut-off indexes in the index files keep their stale
// positions until the flush overwrites them; Position never reads a slot
// above the persisted index, so it answers ErrNotFound for them. After a
// crash the files are trusted only up to the persisted index the caller
// recorded, so the caller must record the truncation (lower that index)
// before it relies on it; this method writes nothing to disk.
//
// index must be ≥ FirstIndex (ErrCompacted otherwise). An index above the
// next Put changes nothing. Durable calls about entries at or above index
// made before the truncation must have returned before it starts, and none
// may follow until they are Put again: Durable cannot tell an old entry
// from its replacement. Call from the appender's goroutine (ordered with
// Put); Position may run concurrently. Not from OnPersisted or OnFlush,
// which run while a flush holds the lock this waits for.
func (q *Queue) TruncateTail(index uint64) (persisted uint64, err error) {
	q.flushMu.Lock()
	defer q.flushMu.Unlock()
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.unusableLocked(); err != nil {
		return 0, err
	}
	if first := q.first.Load(); index < first {
		return 0, fmt.Errorf("TruncateTail(%d): %w", index, compactedError(index, first))
	}
	q.m.TruncateTail(index)
	if index < q.next {
		q.next = index
		q.lastPut.Store(index - 1)
	}
	p := min(q.persisted.Load(), index-1)
	q.persisted.Store(p)
	q.lowerDurable(index - 1)
	// With the map empty, Put accepts persisted+1, which is q.next: either
	// index ≤ old persisted+1 and persisted is now index−1, or everything
	// put was persisted and index−1 ≥ last put, so q.next was unchanged.
	if q.m.Len() == 0 && q.next != p+1 {
		panicf("idxqueue: TruncateTail(%d): next Put %d, persisted %d with no position held", index, q.next, p)
	}
	q.wakeLocked() // the map shrank
	return p, nil
}

// lowerDurable sets durable to min(durable, index).
func (q *Queue) lowerDurable(index uint64) {
	for {
		cur := q.durable.Load()
		if cur <= index || q.durable.CompareAndSwap(cur, index) {
			return
		}
	}
}
