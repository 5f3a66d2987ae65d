package chainwriter

import (
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/raftlog/raftlog/vfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingObserver counts what the stages report.
type countingObserver struct {
	writes      atomic.Int64
	wroteBytes  atomic.Int64
	rounds      atomic.Int64
	syncedFiles atomic.Int64
	forcedBytes atomic.Int64
}

func (o *countingObserver) Wrote(bytes int, nanos int64) {
	o.writes.Add(1)
	o.wroteBytes.Add(int64(bytes))
}

func (o *countingObserver) Forced(files int, bytes int64, nanos int64) {
	o.rounds.Add(1)
	o.syncedFiles.Add(int64(files))
	o.forcedBytes.Add(bytes)
}

func TestEnsureDefaults(t *testing.T) {
	tests := []struct {
		in, want Options
	}{
		{Options{}, Options{QueueSize: DefaultQueueSize, MaxWriteSize: DefaultMaxWriteSize}},
		{Options{QueueSize: -1, MaxWriteSize: -1}, Options{QueueSize: DefaultQueueSize, MaxWriteSize: DefaultMaxWriteSize}},
		{Options{QueueSize: 3, MaxWriteSize: 7}, Options{QueueSize: 3, MaxWriteSize: 7}},
	}
	for _, tt := range tests {
		got := tt.in
		got.ensureDefaults()
		require.Equal(t, tt.want, got)
	}
}

// TestWriteErrorSticky fails the write of a batch held behind a blocker:
// every task of it gets OnWritten(err), OnError is called once, later
// Submits fail, and no tag above the last good one is reported.
func TestWriteErrorSticky(t *testing.T) {
	tests := []struct {
		name   string
		inject func(f *fakeFile)
		want   error
	}{
		{"error", func(f *fakeFile) { f.setWriteErr(errInjected) }, errInjected},
		{"short write", func(f *fakeFile) { f.mu.Lock(); f.shortBy = 1; f.mu.Unlock() }, io.ErrShortWrite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkNoLeak(t)
			a := newFakeFile("a")
			rec := &recorder{forcedC: make(chan uint64, 64), errC: make(chan error, 4)}
			w := New(rec.options(Options{}))

			require.NoError(t, w.Submit(Task{File: a, Bufs: [][]byte{pattern(0, 10)}, Tag: 1}))
			waitTag(t, rec.forcedC, 1)
			tt.inject(a)

			gate := holdWriter(t, w)
			var mu sync.Mutex
			var errs []error
			for i := 2; i <= 10; i++ {
				require.NoError(t, w.Submit(Task{
					File: a, Offset: int64(i-1) * 10, Bufs: [][]byte{pattern(i, 10)}, Tag: uint64(i),
					OnWritten: func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() },
				}))
			}
			close(gate)

			err := <-rec.errC
			require.ErrorIs(t, err, tt.want)
			require.Contains(t, err.Error(), "a at offset 10")
			require.ErrorIs(t, w.Submit(Task{File: a, Offset: 100, Bufs: [][]byte{{1}}, Tag: 11}), tt.want)
			require.ErrorIs(t, w.Close(), tt.want)

			require.Len(t, errs, 9, "OnWritten must be called for every task, written or not")
			for _, e := range errs {
				require.ErrorIs(t, e, tt.want)
			}
			require.Len(t, rec.errors(), 1)
			for _, tag := range rec.forcedTags() {
				require.LessOrEqual(t, tag, uint64(1), "tag reported after the write error")
			}
			require.LessOrEqual(t, w.WrittenTag(), uint64(1))
			require.LessOrEqual(t, w.ForcedTag(), uint64(1))
		})
	}
}

// TestTasksBehindFailureNotWritten: once failed, the writer writes nothing
// more, but still calls OnWritten(err) for tasks that were already queued.
func TestTasksBehindFailureNotWritten(t *testing.T) {
	checkNoLeak(t)
	a, b := newFakeFile("a"), newFakeFile("b")
	a.syncEntered = make(chan string, 4)
	a.syncGate = make(chan struct{})
	a.setSyncErr(errInjected)
	rec := &recorder{errC: make(chan error, 4)}
	w := New(rec.options(Options{}))

	require.NoError(t, w.Submit(Task{File: a, Bufs: [][]byte{{1}}, Tag: 1}))
	<-a.syncEntered // the failing sync is held
	gate := holdWriter(t, w)
	var behind []error
	for i := range 5 {
		require.NoError(t, w.Submit(Task{File: b, Offset: int64(i), Bufs: [][]byte{{2}}, Tag: 2,
			OnWritten: func(err error) { behind = append(behind, err) }}))
	}
	close(a.syncGate)
	require.ErrorIs(t, <-rec.errC, errInjected)
	close(gate) // the five queued tasks are now taken by a failed writer

	require.ErrorIs(t, w.Close(), errInjected)
	require.Len(t, behind, 5)
	for _, e := range behind {
		require.ErrorIs(t, e, errInjected)
	}
	writes, syncs := b.counts()
	require.Zero(t, writes, "tasks behind the failure were written")
	require.Zero(t, syncs)
}

