package metrics

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSnapshotHasFieldPerMetric: every definition maps to its own field of
// its kind, so nothing the engine reports is lost in Snapshot.
func TestSnapshotHasFieldPerMetric(t *testing.T) {
	var s Snapshot
	seen := map[any]MetricID{}
	for _, d := range Definitions {
		var p any
		switch d.Kind {
		case KindCounter:
			p = s.counterField(d.ID)
			assert.Nil(t, s.gaugeField(d.ID), d.Name)
			assert.Nil(t, s.histogramField(d.ID), d.Name)
		case KindGauge:
			p = s.gaugeField(d.ID)
			assert.Nil(t, s.counterField(d.ID), d.Name)
			assert.Nil(t, s.histogramField(d.ID), d.Name)
		case KindHistogram:
			p = s.histogramField(d.ID)
			assert.Nil(t, s.counterField(d.ID), d.Name)
			assert.Nil(t, s.gaugeField(d.ID), d.Name)
		}
		require.NotNil(t, p, "%s has no Snapshot field", d.Name)
		if prev, dup := seen[p]; dup {
			t.Errorf("%s and %s share a Snapshot field", d.Name, prev)
		}
		seen[p] = d.ID
	}
}

// TestSnapshotRoundTrip: a distinct value through the Recorder for every
// metric comes back in the right field.
func TestSnapshotRoundTrip(t *testing.T) {
	r := NewRecorder()
	for _, d := range Definitions {
		v := float64(d.ID + 1)
		switch d.Kind {
		case KindCounter:
			r.Add(d.ID, v)
		case KindGauge:
			r.Set(d.ID, v)
		case KindHistogram:
			r.Observe(d.ID, v)
		}
	}
	s := r.Snapshot()
	for _, d := range Definitions {
		v := float64(d.ID + 1)
		switch d.Kind {
		case KindCounter:
			assert.Equal(t, uint64(v), s.Counter(d.ID), d.Name)
		case KindGauge:
			assert.Equal(t, v, s.Gauge(d.ID), d.Name)
		case KindHistogram:
			assert.Equal(t, v, s.Histogram(d.ID).Sum, d.Name)
		}
	}
	// Spot-check the named fields themselves.
	assert.Equal(t, float64(FsyncLatency+1), s.FsyncLatency.Max)
	assert.Equal(t, uint64(Failures+1), s.Failures)
	assert.Equal(t, float64(RecoveryScannedBytes+1), s.RecoveryScannedBytes)
	// Wrong-kind accessors return zero values.
	assert.Zero(t, s.Counter(FsyncLatency))
	assert.Zero(t, s.Gauge(Appends))
	assert.Zero(t, s.Histogram(Appends).Count)
}

// hist builds a snapshot with the given bounds from raw values, the way the
// Recorder would.
func hist(bounds []float64, values ...float64) HistogramSnapshot {
	h := newHistogram(bounds)
	for _, v := range values {
		h.observe(v)
	}
	return h.snapshot()
}

func TestQuantileKnownData(t *testing.T) {
	bounds := []float64{1, 2, 4, 8}
	tests := []struct {
		name   string
		values []float64
		q      float64
		want   float64
	}{
		// All values 3 sit in (2, 4]; the bucket is cut at Max = 3.
		{"single bucket median", []float64{3, 3, 3, 3}, 0.5, 2.5},
		{"single bucket max", []float64{3, 3, 3, 3}, 1, 3},
		{"single bucket min", []float64{3, 3, 3, 3}, 0, 2},
		// One value per bucket: rank 2 of 4 ends bucket (1, 2].
		{"spread median", []float64{0.5, 1.5, 3, 6}, 0.5, 2},
		{"spread p25", []float64{0.5, 1.5, 3, 6}, 0.25, 1},
		{"spread p75", []float64{0.5, 1.5, 3, 6}, 0.75, 4},
		{"spread p100 cut at max", []float64{0.5, 1.5, 3, 6}, 1, 6},
		// The +Inf bucket ends at Max.
		{"overflow", []float64{100, 200}, 0.5, 8 + (200-8)*0.5},
		{"overflow max", []float64{100, 200}, 1, 200},
		// First bucket starts at 0.
		{"first bucket", []float64{0.2, 0.4, 0.6, 0.8}, 0.5, 0.4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hist(bounds, tt.values...)
			assert.InDelta(t, tt.want, h.Quantile(tt.q), 1e-12)
		})
	}
}

