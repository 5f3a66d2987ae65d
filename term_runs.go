package raftlog

import (
	"slices"
	"sync"
)

// termRun says that from index first on (until the next run) entries have
// term.
type termRun struct{ first, term uint64 }

// termRuns answers Term for recent indexes from memory. Terms never go down
// along the log, so the terms of [base, last] are a short list of runs, one
// per term change: Append adds a run only when the term changes, so it costs
// nothing per entry. Indexes below base (written before this Open and not
// in the recovered tail) are read from disk.
type termRuns struct {
	mu   sync.RWMutex
	base uint64 // lowest index covered; runs[0].first ≤ base when runs exist
	runs []termRun
}

// reset makes the runs cover from base on, starting with runs.
func (r *termRuns) reset(base uint64, runs []termRun) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.base = base
	r.runs = append(r.runs[:0], runs...)
}

// term returns the term of index, or false if index is below base or above
// what the runs describe (the caller checks index ≤ LastIndex first).
func (r *termRuns) term(index uint64) (uint64, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(r.runs) == 0 || index < r.base {
		return 0, false
	}
	// The last run starting at or before index.
	i, found := slices.BinarySearchFunc(r.runs, index, func(run termRun, idx uint64) int {
		switch {
		case run.first < idx:
			return -1
		case run.first > idx:
			return 1
		}
		return 0
	})
	if !found {
		if i == 0 {
			return 0, false
		}
		i--
	}
	return r.runs[i].term, true
}

// empty reports whether no run is held (a new log, or all truncated).
func (r *termRuns) empty() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.runs) == 0
}

// add records that index has term; indexes arrive in order.
func (r *termRuns) add(index, term uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.runs); n > 0 && r.runs[n-1].term == term {
		return
	}
	if len(r.runs) == 0 {
		r.base = index
	}
	r.runs = append(r.runs, termRun{first: index, term: term})
}

// truncate forgets the terms of index and above.
func (r *termRuns) truncate(index uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.runs)
	for n > 0 && r.runs[n-1].first >= index {
		n--
	}
	r.runs = r.runs[:n]
	if n == 0 || index <= r.base {
		r.runs, r.base = r.runs[:0], index
	}
}

// compact forgets the terms below first.
func (r *termRuns) compact(first uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if first <= r.base {
		return
	}
	r.base = first
	// Keep the run that holds first.
	k := 0
	for k+1 < len(r.runs) && r.runs[k+1].first <= first {
		k++
	}
	r.runs = slices.Delete(r.runs, 0, k)
}
