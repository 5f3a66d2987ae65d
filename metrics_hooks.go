package raftlog

import (
	"time"

	"github.com/raftlog/raftlog/metrics"
)

// Metrics returns a snapshot of the Log's measurements since Open.
func (l *Log) Metrics() metrics.Snapshot { return l.rec.Snapshot() }

// since returns the nanoseconds from the Log's time base to now: a cheap
// monotonic stamp for latencies.
func (l *Log) since() int64 { return int64(time.Since(l.t0)) }

// stageObserver turns the chainwriter's figures into metrics and logs slow
// fdatasyncs.
type stageObserver struct{ l *Log }

func (o stageObserver) Wrote(bytes int, nanos int64) {
	o.l.m.Observe(metrics.WriteSize, float64(bytes))
	o.l.m.Observe(metrics.WriteLatency, float64(nanos)/1e9)
}

func (o stageObserver) Forced(files int, bytes int64, nanos int64) {
	l := o.l
	l.m.Observe(metrics.FsyncLatency, float64(nanos)/1e9)
	l.m.Observe(metrics.FsyncBytes, float64(bytes))
	if time.Duration(nanos) > l.opts.SlowSyncThreshold {
		l.m.Add(metrics.SlowFsyncs, 1)
		l.opts.Logger.Warn("raftlog: slow fdatasync", "dir", l.dir, "files", files, "bytes", bytes,
			"duration", time.Duration(nanos))
	}
}

func (l *Log) onAllocWait(nanos int64) {
	l.m.Add(metrics.FileAllocWaits, 1)
	l.m.Observe(metrics.FileAllocWait, float64(nanos)/1e9)
}

func (l *Log) onIdxFlush(entries int, nanos int64) {
	l.m.Observe(metrics.IdxFlushLatency, float64(nanos)/1e9)
	l.m.Observe(metrics.IdxFlushEntries, float64(entries))
}

func (l *Log) onRoomWait(nanos int64) {
	l.m.Add(metrics.IdxRoomWaits, 1)
	l.m.Observe(metrics.IdxRoomWait, float64(nanos)/1e9)
}
