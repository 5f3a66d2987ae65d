package logqueue

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/pipeline"
	"github.com/raftlog/raftlog/vfs"
)

// waitFor waits for a deletion, failing the test after 10 s rather than
// hanging it.
func waitFor(t testing.TB, f *pipeline.Future[int]) (int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	n, err := f.Wait(ctx)
	require.NotErrorIs(t, err, context.DeadlineExceeded)
	return n, err
}

// serialExecutor returns a one-worker executor, which settle uses.
func serialExecutor(t testing.TB) *pipeline.Executor {
	e, err := pipeline.NewExecutor(1)
	require.NoError(t, err)
	t.Cleanup(e.Close)
	return e
}

// settle returns once every task e accepted before the call has finished:
// with one worker, a task accepted later runs only after them. A test uses
// it to see that a removal it must not have scheduled did not happen,
// without sleeping.
func settle(t testing.TB, e *pipeline.Executor) {
	t.Helper()
	done := make(chan struct{})
	require.NoError(t, e.Go(func() { close(done) }))
	<-done
}

// logFiles lists the log files in the directory, as the disk sees them.
func logFiles(t testing.TB, fsys vfs.FS, dir string) []string {
	t.Helper()
	names, err := fsys.List(dir)
	require.NoError(t, err)
	var out []string
	for _, n := range names {
		if _, ok := parseFileName(n); ok {
			out = append(out, n)
		}
	}
	return out
}

func TestDeleteBefore(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	opts, tags := testOptions(t, mem)
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 1))
	items := addUntil(t, q, tags, 1, 2000, 1, 6*testFileSize+100, 1)
	<-q.next.Done()
	require.Len(t, logFiles(t, mem, "log"), 8) // 7 written, 1 preallocated

	// Below a position in the fourth file: the first three go.
	var inFourth item
	for _, it := range items {
		if it.pos >= 3*testFileSize+500 {
			inFourth = it
			break
		}
	}
	n, err := waitFor(t, q.DeleteBefore(inFourth.pos))
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assert.Equal(t, int64(3*testFileSize), q.Files()[0].StartPos)
	assert.Len(t, logFiles(t, mem, "log"), 5, "the files are gone from the disk")
	assert.NotContains(t, logFiles(t, mem, "log"), fileName(2*testFileSize))

	_, _, _, err = q.ReadItem(items[0].pos)
	assert.ErrorIs(t, err, ErrNoFile)
	_, _, _, _, err = q.NewScanner(items[0].pos).Next()
	assert.ErrorIs(t, err, ErrNoFile)
	r := q.NewReader(items[0].pos, 0)
	_, _, _, _, err = r.Next()
	assert.ErrorIs(t, err, ErrNoFile)
	r.Close()
	var kept []item
	for _, it := range items {
		if it.pos >= 3*testFileSize {
			kept = append(kept, it)
		}
	}
	checkRead(t, q, kept)
	checkScan(t, q, kept)

	// Idempotent: nothing more goes for the same or a lower bound.
	for _, pos := range []int64{inFourth.pos, 3 * testFileSize, 0, -5} {
		n, err = waitFor(t, q.DeleteBefore(pos))
		require.NoError(t, err)
		assert.Equal(t, 0, n, "DeleteBefore(%d)", pos)
	}

	// Far past the end: the write position's file and the preallocated one
	// after it stay.
	n, err = waitFor(t, q.DeleteBefore(100*testFileSize))
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assert.Equal(t, []string{fileName(6 * testFileSize), fileName(7 * testFileSize)}, logFiles(t, mem, "log"))
	more := addUntil(t, q, tags, uint64(len(items)+1), 2000, 1, 8*testFileSize+100, 2)
	checkRead(t, q, more)
}

