package etcdraft

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/raftlog/raftlog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

var testLog = raftlog.Options{LogFileSize: 1 << 16, IdxItemsPerFile: 1 << 10, MaxUnflushedIndexes: 1 << 12}

func open(t *testing.T, dir string) *Storage {
	t.Helper()
	s, err := Open(dir, Options{Log: testLog})
	require.NoError(t, err)
	return s
}

func mkEnts(lo, hi, term uint64) []*pb.Entry {
	var out []*pb.Entry
	for i := lo; i < hi; i++ {
		out = append(out, &pb.Entry{Index: new(i), Term: new(term), Data: []byte{byte(i), 1, 2}})
	}
	return out
}

func hs(term, vote, commit uint64) *pb.HardState {
	return &pb.HardState{Term: new(term), Vote: new(vote), Commit: new(commit)}
}

func TestReopenKeepsState(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	require.NoError(t, s.SaveReady(raft.Ready{Entries: mkEnts(1, 101, 1), HardState: hs(1, 2, 50), MustSync: true}))
	_, err := s.CreateSnapshot(40, &pb.ConfState{Voters: []uint64{1, 2, 3}}, []byte("sm@40"))
	require.NoError(t, err)
	require.NoError(t, s.Compact(30))
	require.NoError(t, s.Close())

	s = open(t, dir)
	defer func() { require.NoError(t, s.Close()) }()
	st, cs, err := s.InitialState()
	require.NoError(t, err)
	assert.Equal(t, [3]uint64{1, 2, 50}, [3]uint64{st.GetTerm(), st.GetVote(), st.GetCommit()})
	assert.Equal(t, []uint64{1, 2, 3}, cs.GetVoters())
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	assert.Equal(t, [2]uint64{31, 100}, [2]uint64{first, last})
	snap, err := s.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, uint64(40), snap.GetMetadata().GetIndex())
	assert.Equal(t, []byte("sm@40"), snap.GetData())
	es, err := s.Entries(31, 101, math.MaxUint64)
	require.NoError(t, err)
	require.Len(t, es, 70)
	assert.Equal(t, []byte{100, 1, 2}, es[69].GetData())
}

// A crash between recording a leader's snapshot and installing it in the
// log: Open finishes the install.
func TestOpenFinishesInterruptedInstall(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	require.NoError(t, s.Append(mkEnts(1, 11, 1)))
	snap := &pb.Snapshot{Data: []byte("leader"), Metadata: &pb.SnapshotMetadata{
		Index: new(uint64(50)), Term: new(uint64(3)), ConfState: &pb.ConfState{Voters: []uint64{1}}}}
	s.snapMu.Lock()
	require.NoError(t, s.setCurrent(snap)) // data and property, not the log
	s.snapMu.Unlock()
	require.NoError(t, s.Close())

	s = open(t, dir)
	defer func() { require.NoError(t, s.Close()) }()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	assert.Equal(t, [2]uint64{51, 50}, [2]uint64{first, last})
	term, err := s.Term(50)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), term)
}

// A snapshot created locally is not an interrupted install: Open keeps the
// entries after it.
func TestOpenKeepsEntriesAfterCreatedSnapshot(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	require.NoError(t, s.Append(mkEnts(1, 21, 2)))
	_, err := s.CreateSnapshot(10, nil, []byte("x"))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	s = open(t, dir)
	defer func() { require.NoError(t, s.Close()) }()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	assert.Equal(t, [2]uint64{1, 20}, [2]uint64{first, last})
}

func TestOrphanSnapshotDataRemoved(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	require.NoError(t, s.Append(mkEnts(1, 21, 2)))
	_, err := s.CreateSnapshot(10, nil, []byte("x"))
	require.NoError(t, err)
	// A data file written just before a crash, never made current.
	require.NoError(t, s.writeData(2, 15, []byte("orphan")))
	require.NoError(t, s.Close())
	s = open(t, dir)
	defer func() { require.NoError(t, s.Close()) }()
	des, err := os.ReadDir(filepath.Join(dir, "snap"))
	require.NoError(t, err)
	require.Len(t, des, 1)
	assert.Equal(t, snapName(2, 10), des[0].Name())
}

