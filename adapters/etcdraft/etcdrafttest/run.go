package etcdrafttest

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Store is a raft.Storage with the writes an application makes to it, with
// the signatures and semantics of raft.MemoryStorage: each returns once the
// write is done (durable, for a persistent store).
type Store interface {
	raft.Storage
	// Append appends entries, replacing the suffix from the first one's
	// index when it is at or below LastIndex.
	Append(ents []*pb.Entry) error
	SetHardState(st *pb.HardState) error
	// ApplySnapshot replaces the log with a snapshot (ErrSnapOutOfDate if
	// it is not newer than the current one).
	ApplySnapshot(snap *pb.Snapshot) error
	// CreateSnapshot records a snapshot at an index the log holds.
	CreateSnapshot(i uint64, cs *pb.ConfState, data []byte) (*pb.Snapshot, error)
	// Compact discards entries before compactIndex (FirstIndex becomes
	// compactIndex+1; ErrCompacted if compactIndex is already compacted).
	Compact(compactIndex uint64) error
}

// Factory returns a new, empty Store. Run closes nothing: a Store that
// needs closing registers that with t.Cleanup.
type Factory func(t *testing.T) Store

// Run runs every check as a subtest, each on a fresh Store.
func Run(t *testing.T, newStore Factory) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, newStore(t)) })
	}
}

var cases = []struct {
	name string
	fn   func(t *testing.T, s Store)
}{
	{"Empty", testEmpty},
	{"AppendAndRead", testAppendAndRead},
	{"EntriesMaxSize", testEntriesMaxSize},
	{"EntriesSliceIsCallers", testEntriesSliceIsCallers},
	{"Overwrite", testOverwrite},
	{"Compact", testCompact},
	{"CreateSnapshot", testCreateSnapshot},
	{"ApplySnapshot", testApplySnapshot},
	{"HardState", testHardState},
}

// ents makes entries [lo, hi) with the given term and a payload of size
// bytes (distinct per index).
func ents(lo, hi, term uint64, size int) []*pb.Entry {
	var out []*pb.Entry
	for i := lo; i < hi; i++ {
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(i + uint64(j))
		}
		out = append(out, &pb.Entry{Index: new(i), Term: new(term), Data: data})
	}
	return out
}

func requireEntries(t *testing.T, want, got []*pb.Entry) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		assert.Equal(t, want[i].GetIndex(), got[i].GetIndex(), "index of entry %d", i)
		assert.Equal(t, want[i].GetTerm(), got[i].GetTerm(), "term of entry %d", i)
		assert.Equal(t, want[i].GetType(), got[i].GetType(), "type of entry %d", i)
		assert.Equal(t, want[i].GetData(), got[i].GetData(), "data of entry %d", i)
	}
}

func requireBounds(t *testing.T, s Store, first, last uint64) {
	t.Helper()
	f, err := s.FirstIndex()
	require.NoError(t, err)
	l, err := s.LastIndex()
	require.NoError(t, err)
	require.Equal(t, [2]uint64{first, last}, [2]uint64{f, l}, "[FirstIndex, LastIndex]")
}

// requireErr checks that err is exactly want: raft compares with ==.
func requireErr(t *testing.T, want, err error, what string) {
	t.Helper()
	require.True(t, err == want, "%s: got error %v, want exactly %v", what, err, want)
}

func testEmpty(t *testing.T, s Store) {
	requireBounds(t, s, 1, 0)
	term, err := s.Term(0)
	require.NoError(t, err)
	assert.Zero(t, term, "Term(0) of an empty log")
	_, err = s.Term(1)
	requireErr(t, raft.ErrUnavailable, err, "Term(1) of an empty log")
	hs, cs, err := s.InitialState()
	require.NoError(t, err)
	assert.True(t, raft.IsEmptyHardState(hs), "HardState of a new store: %v", hs)
	require.NotNil(t, cs, "ConfState must not be nil")
	snap, err := s.Snapshot()
	require.NoError(t, err)
	assert.Zero(t, snap.GetMetadata().GetIndex())
}

func testAppendAndRead(t *testing.T, s Store) {
	want := append(ents(1, 4, 1, 10), ents(4, 11, 2, 10)...)
	want[2].Type = pb.EntryType_EntryConfChange.Enum()
	require.NoError(t, s.Append(want))
	requireBounds(t, s, 1, 10)
	got, err := s.Entries(1, 11, math.MaxUint64)
	require.NoError(t, err)
	requireEntries(t, want, got)
	got, err = s.Entries(4, 7, math.MaxUint64)
	require.NoError(t, err)
	requireEntries(t, want[3:6], got)
	for _, e := range want {
		term, err := s.Term(e.GetIndex())
		require.NoError(t, err)
		assert.Equal(t, e.GetTerm(), term, "Term(%d)", e.GetIndex())
	}
	_, err = s.Term(11)
	requireErr(t, raft.ErrUnavailable, err, "Term(LastIndex+1)")
	// Appends continue the log.
	require.NoError(t, s.Append(ents(11, 13, 2, 10)))
	requireBounds(t, s, 1, 12)
}

