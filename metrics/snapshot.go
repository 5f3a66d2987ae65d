package metrics

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Snapshot is a point-in-time copy of every metric, one field per metric,
// returned by Recorder.Snapshot and raftlog's Log.Metrics. Durations are in
// seconds, sizes in bytes, as in Definitions.
type Snapshot struct {
	// Append path.
	AppendLatency   HistogramSnapshot // raftlog_append_duration_seconds
	Appends         uint64            // raftlog_appends_total
	EntriesAppended uint64            // raftlog_appended_entries_total
	BytesAppended   uint64            // raftlog_appended_bytes_total
	WriteQueueDepth float64           // raftlog_write_queue_depth
	WriteSize       HistogramSnapshot // raftlog_write_size_bytes
	FsyncLatency    HistogramSnapshot // raftlog_fsync_duration_seconds
	FsyncBytes      HistogramSnapshot // raftlog_fsync_size_bytes
	FsyncEntries    HistogramSnapshot // raftlog_fsync_entries
	SlowFsyncs      uint64            // raftlog_slow_fsyncs_total
	FileAllocWaits  uint64            // raftlog_file_alloc_waits_total
	FileAllocWait   HistogramSnapshot // raftlog_file_alloc_wait_duration_seconds
	FileRotations   uint64            // raftlog_log_file_rotations_total

	// Index path.
	IdxFlushLatency HistogramSnapshot // raftlog_index_flush_duration_seconds
	IdxFlushEntries HistogramSnapshot // raftlog_index_flush_entries
	IdxUnflushed    float64           // raftlog_index_unflushed_entries
	IdxRoomWaits    uint64            // raftlog_index_room_waits_total
	IdxRoomWait     HistogramSnapshot // raftlog_index_room_wait_duration_seconds

	// Files.
	LogFilesDeleted uint64 // raftlog_log_files_deleted_total
	// LogFilesRecycled: raftlog_log_files_recycled_total
	LogFilesRecycled uint64
	IdxFilesDeleted  uint64 // raftlog_index_files_deleted_total

	// Recovery and failure.
	RecoveryDuration     float64 // raftlog_recovery_duration_seconds
	RecoveryScannedBytes float64 // raftlog_recovery_scanned_bytes
	TornBytesCut         uint64  // raftlog_torn_tail_bytes_total
	Failures             uint64  // raftlog_failures_total

	WriteLatency HistogramSnapshot // raftlog_write_duration_seconds
	// AppendsOnCaller: raftlog_appends_on_caller_total
	AppendsOnCaller uint64
}

// counterField, gaugeField and histogramField map a MetricID to its field.
// They are the one place that ties IDs to fields; the tests check that
// every definition of each kind has a distinct field here.
func (s *Snapshot) counterField(id MetricID) *uint64 {
	switch id {
	case Appends:
		return &s.Appends
	case EntriesAppended:
		return &s.EntriesAppended
	case BytesAppended:
		return &s.BytesAppended
	case SlowFsyncs:
		return &s.SlowFsyncs
	case FileAllocWaits:
		return &s.FileAllocWaits
	case FileRotations:
		return &s.FileRotations
	case IdxRoomWaits:
		return &s.IdxRoomWaits
	case LogFilesDeleted:
		return &s.LogFilesDeleted
	case LogFilesRecycled:
		return &s.LogFilesRecycled
	case AppendsOnCaller:
		return &s.AppendsOnCaller
	case IdxFilesDeleted:
		return &s.IdxFilesDeleted
	case TornBytesCut:
		return &s.TornBytesCut
	case Failures:
		return &s.Failures
	}
	return nil
}

func (s *Snapshot) gaugeField(id MetricID) *float64 {
	switch id {
	case WriteQueueDepth:
		return &s.WriteQueueDepth
	case IdxUnflushed:
		return &s.IdxUnflushed
	case RecoveryDuration:
		return &s.RecoveryDuration
	case RecoveryScannedBytes:
		return &s.RecoveryScannedBytes
	}
	return nil
}

func (s *Snapshot) histogramField(id MetricID) *HistogramSnapshot {
	switch id {
	case AppendLatency:
		return &s.AppendLatency
	case WriteSize:
		return &s.WriteSize
	case FsyncLatency:
		return &s.FsyncLatency
	case FsyncBytes:
		return &s.FsyncBytes
	case FsyncEntries:
		return &s.FsyncEntries
	case FileAllocWait:
		return &s.FileAllocWait
	case IdxFlushLatency:
		return &s.IdxFlushLatency
	case IdxFlushEntries:
		return &s.IdxFlushEntries
	case IdxRoomWait:
		return &s.IdxRoomWait
	case WriteLatency:
		return &s.WriteLatency
	}
	return nil
}

// Counter returns the counter id, or 0 if id is not a counter.
func (s *Snapshot) Counter(id MetricID) uint64 {
	if p := s.counterField(id); p != nil {
		return *p
	}
	return 0
}

// Gauge returns the gauge id, or 0 if id is not a gauge.
func (s *Snapshot) Gauge(id MetricID) float64 {
	if p := s.gaugeField(id); p != nil {
		return *p
	}
	return 0
}

