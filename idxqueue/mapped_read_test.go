package idxqueue

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/vfs"
)

func mappedFiles(q *Queue) int {
	q.files.mu.RLock()
	defer q.files.mu.RUnlock()
	return len(q.files.maps)
}

// TestMappedReads runs on the real file system, where index files are
// mapped: positions read through the mappings are right after a flush,
// after a truncation rewrote slots, after compaction unmapped files, and
// after a reopen mapped the files again.
func TestMappedReads(t *testing.T) {
	noLeak(t)
	opts := flushOpts(vfs.Default)
	opts.Dir = filepath.Join(t.TempDir(), "idx")
	q, plog := openStarted(t, &opts)
	putN(t, q, 1, 30)
	q.Durable(30)
	plog.waitFor(t, 30)
	require.Positive(t, mappedFiles(q), "the real file system's index files are mapped")
	requirePositions(t, q, 1, 30, pos)

	// Slots rewritten through the descriptor are seen through the mapping.
	_, err := q.TruncateTail(21)
	require.NoError(t, err)
	for i := uint64(21); i <= 30; i++ {
		require.NoError(t, q.Put(i, pos2(i)))
	}
	q.Durable(30)
	plog.waitFor(t, 30)
	requirePositions(t, q, 1, 20, pos)
	requirePositions(t, q, 21, 30, pos2)

	before := mappedFiles(q)
	n, err := q.CompactTo(17).Wait(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, before-2, mappedFiles(q), "the removed files are unmapped")
	requirePositions(t, q, 17, 20, pos)
	requirePositions(t, q, 21, 30, pos2)
	require.NoError(t, q.Close())
	require.Zero(t, mappedFiles(q), "Close unmaps every file")

	q, err = Open(opts)
	require.NoError(t, err)
	require.NoError(t, q.Start(30))
	require.Positive(t, mappedFiles(q))
	requirePositions(t, q, 17, 20, pos)
	requirePositions(t, q, 21, 30, pos2)
	require.NoError(t, q.Close())
}
