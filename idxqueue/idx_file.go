package idxqueue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"

	"github.com/raftlog/raftlog/vfs"
)

// The on-disk format. Frozen: changing any of these breaks existing logs.
const (
	// slotSize is the width of one position: a little-endian int64.
	slotSize = 8
	// nameDigits is the width of the zero-padded first index in a file name.
	nameDigits = 20
	// fileSuffix ends the name of every complete index file.
	fileSuffix = ".idx"
	// tmpSuffix ends the name of a file being created; such a file is never
	// trusted and is removed by Open.
	tmpSuffix = ".idx.tmp"
)

// fileName returns the name of the index file whose first index is first.
func fileName(first uint64) string {
	return fmt.Sprintf("%0*d%s", nameDigits, first, fileSuffix)
}

// parseFileName returns the first index encoded in an index file name. It
// accepts exactly what fileName produces.
func parseFileName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, fileSuffix)
	if !ok || len(digits) != nameDigits {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (^uint64(0)-d)/10 {
			return 0, false // more than 2^64−1
		}
		v = v*10 + d
	}
	return v, true
}

// zeroChunk is the read-only source of the zeros written into new files.
var zeroChunk = make([]byte, 64<<10)

// createFile creates the index file for first durably: it is written in full
// under a temporary name, synced, renamed and its directory synced, so that
// after a crash the final name either does not exist or names a file of the
// right size. It returns the file opened read-write.
//
// The file is filled with zeros rather than fallocate'd or left sparse:
// positions are later written into it and fdatasync'd on every flush, and
// writing into holes or unwritten extents would turn every one of those
// fdatasyncs into a metadata journal commit. The cost is writing each file
// once, 8 bytes per index.
func createFile(fs vfs.FS, dir string, first uint64, size int64) (_ vfs.File, err error) {
	path := filepath.Join(dir, fileName(first))
	tmp := strings.TrimSuffix(path, fileSuffix) + tmpSuffix
	if ok, err := fs.Exists(tmp); err != nil {
		return nil, fmt.Errorf("idxqueue: stat %s: %w", tmp, err)
	} else if ok {
		if err := fs.Remove(tmp); err != nil {
			return nil, fmt.Errorf("idxqueue: remove stale %s: %w", tmp, err)
		}
	}
	f, err := fs.Create(tmp)
	if err != nil {
		return nil, fmt.Errorf("idxqueue: create %s: %w", tmp, err)
	}
	defer func() {
		if err != nil {
			// The queue fails on this error, so the leftover only needs to
			// be gone by the next Open, which removes *.idx.tmp anyway.
			_ = f.Close()
			_ = fs.Remove(tmp)
		}
	}()
	if err = zeroFill(f, size); err != nil {
		return nil, fmt.Errorf("idxqueue: fill %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return nil, fmt.Errorf("idxqueue: sync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return nil, fmt.Errorf("idxqueue: close %s: %w", tmp, err)
	}
	if err = fs.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("idxqueue: rename %s: %w", tmp, err)
	}
	if err = fs.SyncDir(dir); err != nil {
		return nil, fmt.Errorf("idxqueue: sync dir %s after creating %s: %w", dir, path, err)
	}
	nf, err := fs.Open(path)
	if err != nil {
		return nil, fmt.Errorf("idxqueue: open %s: %w", path, err)
	}
	return nf, nil
}

// zeroFill writes size zero bytes at the start of f.
func zeroFill(f vfs.File, size int64) error {
	const chunksPerWrite = 16
	var bufs [chunksPerWrite][]byte
	for off := int64(0); off < size; {
		n := 0
		var w int64
		for n < chunksPerWrite && off+w < size {
			c := min(int64(len(zeroChunk)), size-off-w)
			bufs[n] = zeroChunk[:c]
			w += c
			n++
		}
		if _, err := f.WritevAt(bufs[:n], off); err != nil {
			return fmt.Errorf("at offset %d: %w", off, err)
		}
		off += w
	}
	return nil
}

// fileSet holds the open index files, keyed by file number (first index /
// ItemsPerFile). The flush goroutine adds files; Position reads from any
// goroutine; Close closes them all.
type fileSet struct {
	fs           vfs.FS
	dir          string
	itemsPerFile uint64
	shift        uint // log2(itemsPerFile)

	// readOnly: load opens files read-only and changes nothing (see
	// Options.ReadOnly); ensure is never called then, as Start refuses.
	readOnly bool

	mu    sync.RWMutex
	files map[uint64]vfs.File
	// maps holds a read-only mapping of each file that allows one (the real
	// file system's), so that read is a memory load instead of a pread:
	// index files never change size, and slots are read only once written.
	// Made and released under the write lock, used under the read lock.
	maps   map[uint64][]byte
	closed bool
	// removing holds the numbers of files detached by detachBelow and not
	// yet unlinked; removed is closed (and replaced) whenever some are. Both
	// are made by the first detachBelow. See file_remover.go.
	removing map[uint64]struct{}
	removed  chan struct{}
}

func (s *fileSet) fileSize() int64 { return int64(s.itemsPerFile) * slotSize }

