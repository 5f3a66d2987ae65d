package logqueue

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/vfs"
)

// TestReadInFlight holds every write of the log files back, so the items
// are certainly not in the file, and reads them from the in-flight buffers.
func TestReadInFlight(t *testing.T) {
	checkNoLeak(t)
	q, gate, tags := openGatedQueue(t, 9)

	gate.shut.Store(true)
	var items []item
	for idx := uint64(1); idx <= 60; idx++ {
		it := addItem(t, q, idx, int(idx%3), int(idx*37%3000))
		it.meta.Epoch = 9
		items = append(items, it)
		if idx%20 == 0 {
			require.NoError(t, q.Flush(idx))
		}
	}
	<-gate.entered
	// Nothing reached the file...
	assert.Equal(t, make([]byte, 4096), readRaw(t, gate.FS, "log", 0, 4096))
	// ...yet every item reads back, and the copies are the caller's.
	checkRead(t, q, items)
	_, _, d, err := q.ReadItem(items[1].pos)
	require.NoError(t, err)
	d[0] ^= 0xff
	checkRead(t, q, items[1:2])

	// A position inside an item is not an item.
	_, _, _, err = q.ReadItem(items[1].pos + 1)
	assert.ErrorIs(t, err, ErrCorrupt)

	gate.open()
	tags.wait(t, 60)
	q.mu.Lock()
	assert.Empty(t, q.inflight)
	q.mu.Unlock()
	checkRead(t, q, items)
}

// TestReadConcurrent reads items from other goroutines while they are added,
// flushed, written and their buffers recycled (run with -race).
func TestReadConcurrent(t *testing.T) {
	checkNoLeak(t)
	opts, tags := testOptions(t, vfs.NewMem())
	opts.BufferSize = 4 << 10 // recycle chunks often
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 0))

	published := make(chan item, 4096)
	done := make(chan error, 4)
	for r := 0; r < 4; r++ {
		go func() {
			for it := range published {
				m, h, d, err := q.ReadItem(it.pos)
				if err == nil && (m != it.meta || string(h) != string(it.header) || string(d) != string(it.data)) {
					err = assert.AnError
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for idx := uint64(1); idx <= 3000; idx++ {
		it := addItem(t, q, idx, 4, int(idx%500))
		require.NoError(t, q.Flush(idx))
		published <- it // readable once flushed
	}
	close(published)
	for r := 0; r < 4; r++ {
		require.NoError(t, <-done)
	}
	tags.wait(t, 3000)
}

func TestReadItemErrors(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	opts, tags := testOptions(t, mem)
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 0))
	a := addItem(t, q, 1, 0, 100)
	b := addItem(t, q, 2, 0, 100)
	require.NoError(t, q.Flush(1))
	tags.wait(t, 1)

	// Unwritten space.
	_, _, _, err := q.ReadItem(q.WritePos())
	require.ErrorIs(t, err, ErrCorrupt)
	assert.ErrorContains(t, err, "00000000000000000000.log at offset 320")

	// No file there.
	_, _, _, err = q.ReadItem(5 * testFileSize)
	require.ErrorIs(t, err, ErrNoFile)
	_, _, _, err = q.ReadItem(-1)
	require.ErrorIs(t, err, ErrNoFile)

	// Damage the payload of b, then the header of a, behind the queue's back.
	f, err := mem.Open("log/" + fileName(0))
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteAt([]byte{0xee}, b.pos+ItemHeaderSize+3)
	require.NoError(t, err)
	_, _, _, err = q.ReadItem(b.pos)
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorIs(t, err, ErrInvalidItem)
	assert.ErrorContains(t, err, "payload CRC")

	var idx [8]byte
	binary.LittleEndian.PutUint64(idx[:], 77)
	_, err = f.WriteAt(idx[:], a.pos+offIndex)
	require.NoError(t, err)
	_, _, _, err = q.ReadItem(a.pos)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.ErrorContains(t, err, "header CRC")
}

// TestReadItemEndMarker asks for the position of an end marker.
func TestReadItemEndMarker(t *testing.T) {
	checkNoLeak(t)
	opts, tags := testOptions(t, vfs.NewMem())
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(testFileSize-100, 0))
	addItem(t, q, 1, 0, 200)
	require.NoError(t, q.Flush(1))
	tags.wait(t, 1)
	_, _, _, err := q.ReadItem(testFileSize - 100)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.ErrorContains(t, err, "end marker")
}

