package vfs

import (
	"errors"
	"io"
)

// ErrLocked is returned by FS.Lock when the directory is already locked by
// another holder (this process or another one).
var ErrLocked = errors.New("vfs: directory is locked by another user")

// File is an open file. All offsets are absolute: no call moves a file
// position, so one File may be used by several goroutines at once as long as
// their byte ranges do not overlap.
type File interface {
	io.ReaderAt
	io.WriterAt
	// WritevAt writes bufs back to back at off with as few system calls as
	// the platform allows (pwritev).
	WritevAt(bufs [][]byte, off int64) (int, error)
	// Sync makes the data written so far durable (fdatasync).
	Sync() error
	// Truncate changes the size of the file.
	Truncate(size int64) error
	// Allocate reserves [off, off+size) on disk without changing what reads
	// return (fallocate mode 0); the size grows to at least off+size.
	Allocate(off, size int64) error
	// Size returns the current size of the file.
	Size() (int64, error)
	// Name returns the path the file was opened with.
	Name() string
	Close() error
}

// FS is the file-system surface raftlog needs.
type FS interface {
	// Create creates name for reading and writing; it fails if name exists.
	Create(name string) (File, error)
	// Open opens an existing file for reading and writing.
	Open(name string) (File, error)
	// OpenReadOnly opens an existing file for reading only.
	OpenReadOnly(name string) (File, error)
	// Remove deletes a file.
	Remove(name string) error
	// Rename renames oldname to newname, replacing newname if it exists.
	Rename(oldname, newname string) error
	// List returns the names (not paths) of the entries of dir, sorted.
	List(dir string) ([]string, error)
	// MkdirAll creates dir and its parents if they do not exist.
	MkdirAll(dir string) error
	// SyncDir makes the entries of dir durable (fsync of the directory).
	SyncDir(dir string) error
	// Lock takes the exclusive lock of dir; ErrLocked if someone holds it.
	Lock(dir string) (io.Closer, error)
	// Exists reports whether name exists.
	Exists(name string) (bool, error)
}
