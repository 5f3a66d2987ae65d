package metrics

import (
	"math"
	"strconv"
)

// MetricID names one metric. The engine passes it to a Collector on every
// call, so that a collector finds its storage by indexing an array: no map
// lookup, no string, no allocation on the hot path. Definitions[id] describes
// the metric.
type MetricID int

// The metrics raftlog reports. The order is the order of Definitions; new
// metrics go at the end so existing IDs keep their value.
const (
	// Append path.
	AppendLatency   MetricID = iota // histogram: Append to durable, seconds
	Appends                         // counter: Append calls accepted
	EntriesAppended                 // counter: entries accepted
	BytesAppended                   // counter: encoded bytes accepted
	WriteQueueDepth                 // gauge: write tasks waiting for the write goroutine
	WriteSize                       // histogram: bytes per pwritev
	FsyncLatency                    // histogram: one fdatasync, seconds
	FsyncBytes                      // histogram: bytes made durable per fdatasync
	FsyncEntries                    // histogram: entries made durable per fdatasync
	SlowFsyncs                      // counter: fdatasyncs above the slow threshold
	FileAllocWaits                  // counter: writer found the next log file not ready
	FileAllocWait                   // histogram: time waited for it, seconds
	FileRotations                   // counter: writer moved to the next log file

	// Index path.
	IdxFlushLatency // histogram: one index flush (write + fdatasync), seconds
	IdxFlushEntries // histogram: positions written per index flush
	IdxUnflushed    // gauge: positions held in memory, not yet in index files
	IdxRoomWaits    // counter: Append waited for room in the in-memory index
	IdxRoomWait     // histogram: time waited for it, seconds

	// Files.
	LogFilesDeleted // counter
	IdxFilesDeleted // counter

	// Recovery and failure.
	RecoveryDuration     // gauge: duration of the last Open's recovery, seconds
	RecoveryScannedBytes // gauge: log bytes the last recovery scanned
	TornBytesCut         // counter: bytes of torn tail cut by recovery
	Failures             // counter: write or fdatasync failures (the log failed)

	// Added later (IDs at the end keep the others' values).
	WriteLatency     // histogram: one pwritev, seconds
	LogFilesRecycled // counter: log files made from spares instead of allocated
	AppendsOnCaller  // counter: AppendWait calls written and synced on the caller's goroutine

	numMetrics // keep last
)

// String returns the metric's Prometheus name, or "MetricID(n)" for an
// unknown ID.
func (id MetricID) String() string {
	if id >= 0 && int(id) < len(Definitions) && Definitions[id].ID == id {
		return Definitions[id].Name
	}
	return "MetricID(" + strconv.Itoa(int(id)) + ")"
}

// Kind is the type of a metric: what the engine calls for it and how an
// exporter represents it.
type Kind uint8

// Kinds of metrics. The zero Kind is invalid, so a missing definition is
// never mistaken for a counter.
const (
	// KindCounter only goes up: the engine calls Add with a non-negative delta.
	KindCounter Kind = iota + 1
	// KindGauge goes up and down: the engine calls Set (or Add).
	KindGauge
	// KindHistogram is a distribution: the engine calls Observe.
	KindHistogram
)

