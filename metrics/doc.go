// Package metrics is raftlog's metrics hook: the Collector interface the
// engine reports to, the definitions of every metric it reports, a no-op
// default, and Recorder, the in-memory collector behind Log.Metrics.
//
// The engine calls a Collector on its hot paths (every Append, pwritev and
// fdatasync), so the interface is three methods keyed by a small integer
// MetricID: an implementation indexes an array, takes no lock and allocates
// nothing. Nop, the default, costs one indirect call. Definitions describes
// every metric (Prometheus name, help, kind, unit, histogram buckets) so that
// an exporter can register them all without knowing the engine; the
// Prometheus exporter lives in the nested module
// github.com/raftlog/raftlog/metrics/prometheus to keep client_golang out of
// the core's go.mod. Tee feeds several collectors at once.
//
// The package starts no goroutines; Collector methods run on the engine's
// goroutines (the caller of Append, the chainwriter's write and force
// goroutines, the index flush goroutine, Open).
//
// # Metrics
//
// Durations are in seconds and sizes in bytes, as Prometheus expects.
//
//	name                                      kind       what
//	raftlog_append_duration_seconds           histogram  Append call to its batch durable
//	raftlog_appends_total                     counter    Append calls accepted
//	raftlog_appends_on_caller_total           counter    AppendWait calls written and synced on the caller
//	raftlog_appended_entries_total            counter    entries accepted
//	raftlog_appended_bytes_total              counter    encoded bytes accepted
//	raftlog_write_queue_depth                 gauge      write tasks not yet written
//	raftlog_write_size_bytes                  histogram  bytes per pwritev
//	raftlog_write_duration_seconds            histogram  one pwritev (with getting a CPU back)
//	raftlog_fsync_duration_seconds            histogram  one fdatasync of a log file
//	raftlog_fsync_size_bytes                  histogram  bytes made durable per fdatasync
//	raftlog_fsync_entries                     histogram  entries made durable per fdatasync
//	raftlog_slow_fsyncs_total                 counter    fdatasyncs above the slow threshold
//	raftlog_file_alloc_waits_total            counter    writer found the next file not preallocated
//	raftlog_file_alloc_wait_duration_seconds  histogram  time waited for it
//	raftlog_log_file_rotations_total          counter    writer moved to the next log file
//	raftlog_index_flush_duration_seconds      histogram  one index flush (write + sync)
//	raftlog_index_flush_entries               histogram  positions written per index flush
//	raftlog_index_unflushed_entries           gauge      positions held in memory, not flushed
//	raftlog_index_room_waits_total            counter    Append waited for in-memory index room
//	raftlog_index_room_wait_duration_seconds  histogram  time waited for it
//	raftlog_log_files_deleted_total           counter    log files freed by compaction
//	raftlog_log_files_recycled_total          counter    log files made from spares
//	raftlog_index_files_deleted_total         counter    index files deleted
//	raftlog_recovery_duration_seconds         gauge      recovery time of the last Open
//	raftlog_recovery_scanned_bytes            gauge      log bytes scanned by that recovery
//	raftlog_torn_tail_bytes_total              counter    torn-tail bytes cut by recovery
//	raftlog_failures_total                    counter    write or fdatasync failures
//
// Latency histograms have buckets from 10 µs to 10 s in 1-2.5-5 steps, size
// histograms powers of two from 64 B to 64 MiB, entry-count histograms powers
// of two from 1 to 65536.
package metrics
