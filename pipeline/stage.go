package pipeline

import (
	"errors"
	"sync"
)

// ErrStageClosed is returned by Stage.Submit and Stage.TrySubmit once
// Stage.Close has been called.
var ErrStageClosed = errors.New("pipeline: stage closed")

// Stage is one goroutine draining a bounded queue in batches: it takes
// whatever has queued up (at most maxBatch values) and hands it to the
// handle function in one call, so the cost of a handle call (a write, a
// sync) is shared by everything that arrived while the previous call ran.
//
// Submission and shutdown race safely: the queue channel is only closed
// under the write side of mu, and every send happens under the read side,
// so no send can hit a closed channel. A submitter blocked on a full queue
// holds only the read side, which does not serialize other submitters, and
// Close first closes the closing channel, which wakes such a submitter
// before Close asks for the write side. Taking the queue slot therefore
// never happens while a serializing lock is held (STYLE.md item 11).
type Stage[T any] struct {
	queue    chan T
	maxBatch int
	handle   func(batch []T)

	mu      sync.RWMutex
	closed  bool          // guarded by mu; set once, before queue is closed
	closing chan struct{} // closed first by Close to wake blocked submitters
	once    sync.Once
	exited  chan struct{} // closed when the goroutine returns
}

// NewStage starts the stage goroutine. capacity bounds the number of values
// queued but not yet taken by the goroutine; maxBatch bounds the length of
// one batch. Values below 1 are treated as 1. handle runs on the stage
// goroutine only, one call at a time; the batch slice is reused after
// handle returns, so handle must not keep it (the values in it may be kept).
func NewStage[T any](capacity int, maxBatch int, handle func(batch []T)) *Stage[T] {
	if handle == nil {
		panic("pipeline: NewStage with nil handle")
	}
	capacity = max(capacity, 1)
	maxBatch = max(maxBatch, 1)
	s := &Stage[T]{
		queue:    make(chan T, capacity),
		maxBatch: maxBatch,
		handle:   handle,
		closing:  make(chan struct{}),
		exited:   make(chan struct{}),
	}
	go s.run()
	return s
}

// Submit queues v, blocking while the queue is full. It returns
// ErrStageClosed if Close has been called; a value for which Submit returned
// nil is always handled.
func (s *Stage[T]) Submit(v T) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrStageClosed
	}
	select {
	case s.queue <- v:
		return nil
	default:
	}
	select {
	case s.queue <- v:
		return nil
	case <-s.closing:
		return ErrStageClosed
	}
}

// TrySubmit queues v if there is room and reports whether it did. It never
// blocks. It returns ErrStageClosed if Close has been called.
func (s *Stage[T]) TrySubmit(v T) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return false, ErrStageClosed
	}
	select {
	case s.queue <- v:
		return true, nil
	default:
		return false, nil
	}
}

// Len returns the number of values queued and not yet taken into a batch.
func (s *Stage[T]) Len() int { return len(s.queue) }

// Close stops accepting values, lets the goroutine handle everything
// already queued and waits for it to exit. It is idempotent and safe to
// call from several goroutines; every call returns only after the goroutine
// has exited. It must not be called from handle (that would deadlock).
func (s *Stage[T]) Close() {
	s.once.Do(func() {
		close(s.closing)
		s.mu.Lock()
		s.closed = true
		close(s.queue)
		s.mu.Unlock()
	})
	<-s.exited
}

func (s *Stage[T]) run() {
	defer close(s.exited)
	batch := make([]T, 0, min(s.maxBatch, cap(s.queue)))
	for {
		v, ok := <-s.queue
		if !ok {
			return
		}
		batch = append(batch, v)
		open := true
	fill:
		for len(batch) < s.maxBatch {
			select {
			case v, ok := <-s.queue:
				if !ok {
					open = false
					break fill
				}
				batch = append(batch, v)
			default:
				break fill
			}
		}
		s.handle(batch)
		// Drop the references so handled values can be collected while
		// the goroutine waits for more.
		clear(batch)
		batch = batch[:0]
		if !open {
			return
		}
	}
}
