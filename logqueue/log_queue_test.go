package logqueue

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/chainwriter"
	"github.com/raftlog/raftlog/vfs"
)

// TestManyRotations adds items of random sizes across hundreds of files,
// flushing in random batches, and reads every one back by position and by
// scanning.
func TestManyRotations(t *testing.T) {
	checkNoLeak(t)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	fsys := vfs.NewMem()
	opts, tags := testOptions(t, fsys)
	opts.Prealloc = Sparse // keeps the in-memory file system small
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 3))

	var items []item
	tag := uint64(0)
	for idx := uint64(1); q.WritePos() < 300*testFileSize; idx++ {
		hl, dl := rng.IntN(40), rng.IntN(2000)
		if rng.IntN(50) == 0 {
			dl = 20000 + rng.IntN(20000) // larger than a buffer chunk
		}
		it := addItem(t, q, idx, hl, dl)
		it.meta.Epoch = 3
		items = append(items, it)
		if rng.IntN(20) == 0 {
			tag++
			require.NoError(t, q.Flush(tag))
		}
	}
	tag++
	require.NoError(t, q.Flush(tag))
	tags.wait(t, tag)

	assert.GreaterOrEqual(t, len(q.Files()), 300)
	for i, f := range q.Files() {
		assert.Equal(t, int64(i)*testFileSize, f.StartPos)
		assert.Equal(t, fmt.Sprintf("%020d.log", f.StartPos), f.Name)
	}
	checkRead(t, q, items)
	checkScan(t, q, items)
	require.NoError(t, q.Close())
}

// TestFileBoundaries covers the three ways an item can meet the end of a
// file.
func TestFileBoundaries(t *testing.T) {
	const fs = testFileSize
	tests := []struct {
		name string
		// dataLens of the items that fill the first file up to the end
		// gap; the last item then does not fit.
		fillData  []int
		gap       int64 // bytes left in the first file before the last item
		wantEnd   bool  // an end marker is expected at fs-gap
		lastData  int
		lastAtEnd bool // the last item starts the second file
	}{
		{"exact fill", []int{fs/2 - 60, fs/2 - 60}, 0, false, 10, true},
		{"slack under a header", []int{fs/2 - 60, fs/2 - 60 - 55}, 55, false, 10, true},
		{"end marker", []int{fs/2 - 60, fs/2 - 60 - 56}, 56, true, 10, true},
		{"big end marker", []int{fs - 60 - 1000}, 1000, true, 1000, true},
		{"fits exactly in gap", []int{fs - 60 - 1000}, 1000, false, 1000 - 60, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkNoLeak(t)
			fsys := vfs.NewMem()
			opts, tags := testOptions(t, fsys)
			q := openQueue(t, opts)
			require.NoError(t, q.StartWriting(0, 1))
			var items []item
			idx := uint64(1)
			for _, dl := range tt.fillData {
				items = append(items, addItem(t, q, idx, 0, dl))
				idx++
			}
			require.Equal(t, fs-tt.gap, q.WritePos())
			last := addItem(t, q, idx, 0, tt.lastData)
			items = append(items, last)
			if tt.lastAtEnd {
				assert.Equal(t, int64(fs), last.pos)
			} else {
				assert.Equal(t, fs-tt.gap, last.pos)
			}
			require.NoError(t, q.Flush(1))
			tags.wait(t, 1)
			for i := range items {
				items[i].meta.Epoch = 1
			}
			checkRead(t, q, items)
			checkScan(t, q, items)

			if tt.gap > 0 && tt.lastAtEnd {
				raw := readRaw(t, fsys, "log", fs-tt.gap, int(tt.gap))
				kind, m, _, err := DecodeHeader(raw, fs-tt.gap, tt.gap)
				if tt.wantEnd {
					require.NoError(t, err)
					assert.Equal(t, KindEndMarker, kind)
					assert.Equal(t, idx, m.Index, "end marker names the next index")
					assert.Equal(t, uint32(1), m.Epoch)
				} else {
					assert.Equal(t, make([]byte, tt.gap), raw, "slack stays zero")
				}
			}
		})
	}
}