func testEntriesMaxSize(t *testing.T, s Store) {
	want := ents(1, 21, 1, 100)
	require.NoError(t, s.Append(want))
	sz := func(es []*pb.Entry) uint64 {
		var n uint64
		for _, e := range es {
			n += uint64(proto.Size(e))
		}
		return n
	}
	all, err := s.Entries(1, 21, math.MaxUint64)
	require.NoError(t, err)
	one := sz(all[:1])
	for _, tc := range []struct {
		name    string
		maxSize uint64
		want    int
	}{
		{"zero gives one entry", 0, 1},
		{"below one entry gives one entry", one - 1, 1},
		{"exactly one", one, 1},
		{"just below two", sz(all[:2]) - 1, 1},
		{"exactly two", sz(all[:2]), 2},
		{"exactly seven", sz(all[:7]), 7},
		{"half way to eight", sz(all[:7]) + one/2, 7},
		{"everything", sz(all), 20},
		{"no limit", math.MaxUint64, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Entries(1, 21, tc.maxSize)
			require.NoError(t, err)
			requireEntries(t, want[:tc.want], got)
		})
	}
	got, err := s.Entries(5, 21, 0)
	require.NoError(t, err)
	requireEntries(t, want[4:5], got)
}

func testEntriesSliceIsCallers(t *testing.T, s Store) {
	want := ents(1, 11, 1, 10)
	require.NoError(t, s.Append(want))
	got, err := s.Entries(1, 5, math.MaxUint64)
	require.NoError(t, err)
	// raft appends to the returned slice; that must not show in the store.
	_ = append(got, &pb.Entry{Index: new(uint64(99)), Term: new(uint64(99))})
	again, err := s.Entries(1, 11, math.MaxUint64)
	require.NoError(t, err)
	requireEntries(t, want, again)
}

func testOverwrite(t *testing.T, s Store) {
	require.NoError(t, s.Append(ents(1, 11, 1, 10)))
	// A new leader's entries replace the suffix from index 6.
	newer := ents(6, 9, 3, 20)
	require.NoError(t, s.Append(newer))
	requireBounds(t, s, 1, 8)
	got, err := s.Entries(6, 9, math.MaxUint64)
	require.NoError(t, err)
	requireEntries(t, newer, got)
	term, err := s.Term(5)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), term)
	_, err = s.Term(9)
	requireErr(t, raft.ErrUnavailable, err, "Term of a truncated index")
	// Replacing only the last entry.
	require.NoError(t, s.Append(ents(8, 10, 4, 5)))
	requireBounds(t, s, 1, 9)
	term, err = s.Term(8)
	require.NoError(t, err)
	assert.Equal(t, uint64(4), term)
}

func testCompact(t *testing.T, s Store) {
	want := append(ents(1, 6, 1, 10), ents(6, 11, 2, 10)...)
	require.NoError(t, s.Append(want))
	require.NoError(t, s.Compact(6))
	requireBounds(t, s, 7, 10)
	term, err := s.Term(6)
	require.NoError(t, err, "Term(FirstIndex-1) must answer after compaction")
	assert.Equal(t, uint64(2), term)
	_, err = s.Term(5)
	requireErr(t, raft.ErrCompacted, err, "Term below FirstIndex-1")
	_, err = s.Entries(6, 8, math.MaxUint64)
	requireErr(t, raft.ErrCompacted, err, "Entries from FirstIndex-1")
	_, err = s.Entries(2, 8, math.MaxUint64)
	requireErr(t, raft.ErrCompacted, err, "Entries from a compacted index")
	got, err := s.Entries(7, 11, math.MaxUint64)
	require.NoError(t, err)
	requireEntries(t, want[6:], got)
	requireErr(t, raft.ErrCompacted, s.Compact(6), "Compact at the compacted point")
	requireErr(t, raft.ErrCompacted, s.Compact(3), "Compact below it")
	// Compacting everything keeps the last term.
	require.NoError(t, s.Compact(10))
	requireBounds(t, s, 11, 10)
	term, err = s.Term(10)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), term)
	_, err = s.Term(11)
	requireErr(t, raft.ErrUnavailable, err, "Term above a fully compacted log")
	// And the log continues.
	require.NoError(t, s.Append(ents(11, 13, 3, 10)))
	requireBounds(t, s, 11, 12)
}

