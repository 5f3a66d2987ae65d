package logqueue

import (
	"fmt"
)

// scanBlock is the read-ahead of a Scanner: recovery reads the tail in
// blocks this large rather than one pread per item.
const scanBlock = 1 << 20

// Scanner reads items one after the other from a position, validating each,
// for recovery. It reads the files only (not the in-flight buffers), with
// read-ahead, holding a reference on the file it reads during each Next
// (file_refs.go). A Scanner is used by one goroutine.
type Scanner struct {
	q   *Queue
	pos int64

	buf    []byte   // read-ahead; buf[:n] holds the bytes at bufPos of bufFile
	n      int      // valid bytes in buf
	bufPos int64    // log position of buf[0]
	file   *logFile // file the buffer was read from
}

// NewScanner returns a scanner whose first item is the one at pos.
func (q *Queue) NewScanner(pos int64) *Scanner {
	return &Scanner{q: q, pos: pos}
}

// Pos returns the position of the next item Next will read: after an error,
// where the valid log ends (the place to CutTail for a torn tail).
func (s *Scanner) Pos() int64 { return s.pos }

// Next returns the next item and its position. End markers, and slack
// shorter than a header at a file's end, are skipped into the next file. It
// returns ErrEndOfLog at unwritten space or past the last file, ErrNoFile
// for a missing file in the middle, and ErrInvalidItem (wrapped, naming file
// and offset) for a header or payload that does not validate; Pos then stays
// at that position. header and data alias the scanner's buffer and are valid
// until the next call.
func (s *Scanner) Next() (m ItemMeta, header, data []byte, pos int64, err error) {
	q := s.q
	for {
		if q.closed.Load() {
			return m, nil, nil, 0, ErrClosed
		}
		// The reference keeps DeleteBefore from removing the file while
		// this call reads it.
		lf := q.acquire(s.pos)
		if lf == nil {
			if s.pos >= q.endOfFiles() {
				return m, nil, nil, 0, fmt.Errorf("%w: position %d is past the last file", ErrEndOfLog, s.pos)
			}
			return m, nil, nil, 0, q.noFile(s.pos)
		}
		m, header, data, pos, more, err := s.nextIn(lf)
		q.release(lf)
		if !more {
			return m, header, data, pos, err
		}
	}
}

// nextIn is Next inside lf, the file holding s.pos. more is true when
// Next must go on at s.pos, in the next file.
func (s *Scanner) nextIn(lf *logFile) (m ItemMeta, header, data []byte, pos int64, more bool, err error) {
	end := lf.start + s.q.opts.FileSize
	room := end - s.pos
	if room < ItemHeaderSize {
		s.pos = end
		return m, nil, nil, 0, true, nil
	}
	invalid := func(err error) error {
		return fmt.Errorf("logqueue: %s at offset %d: %w", lf.name, s.pos-lf.start, err)
	}
	b, err := s.fill(lf, ItemHeaderSize, room)
	if err != nil {
		return m, nil, nil, 0, false, err
	}
	kind, meta, tot, err := DecodeHeader(b, s.pos, room)
	if err != nil {
		return m, nil, nil, 0, false, invalid(err)
	}
	switch kind {
	case KindUnwritten:
		return m, nil, nil, 0, false, fmt.Errorf("%w: unwritten space in %s at offset %d",
			ErrEndOfLog, lf.name, s.pos-lf.start)
	case KindEndMarker:
		s.pos = end
		return m, nil, nil, 0, true, nil
	}
	if b, err = s.fill(lf, int(tot), room); err != nil {
		return m, nil, nil, 0, false, err
	}
	header, data, err = VerifyPayload(b, s.pos, &meta)
	if err != nil {
		return m, nil, nil, 0, false, invalid(err)
	}
	pos = s.pos
	s.pos += tot
	return meta, header, data, pos, false, nil
}

// fill returns the n bytes at s.pos (of lf, with room bytes left in it),
// reading a new block when they are not all buffered.
func (s *Scanner) fill(lf *logFile, n int, room int64) ([]byte, error) {
	if s.file == lf && s.pos >= s.bufPos && s.pos+int64(n) <= s.bufPos+int64(s.n) {
		off := s.pos - s.bufPos
		return s.buf[off : off+int64(n)], nil
	}
	want := max(n, int(min(scanBlock, room)))
	if cap(s.buf) < want {
		s.buf = make([]byte, want)
	}
	s.file, s.n = nil, 0
	if err := readFull(lf, s.buf[:want], s.pos-lf.start); err != nil {
		return nil, err
	}
	s.file, s.bufPos, s.n = lf, s.pos, want
	return s.buf[:n], nil
}