func TestTooLarge(t *testing.T) {
	checkNoLeak(t)
	opts, tags := testOptions(t, vfs.NewMem())
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(100, 0))

	_, err := q.Add(&ItemMeta{Index: 1}, nil, make([]byte, testFileSize-59))
	require.ErrorIs(t, err, ErrTooLarge)
	assert.Equal(t, int64(100), q.WritePos(), "a refused item changes nothing")

	// The largest item takes a whole file.
	it := addItem(t, q, 1, 0, testFileSize-60)
	assert.Equal(t, int64(testFileSize), it.pos)
	assert.Equal(t, int64(2*testFileSize), q.WritePos())
	require.NoError(t, q.Flush(1))
	tags.wait(t, 1)
	it.meta.Epoch = 0
	checkRead(t, q, []item{it})
}

func TestStateErrors(t *testing.T) {
	checkNoLeak(t)
	opts, tags := testOptions(t, vfs.NewMem())
	q := openQueue(t, opts)

	_, err := q.Add(&ItemMeta{}, nil, nil)
	assert.ErrorIs(t, err, ErrNotWriting)
	assert.ErrorIs(t, q.Flush(1), ErrNotWriting)
	assert.Nil(t, q.Writer())

	require.NoError(t, q.StartWriting(0, 0))
	assert.NotNil(t, q.Writer())
	assert.ErrorIs(t, q.StartWriting(0, 0), ErrWriting)
	_, err = q.CutTail(0)
	assert.ErrorIs(t, err, ErrWriting)

	// An empty Flush still carries its tag.
	require.NoError(t, q.Flush(5))
	tags.wait(t, 5)
	require.NoError(t, q.Flush(5))

	require.NoError(t, q.Close())
	require.NoError(t, q.Close(), "Close is idempotent")
	_, err = q.Add(&ItemMeta{}, nil, nil)
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, q.Flush(6), ErrClosed)
	_, _, _, err = q.ReadItem(0)
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, q.StartWriting(0, 0), ErrClosed)
	_, err = q.CutTail(0)
	assert.ErrorIs(t, err, ErrClosed)
	_, _, _, _, err = q.NewScanner(0).Next()
	assert.ErrorIs(t, err, ErrClosed)
}

// TestReopen writes, closes and opens the directory again: the files are
// found and every item reads back.
func TestReopen(t *testing.T) {
	checkNoLeak(t)
	fsys := vfs.NewMem()
	opts, tags := testOptions(t, fsys)
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(testFileSize*3+100, 2))
	var items []item
	for idx := uint64(1); idx <= 200; idx++ {
		it := addItem(t, q, idx, 8, 700)
		it.meta.Epoch = 2
		items = append(items, it)
	}
	require.NoError(t, q.Flush(1))
	tags.wait(t, 1)
	files := q.Files()
	require.NoError(t, q.Close())

	// A leftover of an interrupted allocation is removed.
	f, err := fsys.Create("log/" + fileName(50*testFileSize) + tmpSuffix)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	opts2, _ := testOptions(t, fsys)
	q2 := openQueue(t, opts2)
	// The background allocation of the next file may have finished only
	// during Close: it is found too.
	found := q2.Files()
	require.GreaterOrEqual(t, len(found), len(files))
	require.LessOrEqual(t, len(found), len(files)+1)
	assert.Equal(t, files, found[:len(files)])
	assert.Equal(t, int64(3*testFileSize), files[0].StartPos)
	ok, err := fsys.Exists("log/" + fileName(50*testFileSize) + tmpSuffix)
	require.NoError(t, err)
	assert.False(t, ok)
	checkRead(t, q2, items)
	checkScan(t, q2, items)

	_, _, _, err = q2.ReadItem(0)
	assert.ErrorIs(t, err, ErrNoFile)
}

func TestOpenBadFiles(t *testing.T) {
	tests := []struct {
		name string
		file string
		size int64
	}{
		{"short file", fileName(0), testFileSize - 1},
		{"long file", fileName(0), testFileSize + 1},
		{"misaligned start", fileName(testFileSize / 2), testFileSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := vfs.NewMem()
			require.NoError(t, fsys.MkdirAll("log"))
			f, err := fsys.Create("log/" + tt.file)
			require.NoError(t, err)
			require.NoError(t, f.Truncate(tt.size))
			require.NoError(t, f.Close())
			opts, _ := testOptions(t, fsys)
			_, err = Open(opts)
			require.ErrorIs(t, err, ErrBadFile)
			assert.ErrorContains(t, err, tt.file)
		})
	}
	// Names that are not log files are left alone.
	fsys := vfs.NewMem()
	require.NoError(t, fsys.MkdirAll("log"))
	for _, name := range []string{"LOCK", "00000000000000000001.idx", "1.log", "0000000000000000000x.log"} {
		f, err := fsys.Create("log/" + name)
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
	opts, _ := testOptions(t, fsys)
	q := openQueue(t, opts)
	assert.Empty(t, q.Files())
}

