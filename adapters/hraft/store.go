package hraft

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/raftlog/raftlog"
)

// resetKey is the property that marks a log emptied by a DeleteRange of
// everything. Its value is irrelevant; its presence means "no entries".
const resetKey = "hraft.reset"

// zeroTimestamp stands for the zero AppendedAt: raftlog reads a zero
// Timestamp as "now", which would not round-trip.
const zeroTimestamp = math.MinInt64

// Store is a hashicorp/raft log and stable store on one raftlog directory.
// All methods are safe for concurrent use.
type Store struct {
	log *raftlog.Log

	// mu serialises the methods that change the log's shape (StoreLogs,
	// DeleteRange) with each other; reads do not take it.
	mu sync.Mutex
	// empty mirrors the reset property: the log has been deleted whole and
	// reads must not see what raftlog still holds until the next StoreLogs.
	empty atomic.Bool
	// staged is the commit index raft asked to persist with the next
	// StoreLogs (CommitTrackingLogStore).
	staged atomic.Uint64
}

var (
	_ raft.LogStore               = (*Store)(nil)
	_ raft.StableStore            = (*Store)(nil)
	_ raft.MonotonicLogStore      = (*Store)(nil)
	_ raft.CommitTrackingLogStore = (*Store)(nil)
)

// Open opens (or creates) the raftlog directory dir as a Store.
func Open(dir string, opts raftlog.Options) (*Store, error) {
	l, err := raftlog.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("hraft: open %s: %w", dir, err)
	}
	s := &Store{log: l}
	_, reset := l.Property(resetKey)
	s.empty.Store(reset)
	return s, nil
}

// Log returns the underlying raftlog.Log, for metrics and inspection.
func (s *Store) Log() *raftlog.Log { return s.log }

// Close closes the log; everything stored is durable already.
func (s *Store) Close() error {
	if err := s.log.Close(); err != nil {
		return fmt.Errorf("hraft: close: %w", err)
	}
	return nil
}

// IsMonotonic implements raft.MonotonicLogStore: raftlog holds a contiguous
// range of indexes, so raft must delete everything after restoring a
// snapshot instead of leaving a gap.
func (s *Store) IsMonotonic() bool { return true }

// FirstIndex implements raft.LogStore: 0 when the log holds no entry.
func (s *Store) FirstIndex() (uint64, error) {
	if s.isEmpty() {
		return 0, nil
	}
	return s.log.FirstIndex(), nil
}

// LastIndex implements raft.LogStore: 0 when the log holds no entry.
func (s *Store) LastIndex() (uint64, error) {
	if s.isEmpty() {
		return 0, nil
	}
	return s.log.LastIndex(), nil
}

// isEmpty says whether raft should see no entries: after a delete-all, or
// when raftlog's range is empty (a new log, or one continuing after a
// snapshot).
func (s *Store) isEmpty() bool {
	return s.empty.Load() || s.log.LastIndex() < s.log.FirstIndex()
}

// GetLog implements raft.LogStore. A missing index gives exactly
// raft.ErrLogNotFound, which raft compares with ==.
func (s *Store) GetLog(index uint64, out *raft.Log) error {
	if s.empty.Load() {
		return raft.ErrLogNotFound
	}
	e, err := s.log.Entry(index)
	if errors.Is(err, raftlog.ErrCompacted) || errors.Is(err, raftlog.ErrUnavailable) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return fmt.Errorf("hraft: get log %d: %w", index, err)
	}
	toLog(&e, out)
	return nil
}

// StoreLog implements raft.LogStore.
func (s *Store) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// StoreLogs implements raft.LogStore. It returns once the entries are
// written and fdatasync'd, as hashicorp/raft expects.
func (s *Store) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx := context.Background()
	first := logs[0].Index
	if first == 0 {
		return fmt.Errorf("hraft: store log at index 0: %w", raftlog.ErrOutOfOrder)
	}
	// A log that is empty (new or deleted whole) may start anywhere: an empty
	// snapshot just below the first index makes raftlog continue there.
	// After a delete-all the old entries are still in raftlog: always restart.
	if s.empty.Load() || (s.isEmpty() && first != s.log.LastIndex()+1) {
		if _, err := s.log.InstallSnapshot(first-1, 0).Wait(ctx); err != nil {
			return fmt.Errorf("hraft: restart log at %d: %w", first, err)
		}
	}
	entries := make([]raftlog.Entry, len(logs))
	for i, l := range logs {
		fromLog(l, &entries[i])
	}
	if err := s.storeEntries(ctx, entries, min(s.staged.Load(), logs[len(logs)-1].Index)); err != nil {
		return fmt.Errorf("hraft: store logs [%d, %d]: %w", first, logs[len(logs)-1].Index, err)
	}
	if s.empty.Load() {
		// The entries are durable, so the log is no longer empty: drop the
		// marker. A crash before this leaves the marker and the entries;
		// Open then reads the log as empty, as if the append had not been
		// acknowledged, which it had not.
		if err := s.log.SetProperty(resetKey, nil); err != nil {
			return fmt.Errorf("hraft: clear reset marker: %w", err)
		}
		s.empty.Store(false)
	}
	return nil
}

