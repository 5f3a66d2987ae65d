package idxqueue

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/vfs"
)

// noLeak fails the test if goroutines started during it are still running
// once it and its cleanups are done.
func noLeak(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Fatalf("goroutine leak: %d > %d\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
			}
			runtime.Gosched()
		}
	})
}

// recv returns the next value from ch, failing the test instead of hanging
// if none comes.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting on a channel")
		panic("unreachable")
	}
}

// pos is the position the tests store for index i: distinct, and negative
// for some indexes so that sign handling is covered.
func pos(i uint64) int64 {
	if i%5 == 0 {
		return -int64(i) * 7
	}
	return int64(i)*1000 + 3
}

// testOpts are options that never flush on their own: no interval tick, no
// threshold before the map is full.
func testOpts(fs vfs.FS) Options {
	return Options{
		FS: fs, Dir: "idx", ItemsPerFile: 8, MaxPending: 1 << 14,
		FlushThreshold: 1 << 14, FlushInterval: time.Hour,
	}
}

// persistedLog records OnPersisted calls and lets a test wait until a flush
// that reported an index has finished (OnFlush runs after the map is
// trimmed and PersistedIndex published).
type persistedLog struct {
	mu        sync.Mutex
	got       []uint64
	flushedTo uint64
	cond      chan struct{} // closed and replaced on every OnFlush
}

func newPersistedLog() *persistedLog { return &persistedLog{cond: make(chan struct{})} }

// hook sets OnPersisted and OnFlush in opts.
func (l *persistedLog) hook(opts *Options) {
	opts.OnPersisted = l.record
	opts.OnFlush = l.flushed
}

func (l *persistedLog) record(index uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, index)
	return nil
}

func (l *persistedLog) flushed(int, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushedTo = l.got[len(l.got)-1]
	close(l.cond)
	l.cond = make(chan struct{})
}

func (l *persistedLog) calls() []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]uint64(nil), l.got...)
}

// waitFor blocks until OnPersisted has reported at least index.
func (l *persistedLog) waitFor(t *testing.T, index uint64) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		ch := l.cond
		done := l.flushedTo >= index
		l.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("OnPersisted(%d) not called; calls: %v", index, l.calls())
		}
	}
}

// openStarted hooks *opts to a new persistedLog (so that a reopen with
// them reports to it too), opens a queue with them and starts it at index 0.
func openStarted(t *testing.T, opts *Options) (*Queue, *persistedLog) {
	t.Helper()
	plog := newPersistedLog()
	plog.hook(opts)
	q, err := Open(*opts)
	require.NoError(t, err)
	require.NoError(t, q.Start(0))
	return q, plog
}

func mapLen(q *Queue) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.m.Len()
}

func TestQueueRoundTrip(t *testing.T) {
	noLeak(t)
	const n = 10000
	mem := vfs.NewMem()
	plog := newPersistedLog()
	opts := testOpts(mem)
	plog.hook(&opts)
	q, err := Open(opts)
	require.NoError(t, err)
	require.NoError(t, q.Start(0))
	for i := uint64(1); i <= n; i++ {
		require.NoError(t, q.Put(i, pos(i)))
	}
	require.Zero(t, q.PersistedIndex())
	for i := uint64(1); i <= n; i++ { // all from the map
		v, err := q.Position(i)
		require.NoError(t, err)
		require.Equal(t, pos(i), v, "index %d", i)
	}

	q.Durable(n)
	plog.waitFor(t, n)
	require.Equal(t, uint64(n), q.PersistedIndex())
	require.Zero(t, mapLen(q), "flushed positions leave the map")
	for i := uint64(1); i <= n; i++ { // all from the files
		v, err := q.Position(i)
		require.NoError(t, err)
		require.Equal(t, pos(i), v, "index %d", i)
	}
	_, err = q.Position(n + 1)
	require.ErrorIs(t, err, ErrNotFound)
	require.NoError(t, q.Close())
	require.NoError(t, q.Close(), "Close is idempotent")

	q, err = Open(opts)
	require.NoError(t, err)
	for i := uint64(1); i <= n; i++ { // before Start: from the files
		v, err := q.Position(i)
		require.NoError(t, err)
		require.Equal(t, pos(i), v, "index %d", i)
	}
	require.NoError(t, q.Start(n))
	v, err := q.Position(n)
	require.NoError(t, err)
	require.Equal(t, pos(n), v)
	require.ErrorIs(t, q.Put(n+2, 1), ErrNotConsecutive)
	require.NoError(t, q.Put(n+1, pos(n+1)))
	require.NoError(t, q.Close())
}

