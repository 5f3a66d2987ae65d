package raftlog

import (
	"github.com/raftlog/raftlog/metrics"
	"github.com/raftlog/raftlog/pipeline"
	"github.com/raftlog/raftlog/status"
)

// InstallSnapshot drops every entry: the log continues at index+1, after a
// snapshot whose last entry had index and term. Afterwards FirstIndex is
// index+1, LastIndex is index, LastTerm and Term(index) are term, and the
// commit index is at least index (the snapshot's entries are committed). It
// is crash-atomic: one status-file write switches from the old log to the new
// one, so after a crash Open shows the log as before or as after, never a
// mix. It waits until what was appended before is durable, then completes
// with index once the switch is durable; old files are freed in the
// background (as by CompactTo).
func (l *Log) InstallSnapshot(index, term uint64) *pipeline.Future[uint64] {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return pipeline.Failed[uint64](ErrClosed)
	}
	if err := l.pending.failure(); err != nil {
		return pipeline.Failed[uint64](err)
	}
	if err := l.waitDurable(); err != nil {
		return pipeline.Failed[uint64](err)
	}
	// The new log starts where the next item would have gone: everything
	// of the old log lies below it.
	pos := l.lq.WritePos()
	if err := l.updateStatus(func(st *status.State) {
		st.Epoch++
		st.FirstIndex, st.FirstPos, st.FirstPrevTerm = index+1, pos, term
		st.PersistedIndex = index
		st.TruncatedFrom, st.TruncEpoch = 0, 0
		st.Commit = max(st.Commit, index)
	}); err != nil {
		return l.failed(err)
	}
	st := l.statusSnapshot()
	l.epoch = st.Epoch
	l.hsMu.Lock()
	l.hs.Commit = st.Commit
	l.hsMu.Unlock()
	if err := l.lq.TruncateTail(pos, l.epoch); err != nil {
		return l.failed(err)
	}
	l.countDeleted(metrics.IdxFilesDeleted, l.iq.Reset(index+1))
	l.terms.reset(index, []termRun{{first: index, term: term}})
	l.setFirst(index+1, term)
	l.lastIndex.Store(index)
	l.lastTerm.Store(term)
	l.durableIndex.Store(index)
	l.deleteLogFilesBelow(pos)
	return pipeline.Completed(index, nil)
}
