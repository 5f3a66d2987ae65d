package logqueue

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/raftlog/raftlog/vfs"
)

// openReadOnly is Open for Options.ReadOnly. It lists the directory once:
// files the owner allocates later are not seen, so a Scanner of a live
// directory ends (ErrEndOfLog) at the end of the last file listed here. A
// "*.log.tmp" file is the owner's allocation in progress, or the leftover of
// a crash that the owner's next Open removes; either way it holds no item,
// and it is left alone. A file listed but gone when opened was deleted by the
// owner in between (compaction removes whole files below the first index),
// and is skipped. Nothing here can change the directory: no MkdirAll,
// no Remove, and every file is opened with OpenReadOnly.
func openReadOnly(opts Options) (*Queue, error) {
	names, err := opts.FS.List(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("logqueue: list %s: %w", opts.Dir, err)
	}
	q := &Queue{
		opts: opts,
		mask: opts.FileSize - 1,
		pool: newBufferPool(opts.BufferSize),
	}
	for _, name := range names {
		start, ok := parseFileName(name)
		if !ok {
			continue // .tmp files, index files, the lock file, ...
		}
		if err := q.openFile(name, start); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted by the owner (compaction) since List
			}
			q.closeFiles()
			return nil, err
		}
	}
	return q, nil
}

// openPath opens a log file read-write, or read-only for Options.ReadOnly.
func (q *Queue) openPath(path string) (vfs.File, error) {
	if q.opts.ReadOnly {
		return q.opts.FS.OpenReadOnly(path)
	}
	return q.opts.FS.Open(path)
}
