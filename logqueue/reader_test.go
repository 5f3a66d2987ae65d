package logqueue

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/chainwriter"
	"github.com/raftlog/raftlog/pipeline"
	"github.com/raftlog/raftlog/vfs"
)

// genItem is the item of index idx in the generated workloads: its sizes
// and bytes derive from idx, so a reader can check it without sharing
// state with the writer. Some items are larger than a buffer chunk and than
// a small read-ahead; sizes vary so that every way of meeting a file's end
// (end marker, slack, exact fill) comes up.
func genItem(idx uint64) (m ItemMeta, header, data []byte) {
	hl := int(idx % 7)
	dl := int(idx * 7919 % 3000)
	if idx%97 == 0 {
		dl = 20000 + int(idx%5000)
	}
	m = ItemMeta{Index: idx, Term: idx / 10, PrevTerm: (idx - 1) / 10, Timestamp: int64(idx), Type: uint8(idx)}
	if hl > 0 {
		header = fill(hl, byte(idx))
	}
	if dl > 0 {
		data = fill(dl, byte(idx*3))
	}
	return m, header, data
}

func addGen(t testing.TB, q *Queue, idx uint64) int64 {
	m, h, d := genItem(idx)
	pos, err := q.Add(&m, h, d)
	require.NoError(t, err)
	return pos
}

// checkGen checks that an item read back is genItem(idx) of epoch.
func checkGen(idx uint64, epoch uint32, m ItemMeta, h, d []byte) error {
	wm, wh, wd := genItem(idx)
	wm.Epoch = epoch
	wm.HeaderLen, wm.DataLen = uint32(len(wh)), uint32(len(wd))
	if m != wm || string(h) != string(wh) || string(d) != string(wd) {
		return fmt.Errorf("item %d: got %+v (%d, %d bytes), want %+v", idx, m, len(h), len(d), wm)
	}
	return nil
}

// TestReaderConcurrentAppends reads everything back with a Reader on
// another goroutine while items are added and flushed across many files
// (run with -race). The Reader meets ErrEndOfLog whenever it catches up and
// goes on once more is flushed.
func TestReaderConcurrentAppends(t *testing.T) {
	for _, readAhead := range []int{0, 4 << 10} {
		t.Run(fmt.Sprintf("readAhead=%d", readAhead), func(t *testing.T) {
			checkNoLeak(t)
			opts, tags := testOptions(t, vfs.NewMem())
			opts.Prealloc = Sparse
			opts.BufferSize = 8 << 10 // recycle chunks often
			q := openQueue(t, opts)
			require.NoError(t, q.StartWriting(100, 4))

			const last = 4000
			flushed := make(chan struct{}, 1)
			done := make(chan error, 1)
			go func() {
				r := q.NewReader(100, readAhead)
				defer r.Close()
				idx := uint64(1)
				ends := 0
				for idx <= last {
					m, h, d, _, err := r.Next()
					if err == ErrEndOfLog {
						ends++
						<-flushed
						continue
					}
					if err == nil {
						err = checkGen(idx, 4, m, h, d)
					}
					if err != nil {
						done <- err
						return
					}
					idx++
				}
				t.Logf("caught up with the writer %d times", ends)
				done <- nil
			}()
			rng := rand.New(rand.NewPCG(7, 7))
			tag := uint64(0)
			for idx := uint64(1); idx <= last; idx++ {
				addGen(t, q, idx)
				if rng.IntN(10) == 0 || idx == last {
					tag++
					require.NoError(t, q.Flush(tag))
					select {
					case flushed <- struct{}{}:
					default:
					}
				}
			}
			// The reader may wait for one more signal after the last flush.
			for {
				select {
				case err := <-done:
					require.NoError(t, err)
					tags.wait(t, tag)
					assert.Greater(t, len(q.Files()), 50)
					return
				case flushed <- struct{}{}:
				}
			}
		})
	}
}