func TestPositionNotFound(t *testing.T) {
	noLeak(t)
	mem := vfs.NewMem()
	q, err := Open(testOpts(mem))
	require.NoError(t, err)
	_, err = q.Position(0)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = q.Position(3) // before Start, no file
	require.ErrorIs(t, err, ErrNotFound)

	require.NoError(t, q.Start(0))
	_, err = q.Position(3) // the file exists now, but 3 > persisted
	require.ErrorIs(t, err, ErrNotFound)
	require.NoError(t, q.Put(1, 42))
	v, err := q.Position(1)
	require.NoError(t, err)
	require.Equal(t, int64(42), v)
	_, err = q.Position(2)
	require.ErrorIs(t, err, ErrNotFound)

	require.NoError(t, q.Close())
	_, err = q.Position(1)
	require.ErrorIs(t, err, ErrClosed)
}

func TestQueueStateErrors(t *testing.T) {
	noLeak(t)
	mem := vfs.NewMem()
	opts := testOpts(mem)
	opts.MaxPending, opts.FlushThreshold = 8, 8
	q, err := Open(opts)
	require.NoError(t, err)
	require.ErrorIs(t, q.Put(1, 1), ErrNotStarted)
	require.ErrorIs(t, q.WaitRoom(1), ErrNotStarted)
	q.Durable(5) // ignored until there is something to flush

	require.NoError(t, q.Start(0))
	require.ErrorIs(t, q.Start(0), ErrAlreadyStarted)
	require.ErrorIs(t, q.Put(2, 1), ErrNotConsecutive)
	require.ErrorIs(t, q.Put(0, 1), ErrNotConsecutive)
	for i := uint64(1); i <= 8; i++ {
		require.NoError(t, q.Put(i, pos(i)))
	}
	require.ErrorIs(t, q.Put(9, 1), ErrFull)
	require.ErrorIs(t, q.WaitRoom(9), ErrFull, "more than MaxPending never fits")
	require.NoError(t, q.WaitRoom(0))

	require.NoError(t, q.Close())
	require.ErrorIs(t, q.Put(9, 1), ErrClosed)
	require.ErrorIs(t, q.WaitRoom(1), ErrClosed)
	require.ErrorIs(t, q.Start(0), ErrClosed)

	_, err = Open(Options{FS: mem})
	require.ErrorIs(t, err, ErrInvalidOptions)
}

func TestCloseBeforeStart(t *testing.T) {
	noLeak(t)
	mem := vfs.NewMem()
	q, err := Open(testOpts(mem))
	require.NoError(t, err)
	require.NoError(t, q.Close())
	require.ErrorIs(t, q.Start(0), ErrClosed)
}

func TestOpenCorrupt(t *testing.T) {
	mem := vfs.NewMem()
	require.NoError(t, mem.MkdirAll("idx"))
	f, err := mem.Create("idx/00000000000000000008.idx")
	require.NoError(t, err)
	require.NoError(t, f.Truncate(10))
	require.NoError(t, f.Close())
	_, err = Open(testOpts(mem))
	require.ErrorIs(t, err, ErrCorrupt)
}