// load lists dir, removes leftover temporary files and opens every index
// file read-write. Read-only, it only lists and opens (see read_only.go).
func (s *fileSet) load() error {
	if !s.readOnly {
		if err := s.fs.MkdirAll(s.dir); err != nil {
			return fmt.Errorf("idxqueue: create dir %s: %w", s.dir, err)
		}
	}
	names, err := s.fs.List(s.dir)
	if err != nil {
		return fmt.Errorf("idxqueue: list %s: %w", s.dir, err)
	}
	removed := false
	for _, name := range names {
		path := filepath.Join(s.dir, name)
		if strings.HasSuffix(name, tmpSuffix) {
			if s.readOnly {
				continue
			}
			if err := s.fs.Remove(path); err != nil {
				return fmt.Errorf("idxqueue: remove leftover %s: %w", path, err)
			}
			removed = true
			continue
		}
		if !strings.HasSuffix(name, fileSuffix) {
			continue
		}
		first, ok := parseFileName(name)
		if !ok {
			return fmt.Errorf("%w: %s: name is not %d digits + %s", ErrCorrupt, path, nameDigits, fileSuffix)
		}
		if first%s.itemsPerFile != 0 {
			return fmt.Errorf("%w: %s: first index %d is not a multiple of ItemsPerFile %d",
				ErrCorrupt, path, first, s.itemsPerFile)
		}
		f, err := s.openPath(path)
		if s.readOnly && errors.Is(err, fs.ErrNotExist) {
			continue // deleted by the owner since List (see read_only.go)
		}
		if err != nil {
			return fmt.Errorf("idxqueue: open %s: %w", path, err)
		}
		s.files[first>>s.shift] = f
		size, err := f.Size()
		if err != nil {
			return fmt.Errorf("idxqueue: size of %s: %w", path, err)
		}
		if size != s.fileSize() {
			return fmt.Errorf("%w: %s: size %d, want %d", ErrCorrupt, path, size, s.fileSize())
		}
		s.mapFile(first>>s.shift, f)
	}
	if removed {
		if err := s.fs.SyncDir(s.dir); err != nil {
			return fmt.Errorf("idxqueue: sync dir %s: %w", s.dir, err)
		}
	}
	return nil
}

// ensure returns the file holding index, creating it if it does not exist.
// Only the flush goroutine (or Start, before it runs) calls it. If the file
// is detached and its removal still queued (Reset to a lower first index),
// it waits for the removal first, so the remover cannot unlink the new file.
func (s *fileSet) ensure(index uint64) (vfs.File, error) {
	num := index >> s.shift
	for {
		s.mu.RLock()
		f, closed := s.files[num], s.closed
		_, pending := s.removing[num]
		removed := s.removed
		s.mu.RUnlock()
		if closed {
			return nil, ErrClosed
		}
		if f != nil {
			return f, nil
		}
		if !pending {
			break
		}
		<-removed
	}
	f, err := createFile(s.fs, s.dir, num<<s.shift, s.fileSize())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = f.Close()
		return nil, ErrClosed
	}
	s.files[num] = f
	s.mapFile(num, f)
	return f, nil
}

// mapFile maps file num if its file system allows it; without a mapping,
// read falls back to pread. The caller holds the write lock (or has the set
// to itself, in load).
func (s *fileSet) mapFile(num uint64, f vfs.File) {
	m, ok := f.(vfs.Mapper)
	if !ok {
		return
	}
	b, err := m.MapReadOnly(s.fileSize())
	if err != nil {
		return // pread still works; the mapping only saves a system call
	}
	if s.maps == nil {
		s.maps = make(map[uint64][]byte)
	}
	s.maps[num] = b
}

// unmapFile releases the mapping of file num, if any, under the write lock:
// no read can be using it.
func (s *fileSet) unmapFile(num uint64) {
	if b, ok := s.maps[num]; ok {
		_ = vfs.Unmap(b)
		delete(s.maps, num)
	}
}

// slotOffset returns the byte offset of index within its file.
func (s *fileSet) slotOffset(index uint64) int64 {
	return int64(index&(s.itemsPerFile-1)) * slotSize
}

// read returns the position stored for index in its file. The read lock is
// held across the pread so that Close cannot close the file under it.
func (s *fileSet) read(index uint64) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, ErrClosed
	}
	off := s.slotOffset(index)
	if b := s.maps[index>>s.shift]; b != nil {
		return int64(binary.LittleEndian.Uint64(b[off : off+slotSize])), nil
	}
	f := s.files[index>>s.shift]
	if f == nil {
		return 0, fmt.Errorf("%w: index %d: no file %s", ErrNotFound, index, fileName(index&^(s.itemsPerFile-1)))
	}
	var b [slotSize]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		return 0, fmt.Errorf("idxqueue: read index %d in %s at offset %d: %w", index, f.Name(), off, err)
	}
	return int64(binary.LittleEndian.Uint64(b[:])), nil
}

// closeAll closes every file and returns the first error.
func (s *fileSet) closeAll() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	for num := range s.maps {
		s.unmapFile(num)
	}
	var errs []error
	for _, f := range s.files {
		if err := f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("idxqueue: close %s: %w", f.Name(), err))
		}
	}
	clear(s.files)
	return errors.Join(errs...)
}