// TestReaderInFlight holds every write back, so the items are only in the
// in-flight buffers, and reads them with a Reader; then again from the
// files once written.
func TestReaderInFlight(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	gate := newGateFS(mem)
	var reads atomic.Int64
	counted := vfs.NewErrorFS(gate, vfs.InjectorFunc(func(op vfs.Op, name string) error {
		if op == vfs.OpRead {
			reads.Add(1)
		}
		return nil
	}))
	opts, tags := testOptions(t, counted)
	q := openQueue(t, opts)
	t.Cleanup(gate.open)
	require.NoError(t, q.StartWriting(0, 2))

	gate.shut.Store(true)
	var items []item
	for idx := uint64(1); idx <= 150; idx++ {
		it := addItem(t, q, idx, int(idx%3), int(idx*37%1500))
		it.meta.Epoch = 2
		items = append(items, it)
		if idx%30 == 0 {
			require.NoError(t, q.Flush(idx))
		}
	}
	unflushed := addItem(t, q, 151, 0, 10)
	<-gate.entered
	require.Greater(t, q.WritePos(), int64(testFileSize), "items cross a file boundary")
	assert.Equal(t, int64(0), q.WrittenPos())

	r := q.NewReader(0, 0)
	defer r.Close()
	checkReader(t, r, items)
	assert.Zero(t, reads.Load(), "nothing read from the files")
	_, _, _, _, err := r.Next()
	require.ErrorIs(t, err, ErrEndOfLog, "items added but not flushed are not visible")
	assert.Equal(t, unflushed.pos, r.Pos())

	gate.open()
	tags.wait(t, 150)
	assert.Equal(t, unflushed.pos, q.WrittenPos())
	r.SeekTo(0)
	checkReader(t, r, items)
	assert.NotZero(t, reads.Load())

	require.NoError(t, q.Flush(151))
	tags.wait(t, 151)
	unflushed.meta.Epoch = 2
	checkReader(t, r, []item{unflushed})
}

// TestReaderReadAhead counts the preads: one per block of the read-ahead,
// not one per item.
func TestReaderReadAhead(t *testing.T) {
	checkNoLeak(t)
	fsys, reads := countLogReads(vfs.NewMem())
	opts, tags := testOptions(t, fsys)
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 1))
	// 1 KiB items over three files.
	items := addUntil(t, q, tags, 1, 1024-60-5, 1, 3*testFileSize-2000, 1)

	tests := []struct {
		readAhead int
		maxReads  int64
	}{
		{0, 3}, // 1 MiB, capped at each file's end: one pread per file
		{16 << 10, 3*(testFileSize/(16<<10)) + 3}, // a block per 16 KiB, plus one per file end
		{1 << 10, int64(len(items)) + 3},          // smaller than an item: about one per item
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.readAhead), func(t *testing.T) {
			reads.Store(0)
			r := q.NewReader(0, tt.readAhead)
			defer r.Close()
			checkReader(t, r, items)
			_, _, _, _, err := r.Next()
			require.ErrorIs(t, err, ErrEndOfLog)
			n := reads.Load()
			t.Logf("%d items, %d preads", len(items), n)
			assert.LessOrEqual(t, n, tt.maxReads)
			assert.GreaterOrEqual(t, n, int64(3), "at least one pread per file")
		})
	}
}

