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
	mem := vfs.NewMem()
	gate := newGateFS(mem)
	opts, tags := testOptions(t, gate)
	q := openQueue(t, opts)
	t.Cleanup(gate.open) // before the queue's Close
	require.NoError(t, q.StartWriting(0, 9))

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
	assert.Equal(t, make([]byte, 4096), readRaw(t, mem, "log", 0, 4096))
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
