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
// entry when lo < hi. The entries' byte slices are the caller's; those of
// one call may share one backing array (of at most 1 MiB), which any of
// them kept keeps alive.
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
	if hi-lo == 1 {
		e, _, err := l.readEntry(lo)
		if err != nil {
			return nil, err
		}
		return []Entry{e}, nil
	}
	return l.readRange(lo, hi, maxBytes)
}

// entriesLoop is Entries from lo on, one index lookup and one positional
// read per entry: the slow path readRange falls back to. out holds the
// entries before lo and total their encoded size.
func (l *Log) entriesLoop(out []Entry, total int64, lo, hi uint64, maxBytes int) ([]Entry, error) {
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
	// Only the item's fixed header is read: its CRC covers the index and
	// term, and the payload is not needed.
	pos, err := l.iq.Position(index)
	if err != nil {
		return 0, l.readError(index, err)
	}
	m, err := l.lq.ReadMeta(pos)
	if err != nil {
		return 0, l.readError(index, err)
	}
	if m.Index != index {
		return 0, l.wrongIndex(pos, m.Index, index)
	}
	return m.Term, nil
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

// readEntry reads and validates the entry at index (one index lookup, one
// positional read, both CRCs); size is its encoded size, used for byte
// limits. The entry's slices are a copy of their own.
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
		return Entry{}, 0, l.wrongIndex(pos, m.Index, index)
	}
	return entryOf(&m, hdr, data), logqueue.EncodedSize(len(hdr), len(data)), nil
}

// entryOf is the entry an item holds; header and data become the entry's.
func entryOf(m *logqueue.ItemMeta, header, data []byte) Entry {
	return Entry{
		Index:     m.Index,
		Term:      m.Term,
		Type:      m.Type,
		Timestamp: m.Timestamp,
		Header:    header,
		Data:      data,
	}
}

// wrongIndex is the error for an item at pos (found through the index for
// want) that holds index got.
func (l *Log) wrongIndex(pos int64, got, want uint64) error {
	size := l.opts.LogFileSize
	return fmt.Errorf("%w: %020d.log at offset %d (log position %d) holds index %d, not %d",
		ErrCorrupt, pos-pos%size, pos%size, pos, got, want)
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
