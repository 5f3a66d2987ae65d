package raftlog

import (
	"fmt"

	"github.com/raftlog/raftlog/logqueue"
)

// Entry returns the entry at index. The entry's byte slices are the
// caller's.
func (l *Log) Entry(index uint64) (Entry, error) {
	if err := l.checkRead(index, index); err != nil {
		return Entry{}, err
	}
	e, _, err := l.readEntry(index)
	return e, err
}

// Entries returns the entries in [lo, hi), stopping before the total encoded
// size would pass maxBytes (maxBytes <= 0: no limit). It returns at least one
// entry when lo < hi.
func (l *Log) Entries(lo, hi uint64, maxBytes int) ([]Entry, error) {
	if lo > hi {
		return nil, fmt.Errorf("%w: range [%d, %d) is inverted", ErrOutOfOrder, lo, hi)
	}
	if lo == hi {
		if err := l.checkRead(lo, lo-1); err != nil {
			return nil, err
		}
		return nil, nil
	}
	if err := l.checkRead(lo, hi-1); err != nil {
		return nil, err
	}
	out := make([]Entry, 0, min(hi-lo, 1024))
	var total int64
	for i := lo; i < hi; i++ {
		e, size, err := l.readEntry(i)
		if err != nil {
			return nil, err
		}
		if maxBytes > 0 && len(out) > 0 && total+size > int64(maxBytes) {
			break
		}
		total += size
		out = append(out, e)
	}
	return out, nil
}

// Term returns the term of the entry at index. The index just below
// FirstIndex answers with the term it had (the snapshot term), so Term of
// LastIndex works on a log with no entries.
func (l *Log) Term(index uint64) (uint64, error) {
	if l.closed.Load() {
		return 0, ErrClosed
	}
	if first := l.first.Load(); index == first.index-1 {
		return first.prevTerm, nil
	}
	if err := l.checkRead(index, index); err != nil {
		return 0, err
	}
	if t, ok := l.terms.term(index); ok {
		return t, nil
	}
	e, _, err := l.readEntry(index)
	if err != nil {
		return 0, err
	}
	return e.Term, nil
}

// checkRead checks that [lo, hi] is held.
func (l *Log) checkRead(lo, hi uint64) error {
	if l.closed.Load() {
		return ErrClosed
	}
	if first := l.FirstIndex(); lo < first {
		return fmt.Errorf("%w: index %d is below the first index %d", ErrCompacted, lo, first)
	}
	if last := l.lastIndex.Load(); hi > last {
		return fmt.Errorf("%w: index %d is above the last index %d", ErrUnavailable, hi, last)
	}
	return nil
}

// readEntry reads and validates the entry at index; size is its encoded
// size, used for byte limits.
func (l *Log) readEntry(index uint64) (Entry, int64, error) {
	pos, err := l.iq.Position(index)
	if err != nil {
		return Entry{}, 0, l.readError(index, err)
	}
	m, hdr, data, err := l.lq.ReadItem(pos)
	if err != nil {
		return Entry{}, 0, l.readError(index, err)
	}
	if m.Index != index {
		size := l.opts.LogFileSize
		return Entry{}, 0, fmt.Errorf("%w: %020d.log at offset %d (log position %d) holds index %d, not %d",
			ErrCorrupt, pos-pos%size, pos%size, pos, m.Index, index)
	}
	e := Entry{
		Index:     m.Index,
		Term:      m.Term,
		Type:      m.Type,
		Timestamp: m.Timestamp,
		Header:    hdr,
		Data:      data,
	}
	return e, logqueue.EncodedSize(len(hdr), len(data)), nil
}

func (l *Log) readError(index uint64, err error) error {
	if l.closed.Load() {
		return ErrClosed
	}
	if first := l.FirstIndex(); index < first {
		// Compacted while it was being read: its file may be gone.
		return fmt.Errorf("%w: index %d is below the first index %d", ErrCompacted, index, first)
	}
	return fmt.Errorf("raftlog: read index %d: %w", index, classify(err))
}
