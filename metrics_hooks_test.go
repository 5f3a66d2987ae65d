package raftlog

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/metrics"
)

func TestMetricsAndLogging(t *testing.T) {
	var logged bytes.Buffer
	user := metrics.NewRecorder()
	o := tinyOptions()
	o.Metrics = user
	o.Logger = slog.New(slog.NewTextHandler(&logged, nil))
	dir := t.TempDir()
	l := openLog(t, dir, o)
	const n, size = 2000, 700 // about 0.8 MB: a dozen 64 KiB files
	appendRange(t, l, 1, n, 1, size, 40)
	rotations := uint64(l.lq.WritePos() / o.LogFileSize)
	require.Greater(t, rotations, uint64(5))

	for _, snap := range []metrics.Snapshot{l.Metrics(), user.Snapshot()} {
		assert.Equal(t, uint64(n/40), snap.Counter(metrics.Appends))
		assert.Equal(t, uint64(n), snap.Counter(metrics.EntriesAppended))
		assert.Greater(t, snap.Counter(metrics.BytesAppended), uint64(n*60))
		assert.Equal(t, uint64(n/40), snap.Histogram(metrics.AppendLatency).Count)
		assert.Greater(t, snap.Histogram(metrics.FsyncLatency).Count, uint64(0))
		assert.Greater(t, snap.Histogram(metrics.WriteSize).Count, uint64(0))
		fsyncEntries := snap.Histogram(metrics.FsyncEntries)
		assert.InDelta(t, float64(n), fsyncEntries.Sum, 0, "every entry made durable is counted once")
		assert.Equal(t, rotations, snap.Counter(metrics.FileRotations))
	}
	require.NoError(t, l.Close())
	assert.Contains(t, logged.String(), "raftlog: opened")

	l = openLog(t, dir, o)
	defer l.Close()
	snap := l.Metrics()
	assert.Greater(t, snap.Gauge(metrics.RecoveryDuration), 0.0)
	assert.Contains(t, logged.String(), "last="+"2000")
}