func (k Kind) String() string {
	switch k {
	case KindCounter:
		return "counter"
	case KindGauge:
		return "gauge"
	case KindHistogram:
		return "histogram"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Definition describes one metric for exporters.
type Definition struct {
	ID MetricID
	// Name follows the Prometheus conventions: raftlog_ prefix, base unit
	// suffix (_seconds, _bytes), _total for counters.
	Name string
	Help string
	Kind Kind
	// Unit is the base unit of the values: "seconds", "bytes", "entries",
	// or "" for a plain count.
	Unit string
	// Buckets are the ascending upper bounds (inclusive) of a histogram's
	// buckets; an implicit +Inf bucket follows. Nil for other kinds.
	Buckets []float64
}

// Bucket layouts. Fixed at compile time so that every collector (the
// Recorder, Prometheus) shares them and quantiles agree across exporters.
var (
	// latencyBuckets: 10 µs (a fast NVMe fdatasync) to 10 s (a stalled
	// disk), 1-2.5-5 steps.
	latencyBuckets = []float64{
		10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6,
		1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3,
		1, 2.5, 5, 10,
	}
	// sizeBuckets: 64 B (one small entry) to 64 MiB, powers of two; a
	// pwritev is capped at Options.MaxWriteSize (4 MiB by default) but an
	// fdatasync can cover many of them.
	sizeBuckets = powersOfTwo(6, 26)
	// countBuckets: 1 to 65536 entries, powers of two.
	countBuckets = powersOfTwo(0, 16)
)

// powersOfTwo returns 2^lo, 2^(lo+1), …, 2^hi.
func powersOfTwo(lo, hi int) []float64 {
	b := make([]float64, 0, hi-lo+1)
	for e := lo; e <= hi; e++ {
		b = append(b, math.Ldexp(1, e))
	}
	return b
}

// Definitions describes every metric, indexed by MetricID:
// Definitions[id].ID == id. Exporters register one metric per entry.
// Treat it as read-only.
var Definitions = []Definition{
	{AppendLatency, "raftlog_append_duration_seconds",
		"Time from an Append call to its batch being durable (written and fdatasync'd).",
		KindHistogram, "seconds", latencyBuckets},
	{Appends, "raftlog_appends_total",
		"Append calls accepted.",
		KindCounter, "", nil},
	{EntriesAppended, "raftlog_appended_entries_total",
		"Entries accepted by Append.",
		KindCounter, "entries", nil},
	{BytesAppended, "raftlog_appended_bytes_total",
		"Encoded log bytes accepted by Append, item headers and checksums included.",
		KindCounter, "bytes", nil},
	{WriteQueueDepth, "raftlog_write_queue_depth",
		"Write tasks submitted and not yet written to the log file.",
		KindGauge, "", nil},
	{WriteSize, "raftlog_write_size_bytes",
		"Bytes per pwritev to a log file.",
		KindHistogram, "bytes", sizeBuckets},
	{FsyncLatency, "raftlog_fsync_duration_seconds",
		"Duration of one fdatasync of a log file.",
		KindHistogram, "seconds", latencyBuckets},
	{FsyncBytes, "raftlog_fsync_size_bytes",
		"Log bytes made durable by one fdatasync.",
		KindHistogram, "bytes", sizeBuckets},
	{FsyncEntries, "raftlog_fsync_entries",
		"Entries made durable by one fdatasync (group commit batch size).",
		KindHistogram, "entries", countBuckets},
	{SlowFsyncs, "raftlog_slow_fsyncs_total",
		"Log fdatasyncs that took longer than the slow-fsync threshold.",
		KindCounter, "", nil},
	{FileAllocWaits, "raftlog_file_alloc_waits_total",
		"Times the writer reached a log file whose preallocation had not finished.",
		KindCounter, "", nil},
	{FileAllocWait, "raftlog_file_alloc_wait_duration_seconds",
		"Time the writer waited for the next log file to be preallocated.",
		KindHistogram, "seconds", latencyBuckets},
	{FileRotations, "raftlog_log_file_rotations_total",
		"Times the writer closed a log file and moved to the next.",
		KindCounter, "", nil},
	{IdxFlushLatency, "raftlog_index_flush_duration_seconds",
		"Duration of one index flush: writing durable positions to index files and syncing them.",
		KindHistogram, "seconds", latencyBuckets},
	{IdxFlushEntries, "raftlog_index_flush_entries",
		"Positions written to index files by one index flush.",
		KindHistogram, "entries", countBuckets},
	{IdxUnflushed, "raftlog_index_unflushed_entries",
		"Positions held in memory and not yet flushed to index files.",
		KindGauge, "entries", nil},
	{IdxRoomWaits, "raftlog_index_room_waits_total",
		"Times Append waited because the in-memory index was full (back-pressure from index flushing).",
		KindCounter, "", nil},
	{IdxRoomWait, "raftlog_index_room_wait_duration_seconds",
		"Time Append waited for room in the in-memory index.",
		KindHistogram, "seconds", latencyBuckets},
	{LogFilesDeleted, "raftlog_log_files_deleted_total",
		"Log files taken out by compaction or snapshot install (removed, or kept as spares to be recycled).",
		KindCounter, "", nil},
	{IdxFilesDeleted, "raftlog_index_files_deleted_total",
		"Index files deleted by compaction or truncation.",
		KindCounter, "", nil},
	{RecoveryDuration, "raftlog_recovery_duration_seconds",
		"Duration of the recovery done by the last Open.",
		KindGauge, "seconds", nil},
	{RecoveryScannedBytes, "raftlog_recovery_scanned_bytes",
		"Log bytes scanned and validated by the recovery of the last Open.",
		KindGauge, "bytes", nil},
	{TornBytesCut, "raftlog_torn_tail_bytes_total",
		"Bytes of torn log tail cut off by recovery.",
		KindCounter, "bytes", nil},
	{Failures, "raftlog_failures_total",
		"Write or fdatasync failures; each one fails the log until it is reopened.",
		KindCounter, "", nil},
	{WriteLatency, "raftlog_write_duration_seconds",
		"Duration of one pwritev to a log file, as the write goroutine sees it (including getting a CPU back after the call).",
		KindHistogram, "seconds", latencyBuckets},
	{LogFilesRecycled, "raftlog_log_files_recycled_total",
		"Log files made from spares (log files compaction freed, renamed into place) instead of allocated.",
		KindCounter, "", nil},
	{AppendsOnCaller, "raftlog_appends_on_caller_total",
		"AppendWait calls whose batch was written and fdatasync'd on the calling goroutine because nothing else was in flight.",
		KindCounter, "", nil},
}
