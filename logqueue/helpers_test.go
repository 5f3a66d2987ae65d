package logqueue

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/chainwriter"
	"github.com/raftlog/raftlog/pipeline"
	"github.com/raftlog/raftlog/vfs"
)

const testFileSize = 64 << 10

// checkNoLeak records the goroutine count and, at cleanup, waits until it is
// back to that count. Close waits for every goroutine, but one that has
// just signalled its exit may still be counted for a moment, hence the
// bounded polling (not a sleep of a guessed length).
func checkNoLeak(t testing.TB) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				n := runtime.Stack(buf, true)
				t.Fatalf("goroutines leaked: %d > %d\n%s", runtime.NumGoroutine(), before, buf[:n])
			}
			runtime.Gosched()
		}
	})
}

// forcedTags records what the chainwriter reports through OnForced.
type forcedTags struct {
	mu      sync.Mutex
	highest uint64
	err     error
	changed chan struct{} // closed and replaced on every report
}

func newForcedTags() *forcedTags { return &forcedTags{changed: make(chan struct{})} }

func (f *forcedTags) onForced(tag uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if tag < f.highest {
		f.err = fmt.Errorf("forced tag went down: %d after %d", tag, f.highest)
	}
	f.highest = tag
	close(f.changed)
	f.changed = make(chan struct{})
}

// wait blocks until tag is reported durable.
func (f *forcedTags) wait(t testing.TB, tag uint64) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		f.mu.Lock()
		h, err, ch := f.highest, f.err, f.changed
		f.mu.Unlock()
		require.NoError(t, err)
		if h >= tag {
			return
		}
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("tag %d not forced in time (highest %d)", tag, h)
		}
	}
}

func newExecutor(t testing.TB) *pipeline.Executor {
	e, err := pipeline.NewExecutor(2)
	require.NoError(t, err)
	t.Cleanup(e.Close)
	return e
}

// testOptions returns options for a queue of 64 KiB files on fsys, whose
// forced tags are recorded in the returned forcedTags.
func testOptions(t testing.TB, fsys vfs.FS) (Options, *forcedTags) {
	tags := newForcedTags()
	return Options{
		FS:         fsys,
		Dir:        "log",
		FileSize:   testFileSize,
		Executor:   newExecutor(t),
		BufferSize: 16 << 10,
		Writer:     chainwriter.Options{OnForced: tags.onForced},
	}, tags
}

func openQueue(t testing.TB, opts Options) *Queue {
	t.Helper()
	q, err := Open(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = q.Close() })
	return q
}

// item is what a test added and expects to read back.
type item struct {
	pos          int64
	meta         ItemMeta
	header, data []byte
}

// addItem adds an item whose bytes derive from idx.
func addItem(t testing.TB, q *Queue, idx uint64, headerLen, dataLen int) item {
	t.Helper()
	it := item{meta: ItemMeta{Index: idx, Term: idx / 7, PrevTerm: (idx - 1) / 7, Timestamp: int64(idx) * 1000, Type: uint8(idx)}}
	if headerLen > 0 {
		it.header = fill(headerLen, byte(idx))
	}
	if dataLen > 0 {
		it.data = fill(dataLen, byte(idx*3))
	}
	pos, err := q.Add(&it.meta, it.header, it.data)
	require.NoError(t, err)
	it.pos = pos
	return it
}

func fill(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

// checkRead reads every item back by position.
func checkRead(t testing.TB, q *Queue, items []item) {
	t.Helper()
	for _, it := range items {
		m, h, d, err := q.ReadItem(it.pos)
		require.NoError(t, err, "item %d at %d", it.meta.Index, it.pos)
		require.Equal(t, it.meta, m)
		require.Equal(t, it.header, h)
		require.Equal(t, it.data, d)
	}
}

// checkScan scans from the first item's position and expects exactly items,
// then ErrEndOfLog.
func checkScan(t testing.TB, q *Queue, items []item) {
	t.Helper()
	s := q.NewScanner(items[0].pos)
	for _, it := range items {
		m, h, d, pos, err := s.Next()
		require.NoError(t, err, "item %d at %d", it.meta.Index, it.pos)
		require.Equal(t, it.pos, pos)
		require.Equal(t, it.meta, m)
		require.Equal(t, it.header, nilIfEmpty(h))
		require.Equal(t, it.data, nilIfEmpty(d))
	}
	_, _, _, _, err := s.Next()
	require.ErrorIs(t, err, ErrEndOfLog)
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// readRaw reads n bytes at log position pos straight from the file system.
func readRaw(t testing.TB, fsys vfs.FS, dir string, pos int64, n int) []byte {
	t.Helper()
	return readRawIn(t, fsys, dir, testFileSize, pos, n)
}

// readRawIn is readRaw for a log of files of fileSize bytes.
func readRawIn(t testing.TB, fsys vfs.FS, dir string, fileSize, pos int64, n int) []byte {
	t.Helper()
	start := pos &^ (fileSize - 1)
	f, err := fsys.OpenReadOnly(dir + "/" + fileName(start))
	require.NoError(t, err)
	defer f.Close()
	b := make([]byte, n)
	_, err = f.ReadAt(b, pos-start)
	require.NoError(t, err)
	return b
}

// gateFS wraps an FS so that writes to the log files it opens (the writer's
// handles; allocation uses Create) block while the gate is shut.
type gateFS struct {
	vfs.FS
	shut    atomic.Bool
	entered chan struct{} // receives once per write that found the gate shut
	release chan struct{} // closed by open
	once    sync.Once
}

// open lets every held and later write through. It may be called more than
// once, so a test can also register it as a cleanup: a failing test must not
// leave Close waiting for a write that is held forever.
func (g *gateFS) open() { g.once.Do(func() { close(g.release) }) }

func newGateFS(inner vfs.FS) *gateFS {
	return &gateFS{FS: inner, entered: make(chan struct{}, 1024), release: make(chan struct{})}
}

// openGatedQueue opens a queue on an in-memory FS behind a gate (open until
// the test shuts it) and starts writing at position 0 with epoch. The gate
// is opened at cleanup, before the queue's Close.
func openGatedQueue(t *testing.T, epoch uint32) (*Queue, *gateFS, *forcedTags) {
	t.Helper()
	gate := newGateFS(vfs.NewMem())
	opts, tags := testOptions(t, gate)
	q := openQueue(t, opts)
	t.Cleanup(gate.open)
	require.NoError(t, q.StartWriting(0, epoch))
	return q, gate, tags
}

// countLogReads wraps inner so that every read of a log file adds one to
// the counter it returns.
func countLogReads(inner vfs.FS) (vfs.FS, *atomic.Int64) {
	var reads atomic.Int64
	fsys := vfs.NewErrorFS(inner, vfs.InjectorFunc(func(op vfs.Op, name string) error {
		if op == vfs.OpRead && strings.HasSuffix(name, logSuffix) {
			reads.Add(1)
		}
		return nil
	}))
	return fsys, &reads
}

func (g *gateFS) Open(name string) (vfs.File, error) {
	f, err := g.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return &gateFile{File: f, g: g}, nil
}

type gateFile struct {
	vfs.File
	g *gateFS
}

func (f *gateFile) wait() {
	if f.g.shut.Load() {
		f.g.entered <- struct{}{}
		<-f.g.release
	}
}

func (f *gateFile) WritevAt(bufs [][]byte, off int64) (int, error) {
	f.wait()
	return f.File.WritevAt(bufs, off)
}

func (f *gateFile) WriteAt(b []byte, off int64) (int, error) {
	f.wait()
	return f.File.WriteAt(b, off)
}
