package hraft

import (
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/raftlog/raftlog"
	"github.com/raftlog/raftlog/adapters/hraft/hrafttest"
	"github.com/stretchr/testify/require"
)

// testOptions keeps files small so tests create little on disk.
var testOptions = raftlog.Options{
	LogFileSize: 1 << 20, IdxItemsPerFile: 1 << 10, MaxUnflushedIndexes: 1 << 12,
	Logger: slog.New(slog.DiscardHandler),
}

// persistentFactory opens a Store in one directory per test, so a second
// call with the same t reopens it.
func persistentFactory() hrafttest.Factory {
	var mu sync.Mutex
	dirs := map[*testing.T]string{}
	return func(t *testing.T) (raft.LogStore, raft.StableStore, func()) {
		mu.Lock()
		dir, ok := dirs[t]
		if !ok {
			dir = t.TempDir()
			dirs[t] = dir
		}
		mu.Unlock()
		s, err := Open(dir, testOptions)
		require.NoError(t, err)
		var once sync.Once
		return s, s, func() { once.Do(func() { require.NoError(t, s.Close()) }) }
	}
}

func TestConformance(t *testing.T) {
	hrafttest.Run(t, persistentFactory(), hrafttest.Persistent())
}

// TestConformanceInmem runs the suite on raft's own in-memory store, to show
// the suite asks nothing raft's reference store does not do.
func TestConformanceInmem(t *testing.T) {
	hrafttest.Run(t, func(t *testing.T) (raft.LogStore, raft.StableStore, func()) {
		s := raft.NewInmemStore()
		return s, s, func() {}
	})
}

func TestZeroAppendedAtRoundTrips(t *testing.T) {
	s, err := Open(t.TempDir(), testOptions)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.StoreLogs([]*raft.Log{{Index: 1, Term: 1}, {Index: 2, Term: 1, AppendedAt: time.Unix(0, 1)}}))
	var l raft.Log
	require.NoError(t, s.GetLog(1, &l))
	require.True(t, l.AppendedAt.IsZero(), "zero AppendedAt came back as %v", l.AppendedAt)
	require.NoError(t, s.GetLog(2, &l))
	require.Equal(t, int64(1), l.AppendedAt.UnixNano())
}

func TestDeleteRangeInsideRefused(t *testing.T) {
	s, err := Open(t.TempDir(), testOptions)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.StoreLogs([]*raft.Log{{Index: 1, Term: 1}, {Index: 2, Term: 1}, {Index: 3, Term: 1}}))
	require.Error(t, s.DeleteRange(2, 2))
	last, err := s.LastIndex()
	require.NoError(t, err)
	require.Equal(t, uint64(3), last)
}

func TestCommitTracking(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testOptions)
	require.NoError(t, err)
	c, err := s.GetCommitIndex()
	require.NoError(t, err)
	require.Zero(t, c, "new store")

	// Staged alone changes nothing durable; it goes down with the next
	// StoreLogs, capped at the last index stored.
	require.NoError(t, s.StageCommitIndex(7))
	c, err = s.GetCommitIndex()
	require.NoError(t, err)
	require.Zero(t, c, "staged, not stored")
	require.NoError(t, s.StoreLogs([]*raft.Log{{Index: 1, Term: 1}, {Index: 2, Term: 1}, {Index: 3, Term: 1}}))
	c, err = s.GetCommitIndex()
	require.NoError(t, err)
	require.Equal(t, uint64(3), c, "capped at the last index")
	require.NoError(t, s.StoreLogs([]*raft.Log{{Index: 4, Term: 1}, {Index: 5, Term: 1}, {Index: 6, Term: 1}, {Index: 7, Term: 1}, {Index: 8, Term: 1}}))
	require.NoError(t, s.Close())

	s, err = Open(dir, testOptions)
	require.NoError(t, err)
	defer s.Close()
	c, err = s.GetCommitIndex()
	require.NoError(t, err)
	require.Equal(t, uint64(7), c, "after reopen")
}

// TestCompactedNotFound is stricter than the suite (which lets a store keep
// compacted entries readable, as raft-wal does): raftlog forgets them at once.
func TestCompactedNotFound(t *testing.T) {
	s, err := Open(t.TempDir(), testOptions)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.StoreLogs([]*raft.Log{{Index: 1, Term: 1}, {Index: 2, Term: 1}, {Index: 3, Term: 1}}))
	require.NoError(t, s.DeleteRange(1, 2))
	var l raft.Log
	require.True(t, s.GetLog(2, &l) == raft.ErrLogNotFound) //nolint:errorlint // raft compares with ==
}

// TestAbsentKeysNoError: raftlog answers absent keys as raft's StableStore
// documents, (nil, nil) and (0, nil); the suite also accepts "not found".
func TestAbsentKeysNoError(t *testing.T) {
	s, err := Open(t.TempDir(), testOptions)
	require.NoError(t, err)
	defer s.Close()
	v, err := s.Get([]byte("CurrentTerm"))
	require.NoError(t, err)
	require.Nil(t, v)
	u, err := s.GetUint64([]byte("CurrentTerm"))
	require.NoError(t, err)
	require.Zero(t, u)
}
