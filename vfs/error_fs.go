package vfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
)

// ErrInjected is the error an Injector returns, or that ErrorFS wraps, when
// a test asks for an operation to fail. Real failures never carry it.
var ErrInjected = errors.New("vfs: injected error")

// Op names an operation an Injector can fail.
type Op int

// The operations ErrorFS consults its Injector about. List, MkdirAll, Lock,
// Exists, Size, Name and Close are never failed.
const (
	OpCreate   Op = iota // FS.Create
	OpOpen               // FS.Open and FS.OpenReadOnly
	OpRemove             // FS.Remove
	OpRename             // FS.Rename (the name is the old name)
	OpWrite              // File.WriteAt and File.WritevAt
	OpSync               // File.Sync
	OpSyncDir            // FS.SyncDir
	OpAllocate           // File.Allocate
	OpTruncate           // File.Truncate
	OpRead               // File.ReadAt
	numOps
)

var opNames = [numOps]string{
	OpCreate:   "create",
	OpOpen:     "open",
	OpRemove:   "remove",
	OpRename:   "rename",
	OpWrite:    "write",
	OpSync:     "sync",
	OpSyncDir:  "syncdir",
	OpAllocate: "allocate",
	OpTruncate: "truncate",
	OpRead:     "read",
}

func (o Op) String() string {
	if o >= 0 && o < numOps {
		return opNames[o]
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

// Injector decides whether an operation fails. MaybeError is called before
// the operation with the name of the file (or directory) it acts on; a nil
// result lets it run, anything else fails it with that error wrapped with the
// operation and name. For OpWrite a ShortWrite result writes a prefix first.
// MaybeError may be called from several goroutines at once.
type Injector interface {
	MaybeError(op Op, name string) error
}

// InjectorFunc adapts a function to Injector.
type InjectorFunc func(op Op, name string) error

// MaybeError implements Injector.
func (f InjectorFunc) MaybeError(op Op, name string) error { return f(op, name) }

// ShortWrite, returned by an Injector for OpWrite, makes the write store only
// its first N bytes (all of them if it has fewer) and then fail with
// ErrInjected and the count written, the way a write cut by a full disk or a
// crash does. Returned for any other operation it is a plain injected error.
type ShortWrite struct{ N int }

func (s ShortWrite) Error() string { return fmt.Sprintf("vfs: short write after %d bytes", s.N) }

// Is makes a ShortWrite match ErrInjected.
func (s ShortWrite) Is(target error) bool { return target == ErrInjected }

// CountInjector counts the operations it is asked about and fails one of
// them; see OnIndex.
type CountInjector struct {
	k     int64
	ops   []Op
	count atomic.Int64
}

// OnIndex returns an Injector that fails the k-th (0-based) operation among
// ops, or among all operations if ops is empty, with ErrInjected. A negative
// k fails nothing, which lets a test count the operations of a workload and
// then loop k over 0..Count()-1.
func OnIndex(k int64, ops ...Op) *CountInjector {
	return &CountInjector{k: k, ops: slices.Clone(ops)}
}

// MaybeError implements Injector.
func (c *CountInjector) MaybeError(op Op, _ string) error {
	if len(c.ops) > 0 && !slices.Contains(c.ops, op) {
		return nil
	}
	if c.count.Add(1)-1 == c.k {
		return ErrInjected
	}
	return nil
}

// Count returns how many matching operations have been seen so far,
// including the failed one.
func (c *CountInjector) Count() int64 { return c.count.Load() }

// Fired reports whether the k-th operation has been failed.
func (c *CountInjector) Fired() bool { return c.k >= 0 && c.count.Load() > c.k }

// ErrorFS wraps an FS and fails the operations its Injector picks. Files it
// opens are wrapped too. It adds no locking of its own: it is as safe for
// concurrent use as the inner FS and Injector are.
type ErrorFS struct {
	inner FS
	inj   Injector
}

var _ FS = (*ErrorFS)(nil)

// NewErrorFS returns inner with errors injected by inj.
func NewErrorFS(inner FS, inj Injector) *ErrorFS {
	return &ErrorFS{inner: inner, inj: inj}
}

// maybe asks the injector about op and wraps what it says.
func (e *ErrorFS) maybe(op Op, name string) error {
	if err := e.inj.MaybeError(op, name); err != nil {
		return &fs.PathError{Op: op.String(), Path: name, Err: err}
	}
	return nil
}

// Create implements FS.
func (e *ErrorFS) Create(name string) (File, error) {
	if err := e.maybe(OpCreate, name); err != nil {
		return nil, err
	}
	return e.wrap(e.inner.Create(name))
}

// Open implements FS.
func (e *ErrorFS) Open(name string) (File, error) {
	if err := e.maybe(OpOpen, name); err != nil {
		return nil, err
	}
	return e.wrap(e.inner.Open(name))
}

// OpenReadOnly implements FS.
func (e *ErrorFS) OpenReadOnly(name string) (File, error) {
	if err := e.maybe(OpOpen, name); err != nil {
		return nil, err
	}
	return e.wrap(e.inner.OpenReadOnly(name))
}

func (e *ErrorFS) wrap(f File, err error) (File, error) {
	if err != nil {
		return nil, err
	}
	return &errorFile{inner: f, inj: e.inj}, nil
}

// Remove implements FS.
func (e *ErrorFS) Remove(name string) error {
	if err := e.maybe(OpRemove, name); err != nil {
		return err
	}
	return e.inner.Remove(name)
}

// Rename implements FS.
func (e *ErrorFS) Rename(oldname, newname string) error {
	if err := e.inj.MaybeError(OpRename, oldname); err != nil {
		return &os.LinkError{Op: OpRename.String(), Old: oldname, New: newname, Err: err}
	}
	return e.inner.Rename(oldname, newname)
}

// List implements FS.
func (e *ErrorFS) List(dir string) ([]string, error) { return e.inner.List(dir) }

// MkdirAll implements FS.
func (e *ErrorFS) MkdirAll(dir string) error { return e.inner.MkdirAll(dir) }

// SyncDir implements FS.
func (e *ErrorFS) SyncDir(dir string) error {
	if err := e.maybe(OpSyncDir, dir); err != nil {
		return err
	}
	return e.inner.SyncDir(dir)
}

// Lock implements FS.
func (e *ErrorFS) Lock(dir string) (io.Closer, error) { return e.inner.Lock(dir) }

// Exists implements FS.
func (e *ErrorFS) Exists(name string) (bool, error) { return e.inner.Exists(name) }

type errorFile struct {
	inner File
	inj   Injector
}

func (f *errorFile) maybe(op Op) error {
	if err := f.inj.MaybeError(op, f.inner.Name()); err != nil {
		return &fs.PathError{Op: op.String(), Path: f.inner.Name(), Err: err}
	}
	return nil
}

// offsetError names the offset of a failed read or write.
func (f *errorFile) offsetError(op Op, off int64, err error) error {
	return fmt.Errorf("vfs: %s %s at offset %d: %w", op, f.inner.Name(), off, err)
}

func (f *errorFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.inj.MaybeError(OpRead, f.inner.Name()); err != nil {
		return 0, f.offsetError(OpRead, off, err)
	}
	return f.inner.ReadAt(p, off)
}

func (f *errorFile) WriteAt(p []byte, off int64) (int, error) {
	return f.WritevAt([][]byte{p}, off)
}

func (f *errorFile) WritevAt(bufs [][]byte, off int64) (int, error) {
	err := f.inj.MaybeError(OpWrite, f.inner.Name())
	if err == nil {
		return f.inner.WritevAt(bufs, off)
	}
	var sw ShortWrite
	if !errors.As(err, &sw) {
		return 0, f.offsetError(OpWrite, off, err)
	}
	n, werr := f.inner.WritevAt(prefix(bufs, sw.N), off)
	if werr != nil {
		return n, werr
	}
	return n, f.offsetError(OpWrite, off+int64(n), err)
}

// prefix returns the first n bytes of bufs (all of them if fewer).
func prefix(bufs [][]byte, n int) [][]byte {
	var out [][]byte
	for _, b := range bufs {
		if n <= 0 {
			break
		}
		b = b[:min(len(b), n)]
		out = append(out, b)
		n -= len(b)
	}
	return out
}

func (f *errorFile) Sync() error {
	if err := f.maybe(OpSync); err != nil {
		return err
	}
	return f.inner.Sync()
}

func (f *errorFile) Truncate(size int64) error {
	if err := f.maybe(OpTruncate); err != nil {
		return err
	}
	return f.inner.Truncate(size)
}

func (f *errorFile) Allocate(off, size int64) error {
	if err := f.maybe(OpAllocate); err != nil {
		return err
	}
	return f.inner.Allocate(off, size)
}

func (f *errorFile) Size() (int64, error) { return f.inner.Size() }

func (f *errorFile) Name() string { return f.inner.Name() }

func (f *errorFile) Close() error { return f.inner.Close() }
