package logqueue

import (
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

// TestCutTailStopsAtCleanRun puts a stray byte beyond 4 MiB of zeros: it is
// not part of the dirty tail and stays.
func TestCutTailStopsAtCleanRun(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	opts, _ := testOptions(t, mem)
	opts.FileSize = 16 << 20
	opts.Prealloc = Sparse
	require.NoError(t, mem.MkdirAll("log"))
	f, err := mem.Create("log/" + fileName(0))
	require.NoError(t, err)
	require.NoError(t, f.Truncate(opts.FileSize))
	for _, off := range []int64{100, 1 << 20, 1<<20 + cutCleanRun + 10} {
		_, err = f.WriteAt([]byte{7}, off)
		require.NoError(t, err)
	}
	require.NoError(t, f.Close())
	q := openQueue(t, opts)

	zeroed, err := q.CutTail(50)
	require.NoError(t, err)
	assert.Equal(t, int64(1<<20-100+1), zeroed)
	g, err := mem.Open("log/" + fileName(0))
	require.NoError(t, err)
	defer g.Close()
	b := make([]byte, 1)
	for off, want := range map[int64]byte{100: 0, 1 << 20: 0, 1<<20 + cutCleanRun + 10: 7} {
		_, err = g.ReadAt(b, off)
		require.NoError(t, err)
		assert.Equal(t, want, b[0], "offset %d", off)
	}

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
	for _, tt := range tests {
		first, last := dirtyRange(tt.b)
		assert.Equal(t, tt.first, first, "%v", tt.b)
		assert.Equal(t, tt.last, last, "%v", tt.b)
	}
}