func TestWaitRoom(t *testing.T) {
	noLeak(t)
	mem := vfs.NewMem()
	opts := testOpts(mem)
	// Nothing would flush on its own: only a WaitRoom waiter can get the
	// flush goroutine to flush the few durable entries at once.
	opts.MaxPending, opts.FlushThreshold = 16, 16
	var blocked atomic.Int64
	opts.OnRoomWait = func(int64) { blocked.Add(1) }
	q, err := Open(opts)
	require.NoError(t, err)
	require.NoError(t, q.Start(0))
	require.NoError(t, q.WaitRoom(16), "room at once")
	require.Zero(t, blocked.Load(), "a WaitRoom that found room did not block")
	for i := uint64(1); i <= 16; i++ {
		require.NoError(t, q.Put(i, pos(i)))
	}
	require.ErrorIs(t, q.Put(17, pos(17)), ErrFull)

	got := make(chan error, 1)
	go func() { got <- q.WaitRoom(2) }()
	select {
	case err := <-got:
		t.Fatalf("WaitRoom returned %v while the map was full and nothing durable", err)
	case <-time.After(20 * time.Millisecond):
	}
	q.Durable(1)
	select {
	case err := <-got:
		t.Fatalf("WaitRoom(2) returned %v with one slot free", err)
	case <-time.After(20 * time.Millisecond):
	}
	q.Durable(2)
	require.NoError(t, recv(t, got))
	require.Equal(t, int64(1), blocked.Load(), "the blocked WaitRoom is reported once")
	require.Equal(t, uint64(2), q.PersistedIndex())
	require.NoError(t, q.Put(17, pos(17)))
	require.NoError(t, q.Put(18, pos(18)))
	require.ErrorIs(t, q.Put(19, pos(19)), ErrFull)

	// Close wakes a waiter.
	go func() { got <- q.WaitRoom(1) }()
	require.NoError(t, q.Close())
	require.ErrorIs(t, recv(t, got), ErrClosed)
}

// TestWaitRoomKicksFlush checks that a waiter gets room as soon as entries
// become durable, even when neither the threshold nor the half-full mark
// would start a flush and the interval is an hour.
func TestWaitRoomKicksFlush(t *testing.T) {
	noLeak(t)
	mem := vfs.NewMem()
	opts := testOpts(mem)
	opts.MaxPending, opts.FlushThreshold = 16, 16
	q, err := Open(opts)
	require.NoError(t, err)
	require.NoError(t, q.Start(0))
	for i := uint64(1); i <= 4; i++ {
		require.NoError(t, q.Put(i, pos(i)))
	}
	got := make(chan error, 1)
	go func() { got <- q.WaitRoom(13) }()
	select {
	case err := <-got:
		t.Fatalf("WaitRoom(13) returned %v with 12 free", err)
	case <-time.After(20 * time.Millisecond):
	}
	q.Durable(1)
	require.NoError(t, recv(t, got))
	require.Equal(t, uint64(1), q.PersistedIndex())
	require.NoError(t, q.Close())
}

// TestWaitRoomConcurrent checks that back-pressure releases a producer
// that keeps the map full while another goroutine reports durability.
func TestWaitRoomConcurrent(t *testing.T) {
	noLeak(t)
	const n = 5000
	mem := vfs.NewMem()
	opts := testOpts(mem)
	opts.MaxPending, opts.FlushThreshold = 32, 32
	q, plog := openStarted(t, &opts)

	durable := make(chan uint64, 64)
	var wg sync.WaitGroup
	wg.Go(func() { // the force stage
		for i := range durable {
			q.Durable(i)
		}
	})
	for i := uint64(1); i <= n; i++ {
		for {
			err := q.Put(i, pos(i))
			if err == nil {
				break
			}
			require.ErrorIs(t, err, ErrFull)
			require.NoError(t, q.WaitRoom(1))
		}
		if i%3 == 0 || i == n {
			durable <- i
		}
	}
	close(durable)
	wg.Wait()
	// The last few entries may be below every trigger (the interval is an
	// hour): Close flushes them.
	require.NoError(t, q.Close())
	calls := plog.calls()
	require.Equal(t, uint64(n), calls[len(calls)-1])
	q, err := Open(opts)
	require.NoError(t, err)
	for i := uint64(1); i <= n; i++ {
		v, err := q.Position(i)
		require.NoError(t, err)
		require.Equal(t, pos(i), v)
	}
	require.NoError(t, q.Close())
	for i := 1; i < len(calls); i++ {
		require.Less(t, calls[i-1], calls[i], "OnPersisted goes up")
	}
}

