package idxqueue

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/raftlog/raftlog/pipeline"
	"github.com/raftlog/raftlog/vfs"
)

// Removing the index files below the first index (CompactTo, Reset) happens
// in two steps.
//
// Detach, on the caller's goroutine with the queue's mutex held and no I/O:
// the files leave fileSet.files under its write lock, so a Position that is
// reading one (it holds the read lock across the pread) finishes first and
// every later one finds no file. Their numbers enter fileSet.removing.
//
// Remove, on the remover goroutine: close each file, unlink it, fsync the
// directory once, drop the numbers from fileSet.removing and complete the
// future with the count. There is at most one remover goroutine; it is
// started when a task is queued and none runs, exits when the queue of tasks
// is empty, and Close waits for it. Tasks run in the order they were queued.
//
// The flush goroutine never needs a detached file, because it only writes
// indexes ≥ the first index. The exception is Reset to a first index lower
// than the current one: the flush may then want to create a file whose
// removal is still queued, and if it created it first, the remover would
// unlink the new file. So fileSet.ensure waits while the file's number is in
// fileSet.removing.
//
// A failed close, unlink or directory sync fails that future only, not the
// queue: nothing durable depends on the files being gone (their indexes are
// below the first index, which the caller records), and a file that comes
// back after a crash is detached again by the next CompactTo.

// removeTask is one batch of detached files and the future to complete.
type removeTask struct {
	files []vfs.File
	nums  []uint64
	fut   *pipeline.Future[int]
}

// removeBelowLocked detaches every index file whose whole range is below
// first and queues their removal. The caller holds q.mu and has checked that
// the queue is neither closed nor failed, so Close has not yet waited for
// the remover and will.
func (q *Queue) removeBelowLocked(first uint64) *pipeline.Future[int] {
	nums, files := q.files.detachBelow(first)
	if len(files) == 0 {
		return pipeline.Completed(0, nil)
	}
	t := removeTask{files: files, nums: nums, fut: pipeline.NewFuture[int]()}
	q.removeTasks = append(q.removeTasks, t)
	if !q.removerRunning {
		q.removerRunning = true
		q.removerWG.Add(1)
		go q.removeLoop()
	}
	return t.fut
}

// removeLoop is the remover goroutine: it runs queued tasks until none is
// left.
func (q *Queue) removeLoop() {
	defer q.removerWG.Done()
	for {
		q.mu.Lock()
		if len(q.removeTasks) == 0 {
			q.removerRunning = false
			q.removeTasks = nil
			q.mu.Unlock()
			return
		}
		t := q.removeTasks[0]
		q.removeTasks[0] = removeTask{}
		q.removeTasks = q.removeTasks[1:]
		q.mu.Unlock()
		n, err := q.files.remove(t.nums, t.files)
		t.fut.Complete(n, err)
	}
}

// detachBelow takes the files whose whole range is below first, that is
// file numbers < first/ItemsPerFile, out of the set, and marks them as being
// removed. The file holding first stays. Sorted by number.
func (s *fileSet) detachBelow(first uint64) ([]uint64, []vfs.File) {
	keep := first >> s.shift
	s.mu.Lock()
	defer s.mu.Unlock()
	var nums []uint64
	for num := range s.files {
		if num < keep {
			nums = append(nums, num)
		}
	}
	if len(nums) == 0 {
		return nil, nil
	}
	slices.Sort(nums)
	files := make([]vfs.File, len(nums))
	if s.removing == nil {
		s.removing = make(map[uint64]struct{})
		s.removed = make(chan struct{})
	}
	for i, num := range nums {
		files[i] = s.files[num]
		delete(s.files, num)
		s.unmapFile(num)
		s.removing[num] = struct{}{}
	}
	return nums, files
}

// remove closes and unlinks detached files and syncs the directory once. It
// returns how many files it unlinked and every error it met; a file already
// gone is not counted and not an error.
func (s *fileSet) remove(nums []uint64, files []vfs.File) (int, error) {
	if len(files) == 0 {
		return 0, nil // nothing was detached, so removing is not made yet
	}
	var errs []error
	n := 0
	for _, f := range files {
		name := f.Name()
		if err := f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("idxqueue: close %s before removing it: %w", name, err))
		}
		switch err := s.fs.Remove(name); {
		case err == nil:
			n++
		case errors.Is(err, fs.ErrNotExist):
		default:
			errs = append(errs, fmt.Errorf("idxqueue: remove %s: %w", name, err))
		}
	}
	if n > 0 {
		if err := s.fs.SyncDir(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("idxqueue: sync dir %s after removing %d index files: %w", s.dir, n, err))
		}
	}
	s.mu.Lock()
	for _, num := range nums {
		delete(s.removing, num)
	}
	close(s.removed)
	s.removed = make(chan struct{})
	s.mu.Unlock()
	return n, errors.Join(errs...)
}
