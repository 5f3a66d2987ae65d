package etcdraft

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"time"

	"github.com/raftlog/raftlog"
	"github.com/raftlog/raftlog/pipeline"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Options configure a Storage.
type Options struct {
	// Log configures the raftlog.Log in DIR/log. The zero value means
	// raftlog's defaults.
	Log raftlog.Options
	// CommitSaveInterval is the least time between two saves of a
	// HardState whose commit index alone changed (Term and Vote changes are
	// saved at once and waited for). Default 10 ms; negative: save every one.
	CommitSaveInterval time.Duration
	// TailCacheEntries bounds the recently appended entries kept in memory
	// for raft's reads of its own tail. Default 8192; negative: none.
	TailCacheEntries int
}

// Storage is a raft.Storage kept in a raftlog.Log, plus the writes raft asks
// of its application (SaveReady, RunAsync) and the MemoryStorage-style
// methods (Append, SetHardState, ApplySnapshot, CreateSnapshot, Compact).
type Storage struct {
	log     *raftlog.Log
	snapDir string

	// snapMu guards snap, the current snapshot (metadata and data), which
	// raft reads with Snapshot and the writers replace.
	snapMu sync.Mutex
	snap   *pb.Snapshot

	// hsMu guards the Term and Vote of the last HardState submitted, to
	// tell a HardState raft must wait for from a commit-only update.
	hsMu           sync.Mutex
	hsTerm, hsVote uint64
	hsInflight     *pipeline.Future[raftlog.HardState] // commit-only update being written
	hsPending      *raftlog.HardState                  // newest commit-only update held back
	hsSaved        time.Time                           // when the last one was submitted
	commitEvery    time.Duration

	tail tailCache
}

var _ raft.Storage = (*Storage)(nil)

// Open opens (or creates) the storage in dir. It finishes a snapshot install
// that a crash interrupted (see the package comment).
func Open(dir string, opts Options) (*Storage, error) {
	l, err := raftlog.Open(filepath.Join(dir, "log"), opts.Log)
	if err != nil {
		return nil, fmt.Errorf("etcdraft: open log: %w", err)
	}
	hs := l.HardState()
	s := &Storage{log: l, snapDir: filepath.Join(dir, "snap"), hsTerm: hs.Term, hsVote: hs.Vote,
		commitEvery: opts.CommitSaveInterval}
	if s.commitEvery == 0 {
		s.commitEvery = 10 * time.Millisecond
	}
	s.tail.max = opts.TailCacheEntries
	if s.tail.max == 0 {
		s.tail.max = 8192
	}
	if err := s.loadSnapshot(); err != nil {
		_ = l.Close()
		return nil, err
	}
	return s, nil
}

// Log returns the underlying raftlog.Log (for metrics and inspection;
// writing to it directly bypasses the Storage's bookkeeping).
func (s *Storage) Log() *raftlog.Log { return s.log }

// Close writes a HardState still held back (see SaveReady), waits for
// pending writes and closes the log.
func (s *Storage) Close() error {
	ferr := s.flushHardState()
	if err := errors.Join(ferr, s.log.Close()); err != nil {
		return fmt.Errorf("etcdraft: close: %w", err)
	}
	return nil
}

// InitialState returns the saved HardState and the ConfState of the current
// snapshot. The ConfState is the one at FirstIndex-1: configuration changes
// in the log after it are re-applied when raft hands them back as committed
// entries (with Config.Applied at most the snapshot index).
func (s *Storage) InitialState() (*pb.HardState, *pb.ConfState, error) {
	hs := s.log.HardState()
	s.snapMu.Lock()
	cs := proto.Clone(s.snap.GetMetadata().GetConfState()).(*pb.ConfState)
	s.snapMu.Unlock()
	return &pb.HardState{Term: new(hs.Term), Vote: new(hs.Vote), Commit: new(hs.Commit)}, cs, nil
}

// Entries returns the entries in [lo, hi), at most maxSize bytes of their
// protobuf encoding but at least one entry (raft's limitSize rule, so the
// result is the one MemoryStorage would give).
func (s *Storage) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	first, last := s.log.FirstIndex(), s.log.LastIndex()
	switch {
	case lo < first:
		return nil, raft.ErrCompacted
	case hi > last+1 || lo > last:
		return nil, raft.ErrUnavailable
	case lo >= hi:
		return nil, nil
	}
	if es, ok := s.tail.get(lo, hi); ok {
		return limitSize(es, maxSize), nil
	}
	var (
		out  []*pb.Entry
		size uint64
	)
	// raftlog bounds a read by its own encoding, which is larger than
	// protobuf's, so read in chunks until raft's bound is reached.
	const chunk = 4 << 20
	for next := lo; next < hi; {
		want := chunk
		if maxSize < math.MaxInt && maxSize-min(size, maxSize) < chunk {
			want = int(maxSize-min(size, maxSize)) + 64<<10
		}
		got, err := s.log.Entries(next, hi, want)
		if err != nil {
			return nil, fmt.Errorf("etcdraft: entries [%d, %d): %w", lo, hi, raftErr(err))
		}
		for _, e := range got {
			re := toRaft(e)
			size += uint64(proto.Size(re))
			if len(out) > 0 && size > maxSize {
				return out, nil
			}
			out = append(out, re)
		}
		next += uint64(len(got))
	}
	return out, nil
}

// Term returns the term of entry i, for i in [FirstIndex()-1, LastIndex()].
func (s *Storage) Term(i uint64) (uint64, error) {
	t, err := s.log.Term(i)
	if err != nil {
		if e := raftErr(err); e == raft.ErrCompacted || e == raft.ErrUnavailable {
			return 0, e
		}
		return 0, fmt.Errorf("etcdraft: term %d: %w", i, err)
	}
	return t, nil
}

// LastIndex returns the index of the last entry.
func (s *Storage) LastIndex() (uint64, error) { return s.log.LastIndex(), nil }

// FirstIndex returns the index of the first entry held.
func (s *Storage) FirstIndex() (uint64, error) { return s.log.FirstIndex(), nil }

// Snapshot returns the current snapshot. It returns
// raft.ErrSnapshotTemporarilyUnavailable when the log was compacted past the
// snapshot (Compact above the last CreateSnapshot): such a snapshot cannot
// bring a follower to where the log continues, so raft should ask again
// after the application has created a newer one.
func (s *Storage) Snapshot() (*pb.Snapshot, error) {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	if s.snap.GetMetadata().GetIndex()+1 < s.log.FirstIndex() {
		return nil, raft.ErrSnapshotTemporarilyUnavailable
	}
	return proto.Clone(s.snap).(*pb.Snapshot), nil
}

// SetHardState durably records st, after every entry appended before it.
func (s *Storage) SetHardState(st *pb.HardState) error {
	if _, err := s.log.SetHardState(hardState(st)).Wait(context.Background()); err != nil {
		return fmt.Errorf("etcdraft: set hard state: %w", err)
	}
	return nil
}

func hardState(st *pb.HardState) raftlog.HardState {
	return raftlog.HardState{Term: st.GetTerm(), Vote: st.GetVote(), Commit: st.GetCommit()}
}

// limitSize is raft's rule: the longest prefix within maxSize bytes of
// protobuf encoding, but at least one entry.
func limitSize(ents []*pb.Entry, maxSize uint64) []*pb.Entry {
	size := uint64(0)
	for i, e := range ents {
		size += uint64(proto.Size(e))
		if i > 0 && size > maxSize {
			return ents[:i]
		}
	}
	return ents
}