// TestReaderSeek moves a Reader around: to an item in another file, back,
// into the middle of an item, and to a deleted file.
func TestReaderSeek(t *testing.T) {
	checkNoLeak(t)
	opts, tags := testOptions(t, vfs.NewMem())
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 1))
	items := addUntil(t, q, tags, 1, 900, 1, 3*testFileSize+100, 1)

	r := q.NewReader(items[5].pos, 4<<10)
	defer r.Close()
	assert.Equal(t, items[5].pos, r.Pos())
	checkReader(t, r, items[5:8])
	assert.Equal(t, items[8].pos, r.Pos())

	far := len(items) - 10
	r.SeekTo(items[far].pos)
	checkReader(t, r, items[far:])
	_, _, _, _, err := r.Next()
	require.ErrorIs(t, err, ErrEndOfLog)

	r.SeekTo(items[6].pos) // back, inside the kept read-ahead or not
	checkReader(t, r, items[6:9])

	r.SeekTo(items[2].pos + 1)
	_, _, _, _, err = r.Next()
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorIs(t, err, ErrInvalidItem)
	assert.ErrorContains(t, err, fileName(0))
	assert.Equal(t, items[2].pos+1, r.Pos(), "an error does not move the Reader")

	r.SeekTo(items[0].pos)
	f := q.DeleteBefore(testFileSize)
	checkReader(t, r, items[:2]) // the Reader still holds the file it is in
	r.SeekTo(items[far].pos)
	_, err = waitFor(t, f) // and lets go of it when it leaves
	require.NoError(t, err)
	r.SeekTo(items[0].pos)
	_, _, _, _, err = r.Next()
	require.ErrorIs(t, err, ErrNoFile, "having left it, the Reader cannot go back")
}

// TestReaderCloseReleasesFile: a Reader positioned in a file holds back its
// removal until it moves on or closes.
func TestReaderCloseReleasesFile(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	opts, tags := testOptions(t, mem)
	opts.Executor = serialExecutor(t)
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 1))
	items := addUntil(t, q, tags, 1, 1000, 1, 3*testFileSize+100, 1)
	var second []item
	for _, it := range items {
		if it.pos >= testFileSize && it.pos < 2*testFileSize {
			second = append(second, it)
		}
	}

	r0 := q.NewReader(0, 0)             // in file 0, never moves
	r1 := q.NewReader(second[0].pos, 0) // in file 1, reads on into file 2
	f := q.DeleteBefore(2 * testFileSize)
	settle(t, opts.Executor)
	_, _, ok := f.Result()
	assert.False(t, ok)

	checkReader(t, r1, second)
	_, _, _, pos, err := r1.Next()
	require.NoError(t, err)
	assert.Equal(t, int64(2*testFileSize), pos, "into the third file")
	// r1 left file 1: it is removed, while r0 still holds file 0.
	settle(t, opts.Executor)
	assert.NotContains(t, logFiles(t, mem, "log"), fileName(testFileSize))
	_, _, ok = f.Result()
	assert.False(t, ok)
	assert.Contains(t, logFiles(t, mem, "log"), fileName(0))
	assert.NotContains(t, q.Files(), FileInfo{StartPos: 0, Name: fileName(0)})

	r0.Close()
	r0.Close() // idempotent
	n, err := waitFor(t, f)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.NotContains(t, logFiles(t, mem, "log"), fileName(0))
	assert.NotContains(t, logFiles(t, mem, "log"), fileName(testFileSize))
	_, _, _, _, err = r0.Next()
	assert.ErrorIs(t, err, ErrClosed)
	r1.Close()
}

// TestReaderCorrupt damages written items behind the queue's back.
func TestReaderCorrupt(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	opts, tags := testOptions(t, mem)
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 1))
	items := addUntil(t, q, tags, 1, 300, 1, 5000, 1)

	f, err := mem.Open("log/" + fileName(0))
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteAt([]byte{0xee}, items[3].pos+ItemHeaderSize+2)
	require.NoError(t, err)
	var idx [8]byte
	binary.LittleEndian.PutUint64(idx[:], 99)
	_, err = f.WriteAt(idx[:], items[6].pos+offIndex)
	require.NoError(t, err)

	r := q.NewReader(0, 0)
	defer r.Close()
	checkReader(t, r, items[:3])
	_, _, _, _, err = r.Next()
	require.ErrorIs(t, err, ErrCorrupt)
	assert.ErrorContains(t, err, "payload CRC")
	assert.ErrorContains(t, err, fmt.Sprintf("%s at offset %d", fileName(0), items[3].pos))

	r.SeekTo(items[4].pos)
	checkReader(t, r, items[4:6])
	_, _, _, _, err = r.Next()
	require.ErrorIs(t, err, ErrCorrupt)
	assert.ErrorContains(t, err, "header CRC")

	// Zeros below the flushed position are not the end of the log.
	_, err = f.WriteAt(make([]byte, ItemHeaderSize), items[8].pos)
	require.NoError(t, err)
	r2 := q.NewReader(items[8].pos, 0) // r's read-ahead predates the damage
	defer r2.Close()
	_, _, _, _, err = r2.Next()
	require.ErrorIs(t, err, ErrCorrupt)
	assert.ErrorContains(t, err, "unwritten")
}

