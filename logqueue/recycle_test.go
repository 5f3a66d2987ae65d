package logqueue

import (
	"bytes"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/vfs"
)

// spareFiles lists the spare files in the directory, as the disk sees them.
func spareFiles(t testing.TB, fsys vfs.FS, dir string) []string {
	t.Helper()
	names, err := fsys.List(dir)
	require.NoError(t, err)
	var out []string
	for _, n := range names {
		if isSpareName(n) {
			out = append(out, n)
		}
	}
	return out
}

// TestRecycleFiles compacts four files away, keeps up to RecycleFiles of
// them as spares, and checks that the next files are made from the spares
// (they hold the old bytes past the write position, not zeros), that every
// item written into them reads back, and that a reopened queue takes the
// spares left back.
func TestRecycleFiles(t *testing.T) {
	for _, spares := range []int{0, 1, 3, 8} {
		t.Run(strings.Repeat("s", spares), func(t *testing.T) {
			checkNoLeak(t)
			mem := vfs.NewMem()
			opts, tags := testOptions(t, mem)
			opts.Prealloc = Fallocate
			opts.RecycleFiles = spares
			var recycled atomic.Int32
			opts.OnRecycle = func() { recycled.Add(1) }
			q := openQueue(t, opts)
			require.NoError(t, q.StartWriting(0, 1))
			items := addUntil(t, q, tags, 1, 1000, 1, 6*testFileSize+100, 1)
			<-q.next.Done()
			require.Len(t, logFiles(t, mem, "log"), 8) // 7 written, 1 preallocated

			n, err := waitFor(t, q.DeleteBefore(4*testFileSize))
			require.NoError(t, err)
			require.Equal(t, 4, n)
			kept := min(spares, 4)
			assert.Len(t, spareFiles(t, mem, "log"), kept)
			assert.Equal(t, kept, q.spares.count())
			assert.Len(t, logFiles(t, mem, "log"), 4)

			// Three more files are allocated (the eighth exists already).
			more := addUntil(t, q, tags, uint64(len(items)+1), 1000, 1, 9*testFileSize+100, 2)
			<-q.next.Done()
			checkRead(t, q, more)
			left := max(kept-3, 0)
			assert.EqualValues(t, min(kept, 3), recycled.Load(), "files made from spares")
			assert.Len(t, spareFiles(t, mem, "log"), left)
			assert.Equal(t, left, q.spares.count())
			// The last file allocated is made from a spare when there was
			// one left for it: the old bytes are there, not zeros.
			last := int64(10 * testFileSize)
			old := readRaw(t, mem, "log", last+testFileSize/2, 4096)
			if kept >= 3 {
				assert.NotEqual(t, make([]byte, 4096), old, "file 10 is not a recycled file")
			} else {
				assert.Equal(t, make([]byte, 4096), old, "file 10 is not a new file")
			}
			require.NoError(t, q.Close())

			opts2, _ := testOptions(t, mem)
			opts2.RecycleFiles = spares
			q2 := openQueue(t, opts2)
			assert.Equal(t, left, q2.spares.count(), "spares taken back by Open")
			// A scan reads the items, then meets the old bytes of a
			// recycled file or the zeros of a new one.
			sc := q2.NewScanner(more[0].pos)
			for _, it := range more {
				m, _, data, pos, err := sc.Next()
				require.NoError(t, err)
				require.Equal(t, it.pos, pos)
				require.Equal(t, it.meta.Index, m.Index)
				require.Equal(t, it.data, data)
			}
			_, _, _, _, err = sc.Next()
			if kept >= 2 { // the ninth file, which holds the end, is recycled
				assert.ErrorIs(t, err, ErrInvalidItem)
			} else {
				assert.ErrorIs(t, err, ErrEndOfLog)
			}
		})
	}
}

