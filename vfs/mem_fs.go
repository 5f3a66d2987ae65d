package vfs

import (
	"errors"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
)

// MemFS is an in-memory FS that models what survives a power loss; see
// NewMem. All methods, and those of its files, are safe for concurrent use:
// one mutex guards the whole file system, which is plenty for tests.
type MemFS struct {
	mu sync.Mutex
	// dirs holds every directory. Directories are durable as soon as they
	// are made: raftlog creates its directory once, and modelling the fsync
	// of every parent would only add noise to crash tests.
	dirs map[string]struct{}
	// cur is the namespace as the running process sees it: dir → base name
	// → file. dur is the namespace as of each directory's last SyncDir,
	// which is what a crash leaves behind.
	cur map[string]map[string]*memNode
	dur map[string]map[string]*memNode
	// locks holds the directories locked through Lock.
	locks map[string]struct{}
}

var _ FS = (*MemFS)(nil)

// NewMem returns an empty in-memory file system in which "." and "/" exist.
//
// File data becomes durable with File.Sync, directory entries with SyncDir,
// and Crash and CrashWithLoss return what a power loss would leave. Unlike a
// real disk it never fills up; wrap it in NewErrorFS for that.
func NewMem() *MemFS {
	return &MemFS{
		dirs:  map[string]struct{}{".": {}, "/": {}},
		cur:   make(map[string]map[string]*memNode),
		dur:   make(map[string]map[string]*memNode),
		locks: make(map[string]struct{}),
	}
}

// Crash returns a new MemFS holding only the durable state of m: the files
// whose names SyncDir made durable, each with the bytes its last Sync made
// durable (none if it was never synced). Creates, renames and removes not
// followed by a SyncDir of their directory are undone. Locks are not carried
// over: the process that held them is gone. m itself is unchanged and can go
// on being used.
func (m *MemFS) Crash() *MemFS { return m.crash(nil) }

// CrashWithLoss is Crash for a disk that wrote back part of the unsynced
// data before the power went: for each 4 KiB page written since the file's
// last Sync, it keeps the new page, the synced page, or a torn page (a random
// prefix of the new page, the rest old), and it keeps the synced or the
// current size of the file. All choices come from rng in a fixed order, so a
// seeded rng reproduces the outcome. The namespace is the durable one, as in
// Crash.
func (m *MemFS) CrashWithLoss(rng *rand.Rand) *MemFS {
	if rng == nil {
		panic("vfs: CrashWithLoss needs a random source")
	}
	return m.crash(rng)
}

func (m *MemFS) crash(rng *rand.Rand) *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := NewMem()
	maps.Copy(c.dirs, m.dirs)
	// A file durable under two names (a cross-directory rename made durable
	// on one side only) stays one file, as a hard link would.
	clones := make(map[*memNode]*memNode)
	for _, dir := range slices.Sorted(maps.Keys(m.dur)) {
		if _, ok := m.dirs[dir]; !ok {
			continue
		}
		ents := m.dur[dir]
		for _, base := range slices.Sorted(maps.Keys(ents)) {
			n := ents[base]
			cn, ok := clones[n]
			if !ok {
				cn = n.crashClone(rng)
				clones[n] = cn
			}
			c.entries(c.cur, dir)[base] = cn
			c.entries(c.dur, dir)[base] = cn
		}
	}
	return c
}

// entries returns the entry map of dir in ns, making it if needed.
func (m *MemFS) entries(ns map[string]map[string]*memNode, dir string) map[string]*memNode {
	ents := ns[dir]
	if ents == nil {
		ents = make(map[string]*memNode)
		ns[dir] = ents
	}
	return ents
}

// split cleans name and returns its directory and base name.
func split(name string) (clean, dir, base string) {
	clean = filepath.Clean(name)
	return clean, filepath.Dir(clean), filepath.Base(clean)
}

// checkParent returns the error for creating an entry in dir, or nil.
func (m *MemFS) checkParent(op, name, dir string) error {
	if _, ok := m.dirs[dir]; ok {
		return nil
	}
	if m.fileLocked(dir) != nil {
		return &fs.PathError{Op: op, Path: name, Err: syscall.ENOTDIR}
	}
	return &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
}

