package logqueue

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftlog/raftlog/pipeline"
)

// DeleteBefore removes every log file that lies entirely below pos (its end
// ≤ pos), for compaction of an applied prefix. The file holding pos, the
// file of the write position and every later file are never removed. The
// files go at once from Files() and from reads (ReadItem and Scanner of a
// position in them give ErrNoFile, a new Reader too); a reader already in
// one keeps reading it (a Reader for as long as it stays in it). Each file
// is then removed on the Executor once its last reader has let go: renamed
// to its ".tmp" name (directory synced), cut down in steps (see trimStep),
// closed and removed; the directory is synced after the last of them. The
// future completes with the number of files this call took out, and the first
// error of the removal (a file already gone from the directory is not one).
// Files an earlier call took out are not counted again, so the call is
// idempotent. It may be called from any goroutine.
//
// Deletion waits for readers, never the other way round: no reader is ever
// refused or blocked by it. The last reader to release a file schedules its
// removal on the Executor, which waits for a free worker when all are busy
// (allocating or removing another file); after the Executor is closed it
// removes the file itself.
func (q *Queue) DeleteBefore(pos int64) *pipeline.Future[int] {
	if q.closed.Load() {
		return pipeline.Failed[int](ErrClosed)
	}
	if q.opts.ReadOnly {
		return pipeline.Failed[int](ErrReadOnly)
	}
	var victims []*logFile
	q.filesMu.Lock()
	// The writer's file is read under filesMu, which TruncateTail holds
	// while it moves back: the file it moves into is either still listed
	// (and kept here) or already gone (and refused there). Rotation only
	// moves it forward, so a stale value only keeps more.
	writing, cur := q.writing.Load(), q.curStart.Load()
	keep := 0
	for _, lf := range q.files {
		if lf.start+q.opts.FileSize <= pos && (!writing || lf.start < cur) {
			victims = append(victims, lf)
			continue
		}
		q.files[keep] = lf
		keep++
	}
	clear(q.files[keep:])
	q.files = q.files[:keep]
	q.filesMu.Unlock()

	if len(victims) == 0 {
		return pipeline.Completed(0, nil)
	}
	d := &deletion{q: q, n: len(victims), fut: pipeline.NewFuture[int]()}
	d.left.Store(int32(len(victims)))
	for _, lf := range victims {
		lf.del = d // published to the last releaser by the atomic below
		q.release(lf)
	}
	return d.fut
}

// deletion is one DeleteBefore call: the files it took out, counted down as
// each is removed.
type deletion struct {
	q    *Queue
	n    int          // files taken out
	left atomic.Int32 // files not yet removed
	fut  *pipeline.Future[int]

	mu  sync.Mutex
	err error // first error
}

// dispose runs on the goroutine that dropped lf's last reference: it hands
// the blocking removal to the executor.
func (d *deletion) dispose(lf *logFile) {
	if err := d.q.opts.Executor.Go(func() { d.remove(lf) }); err != nil {
		d.remove(lf) // the executor is closed: nobody else will
	}
}

// Freeing a whole log file's blocks and cached pages at once (one unlink)
// held up the writer's fdatasyncs for 10–20 ms on the machine measured
// (PERFORMANCE.md, the steady workload): the file is cut down in steps of
// trimStep bytes (an eighth of the file when that is less) with trimPause
// between them first, so the freeing is spread out. Close skips the pauses.
const (
	trimStep  = 4 << 20
	trimPause = 2 * time.Millisecond
)

// remove keeps one file as a spare (recycle.go) or, when there is no room
// for one, closes and removes it; the last one syncs the directory and
// completes the future. A removed file is first renamed to a ".tmp" name
// (and the directory synced), so that a crash while it is being cut down
// leaves a leftover that Open removes, never a log file of the wrong size.
func (d *deletion) remove(lf *logFile) {
	q := d.q
	kept, err := q.keepAsSpare(lf)
	d.setErr(err)
	if !kept {
		d.unlink(lf)
	}
	if d.left.Add(-1) > 0 {
		return
	}
	if err := q.opts.FS.SyncDir(q.opts.Dir); err != nil {
		d.setErr(fmt.Errorf("logqueue: sync dir %s after removing log files: %w", q.opts.Dir, err))
	}
	d.mu.Lock()
	err = d.err
	d.mu.Unlock()
	d.fut.Complete(d.n, err)
}

// unlink renames lf to its ".tmp" name, cuts it down, closes and removes it.
func (d *deletion) unlink(lf *logFile) {
	q := d.q
	path := filepath.Join(q.opts.Dir, lf.name)
	gone := path
	if renamed, err := q.trim(lf, path); err != nil {
		d.setErr(err)
	} else if renamed {
		gone = path + tmpSuffix
	}
	if err := lf.f.Close(); err != nil {
		d.setErr(fmt.Errorf("logqueue: close %s: %w", path, err))
	}
	if err := q.opts.FS.Remove(gone); err != nil && !errors.Is(err, fs.ErrNotExist) {
		d.setErr(fmt.Errorf("logqueue: remove %s: %w", gone, err))
	}
}

// trim renames a file being deleted to its ".tmp" name, syncs the
// directory, and cuts the file down to nothing in trimStep steps. renamed
// says whether the file now has the ".tmp" name; an error leaves it under
// its log name, whole. A file already gone is not an error.
func (q *Queue) trim(lf *logFile, path string) (renamed bool, err error) {
	tmp := path + tmpSuffix
	if err := q.opts.FS.Rename(path, tmp); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("logqueue: rename %s for removal: %w", path, err)
	}
	if err := q.opts.FS.SyncDir(q.opts.Dir); err != nil {
		// The rename may not be durable: put the name back.
		if rerr := q.opts.FS.Rename(tmp, path); rerr != nil {
			return true, fmt.Errorf("logqueue: sync dir %s before cutting %s: %w (and renaming it back: %w)", q.opts.Dir, path, err, rerr)
		}
		return false, fmt.Errorf("logqueue: sync dir %s before cutting %s: %w", q.opts.Dir, path, err)
	}
	step := min(int64(trimStep), q.opts.FileSize/8)
	for size := q.opts.FileSize - step; size > 0; size -= step {
		if err := lf.f.Truncate(size); err != nil {
			break // the remove frees what is left
		}
		if !q.closed.Load() {
			time.Sleep(trimPause)
		}
	}
	return true, nil
}

func (d *deletion) setErr(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err == nil {
		d.err = err
	}
}