// TestOpenSpares checks what Open does with spare files: it keeps those of
// the right size up to RecycleFiles and removes the others.
func TestOpenSpares(t *testing.T) {
	tests := []struct {
		name      string
		sizes     []int64 // of the spare files found
		recycle   int
		wantKept  int
		wantFiles int // spare files left on disk
	}{
		{"none wanted", []int64{testFileSize, testFileSize}, 0, 0, 0},
		{"all kept", []int64{testFileSize, testFileSize}, 2, 2, 2},
		{"extra removed", []int64{testFileSize, testFileSize, testFileSize}, 2, 2, 2},
		{"wrong size removed", []int64{testFileSize, 1000}, 4, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewMem()
			require.NoError(t, mem.MkdirAll("log"))
			for i, size := range tc.sizes {
				f, err := mem.Create("log/" + fileName(int64(i)*testFileSize) + freeSuffix)
				require.NoError(t, err)
				require.NoError(t, f.Truncate(size))
				require.NoError(t, f.Close())
			}
			opts, _ := testOptions(t, mem)
			opts.RecycleFiles = tc.recycle
			q := openQueue(t, opts)
			assert.Equal(t, tc.wantKept, q.spares.count())
			assert.Len(t, spareFiles(t, mem, "log"), tc.wantFiles)
			assert.Empty(t, q.Files(), "a spare is not a log file")
		})
	}
}

// byteCountFS counts the bytes read from the log files it opens.
type byteCountFS struct {
	vfs.FS
	read atomic.Int64
}

func (c *byteCountFS) Open(name string) (vfs.File, error) {
	f, err := c.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return &byteCountFile{File: f, c: c}, nil
}

type byteCountFile struct {
	vfs.File
	c *byteCountFS
}

func (f *byteCountFile) ReadAt(b []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(b, off)
	f.c.read.Add(int64(n))
	return n, err
}

// TestRecoveryInRecycledSpace writes items into a 32 MiB file and puts the
// old bytes of a recycled file (the same items, moved by an odd number of
// bytes: valid at their old positions only) after them or in their midst.
// FindItems must find the items that follow less than cutCleanRun of such
// bytes, and give up after cutCleanRun of them instead of reading to the
// end of the file; CutTail must leave them alone.
func TestRecoveryInRecycledSpace(t *testing.T) {
	const fileSize = 32 << 20
	// write fills a new log with items up to about 10 MiB and returns them
	// with the raw bytes of the file.
	write := func(t *testing.T) (*vfs.MemFS, []item, []byte) {
		return writeOneFile(t, fileSize, 4000, 10<<20)
	}
	// garbage returns n bytes of old items, shifted so none is at its own
	// position.
	garbage := func(raw []byte, n int) []byte {
		return bytes.Clone(raw[1001 : 1001+n])
	}
	endOf := func(it item) int64 { return it.pos + EncodedSize(len(it.header), len(it.data)) }
	reopen := func(t *testing.T, mem *vfs.MemFS) (*Queue, *byteCountFS) {
		counter := &byteCountFS{FS: mem}
		opts, _ := testOptions(t, counter)
		opts.FileSize = fileSize
		return openQueue(t, opts), counter
	}
	find := func(t *testing.T, q *Queue, from int64) []uint64 {
		var got []uint64
		_, err := q.FindItems(from, func(m ItemMeta, _ int64) bool {
			got = append(got, m.Index)
			return true
		})
		require.NoError(t, err)
		return got
	}

	t.Run("old bytes after the end", func(t *testing.T) {
		mem, items, raw := write(t)
		end := endOf(items[len(items)-1])
		writeAtIn(t, mem, fileSize, end, garbage(raw, fileSize-int(end)))
		q, counter := reopen(t, mem)
		assert.Empty(t, find(t, q, end))
		assert.LessOrEqual(t, counter.read.Load(), int64(cutCleanRun+2*scanBlock),
			"FindItems read on through the old bytes")

		// No header validates among the old bytes: nothing to cut.
		counter.read.Store(0)
		zeroed, err := q.CutTail(end)
		require.NoError(t, err)
		assert.Zero(t, zeroed)
		assert.LessOrEqual(t, counter.read.Load(), int64(cutCleanRun+2*scanBlock))
		tail := readRawIn(t, mem, "log", fileSize, end, 4096)
		assert.Equal(t, raw[1001:1001+4096], tail, "old bytes were changed")
	})

	// An item is torn (its header zeroed) and the next ones replaced by
	// old bytes: the items after them prove that index acknowledged, and
	// must be found if they are close enough.
	for _, tc := range []struct {
		name  string
		gap   int64 // bytes of old items after the torn one
		found bool
	}{
		{"items 1 MiB past old bytes are found", 1 << 20, true},
		{"items 3 MiB past old bytes are found", 3 << 20, true},
		{"items 6 MiB past old bytes are not looked for", 6 << 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem, items, raw := write(t)
			torn := items[10]
			writeAtIn(t, mem, fileSize, torn.pos, make([]byte, ItemHeaderSize))
			from := endOf(torn)
			writeAtIn(t, mem, fileSize, from, garbage(raw, int(tc.gap)))
			var want []uint64
			for _, it := range items {
				if it.pos >= from+tc.gap {
					want = append(want, it.meta.Index)
				}
			}
			require.NotEmpty(t, want)
			q, _ := reopen(t, mem)
			got := find(t, q, torn.pos)
			if tc.found {
				assert.Equal(t, want, got)
			} else {
				assert.Empty(t, got)
			}
		})
	}
}

