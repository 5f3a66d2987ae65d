package etcdraft_test

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkClusterProposals measures committed-and-applied proposals per
// second on a 3-node AsyncStorageWrites cluster (loopback transport), every
// node on its own raftlog directory under the test's temp dir. Proposals are
// pipelined: the benchmark proposes b.N commands, then waits until every
// node applied them.
func BenchmarkClusterProposals(b *testing.B) {
	for _, size := range []int{16, 256} {
		b.Run(fmt.Sprintf("payload=%d", size), func(b *testing.B) {
			c := newCluster(b, 3)
			l := c.leader(b)
			payload := make([]byte, size)
			b.SetBytes(int64(size))
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; {
				if l.propose(payload) {
					i++
				} else {
					l = c.leader(b)
				}
			}
			for _, id := range c.ids {
				c.node(id).waitFor(b, time.Minute, "all proposals", func(n *node) bool { return len(n.commands) >= b.N })
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "proposals/s")
		})
	}
}
