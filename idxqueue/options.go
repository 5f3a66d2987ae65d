package idxqueue

import (
	"fmt"
	"time"

	"github.com/raftlog/raftlog/vfs"
)

// Options configure a Queue. Zero values mean the defaults given.
type Options struct {
	// FS is the file system. Default vfs.Default.
	FS vfs.FS
	// Dir is the directory of the index files; created if missing. Required.
	Dir string
	// ItemsPerFile is the number of indexes one file covers, a power of two
	// ≥ 8. Default 1<<20 (8 MiB files).
	ItemsPerFile int
	// MaxPending bounds the positions held in memory waiting for a flush, a
	// power of two. Put returns ErrFull beyond it. Default 1<<20.
	MaxPending int
	// FlushThreshold starts a flush as soon as this many durable positions
	// wait, in [1, MaxPending]. Default MaxPending/4.
	FlushThreshold int
	// FlushInterval flushes durable positions at least this often, even when
	// fewer than FlushThreshold wait. Default 50 ms.
	FlushInterval time.Duration
	// OnPersisted is called on the flush goroutine with the highest index
	// whose position is synced to the index files, in increasing order
	// except that the first call after TruncateTail or Reset may be lower
	// than the last one before; raftlog records it in its status file here.
	// An error fails the queue (and the index is not counted as persisted).
	// It must not call (or wait for a call of) TruncateTail, CompactTo or
	// Reset, which wait for the flush it runs in. May be nil.
	OnPersisted func(index uint64) error
	// OnError is called once, on the goroutine that hit it, with the first
	// error (write, sync, file creation or OnPersisted). May be nil.
	OnError func(err error)
	// OnFlush is called on the flush goroutine after every flush with the
	// number of positions persisted and how long the flush took, OnPersisted
	// included. The same restriction as for OnPersisted applies. May be nil.
	OnFlush func(entries int, nanos int64)
	// OnRoomWait, if set, is called by WaitRoom after it had to block for
	// room, with how long it blocked (a measure of back-pressure).
	OnRoomWait func(nanos int64)
	// ReadOnly opens the index files for reading only, for inspection while
	// the owner of the directory may be running: Open creates, removes and
	// writes nothing (leftover *.idx.tmp files are ignored; the directory
	// must exist), Position answers from the files, and Start, Put and
	// WaitRoom return ErrReadOnly. See read_only.go.
	ReadOnly bool
}

// Defaults of Options.
const (
	DefaultItemsPerFile  = 1 << 20
	DefaultMaxPending    = 1 << 20
	DefaultFlushInterval = 50 * time.Millisecond
)

// ensureDefaults returns opts with every zero field set to its default, or
// ErrInvalidOptions naming the first field out of range.
func (o Options) ensureDefaults() (Options, error) {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Dir == "" {
		return o, fmt.Errorf("%w: Dir is empty", ErrInvalidOptions)
	}
	if o.ItemsPerFile == 0 {
		o.ItemsPerFile = DefaultItemsPerFile
	}
	if !isPow2(o.ItemsPerFile) || o.ItemsPerFile < 8 {
		return o, fmt.Errorf("%w: ItemsPerFile %d is not a power of two ≥ 8", ErrInvalidOptions, o.ItemsPerFile)
	}
	if o.MaxPending == 0 {
		o.MaxPending = DefaultMaxPending
	}
	if !isPow2(o.MaxPending) {
		return o, fmt.Errorf("%w: MaxPending %d is not a power of two", ErrInvalidOptions, o.MaxPending)
	}
	if o.FlushThreshold == 0 {
		o.FlushThreshold = max(o.MaxPending/4, 1)
	}
	if o.FlushThreshold < 1 || o.FlushThreshold > o.MaxPending {
		return o, fmt.Errorf("%w: FlushThreshold %d is not in [1, MaxPending=%d]", ErrInvalidOptions, o.FlushThreshold, o.MaxPending)
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.FlushInterval < 0 {
		return o, fmt.Errorf("%w: FlushInterval %v is negative", ErrInvalidOptions, o.FlushInterval)
	}
	return o, nil
}
