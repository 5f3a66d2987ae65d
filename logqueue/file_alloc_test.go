package logqueue

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/vfs"
)

func TestAllocFileModes(t *testing.T) {
	for _, mode := range []PreallocMode{ZeroFill, Fallocate, Sparse} {
		t.Run(mode.String(), func(t *testing.T) {
			mem := vfs.NewMem()
			require.NoError(t, mem.MkdirAll("d"))
			lf, err := allocFile(mem, "d", 3*testFileSize, testFileSize, mode, nil)
			require.NoError(t, err)
			defer lf.f.Close()
			assert.Equal(t, int64(3*testFileSize), lf.start)
			assert.Equal(t, fileName(3*testFileSize), lf.name)
			size, err := lf.f.Size()
			require.NoError(t, err)
			assert.Equal(t, int64(testFileSize), size)

			// Durable: a crash right after keeps the whole file, and no tmp.
			crashed := mem.Crash()
			names, err := crashed.List("d")
			require.NoError(t, err)
			assert.Equal(t, []string{fileName(3 * testFileSize)}, names)
			f, err := crashed.Open("d/" + lf.name)
			require.NoError(t, err)
			defer f.Close()
			size, err = f.Size()
			require.NoError(t, err)
			assert.Equal(t, int64(testFileSize), size)
		})
	}
}

// TestAllocFileFailures fails each file-system operation of an allocation in
// turn: the allocation reports it and leaves no log file behind.
func TestAllocFileFailures(t *testing.T) {
	counter := vfs.OnIndex(-1)
	mem := vfs.NewMem()
	require.NoError(t, mem.MkdirAll("d"))
	lf, err := allocFile(vfs.NewErrorFS(mem, counter), "d", 0, testFileSize, ZeroFill, nil)
	require.NoError(t, err)
	require.NoError(t, lf.f.Close())
	ops := counter.Count()
	require.Greater(t, ops, int64(4))

	for k := int64(0); k < ops; k++ {
		mem := vfs.NewMem()
		require.NoError(t, mem.MkdirAll("d"))
		inj := vfs.OnIndex(k)
		lf, err := allocFile(vfs.NewErrorFS(mem, inj), "d", 0, testFileSize, ZeroFill, nil)
		require.True(t, inj.Fired())
		require.ErrorIs(t, err, vfs.ErrInjected, "failing op %d", k)
		require.Nil(t, lf)
		// A failure after the rename leaves a whole file, which is fine;
		// before it, the log file must not exist at all.
		names, err := mem.List("d")
		require.NoError(t, err)
		for _, n := range names {
			if n == fileName(0) {
				f, err := mem.Open("d/" + n)
				require.NoError(t, err)
				size, err := f.Size()
				require.NoError(t, err)
				assert.Equal(t, int64(testFileSize), size, "op %d left a partial log file", k)
				require.NoError(t, f.Close())
			}
		}
	}
}

func TestAllocFileRemovesStaleTmp(t *testing.T) {
	mem := vfs.NewMem()
	require.NoError(t, mem.MkdirAll("d"))
	f, err := mem.Create("d/" + fileName(0) + tmpSuffix)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("junk"), 0)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	lf, err := allocFile(mem, "d", 0, testFileSize, ZeroFill, nil)
	require.NoError(t, err)
	defer lf.f.Close()
	b := make([]byte, 4)
	_, err = lf.f.ReadAt(b, 0)
	require.NoError(t, err)
	assert.Equal(t, make([]byte, 4), b)
}

// BenchmarkPrealloc measures what decides Options.Prealloc: rounds of a
// write (12 KiB, 192 KiB, 1 MiB) plus fdatasync into a freshly preallocated
// 64 MiB file on the real file system, for each way of preallocating
// (ZeroFill here stands for any written blocks: a file zeroed ahead or
// recycled). The preallocation itself
// is not timed (it runs in the background in the queue).
func BenchmarkPrealloc(b *testing.B) {
	const fileSize = 64 << 20
	for _, write := range []int64{12 << 10, 192 << 10, 1 << 20} {
		buf := fill(int(write), 1)
		for _, mode := range []PreallocMode{ZeroFill, Fallocate, Sparse} {
			b.Run(fmt.Sprintf("write=%dKiB/%s", write>>10, mode), func(b *testing.B) {
				dir := b.TempDir()
				b.SetBytes(write)
				var (
					lf    *logFile
					off   int64
					start int64
				)
				next := func() {
					b.StopTimer()
					if lf != nil {
						require.NoError(b, lf.f.Close())
						require.NoError(b, vfs.Default.Remove(filepath.Join(dir, lf.name)))
					}
					var err error
					lf, err = allocFile(vfs.Default, dir, start, fileSize, mode, nil)
					require.NoError(b, err)
					start += fileSize
					off = 0
					b.StartTimer()
				}
				next()
				for b.Loop() {
					if off+write > fileSize {
						next()
					}
					if _, err := lf.f.WriteAt(buf, off); err != nil {
						b.Fatal(err)
					}
					if err := lf.f.Sync(); err != nil {
						b.Fatal(err)
					}
					off += write
				}
				b.StopTimer()
				require.NoError(b, lf.f.Close())
			})
		}
	}
}

// TestAllocStops checks that a zero fill asked to stop gives up between
// chunks and leaves neither the file nor its temporary behind.
func TestAllocStops(t *testing.T) {
	mem := vfs.NewMem()
	require.NoError(t, mem.MkdirAll("d"))
	asked := 0
	_, err := allocFile(mem, "d", 0, 4*zeroFillChunk, ZeroFill, func() bool {
		asked++
		return asked > 2
	})
	require.ErrorIs(t, err, errAllocStopped)
	assert.Equal(t, 3, asked, "asked once per chunk until told to stop")
	names, err := mem.List("d")
	require.NoError(t, err)
	assert.Empty(t, names)
}
