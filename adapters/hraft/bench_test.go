package hraft

import (
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	raftbench "github.com/hashicorp/raft/bench"
	"github.com/raftlog/raftlog"
	"github.com/stretchr/testify/require"
)

// benchStore is one engine under comparison: open returns a fresh store in
// dir and its close function.
type benchStore struct {
	name string
	open func(b *testing.B, dir string) (raft.LogStore, raft.StableStore, func())
}

var benchStores = []benchStore{
	{"raftlog", func(b *testing.B, dir string) (raft.LogStore, raft.StableStore, func()) {
		// Default file sizes, as a user would run it.
		s, err := Open(dir, raftlog.Options{Logger: testOptions.Logger})
		require.NoError(b, err)
		return s, s, func() { require.NoError(b, s.Close()) }
	}},
	{"raft-wal", func(b *testing.B, dir string) (raft.LogStore, raft.StableStore, func()) {
		w, err := wal.Open(dir)
		require.NoError(b, err)
		return w, w, func() { require.NoError(b, w.Close()) }
	}},
	{"raft-boltdb", func(b *testing.B, dir string) (raft.LogStore, raft.StableStore, func()) {
		s, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
		require.NoError(b, err)
		return s, s, func() { require.NoError(b, s.Close()) }
	}},
}

// The functions of hashicorp/raft/bench that a monotonic store can run:
// StoreLog starts at index 0 and DeleteRange leaves gaps, which raft never
// asks of a MonotonicLogStore (raft-wal refuses them too).
var logBenches = []struct {
	name string
	fn   func(*testing.B, raft.LogStore)
}{
	{"FirstIndex", raftbench.FirstIndex},
	{"LastIndex", raftbench.LastIndex},
	{"GetLog", raftbench.GetLog},
	{"StoreLogs", raftbench.StoreLogs},
}

var stableBenches = []struct {
	name string
	fn   func(*testing.B, raft.StableStore)
}{
	{"Set", raftbench.Set},
	{"Get", raftbench.Get},
	{"SetUint64", raftbench.SetUint64},
	{"GetUint64", raftbench.GetUint64},
}

func BenchmarkStores(b *testing.B) {
	for _, bm := range logBenches {
		for _, st := range benchStores {
			b.Run(bm.name+"/"+st.name, func(b *testing.B) {
				logs, _, closeFn := st.open(b, b.TempDir())
				defer closeFn()
				bm.fn(b, logs)
			})
		}
	}
	for _, bm := range stableBenches {
		for _, st := range benchStores {
			b.Run(bm.name+"/"+st.name, func(b *testing.B) {
				_, stable, closeFn := st.open(b, b.TempDir())
				defer closeFn()
				bm.fn(b, stable)
			})
		}
	}
}
