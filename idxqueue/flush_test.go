package idxqueue

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/vfs"
)

// requireNoFlush checks that nothing is persisted within a short window.
// It proves an absence, so it has to give the flush goroutine some time.
func requireNoFlush(t *testing.T, q *Queue, want uint64) {
	t.Helper()
	select {
	case <-time.After(20 * time.Millisecond):
	case <-q.done:
	}
	require.Equal(t, want, q.PersistedIndex(), "no flush expected")
}

func TestFlushTriggers(t *testing.T) {
	tests := []struct {
		name string
		opts func(*Options)
		run  func(t *testing.T, q *Queue, plog *persistedLog)
	}{
		{"threshold", func(o *Options) { o.MaxPending, o.FlushThreshold = 64, 10 }, func(t *testing.T, q *Queue, plog *persistedLog) {
			putN(t, q, 1, 20)
			q.Durable(9)
			requireNoFlush(t, q, 0)
			q.Durable(10)
			plog.waitFor(t, 10)
		}},
		{"half full on Durable", func(o *Options) { o.MaxPending, o.FlushThreshold = 64, 64 }, func(t *testing.T, q *Queue, plog *persistedLog) {
			putN(t, q, 1, 33)
			requireNoFlush(t, q, 0)
			q.Durable(1)
			plog.waitFor(t, 1)
		}},
		{"half full on Put", func(o *Options) { o.MaxPending, o.FlushThreshold = 64, 64 }, func(t *testing.T, q *Queue, plog *persistedLog) {
			putN(t, q, 1, 20)
			q.Durable(3)
			requireNoFlush(t, q, 0)
			putN(t, q, 21, 33)
			plog.waitFor(t, 3)
		}},
		{"interval", func(o *Options) { o.FlushInterval = time.Millisecond }, func(t *testing.T, q *Queue, plog *persistedLog) {
			putN(t, q, 1, 3)
			q.Durable(2)
			plog.waitFor(t, 2)
			q.Durable(3)
			plog.waitFor(t, 3)
		}},
		{"close", nil, func(t *testing.T, q *Queue, plog *persistedLog) {
			putN(t, q, 1, 9)
			q.Durable(7)
			requireNoFlush(t, q, 0)
			require.NoError(t, q.Close())
			require.Equal(t, []uint64{7}, plog.calls())
		}},
		{"durable beyond last put", nil, func(t *testing.T, q *Queue, plog *persistedLog) {
			putN(t, q, 1, 5)
			q.Durable(100)
			require.NoError(t, q.Close())
			require.Equal(t, []uint64{5}, plog.calls())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noLeak(t)
			opts := testOpts(vfs.NewMem())
			if tt.opts != nil {
				tt.opts(&opts)
			}
			q, plog := openStarted(t, &opts)
			tt.run(t, q, plog)
			require.NoError(t, q.Close())
			for i := uint64(1); i <= q.PersistedIndex(); i++ {
				_, err := q.Position(i)
				require.ErrorIs(t, err, ErrClosed)
			}
		})
	}
}

func putN(t *testing.T, q *Queue, from, to uint64) {
	t.Helper()
	for i := from; i <= to; i++ {
		require.NoError(t, q.Put(i, pos(i)))
	}
}

// opRecorder records the operations on final index files (not temporaries).
type opRecorder struct {
	mu  sync.Mutex
	ops []string
}

func (r *opRecorder) MaybeError(op vfs.Op, name string) error {
	if strings.HasSuffix(name, fileSuffix) && (op == vfs.OpWrite || op == vfs.OpSync) {
		r.mu.Lock()
		r.ops = append(r.ops, op.String()+" "+name[strings.LastIndexByte(name, '/')+1:])
		r.mu.Unlock()
	}
	return nil
}

