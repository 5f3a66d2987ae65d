package idxqueue

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/vfs"
)

// pos2 is the position the tests store for index i the second time, after
// a truncation: different from pos(i) for every i.
func pos2(i uint64) int64 { return int64(i)*1000 + 777 }

// requirePositions checks Position(i) == want(i) for i in [from, to].
func requirePositions(t *testing.T, q *Queue, from, to uint64, want func(uint64) int64) {
	t.Helper()
	for i := from; i <= to; i++ {
		v, err := q.Position(i)
		require.NoError(t, err, "index %d", i)
		require.Equal(t, want(i), v, "index %d", i)
	}
}

// requireNotFound checks that Position(i) fails with ErrNotFound for i in
// [from, to].
func requireNotFound(t *testing.T, q *Queue, from, to uint64) {
	t.Helper()
	for i := from; i <= to; i++ {
		_, err := q.Position(i)
		require.ErrorIs(t, err, ErrNotFound, "index %d", i)
	}
}

// flushOpts flush on every Durable call.
func flushOpts(fs vfs.FS) Options {
	opts := testOpts(fs)
	opts.FlushThreshold = 1
	return opts
}

// TestTruncateTail puts 1..30 (files of 8), persists 1..20, truncates, puts
// the cut-off indexes again with other positions, persists them, and reads
// them back before and after a reopen.
func TestTruncateTail(t *testing.T) {
	tests := []struct {
		name          string
		index         uint64
		wantPersisted uint64
		next          uint64 // where Put continues
	}{
		{"in the map inside a file", 27, 20, 27},
		{"in the map at a file boundary", 24, 20, 24},
		{"just above persisted", 21, 20, 21},
		{"below persisted inside a file", 13, 12, 13},
		{"below persisted at a file boundary", 16, 15, 16},
		{"to the first index", 1, 0, 1},
		{"at the next Put: nothing", 31, 20, 31},
		{"above the next Put: nothing", 40, 20, 31},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noLeak(t)
			mem := vfs.NewMem()
			opts := flushOpts(mem)
			q, plog := openStarted(t, &opts)
			putN(t, q, 1, 30)
			q.Durable(20)
			plog.waitFor(t, 20)

			p, err := q.TruncateTail(tt.index)
			require.NoError(t, err)
			require.Equal(t, tt.wantPersisted, p)
			require.Equal(t, tt.wantPersisted, q.PersistedIndex())
			requirePositions(t, q, 1, tt.next-1, pos)
			requireNotFound(t, q, tt.next, 35)
			if tt.index <= 20 {
				// The files still hold the old positions: Position must
				// not have served them.
				v, err := q.files.read(tt.index)
				require.NoError(t, err)
				require.Equal(t, pos(tt.index), v, "stale slot expected in the file")
			}

			if tt.next > 1 {
				require.ErrorIs(t, q.Put(tt.next-1, 1), ErrNotConsecutive)
			}
			require.ErrorIs(t, q.Put(tt.next+1, 1), ErrNotConsecutive)
			for i := tt.next; i <= 40; i++ {
				require.NoError(t, q.Put(i, pos2(i)))
			}
			requirePositions(t, q, tt.next, 40, pos2)
			q.Durable(40)
			plog.waitFor(t, 40)
			want := func(i uint64) int64 {
				if i < tt.next {
					return pos(i)
				}
				return pos2(i)
			}
			requirePositions(t, q, 1, 40, want)
			require.Equal(t, uint64(40), plog.calls()[len(plog.calls())-1])
			require.NoError(t, q.Close())

			q, err = Open(opts)
			require.NoError(t, err)
			requirePositions(t, q, 1, 40, want) // before Start: from the files
			require.NoError(t, q.Start(40))
			requirePositions(t, q, 1, 40, want)
			require.NoError(t, q.Put(41, pos(41)))
			require.NoError(t, q.Close())
		})
	}
}

// TestTruncateTailEmptyMap truncates with every position flushed: Put then
// continues at persisted+1 of the lowered persisted index.
func TestTruncateTailEmptyMap(t *testing.T) {
	noLeak(t)
	opts := flushOpts(vfs.NewMem())
	q, plog := openStarted(t, &opts)
	putN(t, q, 1, 12)
	q.Durable(12)
	plog.waitFor(t, 12)
	require.Zero(t, mapLen(q))
	p, err := q.TruncateTail(5)
	require.NoError(t, err)
	require.Equal(t, uint64(4), p)
	requireNotFound(t, q, 5, 12)
	require.ErrorIs(t, q.Put(13, 1), ErrNotConsecutive)
	require.NoError(t, q.Put(5, pos2(5)))
	q.Durable(5)
	plog.waitFor(t, 5)
	requirePositions(t, q, 5, 5, pos2)
	require.NoError(t, q.Close())
	require.Equal(t, []uint64{12, 5}, plog.calls())
}

// blockingSync returns an injector that, once armed, blocks the sync of a
// final index file until release is closed, after sending on entered.
func blockingSync() (inj vfs.InjectorFunc, armed *atomic.Bool, entered chan struct{}, release chan struct{}) {
	armed = &atomic.Bool{}
	entered = make(chan struct{}, 1)
	release = make(chan struct{})
	inj = func(op vfs.Op, name string) error {
		if op == vfs.OpSync && strings.HasSuffix(name, fileSuffix) && armed.CompareAndSwap(true, false) {
			entered <- struct{}{}
			<-release
		}
		return nil
	}
	return inj, armed, entered, release
}