// storeEntries makes entries durable and, if commit is above the persisted
// commit index, persists it too, ordered after the entries: the status file
// is written only once they are durable, so a crash never leaves a commit
// index above the log. With no commit to persist, AppendWait writes and
// syncs the entries on this goroutine when nothing else is in flight.
func (s *Store) storeEntries(ctx context.Context, entries []raftlog.Entry, commit uint64) error {
	if commit <= s.log.HardState().Commit {
		_, err := s.log.AppendWait(ctx, entries)
		return err
	}
	fut := s.log.Append(entries)
	hs := s.log.HardState()
	hs.Commit = commit
	hsFut := s.log.SetHardState(hs)
	if _, err := fut.Wait(ctx); err != nil {
		return err
	}
	if _, err := hsFut.Wait(ctx); err != nil {
		return fmt.Errorf("persist commit index: %w", err)
	}
	return nil
}

// DeleteRange implements raft.LogStore for the ranges raft asks for: a
// suffix (a follower's conflicting tail), a prefix (compaction after a
// snapshot) or everything (after a snapshot restore).
func (s *Store) DeleteRange(lo, hi uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lo > hi || s.isEmpty() {
		return nil
	}
	ctx := context.Background()
	first, last := s.log.FirstIndex(), s.log.LastIndex()
	switch {
	case lo <= first && hi >= last:
		// Cheap and durable: one status-file write. The next StoreLogs
		// installs an empty snapshot below wherever it starts.
		if err := s.log.SetProperty(resetKey, []byte{1}); err != nil {
			return fmt.Errorf("hraft: delete all: %w", err)
		}
		s.empty.Store(true)
	case hi >= last:
		if _, err := s.log.TruncateTail(lo).Wait(ctx); err != nil {
			return fmt.Errorf("hraft: delete [%d, %d]: %w", lo, hi, err)
		}
	case lo <= first:
		if _, err := s.log.CompactTo(hi + 1).Wait(ctx); err != nil {
			return fmt.Errorf("hraft: delete [%d, %d]: %w", lo, hi, err)
		}
	default:
		return fmt.Errorf("hraft: delete [%d, %d] inside the log [%d, %d]: unsupported", lo, hi, first, last)
	}
	return nil
}

// StageCommitIndex implements raft.CommitTrackingLogStore: the index is
// persisted with the next StoreLogs, as the hard state's Commit, after the
// entries.
func (s *Store) StageCommitIndex(index uint64) error {
	s.staged.Store(index)
	return nil
}

// GetCommitIndex implements raft.CommitTrackingLogStore: the persisted
// commit index, never above the last index.
func (s *Store) GetCommitIndex() (uint64, error) {
	last, _ := s.LastIndex()
	return min(s.log.HardState().Commit, last), nil
}

func fromLog(l *raft.Log, e *raftlog.Entry) {
	ts := int64(zeroTimestamp)
	if !l.AppendedAt.IsZero() {
		ts = l.AppendedAt.UnixNano()
	}
	*e = raftlog.Entry{Index: l.Index, Term: l.Term, Type: uint8(l.Type), Timestamp: ts, Header: l.Extensions, Data: l.Data}
}

func toLog(e *raftlog.Entry, l *raft.Log) {
	var at time.Time
	if e.Timestamp != zeroTimestamp {
		at = time.Unix(0, e.Timestamp)
	}
	*l = raft.Log{Index: e.Index, Term: e.Term, Type: raft.LogType(e.Type), Data: e.Data, Extensions: e.Header, AppendedAt: at}
}
