package prometheus

import (
	"math"
	"strconv"
	"strings"
	"testing"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/metrics"
)

// gather scrapes reg and returns its families by name.
func gather(t *testing.T, reg prom.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

var promType = map[metrics.Kind]dto.MetricType{
	metrics.KindCounter:   dto.MetricType_COUNTER,
	metrics.KindGauge:     dto.MetricType_GAUGE,
	metrics.KindHistogram: dto.MetricType_HISTOGRAM,
}

func TestNewCollectorRegistersEveryDefinition(t *testing.T) {
	reg := prom.NewRegistry()
	_, err := NewCollector(reg, prom.Labels{"group": "g1"})
	require.NoError(t, err)

	fams := gather(t, reg)
	assert.Len(t, fams, len(metrics.Definitions))
	for _, d := range metrics.Definitions {
		t.Run(d.Name, func(t *testing.T) {
			mf := fams[d.Name]
			require.NotNil(t, mf, "not registered")
			assert.Equal(t, promType[d.Kind], mf.GetType())
			assert.Equal(t, d.Help, mf.GetHelp())
			require.Len(t, mf.GetMetric(), 1)
			m := mf.GetMetric()[0]
			require.Len(t, m.GetLabel(), 1)
			assert.Equal(t, "group", m.GetLabel()[0].GetName())
			assert.Equal(t, "g1", m.GetLabel()[0].GetValue())
			if d.Kind == metrics.KindHistogram {
				var bounds []float64
				for _, b := range m.GetHistogram().GetBucket() {
					bounds = append(bounds, b.GetUpperBound())
				}
				assert.Equal(t, d.Buckets, bounds)
			}
		})
	}
}

// TestDefinitionsPassPromlint holds the names, help texts and types to the
// Prometheus linter, with data in every metric.
func TestDefinitionsPassPromlint(t *testing.T) {
	reg := prom.NewRegistry()
	c, err := NewCollector(reg, nil)
	require.NoError(t, err)
	feedAll(c)
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// feedAll makes a few calls for every metric: values 1, 2, … in order of
// definition, so each metric gets different data.
func feedAll(c metrics.Collector) {
	for _, d := range metrics.Definitions {
		v := float64(d.ID) + 1
		switch d.Kind {
		case metrics.KindCounter:
			c.Add(d.ID, v)
			c.Add(d.ID, 2*v)
		case metrics.KindGauge:
			c.Set(d.ID, 10*v)
			c.Add(d.ID, -v)
		case metrics.KindHistogram:
			// Small, middling and far-out values: scaled to the
			// definition's buckets so they spread over several.
			for _, x := range []float64{0, d.Buckets[0], d.Buckets[len(d.Buckets)/2] * 0.9, d.Buckets[len(d.Buckets)-1] * 2, v} {
				c.Observe(d.ID, x)
			}
		}
	}
}

// TestForwardingMatchesRecorder scrapes the registry after the same calls
// went to a metrics.Recorder, and checks every counter, gauge, histogram
// count, sum and bucket against it.
func TestForwardingMatchesRecorder(t *testing.T) {
	reg := prom.NewRegistry()
	c, err := NewCollector(reg, nil)
	require.NoError(t, err)
	rec := metrics.NewRecorder()
	feedAll(metrics.Tee(c, rec))
	snap := rec.Snapshot()

	fams := gather(t, reg)
	for _, d := range metrics.Definitions {
		t.Run(d.Name, func(t *testing.T) {
			require.Contains(t, fams, d.Name)
			m := fams[d.Name].GetMetric()[0]
			v := float64(d.ID) + 1
			switch d.Kind {
			case metrics.KindCounter:
				assert.Equal(t, 3*v, m.GetCounter().GetValue())
				assert.Equal(t, uint64(3*v), snap.Counter(d.ID))
			case metrics.KindGauge:
				assert.Equal(t, 9*v, m.GetGauge().GetValue())
				assert.Equal(t, 9*v, snap.Gauge(d.ID))
			case metrics.KindHistogram:
				h := snap.Histogram(d.ID)
				ph := m.GetHistogram()
				assert.Equal(t, uint64(5), ph.GetSampleCount())
				assert.Equal(t, h.Count, ph.GetSampleCount())
				assert.InDelta(t, h.Sum, ph.GetSampleSum(), 1e-9*math.Abs(h.Sum))
				// Prometheus buckets are cumulative and omit +Inf.
				var cum uint64
				require.Len(t, ph.GetBucket(), len(h.Buckets)-1)
				for i, b := range ph.GetBucket() {
					cum += h.Buckets[i].Count
					assert.Equal(t, cum, b.GetCumulativeCount(), "le=%v", b.GetUpperBound())
				}
			}
		})
	}
}

// TestExposition checks the text a Prometheus server scrapes, for one metric
// of each kind.
func TestExposition(t *testing.T) {
	reg := prom.NewRegistry()
	c, err := NewCollector(reg, prom.Labels{"group": "7"})
	require.NoError(t, err)
	c.Add(metrics.Appends, 3)
	c.Add(metrics.Appends, 2)
	c.Set(metrics.WriteQueueDepth, 4)
	c.Observe(metrics.FsyncEntries, 3)
	c.Observe(metrics.FsyncEntries, 100)

	var le strings.Builder
	cum := 0
	for _, b := range metrics.Definitions[metrics.FsyncEntries].Buckets {
		if b == 4 || b == 128 {
			cum++
		}
		le.WriteString(`raftlog_fsync_entries_bucket{group="7",le="` + strconv.FormatFloat(b, 'g', -1, 64) + `"} ` + strconv.Itoa(cum) + "\n")
	}
	want := `# HELP raftlog_appends_total Append calls accepted.
# TYPE raftlog_appends_total counter
raftlog_appends_total{group="7"} 5
# HELP raftlog_fsync_entries Entries made durable by one fdatasync (group commit batch size).
# TYPE raftlog_fsync_entries histogram
` + le.String() + `raftlog_fsync_entries_bucket{group="7",le="+Inf"} 2
raftlog_fsync_entries_sum{group="7"} 103
raftlog_fsync_entries_count{group="7"} 2
# HELP raftlog_write_queue_depth Write tasks submitted and not yet written to the log file.
# TYPE raftlog_write_queue_depth gauge
raftlog_write_queue_depth{group="7"} 4
`
	assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want),
		"raftlog_appends_total", "raftlog_fsync_entries", "raftlog_write_queue_depth"))
}

