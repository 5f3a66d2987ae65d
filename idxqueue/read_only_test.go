package idxqueue

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/vfs"
)

// noWriteFS fails the test on any call that could change the file system.
func noWriteFS(fsys vfs.FS, t *testing.T) vfs.FS {
	return vfs.NewWriteGuard(fsys, func(call, name string) {
		t.Errorf("%s(%s) by a read-only queue", call, name)
	})
}

// TestReadOnlyPositionWhileOwnerRuns reads the positions an running queue
// has persisted, across several files, from a read-only queue on the same
// directory, with a leftover .idx.tmp in it.
func TestReadOnlyPositionWhileOwnerRuns(t *testing.T) {
	noLeak(t)
	const n = 100 // 13 files of 8
	mem := vfs.NewMem()
	plog := newPersistedLog()
	opts := testOpts(mem)
	opts.FlushThreshold = 1
	plog.hook(&opts)
	owner, err := Open(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = owner.Close() })
	require.NoError(t, owner.Start(0))
	for i := uint64(1); i <= n; i++ {
		require.NoError(t, owner.Put(i, pos(i)))
	}
	owner.Durable(n)
	plog.waitFor(t, n)

	leftover := opts.Dir + "/" + fileName(1<<20) + ".tmp"
	f, err := mem.Create(leftover)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	ro, err := Open(Options{FS: noWriteFS(mem, t), Dir: opts.Dir, ItemsPerFile: 8, ReadOnly: true})
	require.NoError(t, err)
	for i := uint64(1); i <= n; i++ {
		v, err := ro.Position(i)
		require.NoError(t, err)
		require.Equal(t, pos(i), v, "index %d", i)
	}
	_, err = ro.Position(1 << 20) // no file
	require.ErrorIs(t, err, ErrNotFound)

	require.ErrorIs(t, ro.Start(n), ErrReadOnly)
	require.ErrorIs(t, ro.Put(n+1, 0), ErrReadOnly)
	require.ErrorIs(t, ro.WaitRoom(1), ErrReadOnly)
	require.NoError(t, ro.Close())

	// noWriteFS failed the test on any change the read-only queue made;
	// comparing listings would also see the owner's own, which prepares
	// the next file in the background. The leftover is still there.
	ok, err := mem.Exists(leftover)
	require.NoError(t, err)
	require.True(t, ok, "a read-only queue removed a leftover .tmp file")

	// The owner is undisturbed.
	require.NoError(t, owner.Put(n+1, pos(n+1)))
	require.NoError(t, owner.Close())
}

func TestReadOnlyOpenErrors(t *testing.T) {
	t.Run("missing directory is not created", func(t *testing.T) {
		mem := vfs.NewMem()
		_, err := Open(Options{FS: noWriteFS(mem, t), Dir: "idx", ItemsPerFile: 8, ReadOnly: true})
		require.Error(t, err)
		ok, err := mem.Exists("idx")
		require.NoError(t, err)
		require.False(t, ok)
	})
	t.Run("bad file size", func(t *testing.T) {
		mem := vfs.NewMem()
		require.NoError(t, mem.MkdirAll("idx"))
		f, err := mem.Create("idx/" + fileName(0))
		require.NoError(t, err)
		require.NoError(t, f.Close())
		_, err = Open(Options{FS: noWriteFS(mem, t), Dir: "idx", ItemsPerFile: 8, ReadOnly: true})
		require.ErrorIs(t, err, ErrCorrupt)
	})
}

// ghostFS lists a file that no longer exists when it is opened, as a
// listing taken just before the owner deleted the file looks.
type ghostFS struct {
	vfs.FS
	ghost string
}

func (g ghostFS) List(dir string) ([]string, error) {
	names, err := g.FS.List(dir)
	return append(names, g.ghost), err
}

func TestReadOnlySkipsFileDeletedAfterListing(t *testing.T) {
	mem := vfs.NewMem()
	opts := testOpts(mem)
	q, err := Open(opts)
	require.NoError(t, err)
	require.NoError(t, q.Start(0))
	require.NoError(t, q.Put(1, pos(1)))
	q.Durable(1)
	require.NoError(t, q.Close()) // flushes

	ghost := ghostFS{mem, fileName(800)}
	ro, err := Open(Options{FS: ghost, Dir: opts.Dir, ItemsPerFile: 8, ReadOnly: true})
	require.NoError(t, err)
	v, err := ro.Position(1)
	require.NoError(t, err)
	require.Equal(t, pos(1), v)
	require.NoError(t, ro.Close())

	// Read-write, the same listing is an error.
	opts.FS = ghost
	_, err = Open(opts)
	require.Error(t, err)
}