// Histogram returns the histogram id, or an empty one if id is not a
// histogram.
func (s *Snapshot) Histogram(id MetricID) HistogramSnapshot {
	if p := s.histogramField(id); p != nil {
		return *p
	}
	return HistogramSnapshot{}
}

// String renders the snapshot as a table, one metric per line in the order
// of Definitions: the value of a counter or gauge; count, mean, p50, p99,
// p99.9 and max of a histogram. Durations print as time.Duration.
func (s Snapshot) String() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	// Every row has all seven cells, so tabwriter aligns one column block.
	fmt.Fprintln(w, "metric\tvalue\tmean\tp50\tp99\tp99.9\tmax")
	for _, d := range Definitions {
		switch d.Kind {
		case KindCounter:
			fmt.Fprintf(w, "%s\t%d\t\t\t\t\t\n", d.Name, s.Counter(d.ID))
		case KindGauge:
			fmt.Fprintf(w, "%s\t%s\t\t\t\t\t\n", d.Name, formatValue(s.Gauge(d.ID), d.Unit))
		case KindHistogram:
			h := s.Histogram(d.ID)
			if h.Count == 0 {
				fmt.Fprintf(w, "%s\t0\t-\t-\t-\t-\t-\n", d.Name)
				continue
			}
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", d.Name, h.Count,
				formatValue(h.Mean(), d.Unit),
				formatValue(h.Quantile(0.5), d.Unit),
				formatValue(h.Quantile(0.99), d.Unit),
				formatValue(h.Quantile(0.999), d.Unit),
				formatValue(h.Max, d.Unit))
		}
	}
	w.Flush()
	// Drop the padding tabwriter leaves after the last non-empty cell.
	lines := strings.SplitAfter(b.String(), "\n")
	for i, l := range lines {
		if strings.HasSuffix(l, "\n") {
			lines[i] = strings.TrimRight(l[:len(l)-1], " ") + "\n"
		}
	}
	return strings.Join(lines, "")
}

// formatValue prints seconds as a Duration and bytes with a binary prefix,
// both to about three significant digits, and anything else with %.4g.
func formatValue(v float64, unit string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprint(v)
	}
	switch unit {
	case "seconds":
		d := time.Duration(v * float64(time.Second))
		r := time.Nanosecond
		for d >= 1000*r && r < time.Second {
			r *= 10
		}
		return d.Round(r).String()
	case "bytes":
		prefixes := []string{"B", "KiB", "MiB", "GiB", "TiB"}
		i := 0
		for math.Abs(v) >= 1024 && i < len(prefixes)-1 {
			v /= 1024
			i++
		}
		decimals := 2
		switch a := math.Abs(v); {
		case a >= 100:
			decimals = 0
		case a >= 10:
			decimals = 1
		}
		num := strconv.FormatFloat(v, 'f', decimals, 64)
		if strings.Contains(num, ".") {
			num = strings.TrimRight(strings.TrimRight(num, "0"), ".")
		}
		return num + prefixes[i]
	}
	return fmt.Sprintf("%.4g", v)
}

// HistogramSnapshot is a point-in-time copy of a histogram.
type HistogramSnapshot struct {
	Count uint64  // observations; the sum of the bucket counts
	Sum   float64 // sum of the observations
	Max   float64 // largest observation; 0 when Count is 0
	// Buckets in ascending order of UpperBound; the last one's is +Inf.
	Buckets []Bucket
}

// Bucket is one bucket of a HistogramSnapshot.
type Bucket struct {
	// UpperBound is inclusive; the bucket's lower bound is the previous
	// bucket's UpperBound (exclusive), or 0 for the first bucket.
	UpperBound float64
	// Count is the observations in this bucket alone (not cumulative).
	Count uint64
}

// Mean returns Sum/Count, or NaN when the histogram is empty.
func (h HistogramSnapshot) Mean() float64 {
	if h.Count == 0 {
		return math.NaN()
	}
	return h.Sum / float64(h.Count)
}

// Quantile estimates the q-quantile (0 ≤ q ≤ 1) of the observations, the
// way Prometheus' histogram_quantile does: it finds the bucket holding the
// rank q·Count and interpolates linearly inside it, assuming observations
// are spread evenly between its bounds. Two refinements use what a
// Prometheus bucket does not know: no estimate exceeds Max, and the +Inf
// bucket ends at Max. The first bucket starts at 0 (every raftlog histogram
// is non-negative). The error is at most the width of one bucket. It
// returns NaN for an empty histogram or q outside [0, 1].
func (h HistogramSnapshot) Quantile(q float64) float64 {
	if h.Count == 0 || !(q >= 0 && q <= 1) {
		return math.NaN()
	}
	rank := q * float64(h.Count)
	var below uint64 // observations in the buckets before b
	lower := 0.0
	for _, b := range h.Buckets {
		if b.Count > 0 && float64(below+b.Count) >= rank {
			upper := math.Min(b.UpperBound, h.Max)
			lower = math.Min(lower, upper)
			return lower + (upper-lower)*(rank-float64(below))/float64(b.Count)
		}
		below += b.Count
		lower = b.UpperBound
	}
	// Only reached if Buckets do not add up to Count.
	return h.Max
}
