package metrics

// Collector receives the engine's measurements. The engine calls it on its hot
// paths (every Append, every pwritev, every fdatasync) from several
// goroutines at once, so an implementation must be safe for concurrent use
// and cheap: no allocation, no lock held across I/O, no map lookup per call.
// Index your storage by MetricID instead.
//
// A call whose id is unknown, or names a metric of another kind than the
// method expects, is ignored: a metrics bug must never fail a write.
type Collector interface {
	// Observe records v in the histogram id.
	Observe(id MetricID, v float64)
	// Add adds delta to the counter or gauge id. Counter deltas are
	// non-negative; a negative counter delta is ignored.
	Add(id MetricID, delta float64)
	// Set sets the gauge id to v.
	Set(id MetricID, v float64)
}

// Nop returns the Collector that discards everything: the default of
// raftlog's Options. It does not allocate.
func Nop() Collector { return nop{} }

// nop is zero-sized, so converting it to a Collector allocates nothing.
type nop struct{}

func (nop) Observe(MetricID, float64) {}
func (nop) Add(MetricID, float64)     {}
func (nop) Set(MetricID, float64)     {}

// IsNop reports whether c is nil or the Collector returned by Nop, so that
// the engine can skip taking timestamps that nobody records.
func IsNop(c Collector) bool {
	if c == nil {
		return true
	}
	_, ok := c.(nop)
	return ok
}

// Tee returns a Collector that forwards every call to each of cs in order,
// e.g. a Recorder for Log.Metrics and a Prometheus collector. Nil and Nop
// collectors are dropped; with none left Tee returns Nop, with one it returns
// that one unwrapped.
func Tee(cs ...Collector) Collector {
	var live tee
	for _, c := range cs {
		if IsNop(c) {
			continue
		}
		// Flatten nested tees so a call is one loop, not a recursion.
		if t, ok := c.(tee); ok {
			live = append(live, t...)
			continue
		}
		live = append(live, c)
	}
	switch len(live) {
	case 0:
		return Nop()
	case 1:
		return live[0]
	}
	return live
}

// tee is a slice, so a call ranges over it without allocating.
type tee []Collector

func (t tee) Observe(id MetricID, v float64) {
	for _, c := range t {
		c.Observe(id, v)
	}
}

func (t tee) Add(id MetricID, delta float64) {
	for _, c := range t {
		c.Add(id, delta)
	}
}

func (t tee) Set(id MetricID, v float64) {
	for _, c := range t {
		c.Set(id, v)
	}
}
