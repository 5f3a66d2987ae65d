package logqueue

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"

	"github.com/raftlog/raftlog/vfs"
)

// Recycling compacted files.
//
// A Raft log in steady state compacts its head as fast as it grows its
// tail. Instead of removing a compacted file and fallocating a new one (whose
// blocks stay unwritten extents until the writer converts them, one
// fdatasync at a time), DeleteBefore keeps up to Options.RecycleFiles of
// them as spare files, and the allocator renames a spare to the name of the
// next file instead of creating one. Every block of a spare was written in
// its first life, so the writer's fdatasyncs in it flush data only, as
// into a zero-filled file, without the zeros having to be written.
//
// A spare is named after the file it was, with freeSuffix appended
// ("00000000000000000000.log.free"); Open takes such files back as spares
// (Close leaves them), so recycling survives a restart. A crash at any
// point leaves either the old name (a file below the first index, which the
// owner of the queue deletes again), the spare name, or the new name: a
// whole file of the right size whose old bytes never validate at their new
// positions, because item CRCs are seeded with the item's log position.
// Recovery therefore meets the old bytes after the end of the log the way
// it meets a torn tail without headers: FindItems bounds how far past the
// end it looks (cutCleanRun) instead of relying on zeros there, and
// CutTail leaves such bytes alone.

// freeSuffix marks a spare file.
const freeSuffix = ".free"

// spares is the set of spare files: their paths, in the order they were
// freed, the rooms reserved for files being renamed, and how many there may
// be in all.
type spares struct {
	mu       sync.Mutex
	max      int
	paths    []string
	reserved int
}

// take removes and returns the path of a spare file, or "" if there is none.
func (s *spares) take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.paths) == 0 {
		return ""
	}
	p := s.paths[0]
	s.paths = s.paths[1:]
	return p
}

// reserve returns whether there is room for one more spare, and if so holds
// the room: the caller then calls put, with the spare's path or with "" to
// give the room back.
func (s *spares) reserve() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.paths)+s.reserved >= s.max {
		return false
	}
	s.reserved++
	return true
}

// put fills a room held by reserve with path, or gives it back when path
// is "".
func (s *spares) put(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reserved == 0 {
		panicf("spares.put(%q) without a reservation", path)
	}
	s.reserved--
	if path != "" {
		s.paths = append(s.paths, path)
	}
}

// count returns how many spare files there are, for tests.
func (s *spares) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.paths)
}

// isSpareName reports whether name is the name of a spare file.
func isSpareName(name string) bool {
	base, ok := strings.CutSuffix(name, freeSuffix)
	if !ok {
		return false
	}
	_, ok = parseFileName(base)
	return ok
}

// adoptSpare takes a spare file found by Open: it is kept if it has the
// queue's file size and there is room, and removed otherwise. removed says
// whether the directory changed.
func (q *Queue) adoptSpare(path string) (removed bool, err error) {
	f, err := q.opts.FS.Open(path)
	if err != nil {
		return false, fmt.Errorf("logqueue: open spare %s: %w", path, err)
	}
	size, err := f.Size()
	cerr := f.Close()
	if err == nil && cerr == nil && size == q.opts.FileSize && q.spares.reserve() {
		q.spares.put(path)
		return false, nil
	}
	if err := q.opts.FS.Remove(path); err != nil {
		return false, fmt.Errorf("logqueue: remove spare %s: %w", path, err)
	}
	return true, nil
}

// keepAsSpare renames a file DeleteBefore took out to its spare name, if
// recycling is on and there is room, and closes it. kept false means the
// caller removes it as usual (also after a failed rename, reported in err);
// the file is then still open.
func (q *Queue) keepAsSpare(lf *logFile) (kept bool, err error) {
	if q.closed.Load() || !q.spares.reserve() {
		return false, nil
	}
	path := filepath.Join(q.opts.Dir, lf.name)
	spare := path + freeSuffix
	if err := q.opts.FS.Rename(path, spare); err != nil {
		q.spares.put("")
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("logqueue: rename %s to keep it as a spare: %w", path, err)
	}
	// No directory sync: until the next one the file may be back under its
	// old name after a crash, a file below the first index like any other
	// that a compaction took out.
	err = lf.f.Close()
	q.spares.put(spare)
	if err != nil {
		return true, fmt.Errorf("logqueue: close %s: %w", path, err)
	}
	return true, nil
}

// recycleFile makes the spare at spare the log file starting at start:
// renamed into place, the directory synced, opened by its new name.
//
// A spare that is gone (ErrNotExist) gives a nil file and no error: the
// caller allocates a new file instead.
func recycleFile(fsys vfs.FS, dir, spare string, start int64) (*logFile, error) {
	name := fileName(start)
	path := filepath.Join(dir, name)
	if err := fsys.Rename(spare, path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("logqueue: rename spare %s to %s: %w", spare, name, err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		// As in allocFile: the file is whole, only its name may not be
		// durable; do not use it.
		return nil, fmt.Errorf("logqueue: sync dir %s after recycling %s as %s: %w", dir, spare, name, err)
	}
	f, err := fsys.Open(path)
	if err != nil {
		return nil, fmt.Errorf("logqueue: open %s: %w", path, err)
	}
	return &logFile{start: start, name: name, f: f, origin: recycled}, nil
}