func TestCorruptSnapshotDataRefused(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	require.NoError(t, s.Append(mkEnts(1, 21, 2)))
	_, err := s.CreateSnapshot(10, nil, []byte("state"))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	p := filepath.Join(dir, "snap", snapName(2, 10))
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	b[0] ^= 1
	require.NoError(t, os.WriteFile(p, b, 0o644))
	_, err = Open(dir, Options{Log: testLog})
	require.ErrorIs(t, err, ErrSnapshotCorrupt)
}

func TestSnapshotTemporarilyUnavailableAfterCompactingPastIt(t *testing.T) {
	s := open(t, t.TempDir())
	defer func() { require.NoError(t, s.Close()) }()
	require.NoError(t, s.Append(mkEnts(1, 21, 2)))
	_, err := s.CreateSnapshot(5, nil, nil)
	require.NoError(t, err)
	require.NoError(t, s.Compact(5))
	_, err = s.Snapshot()
	require.NoError(t, err)
	require.NoError(t, s.Compact(8))
	_, err = s.Snapshot()
	require.True(t, err == raft.ErrSnapshotTemporarilyUnavailable, "got %v", err)
}

func TestSaveReadyOrder(t *testing.T) {
	s := open(t, t.TempDir())
	defer func() { require.NoError(t, s.Close()) }()
	require.NoError(t, s.SaveReady(raft.Ready{Entries: mkEnts(1, 11, 1), HardState: hs(1, 1, 5), MustSync: true}))
	// Snapshot, entries after it and a commit index that covers both, in
	// one Ready: the snapshot must go first for the entries to fit.
	snap := &pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: new(uint64(30)), Term: new(uint64(2)),
		ConfState: &pb.ConfState{Voters: []uint64{1}}}}
	require.NoError(t, s.SaveReady(raft.Ready{Snapshot: snap, Entries: mkEnts(31, 36, 2), HardState: hs(2, 1, 33), MustSync: true}))
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	assert.Equal(t, [2]uint64{31, 35}, [2]uint64{first, last})
	st, _, _ := s.InitialState()
	assert.Equal(t, uint64(33), st.GetCommit())
	assert.Equal(t, uint64(35), s.Log().DurableIndex())
	// Overwrite from a new leader.
	require.NoError(t, s.SaveReady(raft.Ready{Entries: mkEnts(34, 40, 3), HardState: hs(3, 2, 33), MustSync: true}))
	term, err := s.Term(34)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), term)
	last, _ = s.LastIndex()
	assert.Equal(t, uint64(39), last)
}

func TestSaveReadyRejectsGap(t *testing.T) {
	s := open(t, t.TempDir())
	defer func() { require.NoError(t, s.Close()) }()
	require.NoError(t, s.SaveReady(raft.Ready{Entries: mkEnts(1, 4, 1), MustSync: true}))
	err := s.SaveReady(raft.Ready{Entries: mkEnts(6, 8, 1), MustSync: true})
	require.ErrorIs(t, err, raftlog.ErrOutOfOrder)
}

func appendMsg(ents []*pb.Entry, st *pb.HardState, resps ...*pb.Message) *pb.Message {
	m := &pb.Message{Type: pb.MessageType_MsgStorageAppend.Enum(), To: new(raft.LocalAppendThread), From: new(uint64(1)),
		Entries: ents, Responses: resps}
	if st != nil {
		m.Term, m.Vote, m.Commit = st.Term, st.Vote, st.Commit
	}
	return m
}

