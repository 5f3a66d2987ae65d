package idxqueue

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/pipeline"
	"github.com/raftlog/raftlog/vfs"
)

// openFileSet returns a fileSet of 8 items per file holding the files that
// start at firsts, created on mem.
func openFileSet(t *testing.T, mem vfs.FS, firsts ...uint64) *fileSet {
	t.Helper()
	for _, f := range firsts {
		file, err := createFile(mem, "d", f, 64)
		require.NoError(t, err)
		require.NoError(t, file.Close())
	}
	s := &fileSet{fs: mem, dir: "d", itemsPerFile: 8, shift: 3, files: map[uint64]vfs.File{}}
	require.NoError(t, s.load())
	t.Cleanup(func() { _ = s.closeAll() })
	return s
}

func TestDetachBelow(t *testing.T) {
	tests := []struct {
		first    uint64
		wantNums []uint64
		wantLeft []uint64 // file numbers still in the set
	}{
		{1, nil, []uint64{0, 1, 2, 4}},
		{7, nil, []uint64{0, 1, 2, 4}},
		{8, []uint64{0}, []uint64{1, 2, 4}},
		{23, []uint64{0, 1}, []uint64{2, 4}},
		{32, []uint64{0, 1, 2}, []uint64{4}}, // file 3 does not exist
		{39, []uint64{0, 1, 2}, []uint64{4}},
		{40, []uint64{0, 1, 2, 4}, nil},
	}
	for _, tt := range tests {
		mem := vfs.NewMem()
		require.NoError(t, mem.MkdirAll("d"))
		s := openFileSet(t, mem, 0, 8, 16, 32)
		nums, files := s.detachBelow(tt.first)
		require.Equal(t, tt.wantNums, nums, "first %d", tt.first)
		require.Len(t, files, len(nums))
		for i, f := range files {
			require.True(t, strings.HasSuffix(f.Name(), fileName(nums[i]*8)))
		}
		var left []uint64
		for num := range 5 {
			if s.files[uint64(num)] != nil {
				left = append(left, uint64(num))
			}
		}
		require.Equal(t, tt.wantLeft, left, "first %d", tt.first)
		for _, num := range nums {
			require.Contains(t, s.removing, num)
		}
		_, err := s.read(1)
		if len(nums) > 0 {
			require.ErrorIs(t, err, ErrNotFound, "detached files are not read")
		} else {
			require.NoError(t, err)
		}

		n, err := s.remove(nums, files)
		require.NoError(t, err)
		require.Equal(t, len(nums), n)
		require.Empty(t, s.removing)
		var onDisk []uint64
		for _, name := range mustList(t, mem.Crash(), "d") {
			first, ok := parseFileName(name)
			require.True(t, ok, name)
			onDisk = append(onDisk, first/8)
		}
		require.Equal(t, tt.wantLeft, onDisk, "first %d: durable directory", tt.first)
	}
}

// TestCloseWaitsForRemoval closes the queue while a removal is blocked: Close
// returns only after it, and no goroutine is left.
func TestCloseWaitsForRemoval(t *testing.T) {
	noLeak(t)
	mem := vfs.NewMem()
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	inj := vfs.InjectorFunc(func(op vfs.Op, name string) error {
		if op == vfs.OpRemove && strings.HasSuffix(name, fileName(0)) {
			entered <- struct{}{}
			<-release
		}
		return nil
	})
	opts := flushOpts(vfs.NewErrorFS(mem, inj))
	q, plog := openStarted(t, &opts)
	putN(t, q, 1, 20)
	q.Durable(20)
	plog.waitFor(t, 20)
	fut := q.CompactTo(17)
	recv(t, entered)
	second := q.CompactTo(20) // queued behind the first: nothing more to detach
	n, err := second.Wait(t.Context())
	require.NoError(t, err)
	require.Zero(t, n)

	closed := make(chan error, 1)
	go func() { closed <- q.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned while a removal was running")
	case <-time.After(20 * time.Millisecond):
	}
	_, _, done := fut.Result()
	require.False(t, done)
	close(release)
	require.NoError(t, recv(t, closed))
	n, err = fut.Wait(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, []uint64{16, 24}, idxFiles(t, mem, "idx"))
	_, err, _ = q.CompactTo(30).Result()
	require.ErrorIs(t, err, ErrClosed)
}

// TestRemoverTasksInOrder queues several removals behind a blocked one: they
// run in order on the one remover goroutine.
func TestRemoverTasksInOrder(t *testing.T) {
	noLeak(t)
	mem := vfs.NewMem()
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var order []string // appended by the remover goroutine only
	inj := vfs.InjectorFunc(func(op vfs.Op, name string) error {
		if op != vfs.OpRemove {
			return nil
		}
		base := name[strings.LastIndexByte(name, '/')+1:]
		order = append(order, base)
		if base == fileName(0) {
			entered <- struct{}{}
			<-release
		}
		return nil
	})
	opts := flushOpts(vfs.NewErrorFS(mem, inj))
	q, plog := openStarted(t, &opts)
	putN(t, q, 1, 40)
	q.Durable(40)
	plog.waitFor(t, 40)
	f1 := q.CompactTo(9)
	recv(t, entered)
	f2 := q.CompactTo(17)
	f3 := q.CompactTo(33)
	close(release)
	for i, want := range []int{1, 1, 2} {
		n, err := []*pipeline.Future[int]{f1, f2, f3}[i].Wait(t.Context())
		require.NoError(t, err)
		require.Equal(t, want, n, "future %d", i+1)
	}
	require.NoError(t, q.Close())
	require.Equal(t, []string{fileName(0), fileName(8), fileName(16), fileName(24)}, order)
}
