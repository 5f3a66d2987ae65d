package raftlog

import (
	"fmt"
	"log/slog"
	"math/bits"
	"time"

	"github.com/raftlog/raftlog/logqueue"
	"github.com/raftlog/raftlog/metrics"
	"github.com/raftlog/raftlog/vfs"
)

// Options configure a Log. The zero value of every field means the default
// documented on it.
type Options struct {
	// LogFileSize is the size of every log file: a power of two from 64 KiB
	// to 64 GiB. Default 1 GiB. An entry must fit in one file.
	LogFileSize int64
	// IdxItemsPerFile is the number of index slots per index file: a power
	// of two, at least 8. Default 1<<20 (8 MiB files).
	IdxItemsPerFile int
	// MaxUnflushedIndexes bounds the entries whose positions are held in
	// memory until the index files take them: a power of two, at least 64.
	// Append waits while it is reached. Default 1<<20 (8 MiB).
	MaxUnflushedIndexes int
	// IdxFlushInterval is the longest time durable positions wait in memory
	// before they are written to the index files. Default 50 ms.
	IdxFlushInterval time.Duration
	// WriteQueueSize bounds the write tasks (Append calls) not yet written;
	// Append waits while it is full. Default 1024.
	WriteQueueSize int
	// MaxWriteSize caps one pwritev built by merging consecutive appends.
	// Default 4 MiB.
	MaxWriteSize int
	// Prealloc says how the space of a new log file is reserved ahead of the
	// writer. Default logqueue.ZeroAhead (see logqueue.PreallocMode for the
	// measurements behind it).
	Prealloc logqueue.PreallocMode
	// SpareLogFiles is how many log files that compaction frees are kept,
	// renamed "*.log.free", to become new log files instead of allocating
	// them: their blocks were all written once, so the writer's fdatasyncs
	// in them flush data only (see logqueue's recycle.go and PERFORMANCE.md,
	// the steady workload). Each costs a file's worth of disk space. Default
	// DefaultSpareLogFiles; negative keeps none.
	SpareLogFiles int
	// BackgroundWorkers is the size of the pool for background I/O (file
	// preallocation). Default 2.
	BackgroundWorkers int

	// Metrics receives the engine's measurements (see package metrics for
	// the list, and metrics/prometheus for an exporter). Default none; the
	// Log keeps its own recorder either way, read with Log.Metrics.
	Metrics metrics.Collector
	// Logger receives operational events: open and recovery summary,
	// slow fdatasyncs, failures, file deletions. Default slog.Default().
	Logger *slog.Logger
	// SlowSyncThreshold is the fdatasync round duration above which a
	// warning is logged and SlowFsyncs counted. Default 1 s.
	SlowSyncThreshold time.Duration

	// fs is the file system; tests put a crashable or error-injecting one
	// here. Default vfs.Default.
	fs vfs.FS
	// now is the clock for entry timestamps. Default time.Now.
	now func() time.Time
}

// DefaultSpareLogFiles is how many compacted log files are kept for reuse
// unless Options.SpareLogFiles says otherwise.
const DefaultSpareLogFiles = 2

const (
	minLogFileSize = 64 << 10
	maxLogFileSize = 64 << 30
)

func isPow2(v int64) bool { return v > 0 && bits.OnesCount64(uint64(v)) == 1 }

// withDefaults returns o with every zero field set to its default, or
// ErrInvalidOptions.
func (o Options) withDefaults() (Options, error) {
	if o.LogFileSize == 0 {
		o.LogFileSize = 1 << 30
	}
	if !isPow2(o.LogFileSize) || o.LogFileSize < minLogFileSize || o.LogFileSize > maxLogFileSize {
		return o, fmt.Errorf("%w: LogFileSize %d is not a power of two in [64 KiB, 64 GiB]", ErrInvalidOptions, o.LogFileSize)
	}
	if o.IdxItemsPerFile == 0 {
		o.IdxItemsPerFile = 1 << 20
	}
	if !isPow2(int64(o.IdxItemsPerFile)) || o.IdxItemsPerFile < 8 {
		return o, fmt.Errorf("%w: IdxItemsPerFile %d is not a power of two ≥ 8", ErrInvalidOptions, o.IdxItemsPerFile)
	}
	if o.MaxUnflushedIndexes == 0 {
		o.MaxUnflushedIndexes = 1 << 20
	}
	if !isPow2(int64(o.MaxUnflushedIndexes)) || o.MaxUnflushedIndexes < 64 {
		return o, fmt.Errorf("%w: MaxUnflushedIndexes %d is not a power of two ≥ 64", ErrInvalidOptions, o.MaxUnflushedIndexes)
	}
	if o.IdxFlushInterval == 0 {
		o.IdxFlushInterval = 50 * time.Millisecond
	}
	if o.IdxFlushInterval < 0 {
		return o, fmt.Errorf("%w: negative IdxFlushInterval", ErrInvalidOptions)
	}
	if o.WriteQueueSize == 0 {
		o.WriteQueueSize = 1024
	}
	switch {
	case o.SpareLogFiles == 0:
		o.SpareLogFiles = DefaultSpareLogFiles
	case o.SpareLogFiles < 0:
		o.SpareLogFiles = 0
	}
	if o.MaxWriteSize == 0 {
		o.MaxWriteSize = 4 << 20
	}
	if o.WriteQueueSize < 0 || o.MaxWriteSize < 0 {
		return o, fmt.Errorf("%w: negative queue or write size", ErrInvalidOptions)
	}
	if o.BackgroundWorkers <= 0 {
		o.BackgroundWorkers = 2
	}
	if o.Metrics == nil {
		o.Metrics = metrics.Nop()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.SlowSyncThreshold <= 0 {
		o.SlowSyncThreshold = time.Second
	}
	if o.fs == nil {
		o.fs = vfs.Default
	}
	if o.now == nil {
		o.now = time.Now
	}
	return o, nil
}
