package etcdraft

import (
	"context"
	"fmt"

	"time"

	"github.com/raftlog/raftlog"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// SaveReady persists what a Ready asks to be persisted, in the order raft
// requires, and returns once it is durable: the snapshot first (the log then
// continues after it), then the entries (overwriting a conflicting suffix),
// then the HardState, whose commit index may refer to those entries. Call it
// before sending rd.Messages and before RawNode.Advance / Node.Advance. The
// application applies rd.Snapshot and rd.CommittedEntries to its state
// machine itself.
//
// The entries and the HardState are submitted together. SaveReady waits for
// the entries, and for the HardState only when its Term or Vote changed:
// a HardState whose commit index alone moved is written in the background
// (raft's MustSync rule), which saves a status-file fdatasync per Ready.
func (s *Storage) SaveReady(rd raft.Ready) error {
	return s.save(context.Background(), rd.Snapshot, rd.Entries, rd.HardState, rd.MustSync)
}

func (s *Storage) save(ctx context.Context, snap *pb.Snapshot, ents []*pb.Entry, hs *pb.HardState, mustSync bool) error {
	if raft.IsEmptySnap(snap) && len(ents) > 0 {
		// The common Ready: the entries first, through AppendWait (written
		// and synced on this goroutine when nothing else is in flight),
		// then the HardState. Submitted after the entries are durable, it
		// is ordered after them as submit orders it.
		if err := s.appendEntriesWait(ctx, ents); err != nil {
			return err
		}
		if raft.IsEmptyHardState(hs) {
			return nil
		}
		if w := s.submitHardStateLazily(hardState(hs)); w != nil {
			return w(ctx)
		}
		return nil
	}
	ws, err := s.submit(snap, ents, hs)
	if err != nil {
		return err
	}
	if !mustSync && len(ents) == 0 && raft.IsEmptySnap(snap) {
		return nil
	}
	return waitAll(ctx, ws)
}

// submit starts the writes for one Ready or MsgStorageAppend and returns
// what to wait for. A snapshot is installed synchronously (it is rare and
// every later write depends on it).
func (s *Storage) submit(snap *pb.Snapshot, ents []*pb.Entry, hs *pb.HardState) ([]waiter, error) {
	var ws []waiter
	if !raft.IsEmptySnap(snap) {
		if err := s.ApplySnapshot(snap); err != nil {
			return nil, fmt.Errorf("etcdraft: apply snapshot: %w", err)
		}
	}
	w, err := s.submitEntries(ents)
	if err != nil {
		return nil, err
	}
	if w != nil {
		ws = append(ws, w)
	}
	if !raft.IsEmptyHardState(hs) {
		if w := s.submitHardStateLazily(hardState(hs)); w != nil {
			ws = append(ws, w)
		}
	}
	return ws, nil
}

// submitHardStateLazily submits st and returns what to wait for, or nil
// when raft need not wait for it.
//
// raft needs Term and Vote durable before it answers anyone; a commit index
// that only moved forward may be lost in a crash (raft learns it again),
// which is why MustSync ignores it. raftlog keeps the HardState in its
// status file, so every HardState costs a status-file fdatasync next to the
// log's, and the two contend for the disk: measured in walbench, saving the
// commit index of every Ready costs about a quarter of the proposals per
// second. So a commit-only update is written at most once per
// Options.CommitSaveInterval, when none is in flight; the newest one held back
// is written by a later submit or by Close. Saving the commit index less
// often is safe for raftlog too: it is a floor for truncation and recovery.
func (s *Storage) submitHardStateLazily(st raftlog.HardState) waiter {
	s.hsMu.Lock()
	defer s.hsMu.Unlock()
	if st.Term != s.hsTerm || st.Vote != s.hsVote {
		s.hsTerm, s.hsVote = st.Term, st.Vote
		s.hsPending = nil
		s.hsSaved = time.Now()
		return s.submitHardState(st)
	}
	busy := false
	if s.hsInflight != nil {
		_, _, done := s.hsInflight.Result()
		busy = !done
	}
	if busy || time.Since(s.hsSaved) < s.commitEvery {
		s.hsPending = &st
		return nil
	}
	s.hsPending = nil
	s.hsSaved = time.Now()
	s.hsInflight = s.log.SetHardState(st)
	return nil
}

// flushHardState writes a commit-only HardState still held back.
func (s *Storage) flushHardState() error {
	s.hsMu.Lock()
	p := s.hsPending
	s.hsPending = nil
	s.hsMu.Unlock()
	if p == nil {
		return nil
	}
	return s.submitHardState(*p)(context.Background())
}
