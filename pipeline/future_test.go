package pipeline

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errTest = errors.New("test error")

func TestFutureCompletesOnce(t *testing.T) {
	f := NewFuture[int]()
	_, _, ok := f.Result()
	require.False(t, ok)

	require.True(t, f.Complete(1, nil))
	require.False(t, f.Complete(2, errTest))

	v, err, ok := f.Result()
	require.True(t, ok)
	require.NoError(t, err)
	require.Equal(t, 1, v)
}

func TestFutureCompletedAndFailed(t *testing.T) {
	tests := []struct {
		name    string
		f       *Future[string]
		wantV   string
		wantErr error
	}{
		{"completed", Completed("x", nil), "x", nil},
		{"completed with error", Completed("y", errTest), "y", errTest},
		{"failed", Failed[string](errTest), "", errTest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err, ok := tt.f.Result()
			require.True(t, ok)
			require.Equal(t, tt.wantV, v)
			require.ErrorIs(t, err, tt.wantErr)
			select {
			case <-tt.f.Done():
			default:
				t.Fatal("Done of a completed future is not closed")
			}
			require.False(t, tt.f.Complete("z", nil))
		})
	}
}

func TestFutureCallbacks(t *testing.T) {
	f := NewFuture[int]()
	var order []string
	f.OnComplete(func(v int, err error) {
		assert.Equal(t, 7, v)
		assert.ErrorIs(t, err, errTest)
		order = append(order, "before1")
	})
	f.OnComplete(func(int, error) { order = append(order, "before2") })
	require.Empty(t, order, "callbacks ran before completion")

	f.Complete(7, errTest)
	require.Equal(t, []string{"before1", "before2"}, order)

	// A late callback runs at once, on the calling goroutine.
	f.OnComplete(func(v int, err error) {
		assert.Equal(t, 7, v)
		assert.ErrorIs(t, err, errTest)
		order = append(order, "after")
	})
	require.Equal(t, []string{"before1", "before2", "after"}, order)

	// A second Complete must not run the callbacks again.
	f.Complete(8, nil)
	require.Len(t, order, 3)
}

func TestFutureWait(t *testing.T) {
	t.Run("cancelled context", func(t *testing.T) {
		f := NewFuture[int]()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		v, err := f.Wait(ctx)
		require.ErrorIs(t, err, context.Canceled)
		require.Zero(t, v)
		// The future itself is unaffected.
		_, _, ok := f.Result()
		require.False(t, ok)
	})
	t.Run("completed wins over cancelled context", func(t *testing.T) {
		f := Completed(3, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		v, err := f.Wait(ctx)
		require.NoError(t, err)
		require.Equal(t, 3, v)
	})
	t.Run("completed by another goroutine", func(t *testing.T) {
		checkNoLeak(t)
		f := NewFuture[int]()
		got := make(chan int)
		go func() {
			v, err := f.Wait(context.Background())
			assert.ErrorIs(t, err, errTest)
			got <- v
		}()
		f.Complete(5, errTest)
		require.Equal(t, 5, <-got)
	})
}

func TestFutureDone(t *testing.T) {
	f := NewFuture[int]()
	done := f.Done()
	require.Equal(t, done, f.Done(), "Done must return the same channel")
	select {
	case <-done:
		t.Fatal("Done closed before completion")
	default:
	}
	f.Complete(1, nil)
	select {
	case <-done:
	default:
		t.Fatal("Done not closed after completion")
	}

	// Done asked for only after completion.
	g := NewFuture[int]()
	g.Complete(1, nil)
	select {
	case <-g.Done():
	default:
		t.Fatal("Done not closed for a future completed before Done was called")
	}
}

func TestFutureConcurrentCompleters(t *testing.T) {
	checkNoLeak(t)
	const completers, waiters = 16, 16
	f := NewFuture[int]()
	var calls atomic.Int32
	f.OnComplete(func(int, error) { calls.Add(1) })

	var wg sync.WaitGroup
	results := make(chan int, waiters)
	for range waiters {
		wg.Go(func() {
			v, err := f.Wait(context.Background())
			assert.NoError(t, err)
			results <- v
		})
	}
	var wins atomic.Int32
	var winner atomic.Int64
	start := make(chan struct{})
	for i := range completers {
		wg.Go(func() {
			<-start
			if f.Complete(i, nil) {
				wins.Add(1)
				winner.Store(int64(i))
			}
			f.OnComplete(func(int, error) {})
			_ = f.Done()
		})
	}
	close(start)
	wg.Wait()
	close(results)

	require.EqualValues(t, 1, wins.Load())
	require.EqualValues(t, 1, calls.Load())
	for v := range results {
		require.EqualValues(t, winner.Load(), v)
	}
}

func TestFutureAllocs(t *testing.T) {
	allocs := testing.AllocsPerRun(1000, func() {
		f := NewFuture[uint64]()
		f.Complete(1, nil)
		if _, _, ok := f.Result(); !ok {
			panic("not completed")
		}
	})
	require.LessOrEqual(t, allocs, 1.0)
}