func TestCloseDrains(t *testing.T) {
	checkNoLeak(t)
	a := newFakeFile("a")
	rec := &recorder{}
	w := New(rec.options(Options{QueueSize: 8}))
	const n = 500
	var writtenCount atomic.Int32
	var want []byte
	for i := 1; i <= n; i++ {
		b := pattern(i, 16)
		want = append(want, b...)
		require.NoError(t, w.Submit(Task{File: a, Offset: int64(i-1) * 16, Bufs: [][]byte{b}, Tag: uint64(i),
			OnWritten: func(err error) { assert.NoError(t, err); writtenCount.Add(1) }}))
	}
	require.NoError(t, w.Close())
	require.EqualValues(t, n, writtenCount.Load())
	require.EqualValues(t, n, w.WrittenTag())
	require.EqualValues(t, n, w.ForcedTag())
	tags := rec.forcedTags()
	require.NotEmpty(t, tags)
	require.EqualValues(t, n, tags[len(tags)-1])
	require.Equal(t, want, a.durableCopy())
}

func TestCloseIdempotent(t *testing.T) {
	checkNoLeak(t)
	w := New(Options{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { assert.NoError(t, w.Close()) })
	}
	wg.Wait()
	require.NoError(t, w.Close())
	require.ErrorIs(t, w.Submit(Task{File: newFakeFile("a"), Bufs: [][]byte{{1}}}), ErrClosed)
}

func TestCloseWakesBlockedSubmit(t *testing.T) {
	checkNoLeak(t)
	a := newFakeFile("a")
	w := New(Options{QueueSize: 1})
	gate := holdWriter(t, w)
	var queuedErr error
	queuedDone := false
	require.NoError(t, w.Submit(Task{File: a, Bufs: [][]byte{{7}}, Tag: 1,
		OnWritten: func(err error) { queuedErr, queuedDone = err, true }})) // fills the queue

	blocked := make(chan error)
	go func() { blocked <- w.Submit(Task{File: a, Offset: 1, Bufs: [][]byte{{8}}, Tag: 2}) }()
	closed := make(chan error)
	go func() { closed <- w.Close() }()
	require.ErrorIs(t, <-blocked, ErrClosed)
	select {
	case <-closed:
		t.Fatal("Close returned before the queued task was written")
	default:
	}
	close(gate)
	require.NoError(t, <-closed)
	require.True(t, queuedDone)
	require.NoError(t, queuedErr)
	require.Equal(t, []byte{7}, a.durableCopy())
	require.EqualValues(t, 1, w.ForcedTag())
}

// TestConcurrentSubmitAndClose checks under -race that Close racing with
// submitters neither panics nor drops a task Submit accepted.
func TestConcurrentSubmitAndClose(t *testing.T) {
	checkNoLeak(t)
	for range 10 {
		w := New(Options{QueueSize: 4})
		var accepted, written atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range 8 {
			f := newFakeFile(string(rune('a' + g)))
			wg.Go(func() {
				<-start
				for i := range 200 {
					err := w.Submit(Task{File: f, Offset: int64(i), Bufs: [][]byte{{byte(i)}},
						OnWritten: func(err error) { assert.NoError(t, err); written.Add(1) }})
					if err != nil {
						assert.ErrorIs(t, err, ErrClosed)
						return
					}
					accepted.Add(1)
				}
			})
		}
		close(start)
		require.NoError(t, w.Close())
		wg.Wait()
		require.Equal(t, accepted.Load(), written.Load())
	}
}

func TestSubmitNilFilePanics(t *testing.T) {
	checkNoLeak(t)
	w := New(Options{})
	defer w.Close()
	require.Panics(t, func() { _ = w.Submit(Task{Bufs: [][]byte{{1}}}) })
}

// nopFile accepts everything and allocates nothing.
type nopFile struct{ fakeFile }

func (*nopFile) WritevAt(bufs [][]byte, off int64) (int, error) {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n, nil
}
func (*nopFile) Sync() error { return nil }

// TestSubmitPathDoesNotAllocate: the whole path (Submit, write goroutine,
// hand-off, force goroutine) allocates nothing per task once warm.
func TestSubmitPathDoesNotAllocate(t *testing.T) {
	checkNoLeak(t)
	f := &nopFile{}
	w := New(Options{QueueSize: 64})
	bufs := [][]byte{make([]byte, 128), make([]byte, 128)}
	var off int64
	var tag uint64
	submit := func() {
		tag++
		if err := w.Submit(Task{File: f, Offset: off, Bufs: bufs, Tag: tag}); err != nil {
			panic(err)
		}
		off += 256
	}
	for range 1000 { // warm up the reused slices
		submit()
	}
	allocs := testing.AllocsPerRun(5000, submit)
	require.NoError(t, w.Close())
	require.Zero(t, allocs)
}

// BenchmarkSubmit writes tasks of 64 buffers of 128 bytes each to a real
// file and fdatasyncs them; the file is reused as an 8 MiB ring.
func BenchmarkSubmit(b *testing.B) {
	const bufs, bufSize, ring = 64, 128, 8 << 20
	f, err := vfs.Default.Create(filepath.Join(b.TempDir(), "log"))
	require.NoError(b, err)
	defer f.Close()
	require.NoError(b, f.Truncate(ring))
	data := make([][]byte, bufs)
	for i := range data {
		data[i] = pattern(i, bufSize)
	}
	const taskSize = bufs * bufSize
	w := New(Options{})
	b.SetBytes(taskSize)
	b.ReportAllocs()
	b.ResetTimer()
	var off int64
	for i := 0; b.Loop(); i++ {
		if err := w.Submit(Task{File: f, Offset: off, Bufs: data, Tag: uint64(i + 1)}); err != nil {
			b.Fatal(err)
		}
		off = (off + taskSize) % ring
	}
	require.NoError(b, w.Close())
}
