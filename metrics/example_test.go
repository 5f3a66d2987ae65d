package metrics_test

import (
	"fmt"
	"time"

	"github.com/raftlog/raftlog/metrics"
)

// A Recorder collects what the engine reports; its Snapshot is what
// Log.Metrics returns.
func ExampleRecorder() {
	r := metrics.NewRecorder()
	var c metrics.Collector = r // what the engine holds

	for _, d := range []time.Duration{800 * time.Microsecond, 1200 * time.Microsecond, 3 * time.Millisecond} {
		c.Observe(metrics.FsyncLatency, d.Seconds())
		c.Add(metrics.Appends, 1)
	}

	s := r.Snapshot()
	fmt.Println("appends:", s.Appends)
	fmt.Println("fsyncs:", s.FsyncLatency.Count)
	fmt.Println("max fsync:", time.Duration(s.FsyncLatency.Max*float64(time.Second)))
	// Output:
	// appends: 3
	// fsyncs: 3
	// max fsync: 3ms
}

// Tee feeds several collectors, e.g. a Recorder and a Prometheus exporter.
func ExampleTee() {
	a, b := metrics.NewRecorder(), metrics.NewRecorder()
	c := metrics.Tee(a, b)
	c.Add(metrics.BytesAppended, 4096)
	fmt.Println(a.Snapshot().BytesAppended, b.Snapshot().BytesAppended)
	// Output: 4096 4096
}
