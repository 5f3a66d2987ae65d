package pipeline

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewExecutorBadSize(t *testing.T) {
	_, err := NewExecutor(0)
	require.Error(t, err)
}

func TestExecutorRunsTasks(t *testing.T) {
	checkNoLeak(t)
	e, err := NewExecutor(4)
	require.NoError(t, err)
	var ran atomic.Int32
	for range 100 {
		require.NoError(t, e.Go(func() { ran.Add(1) }))
	}
	e.Close()
	require.EqualValues(t, 100, ran.Load(), "Close returned before every accepted task ran")
}

func TestExecutorCloseWaitsForRunningTask(t *testing.T) {
	checkNoLeak(t)
	e, err := NewExecutor(2)
	require.NoError(t, err)
	started, gate := make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	require.NoError(t, e.Go(func() {
		close(started)
		<-gate
		finished.Store(true)
	}))
	<-started

	closed := make(chan struct{})
	go func() {
		e.Close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while a task was running")
	default:
	}
	close(gate)
	<-closed
	require.True(t, finished.Load())
}

func TestExecutorAfterClose(t *testing.T) {
	checkNoLeak(t)
	e, err := NewExecutor(1)
	require.NoError(t, err)
	e.Close()
	e.Close() // idempotent

	require.ErrorIs(t, e.Go(func() { t.Error("ran after Close") }), ErrExecutorClosed)
	f := Run(e, func() (int, error) { return 1, nil })
	v, err, ok := f.Result()
	require.True(t, ok, "future of Run on a closed executor must fail at once")
	require.ErrorIs(t, err, ErrExecutorClosed)
	require.Zero(t, v)
}

// A task that submits more work while Close is waiting for it must get
// ErrExecutorClosed rather than deadlock.
func TestExecutorNestedGoDuringClose(t *testing.T) {
	checkNoLeak(t)
	// Two workers: one is held by the task, the other serves the probes.
	e, err := NewExecutor(2)
	require.NoError(t, err)
	started, gate := make(chan struct{}), make(chan struct{})
	nested := make(chan error, 1)
	require.NoError(t, e.Go(func() {
		close(started)
		<-gate
		nested <- e.Go(func() {})
	}))
	<-started
	closed := make(chan struct{})
	go func() {
		e.Close()
		close(closed)
	}()
	// Close sets closed before it waits; wait for that through Go itself.
	for e.Go(func() {}) == nil {
		runtime.Gosched()
	}
	close(gate)
	<-closed
	require.ErrorIs(t, <-nested, ErrExecutorClosed)
}

func TestExecutorBoundsConcurrency(t *testing.T) {
	checkNoLeak(t)
	const size = 2
	e, err := NewExecutor(size)
	require.NoError(t, err)
	started := make(chan int, 3)
	gate := make(chan struct{})
	submitted := make(chan struct{})
	go func() {
		for i := range 3 {
			require.NoError(t, e.Go(func() {
				started <- i
				<-gate
			}))
		}
		close(submitted)
	}()
	<-started
	<-started
	select {
	case i := <-started:
		t.Fatalf("task %d started while %d were running on a pool of %d", i, size, size)
	case <-submitted:
		t.Fatal("third Go returned while the pool was full")
	default:
	}
	close(gate)
	<-submitted
	<-started
	e.Close()
}

func TestRun(t *testing.T) {
	checkNoLeak(t)
	e, err := NewExecutor(2)
	require.NoError(t, err)
	defer e.Close()
	boom := errors.New("boom")
	tests := []struct {
		name    string
		fn      func() (string, error)
		want    string
		wantErr error
	}{
		{"value", func() (string, error) { return "ok", nil }, "ok", nil},
		{"error", func() (string, error) { return "", boom }, "", boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Run(e, tt.fn).Wait(context.Background())
			require.ErrorIs(t, err, tt.wantErr)
			require.Equal(t, tt.want, v)
		})
	}
}
