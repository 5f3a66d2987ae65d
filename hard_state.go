package raftlog

import (
	"github.com/raftlog/raftlog/pipeline"
	"github.com/raftlog/raftlog/status"
)

type hardStateRequest struct {
	hs  HardState
	fut *pipeline.Future[HardState]
	// seq orders requests as SetHardState received them. A request whose
	// appends were already durable reaches the status goroutine from the
	// caller, the others from onForced (on the report goroutine, or on an
	// AppendWait's), so they can arrive out of order; the status goroutine
	// never saves one older than it has saved.
	seq uint64
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
	l.hsSeq++
	l.pushOp(pendingOp{seq: l.seq, lastIndex: l.lastIndex.Load(), hs: &hardStateRequest{hs: hs, fut: fut, seq: l.hsSeq}})
	return fut
}

// HardState returns the hard state last set (or restored by Open).
func (l *Log) HardState() HardState {
	l.hsMu.Lock()
	defer l.hsMu.Unlock()
	return l.hs
}

// saveHardStates is the status goroutine: one Save covers every request of
// the batch, since only the newest hard state matters. A request older than
// one already saved is superseded by it: its future completes without a
// write (the newer state is durable and its appends include this one's).
func (l *Log) saveHardStates(batch []hardStateRequest) {
	newest := batch[0]
	for _, r := range batch[1:] {
		if r.seq > newest.seq {
			newest = r
		}
	}
	var err error
	if newest.seq > l.hsSaved {
		hs := newest.hs
		err = l.updateStatus(func(st *status.State) {
			st.Term, st.Vote, st.Commit = hs.Term, hs.Vote, hs.Commit
		})
		if err == nil {
			l.hsSaved = newest.seq
		}
	}
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
