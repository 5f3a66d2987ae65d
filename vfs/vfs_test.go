package vfs

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fsUnderTest gives a fresh FS and an existing directory in it.
type fsUnderTest struct {
	name string
	make func(t *testing.T) (FS, string)
}

var implementations = []fsUnderTest{
	{"os", func(t *testing.T) (FS, string) { return Default, t.TempDir() }},
	{"mem", func(t *testing.T) (FS, string) {
		m := NewMem()
		require.NoError(t, m.MkdirAll("/data/db"))
		return m, "/data/db"
	}},
	{"error-fs-over-mem", func(t *testing.T) (FS, string) {
		m := NewMem()
		require.NoError(t, m.MkdirAll("db"))
		return NewErrorFS(m, OnIndex(-1)), "db"
	}},
}

// TestConformance runs the same checks against every implementation, so
// code tested on MemFS behaves the same on the real disk.
func TestConformance(t *testing.T) {
	checks := []struct {
		name string
		run  func(t *testing.T, fsys FS, dir string)
	}{
		{"create-write-read", func(t *testing.T, fsys FS, dir string) {
			f, err := fsys.Create(filepath.Join(dir, "a"))
			require.NoError(t, err)
			defer f.Close()
			n, err := f.WriteAt([]byte("hello"), 2)
			require.NoError(t, err)
			require.Equal(t, 5, n)
			n, err = f.WritevAt([][]byte{[]byte("ab"), nil, []byte("cd")}, 7)
			require.NoError(t, err)
			require.Equal(t, 4, n)
			size, err := f.Size()
			require.NoError(t, err)
			require.EqualValues(t, 11, size)

			buf := make([]byte, 11)
			n, err = f.ReadAt(buf, 0)
			require.NoError(t, err)
			require.Equal(t, 11, n)
			require.Equal(t, "\x00\x00helloabcd", string(buf))
		}},
		{"read-past-eof", func(t *testing.T, fsys FS, dir string) {
			f, err := fsys.Create(filepath.Join(dir, "a"))
			require.NoError(t, err)
			defer f.Close()
			_, err = f.WriteAt([]byte("0123456789"), 0)
			require.NoError(t, err)
			buf := make([]byte, 8)
			n, err := f.ReadAt(buf, 6)
			require.ErrorIs(t, err, io.EOF)
			require.Equal(t, 4, n)
			require.Equal(t, "6789", string(buf[:n]))
			n, err = f.ReadAt(buf, 100)
			require.ErrorIs(t, err, io.EOF)
			require.Equal(t, 0, n)
			n, err = f.ReadAt(nil, 100)
			require.NoError(t, err)
			require.Equal(t, 0, n)
		}},
		{"allocate-truncate", func(t *testing.T, fsys FS, dir string) {
			f, err := fsys.Create(filepath.Join(dir, "a"))
			require.NoError(t, err)
			defer f.Close()
			_, err = f.WriteAt([]byte("abc"), 0)
			require.NoError(t, err)
			require.NoError(t, f.Allocate(0, 3*pageSize+5))
			size, err := f.Size()
			require.NoError(t, err)
			require.EqualValues(t, 3*pageSize+5, size)
			got := make([]byte, size)
			_, err = f.ReadAt(got, 0)
			require.NoError(t, err)
			want := make([]byte, size)
			copy(want, "abc")
			require.Equal(t, want, got)

			// Allocate never shrinks.
			require.NoError(t, f.Allocate(0, 1))
			size, err = f.Size()
			require.NoError(t, err)
			require.EqualValues(t, 3*pageSize+5, size)

			require.NoError(t, f.Truncate(2))
			size, err = f.Size()
			require.NoError(t, err)
			require.EqualValues(t, 2, size)
			// Growing again shows zeros, not the truncated "c".
			require.NoError(t, f.Truncate(4))
			got = make([]byte, 4)
			_, err = f.ReadAt(got, 0)
			require.NoError(t, err)
			require.Equal(t, "ab\x00\x00", string(got))
			require.NoError(t, f.Sync())
		}},
		{"create-existing", func(t *testing.T, fsys FS, dir string) {
			f, err := fsys.Create(filepath.Join(dir, "a"))
			require.NoError(t, err)
			require.NoError(t, f.Close())
			_, err = fsys.Create(filepath.Join(dir, "a"))
			require.ErrorIs(t, err, fs.ErrExist)
		}},
		{"missing", func(t *testing.T, fsys FS, dir string) {
			name := filepath.Join(dir, "nope")
			_, err := fsys.Open(name)
			require.ErrorIs(t, err, fs.ErrNotExist)
			_, err = fsys.OpenReadOnly(name)
			require.ErrorIs(t, err, fs.ErrNotExist)
			require.ErrorIs(t, fsys.Remove(name), fs.ErrNotExist)
			require.ErrorIs(t, fsys.Rename(name, name+"2"), fs.ErrNotExist)
			_, err = fsys.Create(filepath.Join(dir, "nodir", "a"))
			require.ErrorIs(t, err, fs.ErrNotExist)
			_, err = fsys.List(filepath.Join(dir, "nodir"))
			require.ErrorIs(t, err, fs.ErrNotExist)
			require.ErrorIs(t, fsys.SyncDir(filepath.Join(dir, "nodir")), fs.ErrNotExist)
			ok, err := fsys.Exists(name)
			require.NoError(t, err)
			require.False(t, ok)
		}},
		{"closed", func(t *testing.T, fsys FS, dir string) {
			f, err := fsys.Create(filepath.Join(dir, "a"))
			require.NoError(t, err)
			require.NoError(t, f.Close())
			_, err = f.ReadAt(make([]byte, 1), 0)
			require.ErrorIs(t, err, os.ErrClosed)
			_, err = f.WriteAt([]byte("x"), 0)
			require.ErrorIs(t, err, os.ErrClosed)
			_, err = f.WritevAt([][]byte{[]byte("x")}, 0)
			require.ErrorIs(t, err, os.ErrClosed)
			require.ErrorIs(t, f.Sync(), os.ErrClosed)
			require.ErrorIs(t, f.Truncate(0), os.ErrClosed)
			require.ErrorIs(t, f.Allocate(0, 10), os.ErrClosed)
			_, err = f.Size()
			require.ErrorIs(t, err, os.ErrClosed)
			require.ErrorIs(t, f.Close(), os.ErrClosed)
		}},
		{"read-only", func(t *testing.T, fsys FS, dir string) {
			name := filepath.Join(dir, "a")
			f, err := fsys.Create(name)
			require.NoError(t, err)
			_, err = f.WriteAt([]byte("data"), 0)
			require.NoError(t, err)
			require.NoError(t, f.Close())

			r, err := fsys.OpenReadOnly(name)
			require.NoError(t, err)
			defer r.Close()
			require.Equal(t, name, r.Name())
			_, err = r.WriteAt([]byte("x"), 0)
			require.ErrorIs(t, err, syscall.EBADF)
			_, err = r.WritevAt([][]byte{[]byte("x")}, 0)
			require.ErrorIs(t, err, syscall.EBADF)
			require.Error(t, r.Allocate(0, 10))
			require.Error(t, r.Truncate(0))
			buf := make([]byte, 4)
			_, err = r.ReadAt(buf, 0)
			require.NoError(t, err)
			require.Equal(t, "data", string(buf))
		}},
		{"rename-remove-list", func(t *testing.T, fsys FS, dir string) {
			for _, n := range []string{"c", "a", "b"} {
				f, err := fsys.Create(filepath.Join(dir, n))
				require.NoError(t, err)
				_, err = f.WriteAt([]byte(n), 0)
				require.NoError(t, err)
				require.NoError(t, f.Close())
			}
			require.NoError(t, fsys.MkdirAll(filepath.Join(dir, "sub", "deeper")))
			require.NoError(t, fsys.MkdirAll(filepath.Join(dir, "sub")))
			names, err := fsys.List(dir)
			require.NoError(t, err)
			require.Equal(t, []string{"a", "b", "c", "sub"}, names)

			// Rename replaces an existing target.
			require.NoError(t, fsys.Rename(filepath.Join(dir, "a"), filepath.Join(dir, "b")))
			require.NoError(t, fsys.Remove(filepath.Join(dir, "c")))
			require.NoError(t, fsys.SyncDir(dir))
			names, err = fsys.List(dir)
			require.NoError(t, err)
			require.Equal(t, []string{"b", "sub"}, names)
			f, err := fsys.Open(filepath.Join(dir, "b"))
			require.NoError(t, err)
			buf := make([]byte, 1)
			_, err = f.ReadAt(buf, 0)
			require.NoError(t, err)
			require.Equal(t, "a", string(buf))
			require.NoError(t, f.Close())

			ok, err := fsys.Exists(filepath.Join(dir, "sub", "deeper"))
			require.NoError(t, err)
			require.True(t, ok)
			require.Error(t, fsys.Remove(filepath.Join(dir, "sub")), "not empty")
			require.NoError(t, fsys.Remove(filepath.Join(dir, "sub", "deeper")))
			require.NoError(t, fsys.Remove(filepath.Join(dir, "sub")))
			ok, err = fsys.Exists(filepath.Join(dir, "sub"))
			require.NoError(t, err)
			require.False(t, ok)
		}},
		{"lock", func(t *testing.T, fsys FS, dir string) {
			l1, err := fsys.Lock(dir)
			require.NoError(t, err)
			_, err = fsys.Lock(dir)
			require.ErrorIs(t, err, ErrLocked)
			require.NoError(t, l1.Close())
			l2, err := fsys.Lock(dir)
			require.NoError(t, err)
			require.NoError(t, l2.Close())
			names, err := fsys.List(dir)
			require.NoError(t, err)
			require.Equal(t, []string{lockFileName}, names)
		}},
	}
	for _, impl := range implementations {
		for _, c := range checks {
			t.Run(impl.name+"/"+c.name, func(t *testing.T) {
				fsys, dir := impl.make(t)
				c.run(t, fsys, dir)
			})
		}
	}
}

// checkGoroutines fails the test if it ends with more goroutines than it
// started with, once they have had the chance to exit.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			runtime.Gosched()
		}
		require.LessOrEqual(t, runtime.NumGoroutine(), before, "goroutines leaked")
	})
}