func TestParseFileName(t *testing.T) {
	for _, start := range []int64{0, testFileSize, 1 << 40} {
		got, ok := parseFileName(fileName(start))
		assert.True(t, ok)
		assert.Equal(t, start, got)
	}
	for _, name := range []string{"", ".log", "123.log", "00000000000000000000.log.tmp", "-0000000000000000001.log", "99999999999999999999.log"} {
		_, ok := parseFileName(name)
		assert.False(t, ok, name)
	}
}

// TestAllocationFailure fails the creation of the second file: the queue
// fails, and Add reports the cause.
func TestAllocationFailure(t *testing.T) {
	checkNoLeak(t)
	second := fileName(testFileSize) + tmpSuffix
	inj := vfs.InjectorFunc(func(op vfs.Op, name string) error {
		if op == vfs.OpCreate && strings.HasSuffix(name, second) {
			return vfs.ErrInjected
		}
		return nil
	})
	opts, _ := testOptions(t, vfs.NewErrorFS(vfs.NewMem(), inj))
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 0))
	var err error
	for idx := uint64(1); err == nil; idx++ {
		_, err = q.Add(&ItemMeta{Index: idx}, nil, make([]byte, 1000))
		require.LessOrEqual(t, idx, uint64(testFileSize/1000+1), "Add went past the end of the first file")
	}
	require.ErrorIs(t, err, vfs.ErrInjected)
	assert.ErrorContains(t, err, "allocating")
	_, err = q.Add(&ItemMeta{}, nil, nil)
	assert.ErrorIs(t, err, vfs.ErrInjected, "the failure is sticky")
	assert.ErrorIs(t, q.Flush(1), vfs.ErrInjected)
	assert.Len(t, q.Files(), 1)
}

func TestStartWritingCreateFails(t *testing.T) {
	checkNoLeak(t)
	inj := vfs.InjectorFunc(func(op vfs.Op, name string) error {
		if op == vfs.OpSyncDir {
			return vfs.ErrInjected
		}
		return nil
	})
	opts, _ := testOptions(t, vfs.NewErrorFS(vfs.NewMem(), inj))
	q := openQueue(t, opts)
	err := q.StartWriting(0, 0)
	require.ErrorIs(t, err, vfs.ErrInjected)
	assert.Empty(t, q.Files())
	_, err = q.Add(&ItemMeta{}, nil, nil)
	assert.ErrorIs(t, err, ErrNotWriting)
}

// TestAllocWait makes the writer reach the second file before it is
// allocated: Add waits for it and reports the wait.
func TestAllocWait(t *testing.T) {
	checkNoLeak(t)
	release := make(chan struct{})
	second := fileName(testFileSize) + tmpSuffix
	inj := vfs.InjectorFunc(func(op vfs.Op, name string) error {
		if op == vfs.OpSync && strings.HasSuffix(name, second) {
			<-release
		}
		return nil
	})
	opts, tags := testOptions(t, vfs.NewErrorFS(vfs.NewMem(), inj))
	var waits atomic.Int64
	opts.OnAllocWait = func(nanos int64) {
		assert.Positive(t, nanos)
		waits.Add(1)
	}
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	q := openQueue(t, opts)
	t.Cleanup(open) // a failing test must not leave the allocation blocked
	q.allocWaitHook = open
	require.NoError(t, q.StartWriting(0, 0))
	var items []item
	for idx := uint64(1); idx <= 100; idx++ {
		items = append(items, addItem(t, q, idx, 0, 1000))
	}
	assert.Equal(t, int64(1), waits.Load())
	require.NoError(t, q.Flush(1))
	tags.wait(t, 1)
	checkRead(t, q, items)
}

