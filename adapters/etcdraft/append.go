package etcdraft

import (
	"context"
	"fmt"

	"github.com/raftlog/raftlog"
	pb "go.etcd.io/raft/v3/raftpb"
)

// waiter is one submitted raftlog operation, waited for later. The writers
// submit many of them without waiting, then wait in submission order.
type waiter func(ctx context.Context) error

func waitAll(ctx context.Context, ws []waiter) error {
	for _, w := range ws {
		if err := w(ctx); err != nil {
			return err
		}
	}
	return nil
}

// submitEntries submits ents with raft's overwrite semantics and returns
// without waiting for the disk. Entries below FirstIndex are committed and
// already covered by the snapshot, so they are dropped (as MemoryStorage
// does). When the first remaining entry is at or below LastIndex, the suffix
// from it is truncated first: raft sends entries that conflict with the
// local tail only after it has found where the logs agree.
func (s *Storage) submitEntries(ents []*pb.Entry) (waiter, error) {
	ents, err := s.prepareEntries(ents)
	if err != nil || len(ents) == 0 {
		return nil, err
	}
	i0 := ents[0].GetIndex()
	f := s.log.Append(toLog(ents))
	if _, err, done := f.Result(); done && err != nil {
		s.tail.reset()
		return nil, fmt.Errorf("etcdraft: append [%d, %d]: %w", i0, ents[len(ents)-1].GetIndex(), err)
	}
	s.tail.add(ents)
	return func(ctx context.Context) error {
		if _, err := f.Wait(ctx); err != nil {
			return fmt.Errorf("etcdraft: append [%d, %d]: %w", i0, ents[len(ents)-1].GetIndex(), err)
		}
		return nil
	}, nil
}

// appendEntriesWait is submitEntries and the wait, through AppendWait:
// when nothing else is in flight, the entries are written and synced on
// the calling goroutine.
func (s *Storage) appendEntriesWait(ctx context.Context, ents []*pb.Entry) error {
	ents, err := s.prepareEntries(ents)
	if err != nil || len(ents) == 0 {
		return err
	}
	if _, err := s.log.AppendWait(ctx, toLog(ents)); err != nil {
		s.tail.reset()
		return fmt.Errorf("etcdraft: append [%d, %d]: %w", ents[0].GetIndex(), ents[len(ents)-1].GetIndex(), err)
	}
	s.tail.add(ents)
	return nil
}

// prepareEntries applies raft's overwrite semantics before an append: it
// drops entries below FirstIndex (committed and covered by the snapshot,
// as MemoryStorage does) and, when the first remaining entry is at or below
// LastIndex, truncates the suffix from it first (raft sends entries that
// conflict with the local tail only after it has found where the logs
// agree). It returns the entries left to append.
func (s *Storage) prepareEntries(ents []*pb.Entry) ([]*pb.Entry, error) {
	if len(ents) == 0 {
		return nil, nil
	}
	first := s.log.FirstIndex()
	if lastNew := ents[len(ents)-1].GetIndex(); lastNew < first {
		return nil, nil
	}
	if i0 := ents[0].GetIndex(); i0 < first {
		ents = ents[first-i0:]
	}
	i0 := ents[0].GetIndex()
	if last := s.log.LastIndex(); i0 <= last {
		// TruncateTail is ordered with Append and waits for what was
		// appended before it: it is rare (a new leader's conflicting
		// suffix).
		if _, err := s.log.TruncateTail(i0).Wait(context.Background()); err != nil {
			return nil, fmt.Errorf("etcdraft: truncate at %d: %w", i0, err)
		}
	}
	return ents, nil
}

// submitHardState submits a HardState update, ordered after every append
// submitted before it.
func (s *Storage) submitHardState(st raftlog.HardState) waiter {
	f := s.log.SetHardState(st)
	return func(ctx context.Context) error {
		if _, err := f.Wait(ctx); err != nil {
			return fmt.Errorf("etcdraft: set hard state %+v: %w", st, err)
		}
		return nil
	}
}

// Append appends ents with raft's overwrite semantics (as
// MemoryStorage.Append) and returns once they are durable.
func (s *Storage) Append(ents []*pb.Entry) error {
	return s.appendEntriesWait(context.Background(), ents)
}
