package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/raftlog/raftlog/idxqueue"
	"github.com/raftlog/raftlog/logqueue"
	"github.com/raftlog/raftlog/status"
	"github.com/raftlog/raftlog/vfs"
)

// File names of a raftlog directory (see the package comments of logqueue,
// idxqueue and status): 20 decimal digits and a suffix.
const (
	nameDigits = 20
	logSuffix  = ".log"
	idxSuffix  = ".idx"
	// spareSuffix follows a log file name for a spare: a compacted log
	// file kept to become a new one (logqueue's recycle.go).
	spareSuffix = ".free"
	slotSize    = 8 // bytes per index slot
)

// errNotRaftlog is returned by openView for a directory without a status
// file: raftlog.Open creates that file before anything else.
var errNotRaftlog = errors.New("not a raftlog directory (no status file)")

// view is a read-only view of a raftlog directory: the status file as it was
// when the view was opened, and the log and index files opened read-only. It
// takes no lock and writes nothing, so the directory's owner may keep
// running: what the view sees is a snapshot of the status file and a prefix
// of the log that grows while the owner appends.
type view struct {
	dir   string
	st    status.State
	names []string // the directory listing, sorted

	logFileSize  int64
	itemsPerFile uint64

	lq *logqueue.Queue
	iq *idxqueue.Queue

	// lookAheadHook, if set, runs in verify before each look past the end
	// of the chain: tests write there what a running owner would.
	lookAheadHook func()
}

// openView opens dir read-only. The log file size and the index items per
// file are read off the files present, so no flag has to repeat them.
func openView(dir string) (*view, error) {
	fsys := vfs.Default
	names, err := fsys.List(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	st, err := status.Load(fsys, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, errNotRaftlog)
	}
	if err != nil {
		return nil, err
	}
	if st.FirstIndex == 0 {
		st.FirstIndex = 1 // as raftlog.Open reads it
	}
	v := &view{dir: dir, st: st, names: names}
	if v.logFileSize, v.itemsPerFile, err = inferSizes(dir, names); err != nil {
		return nil, err
	}
	v.lq, err = logqueue.Open(logqueue.Options{
		FS: fsys, Dir: dir, FileSize: v.logFileSize, ReadOnly: true,
	})
	if err != nil {
		return nil, err
	}
	v.iq, err = idxqueue.Open(idxqueue.Options{
		FS: fsys, Dir: dir, ItemsPerFile: int(v.itemsPerFile), ReadOnly: true,
	})
	if err != nil {
		_ = v.lq.Close()
		return nil, err
	}
	return v, nil
}

func (v *view) close() {
	_ = v.lq.Close()
	_ = v.iq.Close()
}

// inferSizes returns the log file size (that of the first log file) and the
// index items per file (the first index file's size / 8), or the defaults of
// raftlog.Options when there is no such file. The queues check that every
// other file agrees.
func inferSizes(dir string, names []string) (logFileSize int64, itemsPerFile uint64, err error) {
	logFileSize, itemsPerFile = logqueue.DefaultFileSize, idxqueue.DefaultItemsPerFile
	if name, size, ok, err := firstSize(dir, names, logSuffix); err != nil {
		return 0, 0, err
	} else if ok {
		if !isPow2(uint64(size)) || size < logqueue.MinFileSize {
			return 0, 0, fmt.Errorf("%w: %s: size %d is not a power of two of at least %d",
				logqueue.ErrBadFile, name, size, logqueue.MinFileSize)
		}
		logFileSize = size
	}
	if name, size, ok, err := firstSize(dir, names, idxSuffix); err != nil {
		return 0, 0, err
	} else if ok {
		if size%slotSize != 0 || !isPow2(uint64(size/slotSize)) || size/slotSize < 8 {
			return 0, 0, fmt.Errorf("%w: %s: size %d is not 8 bytes times a power of two of at least 8",
				idxqueue.ErrCorrupt, name, size)
		}
		itemsPerFile = uint64(size / slotSize)
	}
	return logFileSize, itemsPerFile, nil
}

// firstSize returns the name and size of the first log or index file (by
// suffix) of names. A file deleted since the listing (by the owner's
// compaction) is passed over.
func firstSize(dir string, names []string, suffix string) (name string, size int64, ok bool, err error) {
	for _, n := range names {
		if _, ok := parseName(n, suffix); !ok {
			continue
		}
		size, err := fileSize(filepath.Join(dir, n))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		return n, size, err == nil, err
	}
	return "", 0, false, nil
}

// parseName returns the number in a "%020d<suffix>" file name.
func parseName(name, suffix string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, suffix)
	if !ok || len(digits) != nameDigits {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil
}

func fileSize(path string) (int64, error) {
	f, err := vfs.Default.OpenReadOnly(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return f.Size()
}

func isPow2(v uint64) bool { return v != 0 && bits.OnesCount64(v) == 1 }

// logFileName returns the name of the log file holding log position pos.
func (v *view) logFileName(pos int64) string {
	return fmt.Sprintf("%0*d%s", nameDigits, pos&^(v.logFileSize-1), logSuffix)
}

// hasLogFile reports whether the file holding log position pos was listed.
func (v *view) hasLogFile(pos int64) bool {
	start := pos &^ (v.logFileSize - 1)
	for _, f := range v.lq.Files() {
		if f.StartPos == start {
			return true
		}
	}
	return false
}

// where names a log position as "file offset N".
func (v *view) where(pos int64) string {
	return fmt.Sprintf("%s offset %d", v.logFileName(pos), pos&(v.logFileSize-1))
}

// idxWhere names the slot of index as "file offset N".
func (v *view) idxWhere(index uint64) string {
	first := index &^ (v.itemsPerFile - 1)
	return fmt.Sprintf("%0*d%s offset %d", nameDigits, first, idxSuffix, (index-first)*slotSize)
}