// TestDeleteBeforeKeepsWriteFile checks the boundaries: the file holding
// pos, and the file of the write position even when pos is past it.
func TestDeleteBeforeKeepsWriteFile(t *testing.T) {
	tests := []struct {
		name    string
		wp      int64 // write position reached
		pos     int64
		removed int
	}{
		{"pos at a file start", 2*testFileSize + 100, testFileSize, 1},
		{"pos inside a file", 2*testFileSize + 100, testFileSize + 1, 1},
		{"pos at the write file", 2*testFileSize + 100, 2*testFileSize + 50, 2},
		{"pos past the write position", 2*testFileSize + 100, 5 * testFileSize, 2},
		// The write position at the end of a full file: the writer is still
		// in it until the next Add.
		{"write position at a file end", 2 * testFileSize, 5 * testFileSize, 1},
		// After a truncation to a file's start the writer is in that file.
		{"truncated to a file start", -2 * testFileSize, 5 * testFileSize, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkNoLeak(t)
			opts, tags := testOptions(t, vfs.NewMem())
			q := openQueue(t, opts)
			require.NoError(t, q.StartWriting(0, 1))
			truncate := tt.wp < 0
			if truncate {
				tt.wp = 3*testFileSize + 100
			}
			for q.WritePos() < tt.wp-testFileSize/2 {
				addItem(t, q, 1, 0, testFileSize/2-60)
			}
			if rest := tt.wp - q.WritePos(); rest > 0 {
				addItem(t, q, 1, 0, int(rest-60))
			}
			require.Equal(t, tt.wp, q.WritePos())
			require.NoError(t, q.Flush(1))
			tags.wait(t, 1)
			if truncate {
				require.NoError(t, q.TruncateTail(2*testFileSize, 2))
			}
			n, err := waitFor(t, q.DeleteBefore(tt.pos))
			require.NoError(t, err)
			assert.Equal(t, tt.removed, n)
			assert.Equal(t, int64(tt.removed)*testFileSize, q.Files()[0].StartPos)
		})
	}
}