func TestPositionConcurrentWithFlush(t *testing.T) {
	noLeak(t)
	const n = 4000
	mem := vfs.NewMem()
	opts := testOpts(mem)
	opts.MaxPending, opts.FlushThreshold = 64, 16
	q, err := Open(opts)
	require.NoError(t, err)
	require.NoError(t, q.Start(0))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readErr error
	var readErrOnce sync.Once
	for r := 0; r < 3; r++ {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				// Every index ≤ the persisted one must be readable, wherever
				// it is at the moment.
				p := q.PersistedIndex()
				if p == 0 {
					runtime.Gosched()
					continue
				}
				for _, i := range []uint64{p, p/2 + 1, 1} {
					if v, err := q.Position(i); err != nil || v != pos(i) {
						readErrOnce.Do(func() { readErr = err; t.Errorf("Position(%d) = %d, %v", i, v, err) })
					}
				}
			}
		})
	}
	for i := uint64(1); i <= n; i++ {
		for q.Put(i, pos(i)) != nil {
			require.NoError(t, q.WaitRoom(1))
		}
		q.Durable(i)
	}
	close(stop)
	wg.Wait()
	require.NoError(t, q.Close())
	require.NoError(t, readErr)
}

// BenchmarkPutDurable measures the appender's side: Put of every index and
// Durable once per batch of 64, with the flush goroutine writing and syncing
// behind it and WaitRoom taken only when the map is full.
func BenchmarkPutDurable(b *testing.B) {
	for _, bc := range []struct {
		name string
		fs   func(b *testing.B) (vfs.FS, string)
	}{
		{"mem", func(*testing.B) (vfs.FS, string) { return vfs.NewMem(), "idx" }},
		{"disk", func(b *testing.B) (vfs.FS, string) { return vfs.Default, b.TempDir() }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			fs, dir := bc.fs(b)
			q, err := Open(Options{FS: fs, Dir: dir, ItemsPerFile: 1 << 16, MaxPending: 1 << 16})
			require.NoError(b, err)
			require.NoError(b, q.Start(0))
			b.SetBytes(slotSize)
			b.ReportAllocs()
			b.ResetTimer()
			for i := uint64(1); i <= uint64(b.N); i++ {
				for {
					err := q.Put(i, int64(i)*64)
					if err == nil {
						break
					}
					if err != ErrFull {
						b.Fatal(err)
					}
					if err := q.WaitRoom(1); err != nil {
						b.Fatal(err)
					}
				}
				if i%64 == 0 {
					q.Durable(i)
				}
			}
			q.Durable(uint64(b.N))
			require.NoError(b, q.Close())
		})
	}
}

// TestPutRun checks that PutRun is Put of each position in order: the run
// must start at the next index, lands whole, and when the map fills inside
// it, the positions before the full point are in and the next Put goes on
// from there.
func TestPutRun(t *testing.T) {
	noLeak(t)
	run := func(first uint64, n int) []int64 {
		ps := make([]int64, n)
		for i := range ps {
			ps[i] = pos(first + uint64(i))
		}
		return ps
	}
	cases := []struct {
		name    string
		first   uint64
		n       int
		err     error
		putThru uint64 // the last index in the map afterwards
	}{
		{"empty run", 4, 0, nil, 3},
		{"whole run", 4, 3, nil, 6},
		{"gap before the run", 5, 3, ErrNotConsecutive, 3},
		{"run overlapping what is in", 3, 3, ErrNotConsecutive, 3},
		{"run that fills the map inside it", 4, 10, ErrFull, 8},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOpts(vfs.NewMem())
			opts.MaxPending, opts.FlushThreshold = 8, 8
			q, err := Open(opts)
			require.NoError(t, err)
			defer q.Close()
			require.NoError(t, q.Start(0))
			require.NoError(t, q.PutRun(1, run(1, 3)))

			err = q.PutRun(tc.first, run(tc.first, tc.n))
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
			} else {
				require.NoError(t, err)
			}
			for i := uint64(1); i <= tc.putThru; i++ {
				v, err := q.Position(i)
				require.NoError(t, err, "index %d", i)
				require.Equal(t, pos(i), v, "index %d", i)
			}
			_, err = q.Position(tc.putThru + 1)
			require.ErrorIs(t, err, ErrNotFound)
			require.ErrorIs(t, q.Put(tc.putThru+2, 1), ErrNotConsecutive, "the next Put follows what is in")
			// putThru+1 is the next index: it goes in, or finds the map
			// full, but is never out of order.
			err = q.Put(tc.putThru+1, pos(tc.putThru+1))
			require.NotErrorIs(t, err, ErrNotConsecutive, "the next Put follows what is in")
		})
	}
}
