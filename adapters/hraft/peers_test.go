package hraft

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	"github.com/raftlog/raftlog/adapters/hraft/hrafttest"
	"github.com/stretchr/testify/require"
)

// dirFactory wraps an opener so that a second call with the same t reopens
// the same directory (hrafttest.Persistent).
func dirFactory(open func(t *testing.T, dir string) (raft.LogStore, raft.StableStore, func() error)) hrafttest.Factory {
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
		logs, stable, closeFn := open(t, dir)
		var once sync.Once
		return logs, stable, func() { once.Do(func() { require.NoError(t, closeFn()) }) }
	}
}

// The peers run the same suite: the checks are what raft needs, not what
// raftlog happens to do.
func TestConformanceRaftWAL(t *testing.T) {
	hrafttest.Run(t, dirFactory(func(t *testing.T, dir string) (raft.LogStore, raft.StableStore, func() error) {
		w, err := wal.Open(dir)
		require.NoError(t, err)
		return w, w, w.Close
		// Not Persistent: raft-wal v0.4.0's Close leaves its meta.db (bolt)
		// open and locked, so a reopen in the same process blocks forever.
	}))
}

func TestConformanceBoltDB(t *testing.T) {
	hrafttest.Run(t, dirFactory(func(t *testing.T, dir string) (raft.LogStore, raft.StableStore, func() error) {
		s, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
		require.NoError(t, err)
		return s, s, s.Close
	}), hrafttest.Persistent())
}