// readGateFS wraps an FS so that reads of the log files it opens block
// while the gate is shut.
type readGateFS struct {
	vfs.FS
	shut    atomic.Bool
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func newReadGateFS(inner vfs.FS) *readGateFS {
	return &readGateFS{FS: inner, entered: make(chan struct{}, 16), release: make(chan struct{})}
}

func (g *readGateFS) open() { g.once.Do(func() { close(g.release) }) }

func (g *readGateFS) Open(name string) (vfs.File, error) {
	f, err := g.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return &readGateFile{File: f, g: g}, nil
}

type readGateFile struct {
	vfs.File
	g *readGateFS
}

func (f *readGateFile) ReadAt(b []byte, off int64) (int, error) {
	if f.g.shut.Load() {
		f.g.entered <- struct{}{}
		<-f.g.release
	}
	return f.File.ReadAt(b, off)
}

// TestDeleteBeforeWaitsForReadItem holds a ReadItem inside its pread while
// DeleteBefore takes the file out: the file stays on disk, the read returns
// the right item, and only then is the file removed.
func TestDeleteBeforeWaitsForReadItem(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	gate := newReadGateFS(mem)
	opts, tags := testOptions(t, gate)
	opts.Executor = serialExecutor(t)
	q := openQueue(t, opts)
	t.Cleanup(gate.open)
	require.NoError(t, q.StartWriting(0, 1))
	items := addUntil(t, q, tags, 1, 1000, 1, 2*testFileSize+100, 1)

	gate.shut.Store(true)
	type result struct {
		m    ItemMeta
		h, d []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		m, h, d, err := q.ReadItem(items[3].pos)
		done <- result{m, h, d, err}
	}()
	<-gate.entered
	gate.shut.Store(false)

	f := q.DeleteBefore(testFileSize)
	settle(t, opts.Executor)
	_, _, _, err := q.ReadItem(items[4].pos)
	assert.ErrorIs(t, err, ErrNoFile, "gone from reads at once")
	assert.Equal(t, int64(testFileSize), q.Files()[0].StartPos, "gone from Files at once")
	_, _, ok := f.Result()
	assert.False(t, ok, "the removal waits for the reader")
	assert.Contains(t, logFiles(t, mem, "log"), fileName(0))

	gate.open()
	res := <-done
	require.NoError(t, res.err)
	assert.Equal(t, items[3].meta, res.m)
	assert.Equal(t, items[3].header, res.h)
	assert.Equal(t, items[3].data, res.d)
	n, err := waitFor(t, f)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.NotContains(t, logFiles(t, mem, "log"), fileName(0))
}

// TestDeleteBeforeWaitsForScanner does the same with a Scanner in its read.
func TestDeleteBeforeWaitsForScanner(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	gate := newReadGateFS(mem)
	opts, tags := testOptions(t, gate)
	opts.Executor = serialExecutor(t)
	q := openQueue(t, opts)
	t.Cleanup(gate.open)
	require.NoError(t, q.StartWriting(0, 1))
	items := addUntil(t, q, tags, 1, 1000, 1, 2*testFileSize+100, 1)

	s := q.NewScanner(0)
	gate.shut.Store(true)
	type result struct {
		m   ItemMeta
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, _, _, _, err := s.Next()
		done <- result{m, err}
	}()
	<-gate.entered
	gate.shut.Store(false)
	f := q.DeleteBefore(testFileSize)
	settle(t, opts.Executor)
	_, _, ok := f.Result()
	assert.False(t, ok)
	assert.Contains(t, logFiles(t, mem, "log"), fileName(0))
	gate.open()
	res := <-done
	require.NoError(t, res.err)
	assert.Equal(t, items[0].meta, res.m)
	_, err := waitFor(t, f)
	require.NoError(t, err)
	assert.NotContains(t, logFiles(t, mem, "log"), fileName(0))
}

// TestDeleteBeforeConcurrentReads races ReadItem against DeleteBefore (and
// appends) under -race: every read gets its item or, once its file was
// taken out, ErrNoFile.
func TestDeleteBeforeConcurrentReads(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	opts, tags := testOptions(t, mem)
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 1))
	items := addUntil(t, q, tags, 1, 700, 1, 12*testFileSize, 1)

	var deleted atomic.Int64 // bound of the latest DeleteBefore issued
	stop := make(chan struct{})
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 2))
			for {
				select {
				case <-stop:
					return
				default:
				}
				it := items[rng.IntN(len(items))]
				m, h, d, err := q.ReadItem(it.pos)
				switch {
				case err == nil:
					if m != it.meta || string(h) != string(it.header) || string(d) != string(it.data) {
						errs <- assert.AnError
						return
					}
				case !assert.ErrorIs(t, err, ErrNoFile):
					errs <- err
					return
				case it.pos >= deleted.Load():
					errs <- err // ErrNoFile for a file never deleted
					return
				}
			}
		}(uint64(g))
	}
	// Appends go on meanwhile.
	idx := uint64(len(items) + 1)
	for k := int64(1); k <= 10; k++ {
		deleted.Store(k * testFileSize) // before: a reader may see ErrNoFile once the call starts
		f := q.DeleteBefore(k * testFileSize)
		addItem(t, q, idx, 0, 3000)
		idx++
		require.NoError(t, q.Flush(uint64(k+1)))
		n, err := waitFor(t, f)
		require.NoError(t, err)
		require.Equal(t, 1, n)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	tags.wait(t, 11)
	names := logFiles(t, mem, "log")
	require.NotEmpty(t, names)
	assert.Equal(t, fileName(10*testFileSize), names[0])
	assert.Len(t, names, len(q.Files()), "disk and queue agree")
}