// TestTruncateTailWaitsForFlush truncates while a flush of 1..20 is blocked
// in its sync: TruncateTail returns only after that flush's OnPersisted,
// and nothing after it reports an index at or above the truncation point,
// not even the positions put again, which are not durable yet.
func TestTruncateTailWaitsForFlush(t *testing.T) {
	noLeak(t)
	inj, armed, entered, release := blockingSync()
	opts := flushOpts(vfs.NewErrorFS(vfs.NewMem(), inj))
	var mu sync.Mutex
	var events []string
	var truncated atomic.Bool
	var lateReports []uint64
	opts.OnPersisted = func(i uint64) error {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, "persisted")
		if truncated.Load() && i >= 10 {
			lateReports = append(lateReports, i)
		}
		return nil
	}
	q, err := Open(opts)
	require.NoError(t, err)
	require.NoError(t, q.Start(0))
	putN(t, q, 1, 30)
	armed.Store(true)
	q.Durable(20)
	recv(t, entered) // the flush of (0, 20] is in its sync

	done := make(chan uint64, 1)
	go func() {
		p, err := q.TruncateTail(10)
		if err != nil {
			t.Errorf("TruncateTail: %v", err)
		}
		truncated.Store(true)
		mu.Lock()
		events = append(events, "truncated")
		mu.Unlock()
		done <- p
	}()
	// Proving an absence needs a window: TruncateTail must not return
	// while the flush is blocked.
	select {
	case <-done:
		t.Fatal("TruncateTail returned during a flush")
	case <-time.After(20 * time.Millisecond):
	}
	v, err := q.Position(25) // reads do not wait for the flush
	require.NoError(t, err)
	require.Equal(t, pos(25), v)
	close(release)
	require.Equal(t, uint64(9), recv(t, done))
	mu.Lock()
	require.Equal(t, []string{"persisted", "truncated"}, events)
	mu.Unlock()

	requireNotFound(t, q, 10, 30) // the files hold 10..20 from the flush
	v, err = q.files.read(15)
	require.NoError(t, err)
	require.Equal(t, pos(15), v, "stale slot expected in the file")
	putN(t, q, 10, 15) // not reported durable: Close must not persist them
	require.NoError(t, q.Close())
	mu.Lock()
	require.Empty(t, lateReports)
	require.Equal(t, []string{"persisted", "truncated"}, events)
	mu.Unlock()
}

// TestTailOpsStateErrors checks the errors of TruncateTail, CompactTo and
// Reset on a queue that cannot take them.
func TestTailOpsStateErrors(t *testing.T) {
	noLeak(t)
	mem := vfs.NewMem()
	failing := func() *Queue {
		opts := flushOpts(vfs.NewErrorFS(mem, vfs.InjectorFunc(func(op vfs.Op, name string) error {
			if op == vfs.OpSync && strings.HasSuffix(name, fileSuffix) {
				return vfs.ErrInjected
			}
			return nil
		})))
		opts.Dir = "failing"
		errCh := make(chan error, 1)
		opts.OnError = func(err error) { errCh <- err }
		q, err := Open(opts)
		require.NoError(t, err)
		require.NoError(t, q.Start(0))
		require.NoError(t, q.Put(1, 1))
		q.Durable(1)
		recv(t, errCh)
		return q
	}
	tests := []struct {
		name string
		open func() *Queue
		want error
	}{
		{"not started", func() *Queue {
			q, err := Open(testOpts(mem))
			require.NoError(t, err)
			return q
		}, ErrNotStarted},
		{"closed", func() *Queue {
			q, err := Open(testOpts(mem))
			require.NoError(t, err)
			require.NoError(t, q.Start(0))
			require.NoError(t, q.Close())
			return q
		}, ErrClosed},
		{"read-only", func() *Queue {
			opts := testOpts(mem)
			opts.ReadOnly = true
			q, err := Open(opts)
			require.NoError(t, err)
			return q
		}, ErrReadOnly},
		{"failed", failing, vfs.ErrInjected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.open()
			_, err := q.TruncateTail(1)
			require.ErrorIs(t, err, tt.want)
			_, err, _ = q.CompactTo(1).Result()
			require.ErrorIs(t, err, tt.want)
			_, err, _ = q.Reset(5).Result()
			require.ErrorIs(t, err, tt.want)
			_ = q.Close()
		})
	}
}

// TestTruncateTailBelowFirst is refused with ErrCompacted and changes
// nothing.
func TestTruncateTailBelowFirst(t *testing.T) {
	noLeak(t)
	q, err := Open(testOpts(vfs.NewMem()))
	require.NoError(t, err)
	require.NoError(t, q.Start(0))
	_, err = q.TruncateTail(0)
	require.ErrorIs(t, err, ErrCompacted)
	putN(t, q, 1, 20)
	_, err = q.CompactTo(10).Wait(t.Context())
	require.NoError(t, err)
	_, err = q.TruncateTail(9)
	require.ErrorIs(t, err, ErrCompacted)
	requirePositions(t, q, 10, 20, pos)
	p, err := q.TruncateTail(10) // to the first index: allowed
	require.NoError(t, err)
	require.Equal(t, uint64(9), p)
	require.NoError(t, q.Put(10, pos2(10)))
	require.NoError(t, q.Close())
}
