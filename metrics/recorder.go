package metrics

import (
	"math"
	"slices"
	"sync/atomic"
)

// Recorder is an in-memory Collector, safe for concurrent use, behind
// raftlog's Log.Metrics. Every metric is a fixed slot found by indexing with
// its MetricID, and every update is one or a few atomic operations, so a
// Recorder never allocates or blocks on the hot path. Snapshot reads the
// slots without stopping writers.
//
// Counters count whole units: Add truncates a counter delta to an integer
// (the engine only adds integers) and drops negative ones. Gauges hold
// float64 values. Histograms use the buckets of their Definition; NaN
// observations are dropped so that one bad value does not turn the sum into
// NaN forever.
type Recorder struct {
	kinds [numMetrics]Kind
	// values holds a counter as a uint64 and a gauge as float64 bits.
	values [numMetrics]atomic.Uint64
	hists  [numMetrics]*histogram
}

var _ Collector = (*Recorder)(nil)

// NewRecorder returns a Recorder for every metric in Definitions, all zero.
func NewRecorder() *Recorder {
	r := &Recorder{}
	for _, d := range Definitions {
		if d.ID < 0 || d.ID >= numMetrics {
			continue
		}
		r.kinds[d.ID] = d.Kind
		if d.Kind == KindHistogram {
			r.hists[d.ID] = newHistogram(d.Buckets)
		}
	}
	return r
}

// Observe records v in the histogram id.
func (r *Recorder) Observe(id MetricID, v float64) {
	if uint(id) >= uint(numMetrics) {
		return
	}
	if h := r.hists[id]; h != nil {
		h.observe(v)
	}
}

// Add adds delta to the counter or gauge id.
func (r *Recorder) Add(id MetricID, delta float64) {
	if uint(id) >= uint(numMetrics) {
		return
	}
	switch r.kinds[id] {
	case KindCounter:
		// The comparison is false for NaN too.
		if delta >= 1 {
			r.values[id].Add(uint64(delta))
		}
	case KindGauge:
		addFloat(&r.values[id], delta)
	}
}

// Set sets the gauge id to v.
func (r *Recorder) Set(id MetricID, v float64) {
	if uint(id) >= uint(numMetrics) || r.kinds[id] != KindGauge {
		return
	}
	r.values[id].Store(math.Float64bits(v))
}

// histogram is a fixed-bucket histogram made of atomics. Count is not kept
// separately: a snapshot sums the buckets, which keeps Count equal to the
// bucket total in every snapshot and saves one atomic add per observation.
type histogram struct {
	bounds []float64       // ascending inclusive upper bounds
	counts []atomic.Uint64 // len(bounds)+1; the last is the +Inf bucket
	sum    atomic.Uint64   // float64 bits
	max    atomic.Uint64   // float64 bits; -Inf until the first observation
}

func newHistogram(bounds []float64) *histogram {
	h := &histogram{
		bounds: slices.Clone(bounds),
		counts: make([]atomic.Uint64, len(bounds)+1),
	}
	h.max.Store(math.Float64bits(math.Inf(-1)))
	return h
}

func (h *histogram) observe(v float64) {
	if math.IsNaN(v) {
		return
	}
	// The first bound ≥ v: bounds are inclusive upper limits, as in
	// Prometheus ("le"). Past the last bound it is the +Inf bucket.
	i, _ := slices.BinarySearch(h.bounds, v)
	// Max and sum before the bucket: snapshot reads the buckets first, so
	// every observation it counts is already in Max and Sum.
	for {
		old := h.max.Load()
		if math.Float64frombits(old) >= v || h.max.CompareAndSwap(old, math.Float64bits(v)) {
			break
		}
	}
	addFloat(&h.sum, v)
	h.counts[i].Add(1)
}

// addFloat adds delta to the float64 held as bits in u.
func addFloat(u *atomic.Uint64, delta float64) {
	for {
		old := u.Load()
		if u.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+delta)) {
			return
		}
	}
}

// Snapshot returns the current values. Metrics are read one by one while
// writers continue, so two metrics may disagree by the updates in flight.
// Within a histogram, Count equals the sum of the buckets, and Sum and Max
// include every counted observation (and possibly some still in flight).
func (r *Recorder) Snapshot() Snapshot {
	var s Snapshot
	for id := range numMetrics {
		switch r.kinds[id] {
		case KindCounter:
			*s.counterField(id) = r.values[id].Load()
		case KindGauge:
			*s.gaugeField(id) = math.Float64frombits(r.values[id].Load())
		case KindHistogram:
			*s.histogramField(id) = r.hists[id].snapshot()
		}
	}
	return s
}

func (h *histogram) snapshot() HistogramSnapshot {
	hs := HistogramSnapshot{Buckets: make([]Bucket, len(h.counts))}
	for i := range h.counts {
		ub := math.Inf(1)
		if i < len(h.bounds) {
			ub = h.bounds[i]
		}
		n := h.counts[i].Load()
		hs.Buckets[i] = Bucket{UpperBound: ub, Count: n}
		hs.Count += n
	}
	hs.Sum = math.Float64frombits(h.sum.Load())
	if hs.Count > 0 {
		hs.Max = math.Float64frombits(h.max.Load())
	}
	return hs
}