// TestReadItemSizes reads items of sizes that step over and under the size
// hint (one taken from the previous read), larger than the first read's
// cap, and near a file's end, and checks every byte and that the slices are
// the caller's: writing through one, or appending to the header, changes
// neither the data nor a later read.
func TestReadItemSizes(t *testing.T) {
	checkNoLeak(t)
	opts, tags := testOptions(t, vfs.NewMem())
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 1))
	sizes := []int{100, 100, 3000, 10, 10, 5000, 200, 4096 - 60 - 3, 4096 - 60 - 2, 1, 0, 20000, 700}
	var items []item
	for i, n := range sizes {
		it := addItem(t, q, uint64(i+1), i%3, n)
		it.meta.Epoch = 1
		items = append(items, it)
	}
	// Fill the first file up to its last bytes, so that the last item of
	// the file has less room after it than a first read.
	for idx := uint64(len(sizes) + 1); q.WritePos() < testFileSize-1500; idx++ {
		it := addItem(t, q, idx, 0, 200)
		it.meta.Epoch = 1
		items = append(items, it)
	}
	require.NoError(t, q.Flush(1))
	tags.wait(t, 1)
	require.Greater(t, q.WrittenPos(), items[len(items)-1].pos)

	for _, order := range []string{"forward", "backward"} {
		t.Run(order, func(t *testing.T) {
			for k := range items {
				it := items[k]
				if order == "backward" {
					it = items[len(items)-1-k]
				}
				m, h, d, err := q.ReadItem(it.pos)
				require.NoError(t, err, "item %d", it.meta.Index)
				require.Equal(t, it.meta, m)
				require.Equal(t, it.header, h)
				require.Equal(t, it.data, d)
				if len(h) > 0 && len(d) > 0 {
					_ = append(h, 0xff, 0xff, 0xff)
					require.Equal(t, it.data, d, "appending to the header reached the data")
				}
				for i := range d {
					d[i]++
				}
			}
			checkRead(t, q, items)
		})
	}
	// A hint larger than the room left in the file: the first read stops
	// at the file's end.
	last := items[len(items)-1]
	require.Less(t, testFileSize-last.pos, int64(readAhead))
	for _, it := range []item{items[11], last} {
		m, h, d, err := q.ReadItem(it.pos)
		require.NoError(t, err)
		require.Equal(t, it.meta, m)
		require.Equal(t, it.header, h)
		require.Equal(t, it.data, d)
	}
}

// TestReadMeta reads the fixed header alone: from the file and from the
// in-flight buffers, with the same errors as ReadItem for what is not an
// item, and without reading (so without checking) the payload.
func TestReadMeta(t *testing.T) {
	checkNoLeak(t)
	q, gate, tags := openGatedQueue(t, 3)
	var written []item
	for idx := uint64(1); idx <= 5; idx++ {
		it := addItem(t, q, idx, 2, int(idx)*300)
		it.meta.Epoch = 3
		written = append(written, it)
	}
	require.NoError(t, q.Flush(1))
	tags.wait(t, 1)

	gate.shut.Store(true)
	inflight := addItem(t, q, 6, 0, 50)
	inflight.meta.Epoch = 3
	require.NoError(t, q.Flush(2))
	<-gate.entered
	require.Less(t, q.WrittenPos(), inflight.pos+1, "the last item must still be in flight")

	for _, it := range append(written, inflight) {
		m, err := q.ReadMeta(it.pos)
		require.NoError(t, err, "item %d", it.meta.Index)
		assert.Equal(t, it.meta, m)
	}
	_, err := q.ReadMeta(written[1].pos + 1)
	require.ErrorIs(t, err, ErrCorrupt, "inside an item")
	_, err = q.ReadMeta(inflight.pos + 1)
	require.ErrorIs(t, err, ErrCorrupt, "inside an in-flight item")
	_, err = q.ReadMeta(5 * testFileSize)
	require.ErrorIs(t, err, ErrNoFile)

	// Damage the payload of item 2, then the header of item 3.
	f, err := gate.FS.Open("log/" + fileName(0))
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteAt([]byte{0xee}, written[1].pos+ItemHeaderSize+10)
	require.NoError(t, err)
	_, _, _, err = q.ReadItem(written[1].pos)
	require.ErrorIs(t, err, ErrCorrupt)
	m, err := q.ReadMeta(written[1].pos)
	require.NoError(t, err, "ReadMeta does not read the payload")
	assert.Equal(t, written[1].meta, m)

	var term [8]byte
	binary.LittleEndian.PutUint64(term[:], 99)
	_, err = f.WriteAt(term[:], written[2].pos+offTerm)
	require.NoError(t, err)
	_, err = q.ReadMeta(written[2].pos)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.ErrorContains(t, err, "header CRC")
}

// TestReadItemOnePread counts the preads of ReadItem: items of one size
// take one each once the size hint has it; a larger item takes two.
func TestReadItemOnePread(t *testing.T) {
	checkNoLeak(t)
	fsys, reads := countLogReads(vfs.NewMem())
	opts, tags := testOptions(t, fsys)
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 1))
	var items []item
	for idx := uint64(1); idx <= 20; idx++ {
		items = append(items, addItem(t, q, idx, 0, 1500))
	}
	big := addItem(t, q, 21, 0, 3500)
	require.NoError(t, q.Flush(1))
	tags.wait(t, 1)

	_, _, _, err := q.ReadItem(items[0].pos) // sets the hint
	require.NoError(t, err)
	reads.Store(0)
	for _, it := range items {
		_, _, _, err := q.ReadItem(it.pos)
		require.NoError(t, err)
	}
	assert.Equal(t, int64(len(items)), reads.Load(), "one pread per item")
	reads.Store(0)
	_, _, d, err := q.ReadItem(big.pos)
	require.NoError(t, err)
	require.Equal(t, big.data, d)
	assert.Equal(t, int64(2), reads.Load(), "an item larger than the hint")
}