// TestQuantileUniform: on 10 000 evenly spread latencies the estimate is
// within one bucket of the truth, and much closer where buckets are narrow.
func TestQuantileUniform(t *testing.T) {
	var values []float64
	for i := 1; i <= 10000; i++ {
		values = append(values, float64(i)*1e-6) // 1 µs … 10 ms
	}
	h := hist(latencyBuckets, values...)
	for _, q := range []float64{0.1, 0.5, 0.9, 0.99, 0.999} {
		truth := q * 10000 * 1e-6
		// Uniform data inside a bucket: interpolation is exact up to the
		// discreteness of the values.
		assert.InDelta(t, truth, h.Quantile(q), 2e-6, "q=%v", q)
	}
	assert.InDelta(t, 5000.5e-6, h.Mean(), 1e-12)
	assert.Equal(t, 10e-3, h.Max)
}

func TestQuantileEdgeCases(t *testing.T) {
	empty := hist([]float64{1, 2})
	assert.True(t, math.IsNaN(empty.Quantile(0.5)))
	assert.True(t, math.IsNaN(empty.Mean()))
	h := hist([]float64{1, 2}, 1.5)
	assert.True(t, math.IsNaN(h.Quantile(-0.1)))
	assert.True(t, math.IsNaN(h.Quantile(1.1)))
	assert.True(t, math.IsNaN(h.Quantile(math.NaN())))
	// Quantiles never decrease with q.
	h = hist(latencyBuckets, 1e-5, 3e-4, 3e-4, 2e-3, 0.7, 12)
	prev := math.Inf(-1)
	for q := 0.0; q <= 1; q += 0.01 {
		v := h.Quantile(q)
		assert.GreaterOrEqual(t, v, prev, "q=%v", q)
		prev = v
	}
	assert.Equal(t, 12.0, h.Quantile(1))
}

func TestSnapshotString(t *testing.T) {
	r := NewRecorder()
	r.Add(Appends, 42)
	r.Set(RecoveryDuration, 0.0123456)
	r.Observe(FsyncLatency, 0.002)
	r.Observe(FsyncLatency, 0.002)
	out := r.Snapshot().String()

	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	require.Len(t, lines, 1+len(Definitions))
	assert.Regexp(t, `^metric +value +mean +p50 +p99 +p99\.9 +max$`, lines[0])
	assert.Regexp(t, `(?m)^raftlog_appends_total +42$`, out)
	assert.Regexp(t, `(?m)^raftlog_recovery_duration_seconds +12\.3ms$`, out)
	assert.Regexp(t, `(?m)^raftlog_fsync_duration_seconds +2 +2ms +1\.5ms +1\.99ms +2ms +2ms$`, out)
	assert.Regexp(t, `(?m)^raftlog_write_size_bytes +0 +- +- +- +- +-$`, out)
}

func TestFormatValue(t *testing.T) {
	tests := []struct {
		v    float64
		unit string
		want string
	}{
		{0.0012345, "seconds", "1.23ms"},
		{12.345, "seconds", "12.3s"},
		{5e-7, "seconds", "500ns"},
		{0, "seconds", "0s"},
		{4096, "bytes", "4KiB"},
		{1234567, "bytes", "1.18MiB"},
		{500, "bytes", "500B"},
		{0, "bytes", "0B"},
		{1023.9 * 1024, "bytes", "1024KiB"},
		{3 << 40, "bytes", "3TiB"},
		{1234567, "", "1.235e+06"},
		{7, "entries", "7"},
		{math.NaN(), "seconds", "NaN"},
		{math.Inf(1), "bytes", "+Inf"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, formatValue(tt.v, tt.unit), "%v %s", tt.v, tt.unit)
	}
}
