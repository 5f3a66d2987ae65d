package raftlog

import "github.com/raftlog/raftlog/logqueue"

// Range reads (Entries of more than one entry) look up the position of the
// first entry only, then read the items one after the other with a
// logqueue.Reader: one pread per block of the read-ahead instead of an
// index lookup and a pread per entry. The Reader checks both CRCs of every
// item, and readRange checks that each carries the index expected, so
// nothing is trusted that the per-entry path would have checked.
//
// The Reader retains its blocks (logqueue.Reader.Retain): the entries'
// slices point into the block they were read in, which the Reader never
// writes again, so they are the caller's without a copy. The entries of
// one call share a block; keeping one keeps the block (at most
// maxRangeReadAhead) alive.

const (
	// minRangeReadAhead and maxRangeReadAhead bound a range read's block.
	minRangeReadAhead = 4 << 10
	maxRangeReadAhead = 1 << 20
	// rangeLastItem is what the block adds for the last entry of the
	// range, whose size is unknown: a larger one costs one more pread.
	rangeLastItem = 4 << 10
)

// readRange is Entries for hi-lo ≥ 2, after checkRead. Anything the Reader
// does not deliver as expected (an error, an item with another index: a
// truncation or compaction under the read, or damage) is left to the
// per-entry path from that index on, which tells those apart and reports
// them as a single read would.
func (l *Log) readRange(lo, hi uint64, maxBytes int) ([]Entry, error) {
	pos, err := l.iq.Position(lo)
	if err != nil {
		return nil, l.readError(lo, err)
	}
	rd := l.lq.NewReader(pos, l.rangeReadAhead(pos, hi-1, maxBytes))
	defer rd.Close()
	rd.Retain()
	out := make([]Entry, 0, min(hi-lo, 1024))
	var total int64
	for i := lo; i < hi; i++ {
		m, hdr, data, _, err := rd.Next()
		if err != nil || m.Index != i {
			return l.entriesLoop(out, total, i, hi, maxBytes)
		}
		size := logqueue.EncodedSize(len(hdr), len(data))
		if maxBytes > 0 && len(out) > 0 && total+size > int64(maxBytes) {
			break
		}
		total += size
		out = append(out, entryOf(&m, hdr, data))
	}
	return out, nil
}

// rangeReadAhead sizes the block of a range read that starts at pos and
// ends with index last: the span up to last's position (one more index
// lookup) plus room for last itself, no more than maxBytes asks for, within
// [minRangeReadAhead, maxRangeReadAhead]. A block too small costs one more
// pread, one too large copies bytes nobody wants.
func (l *Log) rangeReadAhead(pos int64, last uint64, maxBytes int) int {
	ra := int64(maxRangeReadAhead)
	if lastPos, err := l.iq.Position(last); err == nil && lastPos > pos {
		ra = lastPos - pos + rangeLastItem
	}
	if maxBytes > 0 {
		ra = min(ra, int64(maxBytes)+rangeLastItem)
	}
	return int(min(max(ra, minRangeReadAhead), maxRangeReadAhead))
}
