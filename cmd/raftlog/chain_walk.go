package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/raftlog/raftlog/logqueue"
	"github.com/raftlog/raftlog/restore"
)

// chainState is where a walk of the log starts: the position and index of
// the next item, and what the item before it carried, which the next one
// must continue.
type chainState struct {
	pos       int64
	next      uint64
	lastTerm  uint64
	lastEpoch uint32
}

// chain is s as recovery's rules take it.
func (s chainState) chain() restore.Chain {
	return restore.Chain{Next: s.next, LastTerm: s.lastTerm, Epoch: s.lastEpoch}
}

// item is one entry found by a walk. header and data alias the scanner's
// buffer: they are valid until the next call of walker.next.
type item struct {
	meta         logqueue.ItemMeta
	header, data []byte
	pos          int64
}

// stopKind says why a walk ended.
type stopKind int

const (
	// stopEnd: unwritten space (zeros), the end of the last log file, or a
	// stale item: the clean end of what was written.
	stopEnd stopKind = iota
	// stopInvalid: bytes that are not a valid item (a CRC, a length, a kind).
	stopInvalid
	// stopChain: a valid item of the current epoch that does not continue
	// the chain (a wrong index or prevTerm, a term going down, an epoch above
	// the status file's): the chain contradicts itself.
	stopChain
	// stopMissing: the log file that should hold the next item is missing
	// while later files exist.
	stopMissing
	// stopIO: a read failed.
	stopIO
)

// walkStop is where and why a walk ended.
type walkStop struct {
	kind   stopKind
	pos    int64 // log position of the first byte that is not part of the chain
	reason string
	err    error // for stopIO
	// epochAhead: a stopChain at an item of an epoch above the status
	// file's, which is also what an owner that reopened the log or cut its
	// tail since the status file was read leaves.
	epochAhead bool
}

// walker follows the chain of items from a chainState with recovery's
// rules (restore.Chain): every item must validate (both CRCs), carry the
// next index, the previous term as prevTerm, a term that does not go down,
// and an epoch that is not above the status file's. A stale item (an older
// epoch than the one before it, or cut off by the last tail truncation)
// ends the chain cleanly.
type walker struct {
	v        *view
	sc       *logqueue.Scanner
	maxEpoch uint32
	s        chainState
	stop     walkStop
}

// chainStart is the start of the whole log, as the status file records it.
func (v *view) chainStart() chainState {
	return chainState{pos: v.st.FirstPos, next: v.st.FirstIndex, lastTerm: v.st.FirstPrevTerm}
}

// startAt returns the chain state at index, found through the index files.
// Only indexes in [FirstIndex, PersistedIndex] are trusted there, and the
// item found must carry the index.
func (v *view) startAt(index uint64) (chainState, error) {
	if index < v.st.FirstIndex || index > v.st.PersistedIndex {
		return chainState{}, fmt.Errorf("index %d is outside the indexed range [%d, %d]",
			index, v.st.FirstIndex, v.st.PersistedIndex)
	}
	pos, err := v.iq.Position(index)
	if err != nil {
		return chainState{}, err
	}
	m, _, _, err := v.lq.ReadItem(pos)
	if err != nil {
		return chainState{}, err
	}
	if m.Index != index {
		return chainState{}, fmt.Errorf("the index file (%s) says index %d is at %s, but the item there has index %d",
			v.idxWhere(index), index, v.where(pos), m.Index)
	}
	return chainState{pos: pos, next: index, lastTerm: m.PrevTerm, lastEpoch: m.Epoch}, nil
}

// startNear returns the latest chain state at or before index that can be
// found without scanning from the start: at index itself, or at the
// persisted index, or the start of the log. Callers skip the items below
// index.
func (v *view) startNear(index uint64) (chainState, error) {
	p := min(index, v.st.PersistedIndex)
	if p < v.st.FirstIndex {
		return v.chainStart(), nil
	}
	return v.startAt(p)
}

func (v *view) walk(s chainState) *walker {
	return &walker{v: v, sc: v.lq.NewScanner(s.pos), maxEpoch: v.st.Epoch, s: s}
}

// next returns the next item of the chain, or false at its end; w.stop
// then says why.
func (w *walker) next() (item, bool) {
	m, hdr, data, pos, err := w.sc.Next()
	if err != nil {
		w.stop = w.stopFor(err)
		return item{}, false
	}
	if w.s.chain().Stale(m, w.v.st) {
		// Bytes of an earlier use of this space that no cut reached: the
		// clean end, as recovery sees it.
		w.stop = walkStop{kind: stopEnd, pos: pos, reason: fmt.Sprintf(
			"a stale item (index %d, epoch %d) after epoch %d", m.Index, m.Epoch, w.s.lastEpoch)}
		return item{}, false
	}
	if reason := w.s.chain().Breaks(m, w.maxEpoch); reason != "" {
		w.stop = walkStop{kind: stopChain, pos: pos, reason: reason, epochAhead: m.Epoch > w.maxEpoch}
		return item{}, false
	}
	w.s = chainState{pos: w.sc.Pos(), next: m.Index + 1, lastTerm: m.Term, lastEpoch: m.Epoch}
	return item{meta: m, header: hdr, data: data, pos: pos}, true
}

func (w *walker) stopFor(err error) walkStop {
	pos := w.sc.Pos()
	switch {
	case errors.Is(err, logqueue.ErrEndOfLog):
		reason := "unwritten space"
		if !w.v.hasLogFile(pos) {
			reason = "end of the last log file"
		}
		return walkStop{kind: stopEnd, pos: pos, reason: reason}
	case errors.Is(err, logqueue.ErrInvalidItem):
		// The scanner wraps the codec's error with the file and offset,
		// which the caller prints its own way.
		inner := err
		if u := errors.Unwrap(err); u != nil && errors.Is(u, logqueue.ErrInvalidItem) {
			inner = u
		}
		reason := strings.TrimPrefix(inner.Error(), logqueue.ErrInvalidItem.Error()+": ")
		return walkStop{kind: stopInvalid, pos: pos, reason: reason}
	case errors.Is(err, logqueue.ErrNoFile):
		return walkStop{kind: stopMissing, pos: pos, reason: fmt.Sprintf("log file %s is missing", w.v.logFileName(pos))}
	}
	return walkStop{kind: stopIO, pos: pos, reason: err.Error(), err: err}
}

// describe is the stop in one line: "file offset N: reason".
func (s walkStop) describe(v *view) string {
	return fmt.Sprintf("%s: %s", v.where(s.pos), s.reason)
}
