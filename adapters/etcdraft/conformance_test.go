package etcdraft_test

import (
	"testing"

	"github.com/raftlog/raftlog"
	"github.com/raftlog/raftlog/adapters/etcdraft"
	"github.com/raftlog/raftlog/adapters/etcdraft/etcdrafttest"
	"github.com/stretchr/testify/require"
)

// smallLog keeps test directories small: 64 KiB log files, small index files.
var smallLog = raftlog.Options{LogFileSize: 1 << 16, IdxItemsPerFile: 1 << 10, MaxUnflushedIndexes: 1 << 12}

func openStorage(t testing.TB, dir string) *etcdraft.Storage {
	t.Helper()
	s, err := etcdraft.Open(dir, etcdraft.Options{Log: smallLog})
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) {
	etcdrafttest.Run(t, func(t *testing.T) etcdrafttest.Store {
		s := openStorage(t, t.TempDir())
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	})
}