func testCreateSnapshot(t *testing.T, s Store) {
	require.NoError(t, s.Append(append(ents(1, 4, 1, 10), ents(4, 11, 2, 10)...)))
	cs := &pb.ConfState{Voters: []uint64{1, 2, 3}}
	snap, err := s.CreateSnapshot(5, cs, []byte("state at 5"))
	require.NoError(t, err)
	assert.Equal(t, uint64(5), snap.GetMetadata().GetIndex())
	assert.Equal(t, uint64(2), snap.GetMetadata().GetTerm())
	got, err := s.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, uint64(5), got.GetMetadata().GetIndex())
	assert.Equal(t, uint64(2), got.GetMetadata().GetTerm())
	assert.Equal(t, []uint64{1, 2, 3}, got.GetMetadata().GetConfState().GetVoters())
	assert.Equal(t, []byte("state at 5"), got.GetData())
	// Creating a snapshot does not compact.
	requireBounds(t, s, 1, 10)
	_, err = s.CreateSnapshot(5, cs, nil)
	requireErr(t, raft.ErrSnapOutOfDate, err, "CreateSnapshot at the same index")
	_, err = s.CreateSnapshot(3, cs, nil)
	requireErr(t, raft.ErrSnapOutOfDate, err, "CreateSnapshot at an older index")
	// Compacting up to the snapshot leaves it the one raft sends.
	require.NoError(t, s.Compact(5))
	requireBounds(t, s, 6, 10)
	got, err = s.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, uint64(5), got.GetMetadata().GetIndex())
	_, cs2, err := s.InitialState()
	require.NoError(t, err)
	assert.Equal(t, []uint64{1, 2, 3}, cs2.GetVoters(), "InitialState ConfState is the snapshot's")
}

func testApplySnapshot(t *testing.T, s Store) {
	require.NoError(t, s.Append(ents(1, 11, 1, 10)))
	snap := &pb.Snapshot{
		Data: []byte("leader state"),
		Metadata: &pb.SnapshotMetadata{
			Index: new(uint64(20)), Term: new(uint64(5)),
			ConfState: &pb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{3}},
		},
	}
	require.NoError(t, s.ApplySnapshot(snap))
	requireBounds(t, s, 21, 20)
	term, err := s.Term(20)
	require.NoError(t, err, "Term of the snapshot index")
	assert.Equal(t, uint64(5), term)
	_, err = s.Term(19)
	requireErr(t, raft.ErrCompacted, err, "Term below the snapshot")
	_, err = s.Term(21)
	requireErr(t, raft.ErrUnavailable, err, "Term after the snapshot")
	_, err = s.Entries(5, 21, math.MaxUint64)
	requireErr(t, raft.ErrCompacted, err, "Entries of the replaced log")
	got, err := s.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, uint64(20), got.GetMetadata().GetIndex())
	assert.Equal(t, uint64(5), got.GetMetadata().GetTerm())
	assert.Equal(t, []byte("leader state"), got.GetData())
	_, cs, err := s.InitialState()
	require.NoError(t, err)
	assert.Equal(t, []uint64{1, 2}, cs.GetVoters())
	assert.Equal(t, []uint64{3}, cs.GetLearners())

	older := proto.Clone(snap).(*pb.Snapshot)
	older.Metadata.Index = new(uint64(15))
	requireErr(t, raft.ErrSnapOutOfDate, s.ApplySnapshot(older), "ApplySnapshot of an older snapshot")
	requireErr(t, raft.ErrSnapOutOfDate, s.ApplySnapshot(snap), "ApplySnapshot of the same snapshot")

	// The log continues after the snapshot.
	want := ents(21, 24, 5, 10)
	require.NoError(t, s.Append(want))
	requireBounds(t, s, 21, 23)
	es, err := s.Entries(21, 24, math.MaxUint64)
	require.NoError(t, err)
	requireEntries(t, want, es)
}

func testHardState(t *testing.T, s Store) {
	require.NoError(t, s.Append(ents(1, 6, 2, 10)))
	require.NoError(t, s.SetHardState(&pb.HardState{Term: new(uint64(2)), Vote: new(uint64(3)), Commit: new(uint64(4))}))
	hs, _, err := s.InitialState()
	require.NoError(t, err)
	assert.Equal(t, [3]uint64{2, 3, 4}, [3]uint64{hs.GetTerm(), hs.GetVote(), hs.GetCommit()})
}
