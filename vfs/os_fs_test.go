package vfs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOSWritevAtMoreThanIOVMax(t *testing.T) {
	for _, count := range []int{maxIovecs - 1, maxIovecs, maxIovecs + 1, 3*maxIovecs + 17} {
		t.Run(fmt.Sprint(count), func(t *testing.T) {
			f, err := Default.Create(filepath.Join(t.TempDir(), "f"))
			require.NoError(t, err)
			defer f.Close()
			bufs := make([][]byte, count)
			var want []byte
			for i := range bufs {
				// Varying sizes, some empty, so batch boundaries fall anywhere.
				bufs[i] = bytes.Repeat([]byte{byte(i)}, i%7)
				want = append(want, bufs[i]...)
			}
			const off = 13
			n, err := f.WritevAt(bufs, off)
			require.NoError(t, err)
			require.Equal(t, len(want), n)
			got := make([]byte, len(want))
			_, err = f.ReadAt(got, off)
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}
}

func TestSkipBytes(t *testing.T) {
	bufs := [][]byte{[]byte("ab"), {}, []byte("cde"), []byte("f")}
	tests := []struct {
		n    int
		want []string
	}{
		{0, []string{"ab", "", "cde", "f"}},
		{1, []string{"b", "", "cde", "f"}},
		{2, []string{"", "cde", "f"}},
		{3, []string{"de", "f"}},
		{5, []string{"f"}},
		{6, nil},
	}
	for _, tc := range tests {
		got := skipBytes(bufs, tc.n)
		var gotS []string
		for _, b := range got {
			gotS = append(gotS, string(b))
		}
		require.Equal(t, tc.want, gotS, "n=%d", tc.n)
	}
	require.Equal(t, "ab", string(bufs[0]), "the caller's slice is not modified")
}

func TestOSLockConflictInOneProcess(t *testing.T) {
	dir := t.TempDir()
	l1, err := Default.Lock(dir)
	require.NoError(t, err)
	// A second Lock opens the lock file again: a new open file description,
	// so flock conflicts even within one process.
	_, err = Default.Lock(dir)
	require.ErrorIs(t, err, ErrLocked)
	require.Contains(t, err.Error(), dir)
	require.NoError(t, l1.Close())
	l2, err := Default.Lock(dir)
	require.NoError(t, err)
	require.NoError(t, l2.Close())

	_, err = Default.Lock(filepath.Join(dir, "missing"))
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrLocked)
}

func TestOSAllocate(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	f, err := Default.Create(name)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteAt([]byte("head"), 0)
	require.NoError(t, err)
	const size = 1 << 20
	require.NoError(t, f.Allocate(0, size))
	got, err := f.Size()
	require.NoError(t, err)
	require.EqualValues(t, size, got)

	require.GreaterOrEqual(t, statBlocks(t, name)*512, int64(size), "the space is reserved, not sparse")

	buf := make([]byte, 8)
	_, err = f.ReadAt(buf, 0)
	require.NoError(t, err)
	require.Equal(t, "head\x00\x00\x00\x00", string(buf), "existing data is kept, the rest reads as zeros")
	require.Error(t, f.Allocate(0, 0), "fallocate rejects an empty range")
}

func TestOSSync(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	f, err := Default.Create(name)
	require.NoError(t, err)
	_, err = f.WritevAt([][]byte{[]byte("abc"), []byte("def")}, 0)
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	require.NoError(t, Default.SyncDir(dir))
	require.NoError(t, f.Close())
	// After Close the raw descriptor is never used: the call fails cleanly
	// instead of syncing whatever file now has that number.
	require.ErrorIs(t, f.Sync(), os.ErrClosed)
	data, err := os.ReadFile(name)
	require.NoError(t, err)
	require.Equal(t, "abcdef", string(data))
}

func TestOSListSorted(t *testing.T) {
	dir := t.TempDir()
	names := []string{"0000000000000200.log", "b", "0000000000000100.log", "A", "a", "10"}
	for _, n := range names {
		f, err := Default.Create(filepath.Join(dir, n))
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
	require.NoError(t, Default.MkdirAll(filepath.Join(dir, "sub", "x")))
	got, err := Default.List(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"0000000000000100.log", "0000000000000200.log", "10", "A", "a", "b", "sub"}, got)
}

// statBlocks returns the number of 512-byte blocks allocated to name.
func statBlocks(t *testing.T, name string) int64 {
	t.Helper()
	fi, err := os.Stat(name)
	require.NoError(t, err)
	st, ok := fi.Sys().(*syscall.Stat_t)
	require.True(t, ok)
	return st.Blocks
}
