package raftlog

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// BenchmarkAppend measures durable appends on the local disk: each iteration
// is one Append call of batch entries; every 16th call is waited for, so
// calls in between share fdatasyncs the way a pipelining leader's do.
// Allocations are per call: the entries are encoded into pooled buffers.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{128, 1024} {
		for _, batch := range []int{1, 64, 1024} {
			b.Run(fmt.Sprintf("batch=%d/size=%d", batch, size), func(b *testing.B) {
				l := openLog(b, b.TempDir(), benchOptions())
				defer l.Close()
				data := make([]byte, size)
				es := make([]Entry, batch)
				for i := range es {
					es[i] = Entry{Term: 1, Data: data}
				}
				b.SetBytes(int64(batch * size))
				b.ReportAllocs()
				b.ResetTimer()
				next := uint64(1)
				for i := 0; i < b.N; i++ {
					for j := range es {
						es[j].Index = next
						next++
					}
					f := l.Append(es)
					if i%16 == 15 || i == b.N-1 {
						if _, err := f.Wait(context.Background()); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "entries/s")
			})
		}
	}
}

// BenchmarkAppendConcurrent has 64 goroutines each appending one 128-byte
// entry and waiting for it: group commit across callers.
func BenchmarkAppendConcurrent(b *testing.B) {
	l := openLog(b, b.TempDir(), benchOptions())
	defer l.Close()
	var mu sync.Mutex
	data := make([]byte, 128)
	b.SetBytes(128)
	b.ReportAllocs()
	b.SetParallelism(32) // 2 CPUs × 32 = 64 goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		es := []Entry{{Term: 1, Data: data}}
		for pb.Next() {
			mu.Lock()
			es[0].Index = l.LastIndex() + 1
			f := l.Append(es)
			mu.Unlock()
			if _, err := f.Wait(context.Background()); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