// TestZeroAheadSkipsRecycledFiles checks that the zeroer writes no zeros
// over a file made from a spare, whose blocks were all written once, and
// that the items written there read back.
func TestZeroAheadSkipsRecycledFiles(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	opts, tags := testOptions(t, mem)
	opts.Prealloc = ZeroAhead
	opts.ZeroAheadLead = 64 << 10
	opts.zeroMaxSyncBytes = 1 << 40
	opts.RecycleFiles = 4
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 1))
	addUntil(t, q, tags, 1, 1000, 1, 4*testFileSize+100, 1)
	n, err := waitFor(t, q.DeleteBefore(4*testFileSize))
	require.NoError(t, err)
	require.Equal(t, 4, n)
	z := q.zero
	zeroedBefore := z.written.Load()

	more := addUntil(t, q, tags, 1000, 1000, 1, 7*testFileSize+100, 2)
	checkRead(t, q, more)
	// Of the files the writer went into, the sixth may be new (its
	// allocation may have run before or after the spares were there); the
	// seventh to ninth were made from spares. The zeroer keeps more than
	// half its lead ahead of the writer: it finds their bytes written and
	// leaves them.
	require.Eventually(t, func() bool {
		z.mu.Lock()
		defer z.mu.Unlock()
		return z.zeroedTo >= q.WritePos()+z.lead/2 || z.stopped.Load() != nil
	}, 10*time.Second, time.Millisecond)
	assert.GreaterOrEqual(t, z.skipped.Load(), z.chunk, "chunks of recycled files left alone")
	assert.LessOrEqual(t, z.written.Load()-zeroedBefore, int64(testFileSize),
		"zeros written over recycled files")
	require.Nil(t, z.stopped.Load())
	wp := q.WritePos()
	require.NoError(t, q.Close())

	// Reopened, the queue knows nothing of where its files came from: the
	// zeroer looks at the bytes ahead of the writer, finds the old ones,
	// and writes no zeros.
	opts2, _ := testOptions(t, mem)
	opts2.Prealloc = ZeroAhead
	opts2.ZeroAheadLead = 64 << 10
	opts2.zeroMaxSyncBytes = 1 << 40
	q2 := openQueue(t, opts2)
	require.NoError(t, q2.StartWriting(wp, 2))
	z2 := q2.zero
	require.Eventually(t, func() bool {
		z2.mu.Lock()
		defer z2.mu.Unlock()
		return z2.zeroedTo >= wp+z2.lead/2 || z2.stopped.Load() != nil
	}, 10*time.Second, time.Millisecond)
	require.Nil(t, z2.stopped.Load())
	assert.GreaterOrEqual(t, z2.skipped.Load(), z2.chunk)
	assert.Zero(t, z2.written.Load(), "zeros written over recycled files after a reopen")
	require.NoError(t, q2.Close())
}