func TestFlushOneWritePerRunPerFile(t *testing.T) {
	noLeak(t)
	rec := &opRecorder{}
	opts := testOpts(vfs.NewErrorFS(vfs.NewMem(), rec))
	q, err := Open(opts)
	require.NoError(t, err)
	require.NoError(t, q.Start(0))
	putN(t, q, 1, 20)
	q.Durable(20)
	require.NoError(t, q.Close()) // the only flush: no trigger fires before
	require.Equal(t, []string{
		"write " + fileName(0), "write " + fileName(8), "write " + fileName(16),
		"sync " + fileName(0), "sync " + fileName(8), "sync " + fileName(16),
	}, rec.ops)
}

// readCrashed opens the durable state of mem and checks the positions of
// [from, to] in its index files.
func checkCrashed(t *testing.T, mem *vfs.MemFS, from, to uint64) error {
	crashed := mem.Crash()
	opts := testOpts(crashed)
	q, err := Open(opts)
	if err != nil {
		return err
	}
	defer q.Close()
	for i := from; i <= to; i++ {
		v, err := q.Position(i)
		if err != nil {
			return err
		}
		if v != pos(i) {
			return errors.New("wrong position after crash")
		}
	}
	return nil
}

// TestOnPersistedOnlyAfterSync crashes the file system inside every
// OnPersisted call and checks that the reported positions survived.
func TestOnPersistedOnlyAfterSync(t *testing.T) {
	noLeak(t)
	const n = 3000
	mem := vfs.NewMem()
	opts := testOpts(mem)
	opts.MaxPending, opts.FlushThreshold = 64, 8
	var last uint64 // only the flush goroutine touches it
	var checkErr error
	opts.OnPersisted = func(index uint64) error {
		if index <= last {
			checkErr = errors.Join(checkErr, errors.New("OnPersisted went down"))
		}
		// Check the new range and the start; the earlier ranges were
		// checked by earlier calls and nothing rewrites them.
		checkErr = errors.Join(checkErr, checkCrashed(t, mem, last+1, index), checkCrashed(t, mem, 1, 1))
		last = index
		return nil
	}
	q, err := Open(opts)
	require.NoError(t, err)
	require.NoError(t, q.Start(0))
	durable := make(chan uint64, 16)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range durable {
			q.Durable(i)
		}
	})
	for i := uint64(1); i <= n; i++ {
		for q.Put(i, pos(i)) != nil {
			require.NoError(t, q.WaitRoom(1))
		}
		if i%7 == 0 || i == n {
			durable <- i
		}
	}
	close(durable)
	wg.Wait()
	require.NoError(t, q.Close())
	require.NoError(t, checkErr)
	require.Equal(t, uint64(n), last)
	require.NoError(t, checkCrashed(t, mem, 1, n))
}

func TestSyncErrorIsSticky(t *testing.T) {
	noLeak(t)
	mem := vfs.NewMem()
	var armed atomic.Bool
	inj := vfs.InjectorFunc(func(op vfs.Op, name string) error {
		if armed.Load() && op == vfs.OpSync && strings.HasSuffix(name, fileSuffix) {
			return vfs.ErrInjected
		}
		return nil
	})
	opts := testOpts(vfs.NewErrorFS(mem, inj))
	opts.MaxPending, opts.FlushThreshold = 64, 10
	plog := newPersistedLog()
	plog.hook(&opts)
	var onErr []error
	var onErrMu sync.Mutex
	gotErr := make(chan struct{})
	opts.OnError = func(err error) {
		onErrMu.Lock()
		defer onErrMu.Unlock()
		onErr = append(onErr, err)
		if len(onErr) == 1 {
			close(gotErr)
		}
	}
	q, err := Open(opts)
	require.NoError(t, err)
	require.NoError(t, q.Start(0))
	putN(t, q, 1, 30)
	q.Durable(10)
	plog.waitFor(t, 10)

	armed.Store(true)
	q.Durable(20)
	recv(t, gotErr)
	require.ErrorIs(t, q.Put(31, pos(31)), vfs.ErrInjected)
	require.ErrorIs(t, q.WaitRoom(1), vfs.ErrInjected)
	q.Durable(30) // no effect on a failed queue
	require.Equal(t, uint64(10), q.PersistedIndex())
	v, err := q.Position(15) // still held in memory
	require.NoError(t, err)
	require.Equal(t, pos(15), v)
	_, err = q.Position(25)
	require.NoError(t, err)

	err = q.Close()
	require.ErrorIs(t, err, vfs.ErrInjected)
	require.ErrorContains(t, err, "sync")
	require.ErrorIs(t, q.Close(), vfs.ErrInjected, "Close keeps returning the error")
	require.Equal(t, []uint64{10}, plog.calls(), "the failed flush reports nothing")
	onErrMu.Lock()
	require.Len(t, onErr, 1)
	onErrMu.Unlock()
	require.NoError(t, checkCrashed(t, mem, 1, 10))
}

