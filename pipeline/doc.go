// Package pipeline holds the three concurrency building blocks the raftlog
// stages are made of: futures, stages and the blocking-I/O executor.
//
// A [Future] carries the result of asynchronous work from the goroutine
// that does it to any number of waiters. It separates submitting from
// waiting: the hot path (Append) never takes a context, only [Future.Wait]
// does. A future is completed exactly once; later completions are ignored
// and reported as such.
//
// A [Stage] is one goroutine draining one bounded queue in batches. The
// goroutine is started by [NewStage] and owned by the Stage: [Stage.Close]
// stops intake, lets the goroutine handle everything already queued and
// waits for it to exit. Producers block while the queue is full, so memory
// is bounded by the queue capacity; nothing in this package grows without
// bound.
//
// An [Executor] runs blocking background I/O (file preallocation,
// deletion) on a bounded ants pool so that stage goroutines never wait for
// it. The pool's worker goroutines belong to the Executor: [Executor.Close]
// waits for the tasks already accepted and then for the workers to exit.
// [Run] adapts a function to a Future.
//
// Invariants: every goroutine started here is stopped by the Close of the
// value that started it; no Close returns while such a goroutine still runs
// user code; a value accepted by Submit or Go is always handled, even when
// Close races with the submission.
package pipeline
