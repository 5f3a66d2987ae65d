package status

import "bytes"

// State is everything raftlog keeps in the status file.
type State struct {
	Term, Vote, Commit uint64 // Raft hard state
	PersistedIndex     uint64 // index files are trusted up to here
	FirstIndex         uint64 // first index still in the log (1 on a new log)
	FirstPos           int64  // log position of FirstIndex (0 on a new log)
	FirstPrevTerm      uint64 // term of FirstIndex-1 (snapshot term; 0 on a new log)
	Epoch              uint32 // incremented at every open and tail truncation
	Installing         bool   // snapshot install in progress
	// TruncatedFrom and TruncEpoch record the last tail truncation: items
	// with an index ≥ TruncatedFrom and an epoch below TruncEpoch were cut
	// off and are stale wherever recovery meets them (0, 0: none).
	TruncatedFrom uint64
	TruncEpoch    uint32
	Props         map[string][]byte // user properties (may be nil)
}

// initialState is what a new status file holds.
func initialState() State { return State{FirstIndex: 1} }

// Clone returns a copy of s that shares no memory with it: Props and every
// value in it are copied, so the caller may change either copy freely.
func (s State) Clone() State {
	if s.Props != nil {
		props := make(map[string][]byte, len(s.Props))
		for k, v := range s.Props {
			props[k] = bytes.Clone(v)
		}
		s.Props = props
	}
	return s
}

// Equal reports whether s and o hold the same state, as the file sees it: a
// nil and an empty Props are equal, and so are a nil and an empty value,
// because both encode the same way.
func (s State) Equal(o State) bool {
	if s.Term != o.Term || s.Vote != o.Vote || s.Commit != o.Commit ||
		s.PersistedIndex != o.PersistedIndex || s.FirstIndex != o.FirstIndex ||
		s.FirstPos != o.FirstPos || s.FirstPrevTerm != o.FirstPrevTerm ||
		s.Epoch != o.Epoch || s.Installing != o.Installing ||
		s.TruncatedFrom != o.TruncatedFrom || s.TruncEpoch != o.TruncEpoch ||
		len(s.Props) != len(o.Props) {
		return false
	}
	for k, v := range s.Props {
		ov, ok := o.Props[k]
		if !ok || !bytes.Equal(v, ov) {
			return false
		}
	}
	return true
}