func TestOnPersistedErrorIsSticky(t *testing.T) {
	noLeak(t)
	opts := testOpts(vfs.NewMem())
	opts.MaxPending, opts.FlushThreshold = 64, 4
	statusErr := errors.New("status file full")
	var calls atomic.Int32
	opts.OnPersisted = func(uint64) error {
		if calls.Add(1) == 2 {
			return statusErr
		}
		return nil
	}
	errCh := make(chan error, 2)
	opts.OnError = func(err error) { errCh <- err }
	flushed := make(chan struct{}, 1)
	opts.OnFlush = func(int, int64) { flushed <- struct{}{} }
	q, err := Open(opts)
	require.NoError(t, err)
	require.NoError(t, q.Start(0))
	putN(t, q, 1, 8)
	q.Durable(4)
	recv(t, flushed)
	q.Durable(8)
	err = recv(t, errCh)
	require.ErrorIs(t, err, statusErr)
	require.Equal(t, uint64(4), q.PersistedIndex())
	v, err := q.Position(6) // still held in memory
	require.NoError(t, err)
	require.Equal(t, pos(6), v)
	require.ErrorIs(t, q.Put(9, 1), statusErr)
	require.ErrorIs(t, q.Close(), statusErr)
	require.Empty(t, errCh, "OnError is called once")
}

// TestFailAtEveryOp fails the k-th file-system operation of a workload for
// every k, then crashes, and checks that the error was reported and that
// every index OnPersisted reported is intact after the crash.
func TestFailAtEveryOp(t *testing.T) {
	noLeak(t)
	const n = 60
	for k := int64(0); ; k++ {
		mem := vfs.NewMem()
		inj := vfs.OnIndex(k)
		opts := testOpts(vfs.NewErrorFS(mem, inj))
		opts.MaxPending, opts.FlushThreshold = 16, 4
		var last atomic.Uint64
		opts.OnPersisted = func(i uint64) error { last.Store(i); return nil }
		var onErrs atomic.Int32
		opts.OnError = func(error) { onErrs.Add(1) }

		reported := runWorkload(opts, n)
		if !inj.Fired() {
			require.NoError(t, reported)
			require.Equal(t, uint64(n), last.Load())
			require.Greater(t, k, int64(20), "the workload must do some I/O")
			return
		}
		require.ErrorIs(t, reported, vfs.ErrInjected, "k=%d", k)
		require.LessOrEqual(t, onErrs.Load(), int32(1), "k=%d", k)
		require.NoError(t, checkCrashed(t, mem, 1, last.Load()), "k=%d persisted=%d", k, last.Load())
	}
}

// runWorkload opens a queue, puts n positions, reports them durable in
// steps and closes it; it returns the first error any call returned.
func runWorkload(opts Options, n uint64) error {
	q, err := Open(opts)
	if err != nil {
		return err
	}
	err = q.Start(0)
	for i := uint64(1); i <= n && err == nil; i++ {
		for {
			if err = q.Put(i, pos(i)); !errors.Is(err, ErrFull) {
				break
			}
			if err = q.WaitRoom(1); err != nil {
				break
			}
		}
		if i%3 == 0 {
			q.Durable(i)
		}
	}
	q.Durable(n)
	return errors.Join(err, q.Close())
}