// TestRunAsync checks that responses come out in message order, each only
// once the entries of its message are durable, and that every message's
// writes land.
func TestRunAsync(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer func() { require.NoError(t, s.Close()) }() // s is reopened below
	in := make(chan *pb.Message, 16)
	got := make(chan *pb.Message, 1000)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- s.RunAsync(ctx, in, func(m *pb.Message) {
			// The response names the last index of its message in Index.
			if d := s.Log().DurableIndex(); d < m.GetIndex() {
				t.Errorf("response for %d delivered with durable index %d", m.GetIndex(), d)
			}
			got <- m
		})
	}()
	const n = 500
	for i := uint64(0); i < n; i++ {
		lo := i*4 + 1
		in <- appendMsg(mkEnts(lo, lo+4, 1), hs(1, 1, lo-1),
			&pb.Message{Type: pb.MessageType_MsgStorageAppendResp.Enum(), Index: new(lo + 3)},
			&pb.Message{Type: pb.MessageType_MsgAppResp.Enum(), Index: new(lo + 3)})
	}
	var prev uint64
	for range 2 * n {
		m := <-got
		require.GreaterOrEqual(t, m.GetIndex(), prev, "responses out of order")
		prev = m.GetIndex()
	}
	assert.Equal(t, uint64(4*n), prev)
	cancel()
	require.NoError(t, <-errc)
	last, _ := s.LastIndex()
	assert.Equal(t, uint64(4*n), last)
	// Consecutive appends shared fdatasyncs.
	t.Logf("%d appends in %d fdatasync rounds", n, s.Log().Metrics().FsyncLatency.Count)
	// The last commit index may be held back (commit-only HardStates are
	// saved lazily); Close writes it.
	require.NoError(t, s.Close())
	s = open(t, dir)
	st, _, _ := s.InitialState()
	assert.Equal(t, uint64(4*n-4), st.GetCommit())
}

func TestRunAsyncStopsOnError(t *testing.T) {
	s := open(t, t.TempDir())
	defer func() { require.NoError(t, s.Close()) }()
	in := make(chan *pb.Message, 2)
	in <- appendMsg(mkEnts(1, 3, 1), nil)
	in <- appendMsg(mkEnts(5, 6, 1), nil) // gap
	err := s.RunAsync(context.Background(), in, func(*pb.Message) {})
	require.ErrorIs(t, err, raftlog.ErrOutOfOrder)

	in = make(chan *pb.Message, 1)
	in <- &pb.Message{Type: pb.MessageType_MsgStorageApply.Enum()}
	require.Error(t, s.RunAsync(context.Background(), in, func(*pb.Message) {}))
}

// Term and Vote changes are durable before SaveReady returns; commit-only
// changes are saved at most once per CommitSaveInterval, and Close saves the
// last one.
func TestHardStateSaving(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{Log: testLog, CommitSaveInterval: time.Hour})
	require.NoError(t, err)
	require.NoError(t, s.SaveReady(raft.Ready{Entries: mkEnts(1, 11, 1), HardState: hs(1, 1, 2), MustSync: true}))
	require.Equal(t, raftlog.HardState{Term: 1, Vote: 1, Commit: 2}, s.Log().HardState(), "a new term is saved at once")
	require.NoError(t, s.SaveReady(raft.Ready{HardState: hs(1, 1, 5)}))
	require.NoError(t, s.SaveReady(raft.Ready{HardState: hs(1, 1, 7)}))
	assert.Equal(t, uint64(2), s.Log().HardState().Commit, "commit-only updates are held back within the interval")
	require.NoError(t, s.SaveReady(raft.Ready{HardState: hs(2, 3, 8), MustSync: true}))
	assert.Equal(t, raftlog.HardState{Term: 2, Vote: 3, Commit: 8}, s.Log().HardState(), "a vote is saved at once, with the newest commit")
	require.NoError(t, s.SaveReady(raft.Ready{HardState: hs(2, 3, 9)}))
	require.NoError(t, s.Close())
	s = open(t, dir)
	defer func() { require.NoError(t, s.Close()) }()
	st, _, _ := s.InitialState()
	assert.Equal(t, uint64(9), st.GetCommit(), "Close saves the held-back commit")
}
