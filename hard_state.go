package raftlog

import (
	"github.com/raftlog/raftlog/pipeline"
	"github.com/raftlog/raftlog/status"
)

type hardStateRequest struct {
	hs  HardState
	fut *pipeline.Future[HardState]
}

// SetHardState records hs. It is ordered after every Append submitted before
// it: the status file is written only once those appends are durable, and the
// future completes after the status file itself is synced. HardState returns
// hs at once.
func (l *Log) SetHardState(hs HardState) *pipeline.Future[HardState] {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return pipeline.Failed[HardState](ErrClosed)
	}
	fut := pipeline.NewFuture[HardState]()
	l.hsMu.Lock()
	l.hs = hs
	l.hsMu.Unlock()
	l.pushOp(pendingOp{seq: l.seq, lastIndex: l.lastIndex.Load(), hs: &hardStateRequest{hs: hs, fut: fut}})
	return fut
}

// HardState returns the hard state last set (or restored by Open).
func (l *Log) HardState() HardState {
	l.hsMu.Lock()
	defer l.hsMu.Unlock()
	return l.hs
}

// saveHardStates is the status goroutine: one Save covers every request of
// the batch, since only the last hard state matters.
func (l *Log) saveHardStates(batch []hardStateRequest) {
	hs := batch[len(batch)-1].hs
	err := l.updateStatus(func(st *status.State) {
		st.Term, st.Vote, st.Commit = hs.Term, hs.Vote, hs.Commit
	})
	if err != nil {
		l.fail(err)
		err = l.pending.failure()
	}
	for _, r := range batch {
		if err != nil {
			r.fut.Complete(HardState{}, err)
		} else {
			r.fut.Complete(r.hs, nil)
		}
	}
}
