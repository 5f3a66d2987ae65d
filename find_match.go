package raftlog

import "sort"

// FindMatch returns the last local (t, i) with (t <= term && i < index) ||
// (t == term && i == index): where a follower's log agrees with a leader's
// entry (term, index), or the best place to search from. The point just
// below FirstIndex counts as held with the term it had (the snapshot's, or
// (0, 0) on a log that starts at 1). ok is false when no such point is held:
// the caller needs a snapshot.
//
// Terms never go down along the log, so it is a binary search: O(log n) term
// lookups, answered from memory for the indexes this Log wrote or recovered
// and from disk for older ones.
func (l *Log) FindMatch(term, index uint64) (matchTerm, matchIndex uint64, ok bool, err error) {
	if l.closed.Load() {
		return 0, 0, false, ErrClosed
	}
	first, last := l.FirstIndex(), l.lastIndex.Load()
	lo := first - 1
	if index >= lo && index <= last {
		t, err := l.Term(index)
		if err != nil {
			return 0, 0, false, err
		}
		if t == term {
			return t, index, true, nil
		}
	}
	if index <= lo {
		return 0, 0, false, nil
	}
	hi := min(index-1, last)
	// The largest i in [lo, hi] with Term(i) <= term: a prefix of the range
	// qualifies, since terms only grow.
	var searchErr error
	n := sort.Search(int(hi-lo+1), func(k int) bool {
		if searchErr != nil {
			return true
		}
		t, err := l.Term(lo + uint64(k))
		if err != nil {
			searchErr = err
			return true
		}
		return t > term
	})
	if searchErr != nil {
		return 0, 0, false, searchErr
	}
	if n == 0 {
		return 0, 0, false, nil
	}
	i := lo + uint64(n-1)
	t, err := l.Term(i)
	if err != nil {
		return 0, 0, false, err
	}
	return t, i, true, nil
}
