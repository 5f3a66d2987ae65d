package vfs

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Mapper is implemented by files that can be mapped into memory: the real
// file system's. A caller that reads small records at random from a file
// that does not change size (the index files) maps it once instead of
// paying a pread per record; files of the other implementations (MemFS,
// ErrorFS) do not implement it, and their callers keep using ReadAt.
type Mapper interface {
	// MapReadOnly maps the first size bytes of the file for reading,
	// shared: writes made later through any descriptor of the file are seen
	// through the mapping. The file must stay at least size bytes long
	// while the mapping is in use (touching a page past the end of the
	// file raises SIGBUS). Release it with Unmap; closing the file does
	// not.
	MapReadOnly(size int64) ([]byte, error)
}

// ErrNotMappable is returned by MapReadOnly for a size it cannot map.
var ErrNotMappable = errors.New("vfs: cannot map")

// Unmap releases a mapping made by MapReadOnly. The slice must not be used
// afterwards.
func Unmap(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	return unix.Munmap(b)
}

func (f *osFile) MapReadOnly(size int64) ([]byte, error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, fmt.Errorf("%w: %d bytes of %s", ErrNotMappable, size, f.Name())
	}
	var b []byte
	var merr error
	err := f.rc.Control(func(fd uintptr) {
		b, merr = unix.Mmap(int(fd), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	})
	if err == nil {
		err = merr
	}
	if err != nil {
		return nil, fmt.Errorf("vfs: map %d bytes of %s: %w", size, f.Name(), err)
	}
	return b, nil
}