// TestFlushTagsPerSegment flushes one batch across a file boundary: of its
// two tasks only the second may carry the new tag, the first repeats the
// previous one, so the durable mark cannot pass a half-written batch.
func TestFlushTagsPerSegment(t *testing.T) {
	checkNoLeak(t)
	opts, tags := testOptions(t, vfs.NewMem())
	q := openQueue(t, opts)
	type sub struct {
		offset, size int64
		tag          uint64
	}
	var subs []sub
	q.submitHook = func(task chainwriter.Task) {
		n := 0
		for _, b := range task.Bufs {
			n += len(b)
		}
		subs = append(subs, sub{task.Offset, int64(n), task.Tag})
	}
	require.NoError(t, q.StartWriting(testFileSize-200, 0))
	addItem(t, q, 1, 0, 10)
	require.NoError(t, q.Flush(1))
	tags.wait(t, 1)

	a := addItem(t, q, 2, 0, 10) // leaves 60 bytes: room for an end marker
	b := addItem(t, q, 3, 0, 500)
	assert.Less(t, a.pos, int64(testFileSize))
	assert.Equal(t, int64(testFileSize), b.pos)
	require.NoError(t, q.Flush(2))
	tags.wait(t, 2)
	assert.Equal(t, []sub{
		{testFileSize - 200, EncodedSize(0, 10), 1},
		{testFileSize - 200 + EncodedSize(0, 10), EncodedSize(0, 10) + EndMarkerSize, 1},
		{0, EncodedSize(0, 500), 2},
	}, subs)
}

// TestAddFlushAllocations checks that Add and Flush allocate per batch, not
// per item: 1024 items with a Flush each round, in the steady state (the
// chunks and task records recycled). The log files discard their writes so
// that the in-memory file system's page allocations do not count.
func TestAddFlushAllocations(t *testing.T) {
	checkNoLeak(t)
	opts, tags := testOptions(t, discardFS{vfs.NewMem()})
	opts.FileSize = 16 << 20
	opts.Prealloc = Sparse
	opts.BufferSize = DefaultBufferSize
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 1))
	data := fill(128, 1)
	var idx, tag uint64
	round := func() {
		for i := 0; i < 1024; i++ {
			idx++
			m := ItemMeta{Index: idx, Term: 1, PrevTerm: 1}
			if _, err := q.Add(&m, nil, data); err != nil {
				t.Fatal(err)
			}
		}
		tag++
		if err := q.Flush(tag); err != nil {
			t.Fatal(err)
		}
		tags.wait(t, tag)
	}
	round()
	allocs := testing.AllocsPerRun(20, round)
	t.Logf("%.1f allocations per 1024 items (the chainwriter and the test's waiting included)", allocs)
	assert.Less(t, allocs, 32.0)
}

// BenchmarkAddFlush adds 1024 items of 128 bytes per Flush to a queue on the
// real file system; SetBytes counts the payload.
func BenchmarkAddFlush(b *testing.B) {
	checkNoLeak(b)
	opts, tags := testOptions(b, vfs.Default)
	opts.Dir = b.TempDir()
	opts.FileSize = 64 << 20
	opts.BufferSize = DefaultBufferSize
	q := openQueue(b, opts)
	require.NoError(b, q.StartWriting(0, 1))
	data := fill(128, 1)
	var idx, tag uint64
	b.SetBytes(1024 * 128)
	b.ReportAllocs()
	for b.Loop() {
		for i := 0; i < 1024; i++ {
			idx++
			m := ItemMeta{Index: idx, Term: 1, PrevTerm: 1}
			if _, err := q.Add(&m, nil, data); err != nil {
				b.Fatal(err)
			}
		}
		tag++
		if err := q.Flush(tag); err != nil {
			b.Fatal(err)
		}
	}
	tags.wait(b, tag)
	require.NoError(b, q.Close())
}

// discardFS opens log files whose writes are dropped.
type discardFS struct{ vfs.FS }

func (d discardFS) Open(name string) (vfs.File, error) {
	f, err := d.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return discardFile{f}, nil
}

type discardFile struct{ vfs.File }

func (discardFile) WritevAt(bufs [][]byte, _ int64) (int, error) {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n, nil
}

// TestCrashKeepsForced crashes the in-memory file system (dropping what was
// not synced, with torn pages) once every batch is reported durable: all
// items are there, across rotations, and the scan ends cleanly after them.
func TestCrashKeepsForced(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	opts, tags := testOptions(t, mem)
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 1))
	var items []item
	for idx := uint64(1); idx <= 400; idx++ {
		items = append(items, addItem(t, q, idx, 1, 600))
		if idx%50 == 0 {
			require.NoError(t, q.Flush(idx))
		}
	}
	tags.wait(t, 400)
	crashed := mem.CrashWithLoss(rand.New(rand.NewPCG(1, 2)))

	opts2, _ := testOptions(t, crashed)
	q2 := openQueue(t, opts2)
	checkRead(t, q2, items)
	checkScan(t, q2, items)
}
