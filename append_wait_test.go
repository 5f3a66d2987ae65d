package raftlog

import (
	"context"
	"sync"
	"testing"

	"github.com/raftlog/raftlog/pipeline"
	"github.com/stretchr/testify/require"
)

// TestAppendWait: on an idle log the batch is written and synced on the
// caller's goroutine (counted in AppendsOnCaller), is durable when the call
// returns and survives a reopen; empty and rejected calls behave as Append
// followed by Wait.
func TestAppendWait(t *testing.T) {
	tests := []struct {
		name       string
		batches    [][2]uint64 // [first, last] index of each call, in order
		wantErr    error       // of the last call
		wantLast   uint64      // its result
		wantCaller uint64      // AppendsOnCaller after all calls
	}{
		{"one entry", [][2]uint64{{1, 1}}, nil, 1, 1},
		{"batches one after another", [][2]uint64{{1, 5}, {6, 6}, {7, 70}}, nil, 70, 3},
		{"empty call", [][2]uint64{{1, 3}, {4, 3}}, nil, 3, 1},
		{"out of order", [][2]uint64{{1, 3}, {5, 5}}, ErrOutOfOrder, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, Options{})
			ctx := context.Background()
			var last uint64
			var err error
			for _, b := range tt.batches {
				var es []Entry
				for i := b[0]; i <= b[1]; i++ {
					es = append(es, entryFor(i, 1, 300))
				}
				last, err = l.AppendWait(ctx, es)
			}
			require.ErrorIs(t, err, tt.wantErr)
			require.Equal(t, tt.wantLast, last)
			require.Equal(t, tt.wantCaller, l.Metrics().AppendsOnCaller)
			end := l.LastIndex()
			require.Equal(t, end, l.DurableIndex(), "AppendWait returned before its batch was durable")
			require.NoError(t, l.Close())

			l = openLog(t, dir, Options{})
			defer l.Close()
			require.Equal(t, end, l.LastIndex())
			for i := uint64(1); i <= end; i++ {
				checkEntry(t, l, i, 1, 300)
			}
		})
	}
}

// TestAppendWaitConcurrent has goroutines mixing AppendWait and Append with
// Wait: batches written on a caller's goroutine and batches queued behind
// them must come out in index order and all be durable, whoever wrote them.
func TestAppendWaitConcurrent(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Options{})
	const goroutines, perGoroutine = 8, 200
	var mu sync.Mutex // orders index assignment with the call, as a Raft node does
	var wg sync.WaitGroup
	errs := make([]error, goroutines) // each goroutine's first error
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perGoroutine {
				mu.Lock()
				es := []Entry{entryFor(l.LastIndex()+1, 1, 200)}
				var fut *pipeline.Future[uint64]
				if g%2 == 0 {
					// AppendWait's two steps, the first under mu so that the
					// index is assigned in call order: append (claiming the
					// writer if it is idle), then the claimed write after mu
					// is released, while the others append.
					f, claimed, ok := l.append(es, true)
					mu.Unlock()
					if ok {
						_ = claimed.WriteSync()
					}
					fut = f
				} else {
					fut = l.Append(es)
					mu.Unlock()
				}
				if _, errs[g] = fut.Wait(context.Background()); errs[g] != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	for g, err := range errs {
		require.NoError(t, err, "goroutine %d", g)
	}
	end := l.LastIndex()
	require.Equal(t, uint64(goroutines*perGoroutine), end)
	require.Equal(t, end, l.DurableIndex())
	require.NoError(t, l.Close())
	l = openLog(t, dir, Options{})
	defer l.Close()
	for i := uint64(1); i <= end; i++ {
		checkEntry(t, l, i, 1, 200)
	}
}
