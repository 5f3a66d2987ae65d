package logqueue

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/vfs"
)

// TestCutTail tears the tail (half an item, then stray bytes further on),
// finds it with the scanner and cuts it.
func TestCutTail(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	items := writeItems(t, mem, 0, 20, 500)
	end := items[len(items)-1].pos + EncodedSize(2, 500)

	// What a torn write leaves: the first part of the next item (a valid
	// header, a cut payload) and a later page of the same write.
	torn := encode(end, ItemMeta{Index: 21}, nil, make([]byte, 3000))
	f, err := mem.Open("log/" + fileName(0))
	require.NoError(t, err)
	_, err = f.WriteAt(torn[:1000], end)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte{1, 2, 3}, end+2000)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	opts, tags := testOptions(t, mem)
	q := openQueue(t, opts)
	s := q.NewScanner(0)
	for range items {
		_, _, _, _, err := s.Next()
		require.NoError(t, err)
	}
	_, _, _, _, err = s.Next()
	require.ErrorIs(t, err, ErrInvalidItem)
	require.Equal(t, end, s.Pos())

	zeroed, err := q.CutTail(s.Pos())
	require.NoError(t, err)
	assert.Equal(t, int64(2003), zeroed, "from the torn item to the last stray byte")
	assert.Equal(t, make([]byte, testFileSize-end), readRaw(t, mem, "log", end, int(testFileSize-end)))
	_, _, _, _, err = q.NewScanner(end).Next()
	require.ErrorIs(t, err, ErrEndOfLog)

	// The cut is durable, and writing goes on from there.
	crashed := mem.Crash()
	assert.Equal(t, make([]byte, 3000), readRaw(t, crashed, "log", end, 3000))
	require.NoError(t, q.StartWriting(end, 1))
	next := addItem(t, q, 21, 2, 500)
	assert.Equal(t, end, next.pos)
	require.NoError(t, q.Flush(1))
	tags.wait(t, 1)
	checkScan(t, q, append(items, next))

	// Recovery is over once writing has started.
	_, err = q.CutTail(0)
	assert.ErrorIs(t, err, ErrWriting)
}

// TestCutTailClearsItemsOnly puts, past the cut position, a whole item, a
// stray byte, a torn item (valid header, cut payload), another stray byte,
// and an item more than cutCleanRun further on. The cut clears everything
// up to the end of the torn item and nothing after it: the later stray
// byte holds no header that could validate, and the far item is beyond
// the bound.
func TestCutTailClearsItemsOnly(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	opts, _ := testOptions(t, mem)
	opts.FileSize = 16 << 20
	opts.Prealloc = Sparse
	require.NoError(t, mem.MkdirAll("log"))
	f, err := mem.Create("log/" + fileName(0))
	require.NoError(t, err)
	require.NoError(t, f.Truncate(opts.FileSize))
	const (
		whole = 64
		torn  = 1 << 20
	)
	tornItem := encode(torn, ItemMeta{Index: 9, Epoch: 1}, nil, bytes.Repeat([]byte{9}, 3000))
	tornEnd := int64(torn + len(tornItem))
	far := tornEnd + cutCleanRun + 10
	writes := map[int64][]byte{
		whole:       encode(whole, ItemMeta{Index: 7, Epoch: 1}, nil, []byte("whole")),
		100_000:     {7},
		torn:        tornItem[:1000],
		tornEnd + 5: {7},
		far:         encode(far, ItemMeta{Index: 11, Epoch: 1}, nil, []byte("far")),
	}
	for off, b := range writes {
		_, err = f.WriteAt(b, off)
		require.NoError(t, err)
	}
	require.NoError(t, f.Close())
	q := openQueue(t, opts)

	extent, err := q.TailExtent(50)
	require.NoError(t, err)
	assert.Equal(t, tornEnd, extent)
	zeroed, err := q.CutTail(50)
	require.NoError(t, err)
	assert.Positive(t, zeroed)
	assert.LessOrEqual(t, zeroed, int64(torn+1000-whole), "more than the span of the written bytes")
	g, err := mem.Open("log/" + fileName(0))
	require.NoError(t, err)
	defer g.Close()
	cleared := make([]byte, tornEnd-50)
	_, err = g.ReadAt(cleared, 50)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(make([]byte, len(cleared)), cleared), "bytes left before the end of the torn item")
	b := make([]byte, 1)
	for off, want := range map[int64]byte{tornEnd + 5: 7, far + 8: byte(KindItem)} {
		_, err = g.ReadAt(b, off)
		require.NoError(t, err)
		assert.Equal(t, want, b[0], "offset %d", off)
	}

	// Past the torn item nothing validates: nothing to cut, nothing synced.
	zeroed, err = q.CutTail(tornEnd)
	require.NoError(t, err)
	assert.Zero(t, zeroed)
	zeroed, err = q.CutTail(opts.FileSize * 3)
	require.NoError(t, err, "no file there: nothing to cut")
	assert.Zero(t, zeroed)
	_, err = q.CutTail(-1)
	assert.ErrorIs(t, err, ErrNoFile)
}

