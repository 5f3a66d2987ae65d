package logqueue

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

// TestReadOnlyReadsWhileOwnerWrites opens a second, read-only queue on the
// files of a queue that is still writing, and reads everything back from it,
// across rotations, with a leftover .tmp file in the directory.
func TestReadOnlyReadsWhileOwnerWrites(t *testing.T) {
	checkNoLeak(t)
	fsys := vfs.NewMem()
	opts, tags := testOptions(t, fsys)
	owner := openQueue(t, opts)
	require.NoError(t, owner.StartWriting(0, 5))
	var items []item
	for idx := uint64(1); owner.WritePos() < 3*testFileSize+100; idx++ {
		it := addItem(t, owner, idx, 3, 1500)
		it.meta.Epoch = 5
		items = append(items, it)
	}
	require.NoError(t, owner.Flush(1))
	tags.wait(t, 1)
	// The owner's background allocation of its next file would change the
	// directory under the comparison below: let it finish first.
	<-owner.next.Done()

	tmp := opts.Dir + "/" + fileName(40*testFileSize) + tmpSuffix
	f, err := fsys.Create(tmp)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	before, err := fsys.List(opts.Dir)
	require.NoError(t, err)

	ro, err := Open(Options{FS: noWriteFS(fsys, t), Dir: opts.Dir, FileSize: testFileSize, ReadOnly: true})
	require.NoError(t, err)
	require.Equal(t, owner.Files(), ro.Files())
	checkRead(t, ro, items)
	checkScan(t, ro, items)

	// Every method that writes refuses.
	require.ErrorIs(t, ro.StartWriting(owner.WritePos(), 6), ErrReadOnly)
	_, err = ro.Add(&ItemMeta{Index: 1}, nil, nil)
	require.ErrorIs(t, err, ErrReadOnly)
	require.ErrorIs(t, ro.Flush(1), ErrReadOnly)
	_, err = ro.CutTail(owner.WritePos())
	require.ErrorIs(t, err, ErrReadOnly)
	require.ErrorIs(t, ro.SyncRange(0, owner.WritePos()), ErrReadOnly)
	require.NoError(t, ro.Close())

	after, err := fsys.List(opts.Dir)
	require.NoError(t, err)
	require.Equal(t, before, after, "a read-only queue changed the directory")

	// The owner goes on writing undisturbed.
	it := addItem(t, owner, uint64(len(items)+1), 0, 10)
	it.meta.Epoch = 5
	require.NoError(t, owner.Flush(2))
	tags.wait(t, 2)
	checkRead(t, owner, append(items, it))
}

func TestReadOnlyOpenErrors(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, fsys vfs.FS)
		want    error
	}{
		{"missing directory is not created", func(*testing.T, vfs.FS) {}, nil},
		{"bad file size", func(t *testing.T, fsys vfs.FS) {
			require.NoError(t, fsys.MkdirAll("log"))
			f, err := fsys.Create("log/" + fileName(0))
			require.NoError(t, err)
			require.NoError(t, f.Truncate(100))
			require.NoError(t, f.Close())
		}, ErrBadFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := vfs.NewMem()
			tt.prepare(t, fsys)
			_, err := Open(Options{FS: noWriteFS(fsys, t), Dir: "log", FileSize: testFileSize, ReadOnly: true})
			require.Error(t, err)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
			}
		})
	}
	// Without ReadOnly the Executor is still required.
	_, err := Open(Options{FS: vfs.NewMem(), Dir: "log", FileSize: testFileSize})
	require.ErrorIs(t, err, ErrInvalidOptions)
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
	fsys := vfs.NewMem()
	opts, tags := testOptions(t, fsys)
	owner := openQueue(t, opts)
	require.NoError(t, owner.StartWriting(0, 1))
	it := addItem(t, owner, 1, 0, 100)
	it.meta.Epoch = 1
	require.NoError(t, owner.Flush(1))
	tags.wait(t, 1)
	// The next file is allocated in the background: both listings must
	// see it, or neither.
	<-owner.next.Done()

	ro, err := Open(Options{FS: ghostFS{fsys, fileName(50 * testFileSize)}, Dir: opts.Dir, FileSize: testFileSize, ReadOnly: true})
	require.NoError(t, err)
	defer ro.Close()
	require.Equal(t, owner.Files(), ro.Files())
	checkRead(t, ro, []item{it})

	// Read-write, the same listing is an error.
	_, err = Open(Options{FS: ghostFS{fsys, fileName(50 * testFileSize)}, Dir: opts.Dir, FileSize: testFileSize, Executor: opts.Executor})
	require.Error(t, err)
}
