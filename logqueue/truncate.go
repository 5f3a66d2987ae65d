package logqueue

import (
	"fmt"
)

// TruncateTail makes pos the position of the next item and epoch the epoch
// stamped on it and on every later item, for a Raft follower that drops a
// conflicting suffix. It is called on the Add/Flush goroutine, after every
// task submitted by Flush has been written and synced (ErrInFlight
// otherwise: the caller waits for its in-flight list to drain first), and
// pos must not be past the write position (ErrBadPosition). Items added but
// not flushed are dropped. WritePos and WrittenPos move back to pos.
//
// pos may lie in an earlier file than the write position. The files after
// it stay as they are, full of items that are now stale, and the writer
// reuses them when it rotates into them, without waiting: only a file that
// does not exist is allocated, in the background, as usual. Nothing is
// zeroed: the stale items carry the older epoch, which is how recovery
// (package restore) tells where the current chain ends, and the position
// seeded CRCs keep any old bytes from validating at a new item boundary
// that does not coincide with an old one.
//
// A Reader positioned past pos gets ErrEndOfLog until new items reach its
// position, and then whatever lies there; the caller moves it back with
// Reader.SeekTo.
func (q *Queue) TruncateTail(pos int64, epoch uint32) error {
	if err := q.checkWriting(); err != nil {
		return err
	}
	if err := q.writer.Err(); err != nil {
		return err
	}
	if pos < 0 || pos > q.wp {
		return fmt.Errorf("%w: cannot truncate the tail to %d: the write position is %d",
			ErrBadPosition, pos, q.wp)
	}
	q.mu.Lock()
	n := len(q.inflight)
	q.mu.Unlock()
	if n > 0 {
		return fmt.Errorf("%w: TruncateTail with %d write tasks not yet written", ErrInFlight, n)
	}

	// The file lookup and the new write position are one step under
	// filesMu, so that a concurrent DeleteBefore either sees the new
	// position (and keeps the file) or removed the file first (ErrNoFile
	// here, nothing changed).
	q.filesMu.Lock()
	lf := q.fileForLocked(pos)
	if lf == nil && pos > 0 && pos&q.mask == 0 {
		// pos is the end of the file before it, and the file at pos is not
		// allocated yet: the writer stays at the end of that file and
		// rotates at the next Add, as after an item that fills a file.
		lf = q.fileForLocked(pos - 1)
	}
	if lf == nil {
		q.filesMu.Unlock()
		return q.noFile(pos)
	}
	q.writePos.Store(pos)
	q.curStart.Store(lf.start)
	q.filesMu.Unlock()

	q.dropPending()
	q.truncGen.Add(1)
	q.mu.Lock()
	q.flushedPos.Store(pos)
	q.writtenPos.Store(pos)
	q.mu.Unlock()
	q.wp, q.epoch, q.cur = pos, epoch, lf
	q.startAlloc(lf.start + q.opts.FileSize)
	return nil
}