// TestDeleteCrashWhileTrimming crashes the machine (losing part of what was
// not synced) at each file operation of a deletion in turn: the rename to
// the .tmp name, the directory sync, each cut, the remove. Whatever the
// crash kept, the queue opens again (a log file is never left under its
// name with the wrong size), leftovers are removed, and the items of the
// files that were not deleted all read back.
func TestDeleteCrashWhileTrimming(t *testing.T) {
	k := 1
	for ; ; k++ {
		mem := vfs.NewMem()
		var ops atomic.Int64
		var deleting atomic.Bool
		var image atomic.Pointer[vfs.MemFS]
		rng := rand.New(rand.NewPCG(uint64(k), 7))
		fsys := vfs.NewErrorFS(mem, vfs.InjectorFunc(func(op vfs.Op, name string) error {
			if deleting.Load() && op != vfs.OpRead && ops.Add(1) == int64(k) {
				image.Store(mem.CrashWithLoss(rng))
			}
			return nil
		}))
		opts, tags := testOptions(t, fsys)
		opts.Prealloc = Fallocate // no zeroer writing meanwhile
		q := openQueue(t, opts)
		require.NoError(t, q.StartWriting(0, 1))
		items := addUntil(t, q, tags, 1, 700, 1, 3*testFileSize+100, 1)
		deleting.Store(true)
		n, err := waitFor(t, q.DeleteBefore(2*testFileSize))
		deleting.Store(false)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.NoError(t, q.Close())
		img := image.Load()
		if img == nil {
			break // k is past the deletion's last operation
		}
		opts2, _ := testOptions(t, img)
		q2 := openQueue(t, opts2) // fails on a log file of the wrong size
		names, err := img.List("log")
		require.NoError(t, err)
		for _, name := range names {
			assert.False(t, strings.HasSuffix(name, tmpSuffix), "crash at operation %d: leftover %s", k, name)
		}
		var kept []item
		for _, it := range items {
			if it.pos >= 2*testFileSize {
				kept = append(kept, it)
			}
		}
		checkRead(t, q2, kept)
		require.NoError(t, q2.Close())
	}
	// Two files, each renamed, the directory synced, cut seven times and
	// removed, then one last directory sync.
	require.Greater(t, k, 2*10)
}

func TestDeleteBeforeErrors(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	var failRemove atomic.Bool
	fsys := vfs.NewErrorFS(mem, vfs.InjectorFunc(func(op vfs.Op, name string) error {
		// The file is renamed to its .tmp name before it is removed.
		if op == vfs.OpRemove && failRemove.Load() && strings.HasSuffix(name, fileName(testFileSize)+tmpSuffix) {
			return vfs.ErrInjected
		}
		return nil
	}))
	opts, tags := testOptions(t, fsys)
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 1))
	addUntil(t, q, tags, 1, 1000, 1, 4*testFileSize, 1)

	// A file already removed behind the queue's back is not an error.
	require.NoError(t, mem.Remove("log/"+fileName(0)))
	n, err := waitFor(t, q.DeleteBefore(testFileSize))
	require.NoError(t, err)
	assert.Equal(t, 1, n)

	// A failed removal is reported; the file is still gone from the queue.
	failRemove.Store(true)
	n, err = waitFor(t, q.DeleteBefore(3*testFileSize))
	require.ErrorIs(t, err, vfs.ErrInjected)
	assert.ErrorContains(t, err, fileName(testFileSize))
	assert.Equal(t, 2, n)
	assert.Equal(t, int64(3*testFileSize), q.Files()[0].StartPos)

	require.NoError(t, q.Close())
	_, err = waitFor(t, q.DeleteBefore(10*testFileSize))
	require.ErrorIs(t, err, ErrClosed)

	ro := opts
	ro.ReadOnly = true
	qr := openQueue(t, ro)
	before := qr.Files()
	_, err = waitFor(t, qr.DeleteBefore(10*testFileSize))
	require.ErrorIs(t, err, ErrReadOnly)
	assert.Equal(t, before, qr.Files())
}

// TestDeleteBeforeNotWriting deletes by position alone before StartWriting
// (recovery dropping files below the first index).
func TestDeleteBeforeNotWriting(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	opts, tags := testOptions(t, mem)
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 1))
	addUntil(t, q, tags, 1, 1000, 1, 3*testFileSize, 1)
	require.NoError(t, q.Close())

	q = openQueue(t, opts)
	all := len(q.Files())
	n, err := waitFor(t, q.DeleteBefore(int64(all)*testFileSize))
	require.NoError(t, err)
	assert.Equal(t, all, n)
	assert.Empty(t, q.Files())
	assert.Empty(t, logFiles(t, mem, "log"))
}