// fileLocked returns the file currently named name, or nil.
func (m *MemFS) fileLocked(name string) *memNode {
	_, dir, base := split(name)
	return m.cur[dir][base]
}

// Create implements FS.
func (m *MemFS) Create(name string) (File, error) {
	clean, dir, base := split(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkParent("open", name, dir); err != nil {
		return nil, err
	}
	if _, isDir := m.dirs[clean]; isDir || m.cur[dir][base] != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	}
	n := newMemNode()
	m.entries(m.cur, dir)[base] = n
	return &memFile{fs: m, node: n, name: name}, nil
}

// Open implements FS.
func (m *MemFS) Open(name string) (File, error) { return m.open(name, false) }

// OpenReadOnly implements FS. Writes, Truncate and Allocate on the file fail
// with EBADF, as on Linux.
func (m *MemFS) OpenReadOnly(name string) (File, error) { return m.open(name, true) }

func (m *MemFS) open(name string, readOnly bool) (File, error) {
	clean, _, _ := split(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, isDir := m.dirs[clean]; isDir {
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
	}
	n := m.fileLocked(clean)
	if n == nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &memFile{fs: m, node: n, name: name, readOnly: readOnly}, nil
}

// Remove implements FS. It removes a file, or a directory if it is empty.
// Files stay readable and writable through handles already open, as on
// POSIX. Removing a directory is durable at once, like making one.
func (m *MemFS) Remove(name string) error {
	clean, dir, base := split(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur[dir][base] != nil {
		delete(m.cur[dir], base)
		return nil
	}
	if _, isDir := m.dirs[clean]; !isDir {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	if clean == "." || clean == "/" || len(m.cur[clean]) > 0 || m.hasSubdir(clean) {
		return &fs.PathError{Op: "remove", Path: name, Err: syscall.ENOTEMPTY}
	}
	delete(m.dirs, clean)
	delete(m.cur, clean)
	delete(m.dur, clean)
	return nil
}

func (m *MemFS) hasSubdir(dir string) bool {
	for d := range m.dirs {
		if d != dir && filepath.Dir(d) == dir {
			return true
		}
	}
	return false
}

// Rename implements FS for files; renaming a directory is not supported.
func (m *MemFS) Rename(oldname, newname string) error {
	oldClean, oldDir, oldBase := split(oldname)
	newClean, newDir, newBase := split(newname)
	m.mu.Lock()
	defer m.mu.Unlock()
	linkErr := func(err error) error {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	n := m.cur[oldDir][oldBase]
	if n == nil {
		if _, isDir := m.dirs[oldClean]; isDir {
			return linkErr(errors.ErrUnsupported)
		}
		return linkErr(fs.ErrNotExist)
	}
	if err := m.checkParent("rename", newname, newDir); err != nil {
		return linkErr(err.(*fs.PathError).Err)
	}
	if _, isDir := m.dirs[newClean]; isDir {
		return linkErr(syscall.EISDIR)
	}
	if oldClean == newClean {
		return nil
	}
	m.entries(m.cur, newDir)[newBase] = n
	delete(m.cur[oldDir], oldBase)
	return nil
}

// List implements FS: files and subdirectories of dir, sorted.
func (m *MemFS) List(dir string) ([]string, error) {
	clean := filepath.Clean(dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.dirs[clean]; !ok {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: fs.ErrNotExist}
	}
	names := slices.Collect(maps.Keys(m.cur[clean]))
	for d := range m.dirs {
		if d != clean && filepath.Dir(d) == clean {
			names = append(names, filepath.Base(d))
		}
	}
	slices.Sort(names)
	return names, nil
}

// MkdirAll implements FS.
func (m *MemFS) MkdirAll(dir string) error {
	clean := filepath.Clean(dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	var missing []string
	for d := clean; ; d = filepath.Dir(d) {
		if _, ok := m.dirs[d]; ok {
			break
		}
		if m.fileLocked(d) != nil {
			return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	for _, d := range missing {
		m.dirs[d] = struct{}{}
	}
	return nil
}

// SyncDir implements FS: the current entries of dir become its durable ones.
func (m *MemFS) SyncDir(dir string) error {
	clean := filepath.Clean(dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.dirs[clean]; !ok {
		return &fs.PathError{Op: "open", Path: dir, Err: fs.ErrNotExist}
	}
	m.dur[clean] = maps.Clone(m.cur[clean])
	return nil
}

// Lock implements FS. Like Default, it creates an empty file named LOCK in
// dir if there is none, so that List returns the same names on both.
func (m *MemFS) Lock(dir string) (io.Closer, error) {
	clean := filepath.Clean(dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.dirs[clean]; !ok {
		return nil, &fs.PathError{Op: "open", Path: filepath.Join(dir, lockFileName), Err: fs.ErrNotExist}
	}
	if _, held := m.locks[clean]; held {
		return nil, &fs.PathError{Op: "lock", Path: dir, Err: ErrLocked}
	}
	ents := m.entries(m.cur, clean)
	if ents[lockFileName] == nil {
		ents[lockFileName] = newMemNode()
	}
	m.locks[clean] = struct{}{}
	return &memLock{fs: m, dir: clean}, nil
}

type memLock struct {
	fs       *MemFS
	dir      string
	released bool // guarded by fs.mu
}

func (l *memLock) Close() error {
	l.fs.mu.Lock()
	defer l.fs.mu.Unlock()
	if l.released {
		return &fs.PathError{Op: "close", Path: l.dir, Err: os.ErrClosed}
	}
	l.released = true
	delete(l.fs.locks, l.dir)
	return nil
}

// Exists implements FS.
func (m *MemFS) Exists(name string) (bool, error) {
	clean := filepath.Clean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.dirs[clean]; ok {
		return true, nil
	}
	return m.fileLocked(clean) != nil, nil
}

// memFile is an open file of a MemFS. Its state is guarded by fs.mu.
type memFile struct {
	fs       *MemFS
	node     *memNode
	name     string
	readOnly bool
	closed   bool
}

var _ File = (*memFile)(nil)

// check returns the error for op on f, or nil; fs.mu must be held.
func (f *memFile) check(op string, write bool) error {
	switch {
	case f.closed:
		return &fs.PathError{Op: op, Path: f.name, Err: os.ErrClosed}
	case write && f.readOnly:
		return &fs.PathError{Op: op, Path: f.name, Err: syscall.EBADF}
	}
	return nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("read", false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "readat", Path: f.name, Err: syscall.EINVAL}
	}
	if len(p) == 0 {
		return 0, nil
	}
	n := f.node.cur.readAt(p, off)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	return f.WritevAt([][]byte{p}, off)
}

func (f *memFile) WritevAt(bufs [][]byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("write", true); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "writeat", Path: f.name, Err: syscall.EINVAL}
	}
	total := 0
	for _, b := range bufs {
		f.node.writeAt(b, off+int64(total))
		total += len(b)
	}
	return total, nil
}

func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("sync", false); err != nil {
		return err
	}
	f.node.sync()
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("truncate", true); err != nil {
		return err
	}
	if size < 0 {
		return &fs.PathError{Op: "truncate", Path: f.name, Err: syscall.EINVAL}
	}
	f.node.truncate(size)
	return nil
}

func (f *memFile) Allocate(off, size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("fallocate", true); err != nil {
		return err
	}
	if off < 0 || size <= 0 {
		// As fallocate(2).
		return &fs.PathError{Op: "fallocate", Path: f.name, Err: syscall.EINVAL}
	}
	// Pages are materialised only when written, so a 1 GiB allocation is
	// free; the invariant of pageImage makes the new range read as zeros.
	f.node.cur.size = max(f.node.cur.size, off+size)
	return nil
}

func (f *memFile) Size() (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("stat", false); err != nil {
		return 0, err
	}
	return f.node.cur.size, nil
}

func (f *memFile) Name() string { return f.name }

func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("close", false); err != nil {
		return err
	}
	f.closed = true
	return nil
}
