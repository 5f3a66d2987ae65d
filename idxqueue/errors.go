package idxqueue

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound is returned by Position when the index is neither held in
	// memory nor covered by the index files: index 0, an index above the
	// persisted index once the queue is started (which includes every index
	// cut off by TruncateTail and not put again), or an index whose file does
	// not exist. The error for an index below FirstIndex matches both
	// ErrNotFound and ErrCompacted.
	ErrNotFound = errors.New("idxqueue: index not found")

	// ErrCompacted is returned by Position for an index below FirstIndex
	// (dropped by CompactTo or Reset; the error also matches ErrNotFound),
	// and by TruncateTail for an index below FirstIndex.
	ErrCompacted = errors.New("idxqueue: index compacted")

	// ErrOutOfRange is returned (through the future) by CompactTo for an
	// index above the one the next Put must carry, and by Reset for index 0.
	ErrOutOfRange = errors.New("idxqueue: index out of range")

	// ErrFull is returned by Put when the in-memory map already holds
	// MaxPending positions (call WaitRoom and retry), by WaitRoom when asked
	// for more than MaxPending, and by LongLongSeqMap.Put at MaxCap.
	ErrFull = errors.New("idxqueue: pending index map is full")

	// ErrNotConsecutive is returned by Put when the index is not the one
	// after the last index put (or persistedIndex+1 for the first Put after
	// Start), and by LongLongSeqMap.Put for a key that is not LastKey()+1.
	ErrNotConsecutive = errors.New("idxqueue: index not consecutive")

	// ErrClosed is returned by every call made after Close (by CompactTo and
	// Reset through their futures).
	ErrClosed = errors.New("idxqueue: closed")

	// ErrCorrupt is returned by Open when the directory holds an index file
	// whose name is not aligned to ItemsPerFile or whose size is not
	// ItemsPerFile*8 bytes; the error names the file.
	ErrCorrupt = errors.New("idxqueue: corrupt index file")

	// ErrInvalidOptions is returned by Open when an Options field is out of
	// range; the error names the field.
	ErrInvalidOptions = errors.New("idxqueue: invalid options")

	// ErrNotStarted is returned by Put, WaitRoom, TruncateTail, CompactTo and
	// Reset before Start.
	ErrNotStarted = errors.New("idxqueue: not started")

	// ErrReadOnly is returned by Start, Put, WaitRoom, TruncateTail,
	// CompactTo and Reset on a Queue opened with Options.ReadOnly.
	ErrReadOnly = errors.New("idxqueue: opened read-only")

	// ErrAlreadyStarted is returned by a second call to Start.
	ErrAlreadyStarted = errors.New("idxqueue: already started")
)

// panicf reports a broken invariant: a bug in this package, never bad input
// or an I/O failure.
func panicf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
