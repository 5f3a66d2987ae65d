package pipeline

import (
	"context"
	"errors"
	"sync"

	"github.com/panjf2000/ants/v2"
)

// ErrExecutorClosed is returned by Executor.Go, and the future of Run fails
// with it, once Executor.Close has been called.
var ErrExecutorClosed = errors.New("pipeline: executor closed")

// Executor runs blocking background I/O (preallocating the next file,
// deleting compacted ones) on a bounded pool of goroutines, so that stage
// goroutines hand such work off instead of waiting for it.
//
// The pool is an ants pool in blocking mode: Go waits for a free worker
// rather than failing. A panic in a task is not swallowed (ants would log
// and continue by default): it is re-raised and crashes the process, as a
// panic on any other goroutine would, because panics mean broken
// invariants.
type Executor struct {
	pool *ants.Pool

	mu      sync.Mutex
	closed  bool           // guarded by mu
	pending sync.WaitGroup // tasks accepted by Go and not yet finished
	once    sync.Once
}

// NewExecutor returns an executor running at most size tasks at a time.
func NewExecutor(size int) (*Executor, error) {
	if size < 1 {
		return nil, errors.New("pipeline: executor size must be at least 1")
	}
	pool, err := ants.NewPool(size, ants.WithPanicHandler(func(p any) { panic(p) }))
	if err != nil {
		return nil, err
	}
	return &Executor{pool: pool}, nil
}

// Go runs fn on the pool, blocking while every worker is busy. It returns
// ErrExecutorClosed after Close; an fn accepted with a nil error always runs,
// and Close waits for it.
func (e *Executor) Go(fn func()) error {
	// The lock is not held across Submit, which may block: a task that
	// calls Go while Close is waiting must get ErrExecutorClosed, not a
	// deadlock. Add happens under the lock, before closed can be set, so
	// Close's Wait never races with an Add from zero.
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrExecutorClosed
	}
	e.pending.Add(1)
	e.mu.Unlock()
	err := e.pool.Submit(func() {
		defer e.pending.Done()
		fn()
	})
	if err != nil {
		e.pending.Done()
		if errors.Is(err, ants.ErrPoolClosed) {
			return ErrExecutorClosed
		}
		return err
	}
	return nil
}

// Close stops accepting tasks, waits for every accepted task to finish and
// for the pool's goroutines to exit. It is idempotent. It must not be called
// from a task (that would wait for itself).
func (e *Executor) Close() {
	e.once.Do(func() {
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
		e.pending.Wait()
		// With a context, ReleaseContext also waits for the idle workers
		// and the pool's purge goroutines, so none outlives Close.
		_ = e.pool.ReleaseContext(context.Background())
	})
}

// Run runs fn on e and returns a future completed with its result. If e is
// closed, the future fails with ErrExecutorClosed.
func Run[T any](e *Executor, fn func() (T, error)) *Future[T] {
	f := NewFuture[T]()
	if err := e.Go(func() { f.Complete(fn()) }); err != nil {
		var zero T
		f.Complete(zero, err)
	}
	return f
}
