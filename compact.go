package raftlog

import (
	"fmt"
	"sort"
	"time"

	"github.com/raftlog/raftlog/metrics"
	"github.com/raftlog/raftlog/pipeline"
	"github.com/raftlog/raftlog/status"
)

// CompactTo declares the entries below index no longer needed (applied and
// covered by a snapshot). FirstIndex moves to index at once and reads below
// it get ErrCompacted; log and index files that hold only compacted entries
// are freed in the background, each once no reader or iterator is still
// in it (log files are kept as spares, up to Options.SpareLogFiles, to
// become new log files; the others are deleted). A log file whose items are not all durable yet is left for a later
// compaction or the next Open (index may be above DurableIndex: a leader
// may apply entries its followers made durable before its own disk did).
// The file holding the new first entry is kept, and so is the file being
// written. An index above LastIndex+1 compacts to LastIndex+1. The
// future completes with the new FirstIndex once the change is durable (a
// crash leaves the log as before or as after it).
func (l *Log) CompactTo(index uint64) *pipeline.Future[uint64] {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.compactLocked(index)
}

// CompactBefore compacts by age: it drops the entries whose timestamp is
// before t, up to the first entry at or after t. Timestamps are expected to
// grow along the log (they do when Append sets them); the search is a binary
// search over them.
func (l *Log) CompactBefore(t time.Time) *pipeline.Future[uint64] {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return pipeline.Failed[uint64](ErrClosed)
	}
	first, last := l.FirstIndex(), l.lastIndex.Load()
	cutoff := t.UnixNano()
	var searchErr error
	n := sort.Search(int(last-first+1), func(k int) bool {
		if searchErr != nil {
			return true
		}
		e, _, err := l.readEntry(first + uint64(k))
		if err != nil {
			searchErr = err
			return true
		}
		return e.Timestamp >= cutoff
	})
	if searchErr != nil {
		return pipeline.Failed[uint64](searchErr)
	}
	return l.compactLocked(first + uint64(n))
}

func (l *Log) compactLocked(index uint64) *pipeline.Future[uint64] {
	if l.closed.Load() {
		return pipeline.Failed[uint64](ErrClosed)
	}
	if err := l.pending.failure(); err != nil {
		return pipeline.Failed[uint64](err)
	}
	first, last := l.FirstIndex(), l.lastIndex.Load()
	index = min(index, last+1)
	if index <= first {
		return pipeline.Completed(first, nil)
	}
	prevTerm, err := l.Term(index - 1)
	if err != nil {
		return pipeline.Failed[uint64](err)
	}
	pos := l.lq.WritePos()
	if index <= last {
		if pos, err = l.iq.Position(index); err != nil {
			return pipeline.Failed[uint64](fmt.Errorf("raftlog: compact to %d: %w", index, err))
		}
	}
	if err := l.updateStatus(func(st *status.State) {
		st.FirstIndex, st.FirstPos, st.FirstPrevTerm = index, pos, prevTerm
	}); err != nil {
		return l.failed(err)
	}
	l.setFirst(index, prevTerm)
	l.terms.compact(index)
	// Files are deleted only below what is durable: a file whose writes
	// or fdatasync are still to come must stay open (a Raft leader may
	// apply, snapshot and compact entries its followers made durable
	// before its own disk has). What this leaves, a later compaction or
	// the next Open deletes.
	l.deleteBelow(index, min(pos, l.durablePos.Load()))
	return pipeline.Completed(index, nil)
}

// deleteBelow removes, in the background, the index files below index and
// the log files below the one holding pos. Failures to delete leave files
// behind but lose nothing; they are reported through the deletion futures.
func (l *Log) deleteBelow(index uint64, pos int64) {
	l.deleteLogFilesBelow(pos)
	l.countDeleted(metrics.IdxFilesDeleted, l.iq.CompactTo(index))
}

// deleteLogFilesBelow removes, in the background, the log files below the
// one holding pos.
func (l *Log) deleteLogFilesBelow(pos int64) {
	l.countDeleted(metrics.LogFilesDeleted, l.lq.DeleteBefore(pos-pos%l.opts.LogFileSize))
}

// countDeleted records the files a background deletion removed, and logs
// its failure (the files stay; nothing is lost).
func (l *Log) countDeleted(id metrics.MetricID, fut *pipeline.Future[int]) {
	l.deletions.Add(1)
	fut.OnComplete(func(n int, err error) {
		defer l.deletions.Done()
		l.m.Add(id, float64(n))
		if err != nil {
			l.opts.Logger.Warn("raftlog: deleting compacted files failed", "dir", l.dir, "err", err)
		} else if n > 0 {
			// Log files may have been kept as spares rather than removed.
			l.opts.Logger.Info("raftlog: freed compacted files", "dir", l.dir, "files", n, "kind", id.String())
		}
	})
}
