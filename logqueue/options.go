package logqueue

import (
	"fmt"
	"math/bits"

	"github.com/raftlog/raftlog/chainwriter"
	"github.com/raftlog/raftlog/pipeline"
	"github.com/raftlog/raftlog/vfs"
)

// PreallocMode is how the space of a new log file is reserved before the
// writer gets to it.
type PreallocMode uint8

const (
	// ZeroAhead, the default, fallocates each file, then a background
	// goroutine writes zeros (and syncs them) a little ahead of the writer,
	// ZeroAheadLead bytes at most, so that the writer lands on written
	// blocks and its fdatasyncs flush data without committing extent
	// conversions to the journal. It pauses while the writer's fdatasyncs
	// average more than 128 KiB, where the conversion is a small part of
	// their cost and writing every byte twice is not. Against Fallocate in
	// the same runs of `go run ./bench -prealloc …` (PERFORMANCE.md):
	// batch-wait 64×128 B 356–380 k vs 199–229 k entries/s, 128 concurrent
	// appenders 160–163 k vs 91–141 k, pipelined 64×1 KiB 1.25–1.29 M vs
	// 0.95–1.14 M; batch-wait 1×128 B and 1024×1 KiB level (the latter
	// and batch-wait 1024×128 B are above the pause threshold).
	ZeroAhead PreallocMode = iota
	// Fallocate reserves the blocks with fallocate(2), at once. They stay
	// unwritten extents until written, and an fdatasync that covers newly
	// written ones also commits their conversion to the journal: 335 µs
	// against 150 µs per 12 KiB pwrite+fdatasync into a zero-filled file,
	// measured on the project's machine.
	Fallocate
	// ZeroFill reserves the blocks, then writes zeros over the whole file in
	// the background (syncing every 8 MiB). The file the writer starts in
	// at Open is only fallocated, so Open never waits for a zero fill. A
	// gigabyte of zeros written while the writer works competes with it:
	// it lost to Fallocate on every workload of the bench command.
	ZeroFill
	// Sparse only sets the file size; blocks are allocated as they are
	// written, which makes every fdatasync a metadata update.
	Sparse
)

// ParsePreallocMode returns the mode String names: "zeroahead",
// "fallocate", "zerofill" or "sparse".
func ParsePreallocMode(name string) (PreallocMode, error) {
	for _, m := range []PreallocMode{ZeroAhead, Fallocate, ZeroFill, Sparse} {
		if m.String() == name {
			return m, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown preallocation mode %q (want zeroahead, fallocate, zerofill or sparse)", ErrInvalidOptions, name)
}

func (p PreallocMode) String() string {
	switch p {
	case ZeroFill:
		return "zerofill"
	case Fallocate:
		return "fallocate"
	case Sparse:
		return "sparse"
	case ZeroAhead:
		return "zeroahead"
	}
	return fmt.Sprintf("PreallocMode(%d)", uint8(p))
}

const (
	// DefaultFileSize is the size of a log file unless Options says
	// otherwise.
	DefaultFileSize = 1 << 30
	// MinFileSize is the smallest file size accepted.
	MinFileSize = 64 << 10
	// maxFileSize keeps file start positions far from overflowing int64.
	maxFileSize = 1 << 40
	// DefaultBufferSize is the default size of a pooled encode buffer.
	DefaultBufferSize = 1 << 20
)

// Options configure a Queue. Zero values mean the defaults given.
type Options struct {
	// FS is the file system. Required.
	FS vfs.FS
	// Dir is the directory of the log files; Open creates it if missing.
	Dir string
	// FileSize is the size of every log file: a power of two, at least
	// 64 KiB. Default 1 GiB.
	FileSize int64
	// Prealloc is how a new file's space is reserved. Default ZeroAhead.
	Prealloc PreallocMode
	// ZeroAheadLead is how far ahead of the write position ZeroAhead keeps
	// the space zeroed: at least 64 KiB. Default 16 MiB.
	ZeroAheadLead int64
	// Executor runs the background allocation of the next file and the
	// removal of the files DeleteBefore takes out. Required. The Queue does
	// not close it; closing it waits for removals still running.
	Executor *pipeline.Executor
	// Writer is passed to the chainwriter started by StartWriting.
	Writer chainwriter.Options
	// BufferSize is the size of a pooled encode buffer chunk. Default 1 MiB.
	BufferSize int
	// RecycleFiles is how many files DeleteBefore may keep as spares, to be
	// renamed into place as new files instead of allocating them
	// (recycle.go). Default 0: none.
	RecycleFiles int
	// OnAllocWait, if set, is called on the Add goroutine with the time Add
	// waited for the next file to be allocated.
	OnAllocWait func(nanos int64)
	// OnRecycle, if set, is called on the Executor each time a new file is
	// made from a spare instead of allocated (recycle.go).
	OnRecycle func()
	// ReadOnly opens the files for reading only, for inspection while the
	// owner of the directory may be running: Open creates, removes and
	// writes nothing (leftover .tmp files are ignored, not removed; the
	// directory must exist), Executor is not needed, and every method that
	// writes (StartWriting, Add, Flush, CutTail, SyncRange, TruncateTail,
	// DeleteBefore) returns ErrReadOnly. See read_only.go.
	ReadOnly bool

	// zeroMaxSyncBytes replaces the constant of that name when set: tests
	// that need the zeroer running whatever the size of the syncs a loaded
	// machine happens to merge set it very high.
	zeroMaxSyncBytes int64
}

// validate fills in the defaults and checks the rest.
func (o *Options) validate() error {
	if o.FS == nil {
		return fmt.Errorf("%w: FS is nil", ErrInvalidOptions)
	}
	if o.Executor == nil && !o.ReadOnly {
		return fmt.Errorf("%w: Executor is nil", ErrInvalidOptions)
	}
	if o.FileSize == 0 {
		o.FileSize = DefaultFileSize
	}
	if o.FileSize < MinFileSize || o.FileSize > maxFileSize || bits.OnesCount64(uint64(o.FileSize)) != 1 {
		return fmt.Errorf("%w: FileSize %d is not a power of two in [%d, %d]",
			ErrInvalidOptions, o.FileSize, MinFileSize, int64(maxFileSize))
	}
	if o.Prealloc > Sparse {
		return fmt.Errorf("%w: unknown Prealloc %d", ErrInvalidOptions, o.Prealloc)
	}
	if o.ZeroAheadLead == 0 {
		o.ZeroAheadLead = defaultZeroLead
	}
	if o.ZeroAheadLead < 64<<10 {
		return fmt.Errorf("%w: ZeroAheadLead %d is below 64 KiB", ErrInvalidOptions, o.ZeroAheadLead)
	}
	if o.RecycleFiles < 0 {
		return fmt.Errorf("%w: RecycleFiles %d is negative", ErrInvalidOptions, o.RecycleFiles)
	}
	if o.BufferSize == 0 {
		o.BufferSize = DefaultBufferSize
	}
	if o.BufferSize < ItemHeaderSize {
		return fmt.Errorf("%w: BufferSize %d is below %d", ErrInvalidOptions, o.BufferSize, ItemHeaderSize)
	}
	return nil
}