// TestReaderNotWriting reads the files of a queue that is not writing (a
// read-only one, and a reopened one before StartWriting): it ends at the
// unwritten space, like a Scanner.
func TestReaderNotWriting(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	opts, tags := testOptions(t, mem)
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 1))
	items := addUntil(t, q, tags, 1, 1200, 1, 2*testFileSize+300, 1)
	require.NoError(t, q.Close())

	ro := opts
	ro.ReadOnly = true
	for _, o := range []Options{opts, ro} {
		q := openQueue(t, o)
		r := q.NewReader(0, 0)
		checkReader(t, r, items)
		_, _, _, _, err := r.Next()
		require.ErrorIs(t, err, ErrEndOfLog)
		r.Close()
		require.NoError(t, q.Close())
		_, _, _, _, err = q.NewReader(0, 0).Next()
		require.ErrorIs(t, err, ErrClosed)
	}
}

// TestReaderWriteFailed: bytes flushed whose write failed are never
// readable, and the Reader says why instead of waiting for them.
func TestReaderWriteFailed(t *testing.T) {
	checkNoLeak(t)
	fsys := vfs.NewErrorFS(vfs.NewMem(), vfs.OnIndex(0, vfs.OpWrite))
	opts, _ := testOptions(t, fsys)
	opts.Prealloc = Sparse // allocation writes nothing
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 1))
	addItem(t, q, 1, 0, 10)
	require.NoError(t, q.Flush(1))
	// OnWritten runs right after OnError on the write goroutine; wait for
	// the task to leave the in-flight list (bounded polling, no sleep).
	deadline := time.Now().Add(5 * time.Second)
	for {
		q.mu.Lock()
		n := len(q.inflight)
		q.mu.Unlock()
		if n == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "task never written")
		runtime.Gosched()
	}
	r := q.NewReader(0, 0)
	defer r.Close()
	_, _, _, _, err := r.Next()
	require.ErrorIs(t, err, vfs.ErrInjected)
	assert.Equal(t, int64(0), q.WrittenPos())
}

