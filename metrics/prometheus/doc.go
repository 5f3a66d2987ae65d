// Package prometheus exports raftlog's metrics to Prometheus.
//
// NewCollector registers one Prometheus metric per metrics.Definition
// (counters, gauges and histograms with the definition's buckets) and returns
// a metrics.Collector that forwards the engine's calls to them. Hand it to
// raftlog's Options as the metrics hook, alone or with metrics.Tee next to a
// metrics.Recorder:
//
//	c, err := prometheus.NewCollector(prom.DefaultRegisterer, prom.Labels{"group": "7"})
//	if err != nil { ... }
//	col := metrics.Tee(c, recorder) // the Collector the engine calls
//
// Const labels tell apart several logs in one process (one per Raft group),
// each registered with its own labels.
//
// This is its own module so that client_golang and its dependencies stay out
// of raftlog's go.mod. It starts no goroutines: Prometheus reads the metrics
// when it gathers, and the forwarding runs on the engine's goroutines.
package prometheus
