package logqueue

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/raftlog/raftlog/vfs"
)

const (
	logSuffix = ".log"
	tmpSuffix = ".tmp"
	// nameDigits is the width of the zero-padded start position in a file
	// name, so that names sort like positions.
	nameDigits = 20
	// zeroFillChunk is the size of one pwrite of zeros.
	zeroFillChunk = 1 << 20
)

// zeros is shared, read-only, by every ZeroFill allocation and by CutTail.
var zeros = make([]byte, zeroFillChunk)

// logFile is one open log file. start, name and f never change once made;
// refs and del are the reference count that lets DeleteBefore wait for
// readers (file_refs.go).
type logFile struct {
	start int64  // log position of its first byte
	name  string // base name, for errors
	f     vfs.File

	// refs is 1 while the file is listed in Queue.files, plus one per
	// reader holding it. The reader that drops it to zero after
	// DeleteBefore unlisted the file hands it to del for removal.
	refs atomic.Int32
	// guard is the handle write tasks use under ZeroAhead (taskFile); it is
	// made and read on the Add/Flush goroutine only.
	guard vfs.File
	// del is set by DeleteBefore before it drops the list's reference, so
	// whoever drops the last one sees it.
	del *deletion
	// origin says what the file's blocks hold beyond the log: set when the
	// file is made, for the zeroer.
	origin fileOrigin
}

// fileOrigin is where a log file came from.
type fileOrigin uint8

const (
	// foundAtOpen: the file was there when the queue was opened.
	foundAtOpen fileOrigin = iota
	// allocated: made by allocFile in this run; unwritten beyond the log.
	allocated
	// recycled: made from a spare in this run; every block written once.
	recycled
)

// fileName returns the base name of the log file starting at startPos.
func fileName(startPos int64) string {
	return fmt.Sprintf("%0*d%s", nameDigits, startPos, logSuffix)
}

// parseFileName returns the start position named by a log file name, and
// false for names that are not log files.
func parseFileName(name string) (int64, bool) {
	digits, ok := strings.CutSuffix(name, logSuffix)
	if !ok || len(digits) != nameDigits {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}

// allocFile creates the log file starting at start, durably: it is built as
// name+".tmp", its space reserved per mode and synced, then renamed into
// place and the directory synced, so a crash leaves either no file or a
// whole one (a leftover .tmp is removed by Open).
//
// stop, if not nil, is asked between chunks of a zero fill: when it returns
// true the allocation gives up with errAllocStopped (Close does not wait for
// a gigabyte of zeros).
func allocFile(fsys vfs.FS, dir string, start, size int64, mode PreallocMode, stop func() bool) (lf *logFile, err error) {
	name := fileName(start)
	path := filepath.Join(dir, name)
	tmp := path + tmpSuffix
	// A failed earlier attempt in this process may have left the tmp file.
	if ok, err := fsys.Exists(tmp); err != nil {
		return nil, fmt.Errorf("logqueue: stat %s: %w", tmp, err)
	} else if ok {
		if err := fsys.Remove(tmp); err != nil {
			return nil, fmt.Errorf("logqueue: remove stale %s: %w", tmp, err)
		}
	}
	f, err := fsys.Create(tmp)
	if err != nil {
		return nil, fmt.Errorf("logqueue: create %s: %w", tmp, err)
	}
	defer func() {
		if err != nil && f != nil {
			_ = f.Close()
			_ = fsys.Remove(tmp)
		}
	}()
	if err := reserve(f, size, mode, stop); err != nil {
		return nil, fmt.Errorf("logqueue: preallocate %s (%s): %w", tmp, mode, err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("logqueue: sync %s: %w", tmp, err)
	}
	cerr := f.Close()
	f = nil // closed, and from here on the name may be the final one
	if cerr != nil {
		_ = fsys.Remove(tmp)
		return nil, fmt.Errorf("logqueue: close %s: %w", tmp, cerr)
	}
	if err := fsys.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("logqueue: rename %s: %w", tmp, err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		// The file is in place but its name may not be durable: do not use
		// it. Leaving it is harmless; Open checks its size.
		return nil, fmt.Errorf("logqueue: sync dir %s after creating %s: %w", dir, name, err)
	}
	// Reopened by its final name so that errors from the writer name it.
	nf, err := fsys.Open(path)
	if err != nil {
		return nil, fmt.Errorf("logqueue: open %s: %w", path, err)
	}
	return &logFile{start: start, name: name, f: nf, origin: allocated}, nil
}

// newFile makes the log file starting at start from a spare if there is
// one (recycle.go), and allocates a new one otherwise.
func (q *Queue) newFile(start int64) (*logFile, error) {
	for spare := q.spares.take(); spare != ""; spare = q.spares.take() {
		lf, err := recycleFile(q.opts.FS, q.opts.Dir, spare, start)
		if lf != nil && q.opts.OnRecycle != nil {
			q.opts.OnRecycle()
		}
		if lf != nil || err != nil {
			return lf, err
		}
	}
	return allocFile(q.opts.FS, q.opts.Dir, start, q.opts.FileSize, q.opts.Prealloc, q.closed.Load)
}

// errAllocStopped is returned by allocFile when its stop function asked it
// to give up.
var errAllocStopped = errors.New("logqueue: file allocation stopped")

// zeroFillSyncEvery is how many bytes of zeros a ZeroFill writes between two
// fdatasyncs. Syncing as it goes keeps the dirty backlog small: a gigabyte
// of zeros written back at once would stall the writer's own fdatasyncs
// behind it.
const zeroFillSyncEvery = 8 << 20

// reserve gives f its size and reserves its space per mode. ZeroFill first
// reserves the blocks (fallocate) so that writing the zeros allocates
// nothing, then writes them chunk by chunk, syncing as it goes.
func reserve(f vfs.File, size int64, mode PreallocMode, stop func() bool) error {
	switch mode {
	case ZeroFill:
		if err := f.Allocate(0, size); err != nil {
			return err
		}
		for off := int64(0); off < size; {
			if stop != nil && stop() {
				return errAllocStopped
			}
			n := min(int64(len(zeros)), size-off)
			if _, err := f.WriteAt(zeros[:n], off); err != nil {
				return err
			}
			off += n
			if off%zeroFillSyncEvery == 0 && off < size {
				if err := f.Sync(); err != nil {
					return err
				}
			}
		}
		return nil
	case Fallocate, ZeroAhead:
		return f.Allocate(0, size)
	case Sparse:
		return f.Truncate(size)
	}
	panicf("unknown PreallocMode %d", mode)
	return nil
}
