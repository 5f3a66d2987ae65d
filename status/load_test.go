package status

import (
	"io/fs"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/vfs"
)

// noWriteFS fails the test on any call that could change the file system.
func noWriteFS(fsys vfs.FS, t *testing.T) vfs.FS {
	return vfs.NewWriteGuard(fsys, func(call, name string) {
		t.Errorf("%s(%s) by a read-only call", call, name)
	})
}

func TestLoadReturnsNewestState(t *testing.T) {
	mem := newMem(t)
	f, _, _ := openT(t, mem)
	want := State{Term: 3, Vote: 2, Commit: 9, PersistedIndex: 7, FirstIndex: 1, Epoch: 4,
		Props: map[string][]byte{"k": []byte("v")}}
	require.NoError(t, f.Save(State{Term: 1, FirstIndex: 1}))
	require.NoError(t, f.Save(want))

	// Load while the File is still open, as an inspection tool would.
	got, err := Load(noWriteFS(mem, t), dir)
	require.NoError(t, err)
	require.True(t, want.Equal(got), "got %+v", got)

	// A newer Save is seen by the next Load.
	want.Commit = 10
	require.NoError(t, f.Save(want))
	got, err = Load(noWriteFS(mem, t), dir)
	require.NoError(t, err)
	require.Equal(t, uint64(10), got.Commit)
}

func TestLoadTakesOtherSlotWhenNewestIsTorn(t *testing.T) {
	mem := newMem(t)
	f, _, _ := openT(t, mem)
	require.NoError(t, f.Save(State{Term: 1, FirstIndex: 1})) // slot 1, seq 2
	require.NoError(t, f.Save(State{Term: 2, FirstIndex: 1})) // slot 0, seq 3
	require.NoError(t, f.Close())

	// Tear slot 0, as a Save cut in the middle would.
	img := contents(t, mem, statusPath)
	img[20] ^= 0xff
	setFile(t, mem, statusPath, img)

	got, err := Load(noWriteFS(mem, t), dir)
	require.NoError(t, err)
	require.Equal(t, uint64(1), got.Term)
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, mem *vfs.MemFS)
		want    error
	}{
		{"missing", func(*testing.T, *vfs.MemFS) {}, fs.ErrNotExist},
		{"only a tmp file", func(t *testing.T, mem *vfs.MemFS) {
			setFile(t, mem, tmpPath, make([]byte, fileSize))
		}, fs.ErrNotExist},
		{"empty", func(t *testing.T, mem *vfs.MemFS) {
			setFile(t, mem, statusPath, nil)
		}, fs.ErrNotExist},
		{"no valid slot", func(t *testing.T, mem *vfs.MemFS) {
			setFile(t, mem, statusPath, make([]byte, fileSize))
		}, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := newMem(t)
			tt.prepare(t, mem)
			before, err := mem.List(dir)
			require.NoError(t, err)
			_, err = Load(noWriteFS(mem, t), dir)
			require.ErrorIs(t, err, tt.want)
			after, err := mem.List(dir)
			require.NoError(t, err)
			require.Equal(t, before, after, "Load changed the directory")
		})
	}
}
