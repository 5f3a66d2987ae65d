package raftlog

import (
	"fmt"

	"github.com/raftlog/raftlog/pipeline"
	"github.com/raftlog/raftlog/status"
)

// TruncateTail removes the entries at index and above, as a follower does
// when its log conflicts with the leader's. It is ordered with Append: the
// next Append starts at index. The future completes with the new LastIndex
// once the truncation is durable (after a crash the log is as before or as
// after it, never in between; entries below index that were appended before
// are durable too).
//
// It is refused with ErrBelowCommit when index is at or below the hard
// state's commit index, with ErrCompacted below FirstIndex. An index above
// LastIndex changes nothing. TruncateTail waits, holding up later appends,
// until what was appended before it is durable: it is rare (a leader change)
// and this keeps every write of the old tail ordered before the new one.
func (l *Log) TruncateTail(index uint64) *pipeline.Future[uint64] {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return pipeline.Failed[uint64](ErrClosed)
	}
	if err := l.pending.failure(); err != nil {
		return pipeline.Failed[uint64](err)
	}
	first, last := l.FirstIndex(), l.lastIndex.Load()
	if index > last {
		fut := pipeline.NewFuture[uint64]()
		l.pushOp(pendingOp{seq: l.seq, lastIndex: last, fut: fut})
		return fut
	}
	if index < first {
		return pipeline.Failed[uint64](fmt.Errorf("%w: cannot truncate at %d below the first index %d", ErrCompacted, index, first))
	}
	if commit := l.HardState().Commit; index <= commit {
		return pipeline.Failed[uint64](fmt.Errorf("%w: index %d, commit index %d", ErrBelowCommit, index, commit))
	}
	if err := l.waitDurable(); err != nil {
		return pipeline.Failed[uint64](err)
	}
	pos, err := l.iq.Position(index)
	if err != nil {
		return l.failed(fmt.Errorf("raftlog: truncate at %d: %w", index, err))
	}
	newTerm, err := l.Term(index - 1)
	if err != nil {
		return l.failed(fmt.Errorf("raftlog: truncate at %d: term of %d: %w", index, index-1, err))
	}
	if _, err := l.iq.TruncateTail(index); err != nil {
		return l.failed(err)
	}
	// One status write makes the truncation durable: a new epoch for what
	// is written next, and the record that items from index on with an older
	// epoch are stale wherever recovery meets them.
	if err := l.updateStatus(func(st *status.State) {
		st.Epoch++
		st.TruncatedFrom, st.TruncEpoch = index, st.Epoch
		st.PersistedIndex = min(st.PersistedIndex, index-1)
	}); err != nil {
		return l.failed(err)
	}
	l.epoch = l.statusSnapshot().Epoch
	if err := l.lq.TruncateTail(pos, l.epoch); err != nil {
		return l.failed(err)
	}
	l.terms.truncate(index)
	l.lastIndex.Store(index - 1)
	l.lastTerm.Store(newTerm)
	l.durableIndex.Store(min(l.durableIndex.Load(), index-1))
	return pipeline.Completed(index-1, nil)
}

// waitDurable waits, under the append lock, until every batch submitted so
// far is durable.
func (l *Log) waitDurable() error {
	fut := pipeline.NewFuture[uint64]()
	l.pushOp(pendingOp{seq: l.seq, lastIndex: l.lastIndex.Load(), fut: fut})
	<-fut.Done()
	_, err, _ := fut.Result()
	return err
}

// failed fails the log with err (a step of a multi-step change went wrong,
// so the in-memory state can no longer be trusted) and returns a future with
// the resulting error.
func (l *Log) failed(err error) *pipeline.Future[uint64] {
	l.fail(err)
	return pipeline.Failed[uint64](l.pending.failure())
}
