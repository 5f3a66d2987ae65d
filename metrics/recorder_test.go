package metrics

import (
	"math"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bucketOf returns the upper bound of the only non-empty bucket of h.
func bucketOf(t *testing.T, h HistogramSnapshot) float64 {
	t.Helper()
	ub := math.NaN()
	for _, b := range h.Buckets {
		if b.Count > 0 {
			require.True(t, math.IsNaN(ub), "two non-empty buckets")
			ub = b.UpperBound
		}
	}
	return ub
}

func TestRecorderBucketPlacement(t *testing.T) {
	// FsyncEntries has bounds 1, 2, 4, …, 65536.
	tests := []struct {
		v    float64
		want float64 // upper bound of the bucket v lands in
	}{
		{0, 1},
		{-5, 1},
		{1, 1}, // bounds are inclusive ("le")
		{1.5, 2},
		{2, 2},
		{3, 4},
		{4.0001, 8},
		{65536, 65536},
		{65537, math.Inf(1)},
		{math.Inf(1), math.Inf(1)},
	}
	for _, tt := range tests {
		r := NewRecorder()
		r.Observe(FsyncEntries, tt.v)
		h := r.Snapshot().FsyncEntries
		assert.Equal(t, tt.want, bucketOf(t, h), "value %v", tt.v)
		assert.Equal(t, uint64(1), h.Count)
		assert.Equal(t, tt.v, h.Sum)
		assert.Equal(t, tt.v, h.Max)
	}
}

func TestRecorderHistogramLayout(t *testing.T) {
	s := NewRecorder().Snapshot()
	for _, d := range Definitions {
		if d.Kind != KindHistogram {
			continue
		}
		h := s.Histogram(d.ID)
		require.Len(t, h.Buckets, len(d.Buckets)+1, d.Name)
		for i, b := range d.Buckets {
			assert.Equal(t, b, h.Buckets[i].UpperBound)
		}
		assert.Equal(t, math.Inf(1), h.Buckets[len(d.Buckets)].UpperBound)
		assert.Zero(t, h.Count)
		assert.Zero(t, h.Max, "Max of an empty histogram")
	}
}

func TestRecorderCountersAndGauges(t *testing.T) {
	r := NewRecorder()
	r.Add(Appends, 1)
	r.Add(Appends, 2)
	r.Add(BytesAppended, 4096)
	r.Add(BytesAppended, 2.9) // whole units: 2
	r.Add(BytesAppended, -10) // counters never go down
	r.Add(BytesAppended, math.NaN())
	r.Set(WriteQueueDepth, 5)
	r.Add(WriteQueueDepth, -2)
	r.Add(WriteQueueDepth, 0.5)
	r.Set(RecoveryDuration, 1.25)

	s := r.Snapshot()
	assert.Equal(t, uint64(3), s.Appends)
	assert.Equal(t, uint64(4098), s.BytesAppended)
	assert.Equal(t, 3.5, s.WriteQueueDepth)
	assert.Equal(t, 1.25, s.RecoveryDuration)
}

// TestRecorderIgnoresMisuse: a call of the wrong kind or an unknown ID
// changes nothing and does not panic.
func TestRecorderIgnoresMisuse(t *testing.T) {
	r := NewRecorder()
	r.Observe(Appends, 1)         // counter
	r.Observe(WriteQueueDepth, 1) // gauge
	r.Set(Appends, 9)             // counter
	r.Set(FsyncLatency, 9)        // histogram
	r.Add(FsyncLatency, 9)        // histogram
	r.Observe(MetricID(-1), 1)    // unknown
	r.Add(numMetrics, 1)          // unknown
	r.Set(MetricID(1<<30), 1)     // unknown
	r.Observe(FsyncLatency, math.NaN())
	assert.Equal(t, NewRecorder().Snapshot(), r.Snapshot())
}

func TestRecorderConcurrent(t *testing.T) {
	const (
		goroutines = 8
		perG       = 5000
	)
	r := NewRecorder()
	var start, wg sync.WaitGroup
	start.Add(1)
	for g := range goroutines {
		wg.Go(func() {
			start.Wait()
			for i := range perG {
				// Integers: every partial float sum is exact, so the
				// expected Sum does not depend on the interleaving.
				r.Observe(FsyncEntries, float64(i%100+g))
				r.Add(EntriesAppended, 3)
				r.Add(IdxUnflushed, 1)
				r.Add(IdxUnflushed, -1)
				r.Add(IdxUnflushed, 1)
			}
		})
	}
	start.Done()
	wg.Wait()

	s := r.Snapshot()
	var wantSum float64
	for g := range goroutines {
		for i := range perG {
			wantSum += float64(i%100 + g)
		}
	}
	assert.Equal(t, uint64(goroutines*perG), s.FsyncEntries.Count)
	assert.Equal(t, wantSum, s.FsyncEntries.Sum)
	assert.Equal(t, float64(99+goroutines-1), s.FsyncEntries.Max)
	assert.Equal(t, uint64(3*goroutines*perG), s.EntriesAppended)
	assert.Equal(t, float64(goroutines*perG), s.IdxUnflushed)
	// Values 0..106: nothing above 128.
	for _, b := range s.FsyncEntries.Buckets {
		if b.UpperBound > 128 {
			assert.Zero(t, b.Count, "bucket le=%v", b.UpperBound)
		}
	}
}

// TestRecorderSnapshotDuringWrites: a snapshot taken while writers run sees
// Max and Sum cover what it counts. Run with -race.
func TestRecorderSnapshotDuringWrites(t *testing.T) {
	r := NewRecorder()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
					r.Observe(FsyncLatency, 0.002)
				}
			}
		})
	}
	for range 200 {
		h := r.Snapshot().FsyncLatency
		if h.Count > 0 {
			require.Equal(t, 0.002, h.Max)
			// Slack of a quarter observation for float rounding.
			require.GreaterOrEqual(t, h.Sum, 0.002*float64(h.Count)-0.0005)
		}
	}
	close(done)
	wg.Wait()
}

func TestRecorderAllocationFree(t *testing.T) {
	r := NewRecorder()
	var c Collector = r
	allocs := testing.AllocsPerRun(1000, func() {
		c.Observe(FsyncLatency, 0.0012)
		c.Observe(WriteSize, 65536)
		c.Add(Appends, 1)
		c.Add(WriteQueueDepth, 1)
		c.Set(IdxUnflushed, 42)
	})
	assert.Zero(t, allocs)
}

func BenchmarkRecorderObserve(b *testing.B) {
	var c Collector = NewRecorder()
	b.ReportAllocs()
	v := 0.0
	for b.Loop() {
		c.Observe(FsyncLatency, v)
		v += 1e-6
	}
}

func BenchmarkRecorderObserveParallel(b *testing.B) {
	var c Collector = NewRecorder()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		v := 0.0
		for pb.Next() {
			c.Observe(FsyncLatency, v)
			v += 1e-6
		}
	})
}

func BenchmarkRecorderAdd(b *testing.B) {
	var c Collector = NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		c.Add(BytesAppended, 4096)
	}
}

func BenchmarkNopObserve(b *testing.B) {
	c := Nop()
	b.ReportAllocs()
	for b.Loop() {
		c.Observe(FsyncLatency, 0.001)
	}
}