// TestSyncRange checks that the files holding a range are synced: after a
// crash the bytes written there without a sync survive.
func TestSyncRange(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	require.NoError(t, mem.MkdirAll("log"))
	for _, start := range []int64{0, testFileSize, 2 * testFileSize} {
		lf, err := allocFile(mem, "log", start, testFileSize, Sparse, nil)
		require.NoError(t, err)
		_, err = lf.f.WriteAt([]byte{9}, 100)
		require.NoError(t, err)
		require.NoError(t, lf.f.Close())
	}
	opts, _ := testOptions(t, mem)
	q := openQueue(t, opts)
	require.NoError(t, q.SyncRange(50, testFileSize+10))
	require.NoError(t, q.SyncRange(10, 10), "empty range")
	crashed := mem.Crash()
	for start, want := range map[int64]byte{0: 9, testFileSize: 9, 2 * testFileSize: 0} {
		assert.Equal(t, []byte{want}, readRaw(t, crashed, "log", start+100, 1), "file at %d", start)
	}
	assert.ErrorIs(t, q.SyncRange(0, 5*testFileSize), ErrNoFile)
}

func TestDirtyRange(t *testing.T) {
	tests := []struct {
		b           []byte
		first, last int
	}{
		{nil, -1, -1},
		{[]byte{0, 0, 0}, -1, -1},
		{[]byte{1}, 0, 0},
		{[]byte{0, 1, 0, 1, 0}, 1, 3},
		{[]byte{0, 0, 9}, 2, 2},
	}
	long := func(n int, set ...int) []byte {
		b := make([]byte, n)
		for _, i := range set {
			b[i] = 0x80
		}
		return b
	}
	tests = append(tests, []struct {
		b           []byte
		first, last int
	}{
		{long(10000), -1, -1},
		{long(10000, 9999), 9999, 9999},
		{long(10000, 0), 0, 0},
		{long(10000, 255, 256), 255, 256},
		{long(10000, 300, 5000, 7777), 300, 7777},
		{long(513, 512), 512, 512},
	}...)
	for _, tt := range tests {
		first, last := dirtyRange(tt.b)
		assert.Equal(t, tt.first, first, "%d bytes", len(tt.b))
		assert.Equal(t, tt.last, last, "%d bytes", len(tt.b))
	}
}

// FuzzDirtyRange checks dirtyRange against a byte-by-byte search.
func FuzzDirtyRange(f *testing.F) {
	f.Add([]byte{0, 1, 0}, uint16(0), uint16(0))
	f.Add([]byte{}, uint16(700), uint16(3))
	f.Fuzz(func(t *testing.T, head []byte, zerosBefore, zerosAfter uint16) {
		b := append(append(make([]byte, zerosBefore), head...), make([]byte, zerosAfter)...)
		wantFirst, wantLast := -1, -1
		for i, v := range b {
			if v != 0 {
				if wantFirst < 0 {
					wantFirst = i
				}
				wantLast = i
			}
		}
		first, last := dirtyRange(b)
		if first != wantFirst || last != wantLast {
			t.Fatalf("dirtyRange = %d, %d; want %d, %d", first, last, wantFirst, wantLast)
		}
	})
}
