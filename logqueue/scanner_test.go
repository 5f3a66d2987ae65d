package logqueue

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/vfs"
)

// writeItems writes n items of dataLen bytes from pos and waits until they
// are durable.
func writeItems(t *testing.T, fsys vfs.FS, pos int64, n, dataLen int) []item {
	t.Helper()
	opts, tags := testOptions(t, fsys)
	q, err := Open(opts)
	require.NoError(t, err)
	require.NoError(t, q.StartWriting(pos, 0))
	var items []item
	for idx := uint64(1); idx <= uint64(n); idx++ {
		items = append(items, addItem(t, q, idx, 2, dataLen))
	}
	require.NoError(t, q.Flush(1))
	tags.wait(t, 1)
	require.NoError(t, q.Close())
	return items
}

func TestScannerStopsAtDamage(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	items := writeItems(t, mem, 0, 200, 900) // about three files
	bad := items[150]

	f, err := mem.Open("log/" + fileName(bad.pos&^(testFileSize-1)))
	require.NoError(t, err)
	_, err = f.WriteAt([]byte{0x5a}, (bad.pos&(testFileSize-1))+ItemHeaderSize+1)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	opts, _ := testOptions(t, mem)
	q := openQueue(t, opts)
	s := q.NewScanner(0)
	for _, it := range items[:150] {
		_, _, _, pos, err := s.Next()
		require.NoError(t, err)
		require.Equal(t, it.pos, pos)
	}
	_, _, _, _, err = s.Next()
	require.ErrorIs(t, err, ErrInvalidItem)
	assert.ErrorContains(t, err, fileName(bad.pos&^(testFileSize-1)))
	assert.Equal(t, bad.pos, s.Pos(), "Pos stays at the bad item")

	// Scanning on from the next item finds the rest.
	s = q.NewScanner(items[151].pos)
	for _, it := range items[151:] {
		_, _, _, pos, err := s.Next()
		require.NoError(t, err)
		require.Equal(t, it.pos, pos)
	}
	_, _, _, _, err = s.Next()
	require.ErrorIs(t, err, ErrEndOfLog)
	assert.Equal(t, items[len(items)-1].pos+EncodedSize(2, 900), s.Pos())
}

func TestScannerEnds(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	opts, _ := testOptions(t, mem)
	q := openQueue(t, opts)

	// No files at all.
	_, _, _, _, err := q.NewScanner(0).Next()
	require.ErrorIs(t, err, ErrEndOfLog)
	require.NoError(t, q.Close())

	// One item filling the first file to its end, and no next file.
	items := writeItems(t, mem, testFileSize-EncodedSize(2, 100), 1, 100)
	require.NoError(t, mem.Remove("log/"+fileName(testFileSize)))

	q = openQueue(t, opts)
	s := q.NewScanner(items[0].pos)
	_, _, _, _, err = s.Next()
	require.NoError(t, err)
	_, _, _, _, err = s.Next()
	require.ErrorIs(t, err, ErrEndOfLog)
	assert.ErrorContains(t, err, "past the last file")
	assert.Equal(t, int64(testFileSize), s.Pos())
}

func TestScannerMissingFile(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	writeItems(t, mem, 0, 200, 900)
	require.NoError(t, mem.Remove("log/"+fileName(testFileSize)))
	opts, _ := testOptions(t, mem)
	q := openQueue(t, opts)
	s := q.NewScanner(0)
	var err error
	for err == nil {
		_, _, _, _, err = s.Next()
	}
	require.ErrorIs(t, err, ErrNoFile)
	assert.Equal(t, int64(testFileSize), s.Pos())
}

// TestScannerLargeItems reads items larger than the read-ahead block, which
// needs files larger than the 64 KiB of the other tests.
func TestScannerLargeItems(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	opts, tags := testOptions(t, mem)
	opts.FileSize = 4 << 20
	opts.Prealloc = Sparse
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 0))
	var items []item
	for idx, dl := range []int{10, scanBlock + 5000, 300, 2*scanBlock - 100, 1, scanBlock} {
		items = append(items, addItem(t, q, uint64(idx+1), 3, dl))
	}
	require.NoError(t, q.Flush(1))
	tags.wait(t, 1)
	checkScan(t, q, items)
	checkRead(t, q, items)
}
