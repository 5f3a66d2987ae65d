package logqueue

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/vfs"
)

// addUntil adds items of dataLen bytes from index idx on, with epoch set
// in the returned metas, until the write position reaches end, then flushes
// with tag and waits for it to be durable.
func addUntil(t testing.TB, q *Queue, tags *forcedTags, idx uint64, dataLen int, epoch uint32, end int64, tag uint64) []item {
	t.Helper()
	var items []item
	for ; q.WritePos() < end; idx++ {
		it := addItem(t, q, idx, 5, dataLen)
		it.meta.Epoch = epoch
		items = append(items, it)
	}
	require.NoError(t, q.Flush(tag))
	tags.wait(t, tag)
	return items
}

// TestTruncateTailAcrossFiles writes four files, truncates back into the
// first, writes across the next two again with other item sizes, and reads
// everything back by position, with a Scanner and with a Reader, before and
// after reopening. The files after the truncation point are reused as they
// are, without waiting for any allocation.
func TestTruncateTailAcrossFiles(t *testing.T) {
	checkNoLeak(t)
	fsys := vfs.NewMem()
	opts, tags := testOptions(t, fsys)
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 1))
	old := addUntil(t, q, tags, 1, 1500, 1, 4*testFileSize-3000, 1)
	<-q.next.Done() // the fifth file, allocated in the background
	filesBefore := q.Files()
	require.Len(t, filesBefore, 5)

	// Truncate to the 10th item, in the first file.
	const keep = 10
	cut := old[keep].pos
	require.Less(t, cut, int64(testFileSize))
	waits := 0
	q.allocWaitHook = func() { waits++ }
	require.NoError(t, q.TruncateTail(cut, 2))
	assert.Equal(t, cut, q.WritePos())
	assert.Equal(t, cut, q.WrittenPos())

	// Other sizes, so old and new item boundaries rarely meet.
	fresh := addUntil(t, q, tags, keep+1, 1100, 2, 2*testFileSize+5000, 2)
	assert.Equal(t, cut, fresh[0].pos)
	assert.Equal(t, 0, waits, "reused files need no allocation wait")
	assert.Equal(t, filesBefore, q.Files(), "no file was added")
	assert.Equal(t, q.WritePos(), q.WrittenPos())

	want := append(append([]item(nil), old[:keep]...), fresh...)
	check := func(q *Queue) {
		t.Helper()
		checkRead(t, q, want)
		checkScanPrefix(t, q, want, 1)

		r := q.NewReader(0, 8<<10)
		defer r.Close()
		checkReader(t, r, want)
	}
	check(q)
	r := q.NewReader(0, 0)
	defer r.Close()
	checkReader(t, r, want)
	_, _, _, _, err := r.Next()
	assert.ErrorIs(t, err, ErrEndOfLog, "a Reader stops at the new end, not at stale items")

	// An old item past the new writes is still in its reused file, stale.
	last := old[len(old)-1]
	m, _, _, err := q.ReadItem(last.pos)
	require.NoError(t, err)
	assert.Equal(t, uint32(1), m.Epoch)

	require.NoError(t, q.Close())
	q2 := openQueue(t, opts)
	check(q2)
}

// checkScanPrefix scans from the first item: it expects exactly items, and
// after them only stale items (of an epoch before epochNow) or an error.
func checkScanPrefix(t testing.TB, q *Queue, items []item, epochNow uint32) {
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
	for {
		m, _, _, pos, err := s.Next()
		if err != nil {
			return
		}
		require.LessOrEqual(t, m.Epoch, epochNow, "item at %d after the new chain is not stale", pos)
	}
}

// checkReader reads items with r, in order.
func checkReader(t testing.TB, r *Reader, items []item) {
	t.Helper()
	for _, it := range items {
		m, h, d, pos, err := r.Next()
		require.NoError(t, err, "item %d at %d", it.meta.Index, it.pos)
		require.Equal(t, it.pos, pos)
		require.Equal(t, it.meta, m)
		require.Equal(t, it.header, nilIfEmpty(h))
		require.Equal(t, it.data, nilIfEmpty(d))
	}
}

// TestTruncateTailSameFile truncates inside the current file, drops items
// added but not flushed, and goes on with the new epoch.
func TestTruncateTailSameFile(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	opts, tags := testOptions(t, mem)
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 1))
	old := addUntil(t, q, tags, 1, 300, 1, 5000, 1)
	// Added, never flushed: dropped by the truncation.
	unflushed := addItem(t, q, uint64(len(old)+1), 0, 100)
	require.NoError(t, q.TruncateTail(old[3].pos, 7))
	require.NoError(t, q.Flush(2))
	tags.wait(t, 2)
	assert.Equal(t, old[3].pos, q.WrittenPos(), "the dropped item was never written")
	assert.Equal(t, make([]byte, 8), readRaw(t, mem, "log", unflushed.pos, 8))

	fresh := addUntil(t, q, tags, 4, 40, 7, old[3].pos+1, 3)
	require.Len(t, fresh, 1)
	want := append(append([]item(nil), old[:3]...), fresh...)
	checkRead(t, q, want)
	checkScanPrefix(t, q, want, 7)

	// Truncating to the write position itself changes only the epoch.
	wp := q.WritePos()
	require.NoError(t, q.TruncateTail(wp, 8))
	it := addItem(t, q, 5, 0, 10)
	assert.Equal(t, wp, it.pos)
	require.NoError(t, q.Flush(4))
	tags.wait(t, 4)
	it.meta.Epoch = 8
	checkRead(t, q, []item{it})
}

