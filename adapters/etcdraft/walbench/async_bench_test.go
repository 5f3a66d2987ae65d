package walbench

import (
	"context"
	"fmt"
	"io"
	"log"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// queue is an unbounded FIFO that never blocks its producer: the append
// thread must never wait on the raft goroutine.
type queue struct {
	mu     sync.Mutex
	msgs   []*pb.Message
	signal chan struct{}
}

func (q *queue) put(m *pb.Message) {
	q.mu.Lock()
	q.msgs = append(q.msgs, m)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *queue) take() []*pb.Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	ms := q.msgs
	q.msgs = nil
	return ms
}

// runWALAppends is the WAL's append thread: it takes every message that is
// waiting, saves their entries and last HardState with one Save (one
// fdatasync) where the entries are contiguous, updates the MemoryStorage and
// then releases the responses in order. This is the group commit a WAL
// allows; it cannot have two writes in flight.
func runWALAppends(ctx context.Context, w *wal.WAL, mem *raft.MemoryStorage, in <-chan *pb.Message, send func(*pb.Message)) error {
	for {
		var group []*pb.Message
		select {
		case <-ctx.Done():
			return nil
		case m := <-in:
			group = append(group, m)
		}
	more:
		for len(group) < 256 {
			select {
			case m := <-in:
				group = append(group, m)
			default:
				break more
			}
		}
		var acc []*pb.Entry
		hs := &pb.HardState{}
		for _, m := range group {
			ents := m.GetEntries()
			if len(ents) > 0 && len(acc) > 0 && ents[0].GetIndex() != acc[len(acc)-1].GetIndex()+1 {
				if err := w.Save(&pb.HardState{}, acc); err != nil {
					return err
				}
				acc = nil
			}
			acc = append(acc, ents...)
			if st := (&pb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}); !raft.IsEmptyHardState(st) {
				hs = st
			}
		}
		if err := w.Save(hs, acc); err != nil {
			return err
		}
		for _, m := range group {
			if err := mem.Append(m.GetEntries()); err != nil {
				return err
			}
			if st := (&pb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}); !raft.IsEmptyHardState(st) {
				if err := mem.SetHardState(st); err != nil {
					return err
				}
			}
		}
		for _, m := range group {
			for _, r := range m.GetResponses() {
				send(r)
			}
		}
	}
}

// BenchmarkSingleNodeAsync is a single-node raft group with
// AsyncStorageWrites: the raft goroutine keeps proposing while the append
// thread persists, up to window proposals ahead of what is applied. raftlog
// runs etcdraft.Storage.RunAsync (appends pipelined, sharing fdatasyncs);
// the WAL runs runWALAppends (group commit, one Save at a time).
func BenchmarkSingleNodeAsync(b *testing.B) {
	for _, kind := range []string{"raftlog", "etcd-wal"} {
		for _, batch := range []int{1, 16} {
			b.Run(fmt.Sprintf("store=%s/batch=%d", kind, batch), func(b *testing.B) {
				benchAsync(b, kind, batch, 1024)
			})
		}
	}
}

func benchAsync(b *testing.B, kind string, batch, window int) {
	st := openStore(b, kind)
	defer func() { require.NoError(b, st.close()) }()
	rn, err := raft.NewRawNode(&raft.Config{
		ID: 1, ElectionTick: 10, HeartbeatTick: 1, Storage: st.storage(),
		MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256, AsyncStorageWrites: true,
		Logger: &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)},
	})
	require.NoError(b, err)
	require.NoError(b, rn.Bootstrap([]raft.Peer{{ID: 1}}))

	ctx, cancel := context.WithCancel(context.Background())
	back := &queue{signal: make(chan struct{}, 1)}
	appendCh := make(chan *pb.Message, 256)
	errc := make(chan error, 1)
	go func() {
		switch s := st.(type) {
		case raftlogStore:
			errc <- s.s.RunAsync(ctx, appendCh, back.put)
		case walStore:
			errc <- runWALAppends(ctx, s.w, s.mem, appendCh, back.put)
		}
	}()
	defer func() {
		cancel()
		require.NoError(b, <-errc)
	}()

	applied := 0
	handle := func() {
		for rn.HasReady() {
			rd := rn.Ready()
			for _, m := range rd.Messages {
				switch m.GetTo() {
				case raft.LocalAppendThread:
					appendCh <- m
				case raft.LocalApplyThread:
					for _, e := range m.GetEntries() {
						if e.GetType() == pb.EntryType_EntryConfChange {
							var cc pb.ConfChange
							require.NoError(b, proto.Unmarshal(e.GetData(), &cc))
							rn.ApplyConfChange(&cc)
						} else if len(e.GetData()) > 0 {
							applied++
						}
					}
					for _, r := range m.GetResponses() {
						require.NoError(b, rn.Step(r))
					}
				}
			}
		}
	}
	stepBack := func(block bool) {
		if block {
			<-back.signal
		}
		for _, m := range back.take() {
			require.NoError(b, rn.Step(m))
		}
	}
	for handle(); rn.Status().RaftState != raft.StateLeader; handle() {
		if rn.Status().Applied >= 1 && rn.Status().RaftState == raft.StateFollower {
			require.NoError(b, rn.Campaign())
			continue
		}
		stepBack(true)
	}
	payload := make([]byte, 128)
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	proposed := 0
	for applied < b.N {
		progressed := false
		for i := 0; i < batch && proposed < b.N && proposed-applied < window; i++ {
			require.NoError(b, rn.Propose(payload))
			proposed++
			progressed = true
		}
		handle()
		stepBack(!progressed)
		handle()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "proposals/s")
}