// BenchmarkReader reads 64 MiB of 1 KiB items sequentially with a Reader
// from a real temporary directory, next to raw sequential 1 MiB preads of
// the same files. The files were just written, so both read from the page
// cache: the difference is the Reader's own cost (decoding, two CRCs per
// item, the per-file references).
func BenchmarkReader(b *testing.B) {
	const (
		total    = 64 << 20
		itemSize = 1 << 10
		fileSize = 16 << 20
	)
	exec, err := pipeline.NewExecutor(2)
	require.NoError(b, err)
	defer exec.Close()
	tags := newForcedTags()
	opts := Options{
		FS: vfs.Default, Dir: b.TempDir(), FileSize: fileSize, Executor: exec,
		Prealloc: Fallocate, Writer: chainwriter.Options{OnForced: tags.onForced},
	}
	q, err := Open(opts)
	require.NoError(b, err)
	defer q.Close()
	require.NoError(b, q.StartWriting(0, 1))
	data := make([]byte, itemSize-ItemHeaderSize-ItemTrailerSize)
	var n int64
	for idx := uint64(1); q.WritePos() < total; idx++ {
		m := ItemMeta{Index: idx, Term: 1}
		_, err := q.Add(&m, nil, data)
		require.NoError(b, err)
		n++
		if idx%1024 == 0 {
			require.NoError(b, q.Flush(idx))
		}
	}
	require.NoError(b, q.Flush(uint64(n)+1))
	tags.wait(b, uint64(n)+1)
	end := q.WritePos()

	b.Run("reader", func(b *testing.B) {
		b.SetBytes(end)
		b.ReportAllocs()
		for b.Loop() {
			r := q.NewReader(0, 1<<20)
			var got int64
			for {
				_, _, _, _, err := r.Next()
				if err == ErrEndOfLog {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				got++
			}
			r.Close()
			if got != n {
				b.Fatalf("read %d items, want %d", got, n)
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		files := q.Files()
		buf := make([]byte, 1<<20)
		b.SetBytes(end)
		b.ReportAllocs()
		for b.Loop() {
			left := end
			for _, fi := range files {
				f, err := vfs.Default.OpenReadOnly(opts.Dir + "/" + fi.Name)
				if err != nil {
					b.Fatal(err)
				}
				for off := int64(0); off < fileSize && left > 0; off += int64(len(buf)) {
					if _, err := f.ReadAt(buf, off); err != nil {
						b.Fatal(err)
					}
					left -= int64(len(buf))
				}
				_ = f.Close()
			}
		}
	})
}

// TestReaderRetain keeps every slice a Reader returns and checks them all
// at the end: with Retain they stay as read, over many blocks of a small
// read-ahead, across files, from the in-flight buffers and the file. Without
// it the Reader reuses its buffer, so the kept slices change (the control
// that shows the check can fail). With SetAlloc every block, of the file or
// copied from the in-flight buffers, comes from the given allocator.
func TestReaderRetain(t *testing.T) {
	for _, tc := range []struct{ retain, alloc bool }{{true, false}, {true, true}, {false, false}} {
		retain := tc.retain
		t.Run(fmt.Sprintf("retain=%v,alloc=%v", tc.retain, tc.alloc), func(t *testing.T) {
			checkNoLeak(t)
			q, gate, tags := openGatedQueue(t, 1)
			items := addUntil(t, q, tags, 1, 700, 1, 2*testFileSize+5000, 1)
			// More items held in flight: the write of them waits at the gate.
			gate.shut.Store(true)
			first := uint64(len(items) + 1)
			for idx := first; idx < first+20; idx++ {
				it := addItem(t, q, idx, 5, 900)
				it.meta.Epoch = 1
				items = append(items, it)
			}
			require.NoError(t, q.Flush(2))
			<-gate.entered

			r := q.NewReader(0, 4<<10)
			defer r.Close()
			if retain {
				r.Retain()
			}
			allocated := map[*byte]bool{}
			if tc.alloc {
				r.SetAlloc(func(n int) []byte {
					b := make([]byte, n)
					allocated[&b[0]] = true
					return b
				})
			}
			type got struct{ h, d []byte }
			var kept []got
			for _, it := range items {
				m, h, d, _, err := r.Next()
				require.NoError(t, err, "item %d", it.meta.Index)
				require.Equal(t, it.meta, m)
				kept = append(kept, got{h, d})
				if tc.alloc {
					require.True(t, allocated[&r.Block()[0]], "item %d read into a block alloc did not give", it.meta.Index)
				}
			}
			if tc.alloc {
				// Many blocks of the 4 KiB read-ahead, and the in-flight copy.
				require.Greater(t, len(allocated), 2*testFileSize/(4<<10))
			}
			changed := 0
			for i, it := range items {
				if string(kept[i].h) != string(it.header) || string(kept[i].d) != string(it.data) {
					changed++
				}
			}
			if retain {
				assert.Zero(t, changed, "slices kept after Retain changed")
			} else {
				assert.NotZero(t, changed, "the buffer was not reused: the control proves nothing")
			}
		})
	}
}