// blockAllocFS holds the creation of a log file (the allocation's first
// step) until release is closed.
type blockAllocFS struct {
	vfs.FS
	name    string
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockAllocFS) Create(name string) (vfs.File, error) {
	if strings.HasSuffix(name, b.name+tmpSuffix) {
		b.entered <- struct{}{}
		<-b.release
	}
	return b.FS.Create(name)
}

func (b *blockAllocFS) open() { b.once.Do(func() { close(b.release) }) }

// TestTruncateTailAtUnallocatedFile truncates to the end of a full file
// whose successor is still being allocated: the writer stays at the end of
// the full file and rotates into the file of that same allocation.
func TestTruncateTailAtUnallocatedFile(t *testing.T) {
	checkNoLeak(t)
	fsys := &blockAllocFS{FS: vfs.NewMem(), name: fileName(testFileSize),
		entered: make(chan struct{}, 1), release: make(chan struct{})}
	opts, tags := testOptions(t, fsys)
	q := openQueue(t, opts)
	t.Cleanup(fsys.open) // before the queue's Close
	require.NoError(t, q.StartWriting(0, 1))
	<-fsys.entered

	// Two items fill the first file exactly.
	a := addItem(t, q, 1, 0, testFileSize/2-60)
	b := addItem(t, q, 2, 0, testFileSize/2-60)
	require.Equal(t, int64(testFileSize), q.WritePos())
	require.NoError(t, q.Flush(1))
	tags.wait(t, 1)

	require.NoError(t, q.TruncateTail(testFileSize, 2))
	fsys.open()
	c := addItem(t, q, 3, 0, 100)
	assert.Equal(t, int64(testFileSize), c.pos)
	require.NoError(t, q.Flush(2))
	tags.wait(t, 2)
	a.meta.Epoch, b.meta.Epoch, c.meta.Epoch = 1, 1, 2
	checkRead(t, q, []item{a, b, c})
	<-q.next.Done() // the third file
	assert.Len(t, q.Files(), 3, "one allocation per file")
}

func TestTruncateTailErrors(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	gate := newGateFS(mem)
	opts, tags := testOptions(t, gate)
	q := openQueue(t, opts)
	t.Cleanup(gate.open)

	require.ErrorIs(t, q.TruncateTail(0, 1), ErrNotWriting)
	require.NoError(t, q.StartWriting(100, 1))
	items := addUntil(t, q, tags, 1, 500, 1, 3*testFileSize, 1)

	tests := []struct {
		name string
		pos  int64
		want error
	}{
		{"past the write position", q.WritePos() + 1, ErrBadPosition},
		{"negative", -1, ErrBadPosition},
		{"deleted file", 50, ErrNoFile},
	}
	// The first file goes, so that truncating into it is refused.
	n, err := waitFor(t, q.DeleteBefore(testFileSize))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	wp := q.WritePos()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, q.TruncateTail(tt.pos, 2), tt.want)
			assert.Equal(t, wp, q.WritePos(), "a refused truncation changes nothing")
		})
	}

	// Writes in flight.
	gate.shut.Store(true)
	addItem(t, q, uint64(len(items)+1), 0, 10)
	require.NoError(t, q.Flush(2))
	<-gate.entered
	require.ErrorIs(t, q.TruncateTail(items[len(items)-1].pos, 2), ErrInFlight)
	gate.open()
	tags.wait(t, 2)
	require.NoError(t, q.TruncateTail(items[len(items)-1].pos, 2))

	require.NoError(t, q.Close())
	require.ErrorIs(t, q.TruncateTail(0, 1), ErrClosed)

	ro := opts
	ro.ReadOnly = true
	qr := openQueue(t, ro)
	require.ErrorIs(t, qr.TruncateTail(0, 1), ErrReadOnly)
}

// TestTruncateTailFailedWriter refuses to truncate once the writer failed.
func TestTruncateTailFailedWriter(t *testing.T) {
	checkNoLeak(t)
	inj := vfs.OnIndex(0, vfs.OpWrite)
	fsys := vfs.NewErrorFS(vfs.NewMem(), inj)
	opts, _ := testOptions(t, fsys)
	opts.Prealloc = Sparse // allocation writes nothing
	failed := make(chan struct{})
	opts.Writer.OnError = func(error) { close(failed) }
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 1))
	addItem(t, q, 1, 0, 10)
	require.NoError(t, q.Flush(1))
	<-failed
	err := q.TruncateTail(0, 2)
	require.Error(t, err)
	assert.True(t, errors.Is(err, vfs.ErrInjected), "%v", err)
}

// TestTruncateTailLiveReader keeps a Reader open across a truncation: its
// read-ahead holds the old items, yet after SeekTo it reads the new ones
// written at the same positions.
func TestTruncateTailLiveReader(t *testing.T) {
	checkNoLeak(t)
	opts, tags := testOptions(t, vfs.NewMem())
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 1))
	old := addUntil(t, q, tags, 1, 500, 1, 20000, 1)
	r := q.NewReader(0, 0)
	defer r.Close()
	checkReader(t, r, old) // the whole file is in its read-ahead now

	const keep = 5
	require.NoError(t, q.TruncateTail(old[keep].pos, 2))
	_, _, _, _, err := r.Next()
	require.ErrorIs(t, err, ErrEndOfLog, "past the new end")
	// Same sizes: the new items sit exactly where the old ones were.
	fresh := addUntil(t, q, tags, keep+1, 500, 2, old[keep+3].pos, 2)
	r.SeekTo(old[keep].pos)
	checkReader(t, r, fresh)
	_, _, _, _, err = r.Next()
	require.ErrorIs(t, err, ErrEndOfLog)
}
