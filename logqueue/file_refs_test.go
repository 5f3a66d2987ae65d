package logqueue

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/vfs"
)

// TestFileRefs follows one file's count through readers and a deletion.
func TestFileRefs(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	opts, tags := testOptions(t, mem)
	opts.Executor = serialExecutor(t)
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 1))
	addUntil(t, q, tags, 1, 1000, 1, testFileSize+10, 1)

	assert.Nil(t, q.acquire(-1))
	assert.Nil(t, q.acquire(50*testFileSize))
	a := q.acquire(10)
	require.NotNil(t, a)
	b := q.acquire(testFileSize - 1)
	require.Same(t, a, b, "one file, two readers")
	assert.Equal(t, int32(3), a.refs.Load(), "the list's reference and two readers'")

	f := q.DeleteBefore(testFileSize)
	assert.Nil(t, q.acquire(10), "an unlisted file cannot be acquired again")
	assert.Equal(t, int32(2), a.refs.Load())
	q.release(a)
	settle(t, opts.Executor)
	_, _, done := f.Result()
	assert.False(t, done)
	q.release(b)
	n, err := waitFor(t, f)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Panics(t, func() { q.release(a) }, "released more often than acquired")

	listed := q.acquire(testFileSize)
	require.NotNil(t, listed)
	q.release(listed)
	assert.Panics(t, func() { q.release(listed) }, "a listed file must keep the list's reference")
	listed.refs.Store(1) // repair, for Close
}

// TestReadPathAllocations: taking and dropping a reference allocates
// nothing, and neither does a Reader going through written items once its
// buffer is grown.
func TestReadPathAllocations(t *testing.T) {
	opts, tags := testOptions(t, vfs.NewMem())
	q := openQueue(t, opts)
	require.NoError(t, q.StartWriting(0, 1))
	addUntil(t, q, tags, 1, 1000, 1, 3*testFileSize, 1)

	assert.Zero(t, testing.AllocsPerRun(100, func() {
		q.release(q.acquire(100))
	}))
	r := q.NewReader(0, 0)
	defer r.Close()
	for {
		if _, _, _, _, err := r.Next(); err != nil {
			require.ErrorIs(t, err, ErrEndOfLog)
			break
		}
	}
	assert.Zero(t, testing.AllocsPerRun(20, func() {
		r.SeekTo(0)
		for {
			if _, _, _, _, err := r.Next(); err != nil {
				break
			}
		}
	}))
}
