package status

import (
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/raftlog/raftlog/vfs"
	"github.com/stretchr/testify/require"
)

// newMem returns a crashable in-memory file system holding the directory dir.
func newMem(t testing.TB) *vfs.MemFS {
	m := vfs.NewMem()
	require.NoError(t, m.MkdirAll(dir))
	return m
}

// contents returns the current data of name, or nil if it does not exist.
func contents(t testing.TB, fs vfs.FS, name string) []byte {
	t.Helper()
	f, err := fs.OpenReadOnly(name)
	if err != nil {
		ok, eerr := fs.Exists(name)
		require.NoError(t, eerr)
		require.False(t, ok, "open %s: %v", name, err)
		return nil
	}
	defer f.Close()
	size, err := f.Size()
	require.NoError(t, err)
	b := make([]byte, size)
	n, err := f.ReadAt(b, 0)
	if !errors.Is(err, io.EOF) || n != len(b) {
		require.NoError(t, err)
	}
	return b
}

// setFile makes name hold data, durably.
func setFile(t testing.TB, fs vfs.FS, name string, data []byte) {
	t.Helper()
	ok, err := fs.Exists(name)
	require.NoError(t, err)
	if ok {
		require.NoError(t, fs.Remove(name))
	}
	f, err := fs.Create(name)
	require.NoError(t, err)
	_, err = f.WriteAt(data, 0)
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	require.NoError(t, f.Close())
	require.NoError(t, fs.SyncDir(filepath.Dir(name)))
}

func exists(t testing.TB, fs vfs.FS, name string) bool {
	t.Helper()
	ok, err := fs.Exists(name)
	require.NoError(t, err)
	return ok
}

// failOps returns an injector failing every operation in ops while *on.
func failOps(on *bool, ops ...vfs.Op) vfs.Injector {
	return vfs.InjectorFunc(func(op vfs.Op, _ string) error {
		for _, o := range ops {
			if *on && op == o {
				return vfs.ErrInjected
			}
		}
		return nil
	})
}
