package prometheus

import (
	"fmt"

	prom "github.com/prometheus/client_golang/prometheus"

	"github.com/raftlog/raftlog/metrics"
)

// collector forwards to Prometheus metrics held in slices indexed by
// MetricID: one bounds check and one interface call per observation, no map
// lookup and no label resolution on the hot path (the labels are constant).
type collector struct {
	counters   []prom.Counter
	gauges     []prom.Gauge
	histograms []prom.Observer
}

var _ metrics.Collector = (*collector)(nil)

// NewCollector registers one Prometheus metric per entry of
// metrics.Definitions with reg (prometheus.DefaultRegisterer if nil), each
// with constLabels, and returns a Collector that feeds them. If any metric
// cannot be registered (typically a second NewCollector on the same
// registry with the same labels), the ones already registered are
// unregistered and the error names the metric and wraps reg's error.
func NewCollector(reg prom.Registerer, constLabels prom.Labels) (metrics.Collector, error) {
	if reg == nil {
		reg = prom.DefaultRegisterer
	}
	n := 0
	for _, d := range metrics.Definitions {
		n = max(n, int(d.ID)+1)
	}
	c := &collector{
		counters:   make([]prom.Counter, n),
		gauges:     make([]prom.Gauge, n),
		histograms: make([]prom.Observer, n),
	}
	var registered []prom.Collector
	for _, d := range metrics.Definitions {
		if d.ID < 0 {
			continue
		}
		var m prom.Collector
		switch d.Kind {
		case metrics.KindCounter:
			ctr := prom.NewCounter(prom.CounterOpts{Name: d.Name, Help: d.Help, ConstLabels: constLabels})
			c.counters[d.ID], m = ctr, ctr
		case metrics.KindGauge:
			g := prom.NewGauge(prom.GaugeOpts{Name: d.Name, Help: d.Help, ConstLabels: constLabels})
			c.gauges[d.ID], m = g, g
		case metrics.KindHistogram:
			h := prom.NewHistogram(prom.HistogramOpts{Name: d.Name, Help: d.Help, ConstLabels: constLabels, Buckets: d.Buckets})
			c.histograms[d.ID], m = h, h
		default:
			continue
		}
		if err := reg.Register(m); err != nil {
			for _, r := range registered {
				reg.Unregister(r)
			}
			return nil, fmt.Errorf("raftlog prometheus: register %s: %w", d.Name, err)
		}
		registered = append(registered, m)
	}
	return c, nil
}

// Observe records v in the histogram id.
func (c *collector) Observe(id metrics.MetricID, v float64) {
	if uint(id) < uint(len(c.histograms)) {
		if h := c.histograms[id]; h != nil {
			h.Observe(v)
		}
	}
}

// Add adds delta to the counter or gauge id. A negative counter delta is
// dropped: prometheus.Counter panics on it, and a metrics bug must not take
// the log down.
func (c *collector) Add(id metrics.MetricID, delta float64) {
	if uint(id) >= uint(len(c.counters)) {
		return
	}
	if ctr := c.counters[id]; ctr != nil {
		if delta >= 0 {
			ctr.Add(delta)
		}
		return
	}
	if g := c.gauges[id]; g != nil {
		g.Add(delta)
	}
}

// Set sets the gauge id to v.
func (c *collector) Set(id metrics.MetricID, v float64) {
	if uint(id) < uint(len(c.gauges)) {
		if g := c.gauges[id]; g != nil {
			g.Set(v)
		}
	}
}