// TestKeepAsSpareRenameFails checks that a file whose rename to its spare
// name fails is removed as if recycling were off, and the failure reported.
func TestKeepAsSpareRenameFails(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	fsys := vfs.NewErrorFS(mem, vfs.InjectorFunc(func(op vfs.Op, name string) error {
		if op == vfs.OpRename && strings.HasSuffix(name, fileName(0)) {
			if ok, _ := mem.Exists(name); ok { // the first rename, to the spare name
				return vfs.ErrInjected
			}
		}
		return nil
	}))
	opts, tags := testOptions(t, fsys)
	opts.Prealloc = Fallocate
	opts.RecycleFiles = 2
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 1))
	addUntil(t, q, tags, 1, 1000, 1, 3*testFileSize, 1)

	n, err := waitFor(t, q.DeleteBefore(2*testFileSize))
	require.ErrorIs(t, err, vfs.ErrInjected)
	assert.ErrorContains(t, err, "to keep it as a spare")
	assert.Equal(t, 2, n)
	assert.Equal(t, 1, q.spares.count(), "the second file is a spare")
	assert.NotContains(t, logFiles(t, mem, "log"), fileName(0))
	assert.Equal(t, []string{fileName(testFileSize) + freeSuffix}, spareFiles(t, mem, "log"))
}

// BenchmarkRecoveryInRecycledSpace times what every open of a log that
// ends in a recycled file does past the end: FindItems, which also finds
// the extent CutTailTo needs, over the old bytes of the file's first life.
func BenchmarkRecoveryInRecycledSpace(b *testing.B) {
	const fileSize = 16 << 20
	mem, items, raw := writeOneFile(b, fileSize, 128, 6<<20)
	last := items[len(items)-1]
	end := last.pos + EncodedSize(len(last.header), len(last.data))
	f, err := mem.Open("log/" + fileName(0))
	require.NoError(b, err)
	_, err = f.WriteAt(raw[1001:end], end) // old items, none at its own position
	require.NoError(b, err)
	require.NoError(b, f.Close())

	opts2, _ := testOptions(b, mem)
	opts2.FileSize = fileSize
	q2 := openQueue(b, opts2)
	b.SetBytes(cutCleanRun)
	b.ResetTimer()
	for range b.N {
		found := 0
		extent, err := q2.FindItems(end, func(ItemMeta, int64) bool { found++; return true })
		require.NoError(b, err)
		if found != 0 || extent != end {
			b.Fatalf("found %d items, extent %d past the end %d of old bytes", found, extent, end)
		}
	}
}

// writeOneFile writes items of dataLen bytes into a new log of one file of
// fileSize bytes, up to position upTo, and returns them with the file's
// bytes.
func writeOneFile(tb testing.TB, fileSize int64, dataLen int, upTo int64) (*vfs.MemFS, []item, []byte) {
	tb.Helper()
	mem := vfs.NewMem()
	opts, tags := testOptions(tb, mem)
	opts.FileSize = fileSize
	opts.Prealloc = Fallocate
	q := openQueue(tb, opts)
	require.NoError(tb, q.StartWriting(0, 1))
	items := addUntil(tb, q, tags, 1, dataLen, 1, upTo, 1)
	require.NoError(tb, q.Close())
	return mem, items, readRawIn(tb, mem, "log", fileSize, 0, int(fileSize))
}
