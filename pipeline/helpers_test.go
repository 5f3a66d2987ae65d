package pipeline

import (
	"runtime"
	"testing"
	"time"
)

// checkNoLeak records the goroutine count and, at cleanup, waits until it
// is back to that count. Close functions in this package wait for their
// goroutines, but a goroutine that has closed its exit channel may still be
// counted for a moment, hence the bounded wait (polling, not sleeping for a
// guessed duration).
func checkNoLeak(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				n := runtime.Stack(buf, true)
				t.Fatalf("goroutines leaked: %d > %d\n%s", runtime.NumGoroutine(), before, buf[:n])
			}
			runtime.Gosched()
		}
	})
}
