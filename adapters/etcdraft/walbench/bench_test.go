package walbench

import (
	"fmt"
	"io"
	"log"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/raftlog/raftlog"
	"github.com/raftlog/raftlog/adapters/etcdraft"
	"github.com/stretchr/testify/require"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

// store is a durable store as a raft application wires it: a raft.Storage
// and the write of one Ready.
type store interface {
	storage() raft.Storage
	save(rd raft.Ready) error
	close() error
}

type raftlogStore struct{ s *etcdraft.Storage }

func (r raftlogStore) storage() raft.Storage    { return r.s }
func (r raftlogStore) save(rd raft.Ready) error { return r.s.SaveReady(rd) }
func (r raftlogStore) close() error             { return r.s.Close() }

// walStore is etcd's arrangement: the WAL for durability, a MemoryStorage
// that raft reads.
type walStore struct {
	w   *wal.WAL
	mem *raft.MemoryStorage
}

func (w walStore) storage() raft.Storage { return w.mem }
func (w walStore) save(rd raft.Ready) error {
	if err := w.w.Save(rd.HardState, rd.Entries); err != nil {
		return err
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		if err := w.mem.SetHardState(rd.HardState); err != nil {
			return err
		}
	}
	return w.mem.Append(rd.Entries)
}
func (w walStore) close() error { return w.w.Close() }

func openStore(b *testing.B, kind string) store {
	dir := filepath.Join(b.TempDir(), kind)
	switch kind {
	case "raftlog":
		s, err := etcdraft.Open(dir, etcdraft.Options{Log: raftlog.Options{LogFileSize: 64 << 20, Logger: slog.New(slog.DiscardHandler)}})
		require.NoError(b, err)
		return raftlogStore{s}
	default:
		w, err := wal.Create(zap.NewNop(), dir, nil)
		require.NoError(b, err)
		return walStore{w: w, mem: raft.NewMemoryStorage()}
	}
}

func BenchmarkSingleNodeProposals(b *testing.B) {
	for _, kind := range []string{"raftlog", "etcd-wal"} {
		for _, batch := range []int{1, 16, 128} {
			b.Run(fmt.Sprintf("store=%s/batch=%d", kind, batch), func(b *testing.B) {
				benchStore(b, kind, batch)
			})
		}
	}
}

func benchStore(b *testing.B, kind string, batch int) {
	st := openStore(b, kind)
	defer func() { require.NoError(b, st.close()) }()
	rn, err := raft.NewRawNode(&raft.Config{
		ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: st.storage(),
		MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256,
		Logger: &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)},
	})
	require.NoError(b, err)
	require.NoError(b, rn.Bootstrap([]raft.Peer{{ID: 1}}))
	payload := make([]byte, 128)
	applied := 0
	drain := func() {
		for rn.HasReady() {
			rd := rn.Ready()
			require.NoError(b, st.save(rd))
			for _, e := range rd.CommittedEntries {
				if e.GetType() == pb.EntryType_EntryConfChange {
					var cc pb.ConfChange
					require.NoError(b, proto.Unmarshal(e.GetData(), &cc))
					rn.ApplyConfChange(&cc)
				} else if len(e.GetData()) > 0 {
					applied++
				}
			}
			rn.Advance(rd)
		}
	}
	drain() // apply the bootstrap configuration before campaigning
	require.NoError(b, rn.Campaign())
	drain()
	require.Equal(b, raft.StateLeader, rn.Status().RaftState)
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for proposed := 0; proposed < b.N; {
		for i := 0; i < batch && proposed < b.N; i++ {
			require.NoError(b, rn.Propose(payload))
			proposed++
		}
		drain()
	}
	require.Equal(b, b.N, applied)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "proposals/s")
}
