package status

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/raftlog/raftlog/vfs"
)

// ErrClosed is returned by Save and Close once the File has been closed.
var ErrClosed = errors.New("status: file closed")

const (
	fileName    = "status"
	tmpFileName = "status.tmp"
)

// File is an open status file. Its methods may be called from any goroutine.
type File struct {
	name  string
	state atomic.Pointer[State] // last saved state; read without mu

	mu     sync.Mutex // serializes Save and Close; guards the fields below
	f      vfs.File
	slot   int    // slot holding the newest state on disk
	seq    uint64 // sequence number of that slot
	buf    []byte // frame being written, reused across Saves
	err    error  // first write or sync error: sticky
	closed bool
}

// Open opens dir/"status", creating it durably with State{FirstIndex: 1} if
// it does not exist, and returns the newest valid state in it. existed is
// false when the file was created by this call. dir must exist. The caller
// must hold the directory lock: Open removes and renames files in dir.
//
// Leftovers of a crash while the file was being created are cleaned up: a
// "status.tmp" is removed, and a 0-byte "status" (its rename made durable
// before its data) is created afresh. A non-empty "status" with no valid slot
// gives ErrCorrupt; it is never reset.
func Open(fs vfs.FS, dir string) (*File, State, bool, error) {
	name := filepath.Join(dir, fileName)
	tmp := filepath.Join(dir, tmpFileName)
	ok, err := fs.Exists(name)
	if err != nil {
		return nil, State{}, false, fmt.Errorf("status: %s: %w", name, err)
	}
	if ok {
		f, l, empty, err := openExisting(fs, name)
		if err != nil {
			return nil, State{}, false, err
		}
		if !empty {
			if err := removeTmp(fs, dir, tmp); err != nil {
				_ = f.Close()
				return nil, State{}, false, err
			}
			return newFile(name, f, l), l.state.Clone(), true, nil
		}
	}
	if err := create(fs, dir, name, tmp); err != nil {
		return nil, State{}, false, err
	}
	f, l, empty, err := openExisting(fs, name)
	if err != nil {
		return nil, State{}, false, err
	}
	if empty {
		_ = f.Close()
		return nil, State{}, false, fmt.Errorf("status: %s: %w: empty right after creation", name, ErrCorrupt)
	}
	return newFile(name, f, l), l.state.Clone(), false, nil
}

func newFile(name string, f vfs.File, l loaded) *File {
	sf := &File{name: name, f: f, slot: l.slot, seq: l.seq, buf: make([]byte, 0, SlotSize)}
	st := l.state
	sf.state.Store(&st)
	return sf
}

// openExisting opens name and loads it. empty reports a 0-byte file, in
// which case no file is returned.
func openExisting(fs vfs.FS, name string) (vfs.File, loaded, bool, error) {
	f, err := fs.Open(name)
	if err != nil {
		return nil, loaded{}, false, fmt.Errorf("status: open %s: %w", name, err)
	}
	l, empty, err := load(f, name)
	if err != nil || empty {
		_ = f.Close()
		return nil, loaded{}, empty, err
	}
	return f, l, false, nil
}

func load(f vfs.File, name string) (loaded, bool, error) {
	size, err := f.Size()
	if err != nil {
		return loaded{}, false, fmt.Errorf("status: size of %s: %w", name, err)
	}
	if size == 0 {
		return loaded{}, true, nil
	}
	img := make([]byte, min(size, fileSize))
	n, err := f.ReadAt(img, 0)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(img)) {
		return loaded{}, false, fmt.Errorf("status: read %s: %w", name, err)
	}
	l, err := loadImage(img)
	if err != nil {
		return loaded{}, false, fmt.Errorf("status: %s: %w", name, err)
	}
	return l, false, nil
}

// create writes a new status file under tmp, syncs it and renames it to name,
// so that name never exists with partial contents (see the package comment
// for the one exception).
func create(fs vfs.FS, dir, name, tmp string) error {
	if err := removeTmp(fs, dir, tmp); err != nil {
		return err
	}
	// Both slots are written so the file has its final size and no Save ever
	// extends it; slot 1 is zeros, which never validate.
	img := make([]byte, 0, fileSize)
	img, err := appendSlot(img, 1, initialState())
	if err != nil {
		panic("status: the initial state does not encode: " + err.Error())
	}
	img = img[:fileSize]
	f, err := fs.Create(tmp)
	if err != nil {
		return fmt.Errorf("status: create %s: %w", tmp, err)
	}
	if _, err := f.WriteAt(img, 0); err != nil {
		_ = f.Close()
		return fmt.Errorf("status: write %s at offset 0: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("status: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("status: close %s: %w", tmp, err)
	}
	if err := fs.Rename(tmp, name); err != nil {
		return fmt.Errorf("status: rename %s to %s: %w", tmp, name, err)
	}
	if err := fs.SyncDir(dir); err != nil {
		return fmt.Errorf("status: sync directory %s: %w", dir, err)
	}
	return nil
}

// removeTmp removes a status.tmp left by a crash during creation. It is not
// needed for correctness (it is never read), so the directory sync only
// keeps it from coming back after another crash.
func removeTmp(fs vfs.FS, dir, tmp string) error {
	ok, err := fs.Exists(tmp)
	if err != nil {
		return fmt.Errorf("status: %s: %w", tmp, err)
	}
	if !ok {
		return nil
	}
	if err := fs.Remove(tmp); err != nil {
		return fmt.Errorf("status: remove %s: %w", tmp, err)
	}
	if err := fs.SyncDir(dir); err != nil {
		return fmt.Errorf("status: sync directory %s: %w", dir, err)
	}
	return nil
}

// Save replaces the state in the file with s and returns once it is durable.
// It writes the slot that does not hold the newest state, so a crash at any
// point leaves the previous state readable. ErrTooLarge leaves the file
// untouched. A write or sync error is sticky: this and every later Save
// return it, and the file must be reopened (after a failed fdatasync the
// page cache may no longer hold what was written, so nothing can be trusted
// to be durable). Concurrent Saves are applied one after another.
func (f *File) Save(s State) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	if f.err != nil {
		return f.err
	}
	seq := f.seq + 1
	frame, err := appendSlot(f.buf[:0], seq, s)
	if err != nil {
		return fmt.Errorf("status: %s: %w", f.name, err)
	}
	f.buf = frame[:0]
	target := 1 - f.slot
	off := int64(target) * SlotSize
	if _, err := f.f.WriteAt(frame, off); err != nil {
		f.err = fmt.Errorf("status: write %s at offset %d: %w", f.name, off, err)
		return f.err
	}
	if err := f.f.Sync(); err != nil {
		f.err = fmt.Errorf("status: sync %s: %w", f.name, err)
		return f.err
	}
	f.slot, f.seq = target, seq
	c := s.Clone()
	f.state.Store(&c)
	return nil
}

// State returns a copy of the last state saved (or loaded by Open). It does
// not wait for a Save in progress.
func (f *File) State() State { return f.state.Load().Clone() }

// Close closes the file. Every successful Save is already durable, so there
// is nothing to flush. Later calls of Close and Save return ErrClosed.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	f.closed = true
	if err := f.f.Close(); err != nil {
		return fmt.Errorf("status: close %s: %w", f.name, err)
	}
	return nil
}
