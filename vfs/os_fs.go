package vfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"
)

// Default is the real file system of the operating system.
var Default FS = osFS{}

type osFS struct{}

type osFile struct {
	f *os.File
	// rc reaches the descriptor for the system calls os.File lacks. It is
	// used instead of a descriptor number saved at open because it holds a
	// reference for the length of each call: after Close (or during a
	// concurrent one) the call fails with os.ErrClosed instead of acting on a
	// closed number that the kernel may already have given to another file.
	rc syscall.RawConn
}

func wrapFile(f *os.File, err error) (File, error) {
	if err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &osFile{f: f, rc: rc}, nil
}

func (osFS) Create(name string) (File, error) {
	return wrapFile(os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644))
}

func (osFS) Open(name string) (File, error) {
	return wrapFile(os.OpenFile(name, os.O_RDWR, 0))
}

func (osFS) OpenReadOnly(name string) (File, error) {
	return wrapFile(os.Open(name))
}

func (osFS) Remove(name string) error { return os.Remove(name) }

func (osFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

func (osFS) List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names, nil
}

func (osFS) MkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func (osFS) Exists(name string) (bool, error) {
	_, err := os.Stat(name)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// lockFileName is the file inside a locked directory that carries the flock.
// flock locks belong to an open file description, so two opens of it in the
// same process conflict just as two processes do.
const lockFileName = "LOCK"

type osLock struct{ f *os.File }

func (l *osLock) Close() error {
	// Closing the descriptor releases the flock.
	return l.f.Close()
}

func (osFS) Lock(dir string) (io.Closer, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("vfs: flock %s: %w", dir, err)
	}
	return &osLock{f: f}, nil
}

func (o *osFile) ReadAt(p []byte, off int64) (int, error) { return o.f.ReadAt(p, off) }

func (o *osFile) WriteAt(p []byte, off int64) (int, error) { return o.f.WriteAt(p, off) }

// maxIovecs is the IOV_MAX of Linux: pwritev takes at most this many buffers.
const maxIovecs = 1024

func (o *osFile) WritevAt(bufs [][]byte, off int64) (int, error) {
	total := 0
	for len(bufs) > 0 {
		batch := bufs
		if len(batch) > maxIovecs {
			batch = batch[:maxIovecs]
		}
		want := 0
		for _, b := range batch {
			want += len(b)
		}
		var n int
		var err error
		if cerr := o.rc.Control(func(fd uintptr) { n, err = unix.Pwritev(int(fd), batch, off) }); cerr != nil {
			return total, o.closedError("pwritev")
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return total, &os.PathError{Op: "pwritev", Path: o.f.Name(), Err: err}
		}
		if n == 0 && want > 0 {
			// Cannot happen for a regular file; guards the loop against
			// spinning forever if it does.
			return total, &os.PathError{Op: "pwritev", Path: o.f.Name(), Err: io.ErrShortWrite}
		}
		total += n
		off += int64(n)
		if n < want {
			// A short pwritev: drop what was written and go on with the rest.
			bufs = skipBytes(bufs, n)
			continue
		}
		bufs = bufs[len(batch):]
	}
	return total, nil
}

// skipBytes returns bufs without its first n bytes. It allocates only in the
// rare case of a short write.
func skipBytes(bufs [][]byte, n int) [][]byte {
	for n > 0 && len(bufs) > 0 {
		if n >= len(bufs[0]) {
			n -= len(bufs[0])
			bufs = bufs[1:]
			continue
		}
		rest := make([][]byte, len(bufs))
		copy(rest, bufs)
		rest[0] = rest[0][n:]
		return rest
	}
	return bufs
}

func (o *osFile) Sync() error {
	for {
		var err error
		if cerr := o.rc.Control(func(fd uintptr) { err = unix.Fdatasync(int(fd)) }); cerr != nil {
			return o.closedError("fdatasync")
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "fdatasync", Path: o.f.Name(), Err: err}
		}
		return nil
	}
}

// closedError is the error of a raw call on a closed file. RawConn.Control
// fails only when the file is closed, and reports it with the internal
// poll.ErrFileClosing, which os.File methods would have turned into
// os.ErrClosed; do the same so callers see one error for one condition.
func (o *osFile) closedError(op string) error {
	return &os.PathError{Op: op, Path: o.f.Name(), Err: os.ErrClosed}
}

func (o *osFile) Truncate(size int64) error { return o.f.Truncate(size) }

func (o *osFile) Allocate(off, size int64) error {
	for {
		var err error
		if cerr := o.rc.Control(func(fd uintptr) { err = unix.Fallocate(int(fd), 0, off, size) }); cerr != nil {
			return o.closedError("fallocate")
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "fallocate", Path: o.f.Name(), Err: err}
		}
		return nil
	}
}

func (o *osFile) Size() (int64, error) {
	st, err := o.f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func (o *osFile) Name() string { return o.f.Name() }

func (o *osFile) Close() error { return o.f.Close() }