func TestTwoLogsOneRegistry(t *testing.T) {
	reg := prom.NewRegistry()
	a, err := NewCollector(reg, prom.Labels{"group": "a"})
	require.NoError(t, err)
	b, err := NewCollector(reg, prom.Labels{"group": "b"})
	require.NoError(t, err)
	a.Add(metrics.Failures, 1)
	b.Add(metrics.Failures, 2)

	ms := gather(t, reg)["raftlog_failures_total"].GetMetric()
	require.Len(t, ms, 2)
	got := map[string]float64{}
	for _, m := range ms {
		got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
	}
	assert.Equal(t, map[string]float64{"a": 1, "b": 2}, got)
}

func TestNewCollectorDuplicate(t *testing.T) {
	reg := prom.NewRegistry()
	_, err := NewCollector(reg, nil)
	require.NoError(t, err)
	_, err = NewCollector(reg, nil)
	var are prom.AlreadyRegisteredError
	require.ErrorAs(t, err, &are)
	assert.Contains(t, err.Error(), metrics.Definitions[0].Name)
	assert.Len(t, gather(t, reg), len(metrics.Definitions))
}

// TestNewCollectorRollsBack: when the last definition clashes, the ones
// registered before it are unregistered again.
func TestNewCollectorRollsBack(t *testing.T) {
	reg := prom.NewRegistry()
	last := metrics.Definitions[len(metrics.Definitions)-1]
	clash := prom.NewGauge(prom.GaugeOpts{Name: last.Name, Help: "not raftlog's"})
	require.NoError(t, reg.Register(clash))

	_, err := NewCollector(reg, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), last.Name)
	fams := gather(t, reg)
	assert.Len(t, fams, 1, "only the clashing metric is left")
	assert.Contains(t, fams, last.Name)

	// The first definition can be registered again, so it was unregistered.
	first := metrics.Definitions[0]
	require.Equal(t, metrics.KindHistogram, first.Kind)
	require.NoError(t, reg.Register(prom.NewHistogram(prom.HistogramOpts{
		Name: first.Name, Help: first.Help, Buckets: first.Buckets})))
}

func TestNewCollectorNilRegistererUsesDefault(t *testing.T) {
	saved := prom.DefaultRegisterer
	reg := prom.NewRegistry()
	prom.DefaultRegisterer = reg
	t.Cleanup(func() { prom.DefaultRegisterer = saved })

	c, err := NewCollector(nil, nil)
	require.NoError(t, err)
	c.Add(metrics.Appends, 1)
	assert.Equal(t, 1.0, gather(t, reg)["raftlog_appends_total"].GetMetric()[0].GetCounter().GetValue())
}

// TestMisuseIgnored: wrong kinds, unknown IDs and negative counter deltas
// change nothing and do not panic (prometheus.Counter.Add panics on a
// negative delta).
func TestMisuseIgnored(t *testing.T) {
	reg := prom.NewRegistry()
	c, err := NewCollector(reg, nil)
	require.NoError(t, err)
	before := gather(t, reg)

	assert.NotPanics(t, func() {
		c.Add(metrics.Appends, -1)
		c.Observe(metrics.Appends, 1)
		c.Set(metrics.Appends, 5)
		c.Add(metrics.FsyncLatency, 1)
		c.Set(metrics.FsyncLatency, 1)
		c.Observe(metrics.WriteQueueDepth, 1)
		c.Observe(metrics.MetricID(-1), 1)
		c.Add(metrics.MetricID(1<<20), 1)
		c.Set(metrics.MetricID(len(metrics.Definitions)), 1)
	})
	after := gather(t, reg)
	for name, mf := range before {
		assert.Equal(t, mf.String(), after[name].String(), name)
	}
}

func TestAllocationFree(t *testing.T) {
	c, err := NewCollector(prom.NewRegistry(), prom.Labels{"group": "1"})
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(1000, func() {
		c.Observe(metrics.FsyncLatency, 0.0012)
		c.Add(metrics.Appends, 1)
		c.Add(metrics.WriteQueueDepth, 1)
		c.Set(metrics.IdxUnflushed, 42)
	})
	assert.Zero(t, allocs)
}

func BenchmarkObserve(b *testing.B) {
	c, err := NewCollector(prom.NewRegistry(), nil)
	require.NoError(b, err)
	b.ReportAllocs()
	v := 0.0
	for b.Loop() {
		c.Observe(metrics.FsyncLatency, v)
		v += 1e-6
	}
}
