package pipeline

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStageHandlesAllInOrder(t *testing.T) {
	checkNoLeak(t)
	tests := []struct {
		name               string
		capacity, maxBatch int
	}{
		{"unit", 1, 1},
		{"small batches", 64, 3},
		{"large batches", 16, 1000},
		{"bad sizes become one", 0, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int
			s := NewStage(tt.capacity, tt.maxBatch, func(batch []int) {
				assert.NotEmpty(t, batch)
				assert.LessOrEqual(t, len(batch), max(tt.maxBatch, 1))
				got = append(got, batch...)
			})
			const n = 1000
			for i := range n {
				require.NoError(t, s.Submit(i))
			}
			s.Close()
			want := make([]int, n)
			for i := range want {
				want[i] = i
			}
			require.Equal(t, want, got)
		})
	}
}

// gatedStage returns a stage whose handle reports every batch on batches
// and then waits on gate, so a test can hold the goroutine inside handle.
func gatedStage(t *testing.T, capacity, maxBatch int) (s *Stage[int], batches chan []int, gate chan struct{}) {
	batches = make(chan []int, 100)
	gate = make(chan struct{})
	s = NewStage(capacity, maxBatch, func(batch []int) {
		batches <- slices.Clone(batch)
		<-gate
	})
	return s, batches, gate
}

func TestStageBatchesWhatQueuedUp(t *testing.T) {
	checkNoLeak(t)
	s, batches, gate := gatedStage(t, 16, 5)
	require.NoError(t, s.Submit(0))
	require.Equal(t, []int{0}, <-batches) // the goroutine is now inside handle

	for i := 1; i <= 8; i++ {
		require.NoError(t, s.Submit(i))
	}
	require.Equal(t, 8, s.Len())

	close(gate) // let every handle call through from now on
	require.Equal(t, []int{1, 2, 3, 4, 5}, <-batches)
	require.Equal(t, []int{6, 7, 8}, <-batches)
	s.Close()
	require.Zero(t, s.Len())
}

func TestStageTrySubmitWhenFull(t *testing.T) {
	checkNoLeak(t)
	s, batches, gate := gatedStage(t, 2, 10)
	require.NoError(t, s.Submit(0))
	<-batches

	for i := 1; i <= 2; i++ {
		ok, err := s.TrySubmit(i)
		require.NoError(t, err)
		require.True(t, ok)
	}
	ok, err := s.TrySubmit(3)
	require.NoError(t, err)
	require.False(t, ok, "TrySubmit accepted a value into a full queue")
	require.Equal(t, 2, s.Len())

	close(gate)
	require.Equal(t, []int{1, 2}, <-batches)
	s.Close()
	ok, err = s.TrySubmit(4)
	require.ErrorIs(t, err, ErrStageClosed)
	require.False(t, ok)
}

func TestStageCloseWakesBlockedSubmit(t *testing.T) {
	checkNoLeak(t)
	s, batches, gate := gatedStage(t, 1, 10)
	require.NoError(t, s.Submit(0))
	<-batches
	require.NoError(t, s.Submit(1)) // fills the queue

	blocked := make(chan error)
	go func() { blocked <- s.Submit(2) }()
	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	// Close must wake the blocked submitter even though the goroutine is
	// still held inside handle.
	require.ErrorIs(t, <-blocked, ErrStageClosed)
	select {
	case <-closed:
		t.Fatal("Close returned while handle was still running")
	default:
	}
	close(gate)
	<-closed
	// The value accepted before Close was still handled.
	require.Equal(t, []int{1}, <-batches)
}

func TestStageCloseIdempotent(t *testing.T) {
	checkNoLeak(t)
	var handled atomic.Int32
	s := NewStage(4, 4, func(b []int) { handled.Add(int32(len(b))) })
	require.NoError(t, s.Submit(1))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(s.Close)
	}
	wg.Wait()
	s.Close()
	require.EqualValues(t, 1, handled.Load())
	require.ErrorIs(t, s.Submit(2), ErrStageClosed)
}

// TestStageConcurrentSubmitAndClose checks, under -race, that Close racing
// with many submitters neither panics (send on closed channel) nor loses a
// value that Submit accepted.
func TestStageConcurrentSubmitAndClose(t *testing.T) {
	checkNoLeak(t)
	for range 20 {
		var handled atomic.Int64
		s := NewStage(4, 8, func(b []int) { handled.Add(int64(len(b))) })
		var accepted atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 8 {
			wg.Go(func() {
				<-start
				for i := range 200 {
					if err := s.Submit(i); err != nil {
						assert.ErrorIs(t, err, ErrStageClosed)
						return
					}
					accepted.Add(1)
				}
			})
		}
		close(start)
		s.Close()
		wg.Wait()
		require.Equal(t, accepted.Load(), handled.Load())
	}
}
