package pipeline

import (
	"context"
	"sync"
)

// Future is the result of an asynchronous operation: a value of type T or an
// error, set exactly once by Complete. Any number of goroutines may wait for
// it. The done channel is made only when someone asks for it, so a Future
// that is completed before anyone waits costs one allocation.
type Future[T any] struct {
	mu        sync.Mutex
	completed bool
	val       T
	err       error
	done      chan struct{}
	callbacks []func(T, error)
}

// NewFuture returns a future that is not completed yet.
func NewFuture[T any]() *Future[T] { return &Future[T]{} }

// Completed returns a future already completed with v and err.
func Completed[T any](v T, err error) *Future[T] {
	return &Future[T]{completed: true, val: v, err: err}
}

// Failed returns a future already completed with err and the zero value.
func Failed[T any](err error) *Future[T] {
	var zero T
	return Completed(zero, err)
}

// closedChan is shared by every completed future whose Done was called only
// after completion.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Complete sets the result and wakes every waiter and callback. It reports
// false, and changes nothing, if the future was already completed.
// Callbacks run on the goroutine that calls Complete, in registration order.
func (f *Future[T]) Complete(v T, err error) bool {
	f.mu.Lock()
	if f.completed {
		f.mu.Unlock()
		return false
	}
	f.completed = true
	f.val, f.err = v, err
	if f.done != nil {
		close(f.done)
	}
	cbs := f.callbacks
	f.callbacks = nil
	f.mu.Unlock()
	for _, cb := range cbs {
		cb(v, err)
	}
	return true
}

// Done returns a channel that is closed once the future is completed.
func (f *Future[T]) Done() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done == nil {
		if f.completed {
			return closedChan
		}
		f.done = make(chan struct{})
	}
	return f.done
}

// Wait blocks until the future is completed or ctx is done. In the second
// case it returns ctx.Err(); the operation itself goes on.
func (f *Future[T]) Wait(ctx context.Context) (T, error) {
	if v, err, ok := f.Result(); ok {
		return v, err
	}
	select {
	case <-f.Done():
		v, err, _ := f.Result()
		return v, err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// Result returns the value and error and whether the future is completed,
// without blocking.
func (f *Future[T]) Result() (T, error, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.val, f.err, f.completed
}

// OnComplete registers fn to be called with the result. If the future is
// already completed, fn runs at once on the calling goroutine; otherwise it
// runs on the goroutine that completes the future. fn must not block.
func (f *Future[T]) OnComplete(fn func(T, error)) {
	f.mu.Lock()
	if f.completed {
		v, err := f.val, f.err
		f.mu.Unlock()
		fn(v, err)
		return
	}
	f.callbacks = append(f.callbacks, fn)
	f.mu.Unlock()
}
