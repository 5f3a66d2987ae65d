package logqueue

import (
	"fmt"
	"math"
)

// DefaultReadAhead is a Reader's read-ahead when NewReader is given 0.
const DefaultReadAhead = 1 << 20

// inflightCopy bounds what a Reader copies out of an in-flight buffer at
// once (unless one item is larger). The copy is made under the mutex that
// the write goroutine needs to retire a task, so it is kept to a few
// microseconds; bytes in flight are the newest ones and few.
const inflightCopy = 64 << 10

// Reader reads items one after the other from a position, for replication
// and iterators. Bytes below WrittenPos are read from the file in blocks
// of the read-ahead (one pread per block, not per item); bytes flushed but
// not yet written are copied from the in-flight buffers, as ReadItem does.
// Every header and payload CRC is checked.
//
// A Reader holds a reference on the file of its position for as long as it
// is positioned there (from NewReader or SeekTo, until it moves to another
// file or is closed), so DeleteBefore removes that file only afterwards and
// the Reader keeps reading it meanwhile. A position whose file was taken out
// before the Reader got there gives ErrNoFile.
//
// A Reader belongs to one goroutine; any number of them may read one Queue,
// concurrently with Add, Flush and DeleteBefore. It must be closed.
type Reader struct {
	q         *Queue
	pos       int64
	readAhead int
	lf        *logFile // the file holding pos, referenced; nil when none
	closed    bool
	retain    bool // every block goes into a new buffer; see Retain
	// alloc, when set, gives Retain's new buffers; see SetAlloc.
	alloc func(n int) []byte

	// buf[:n] holds the valid bytes at log positions [bufPos, bufPos+n) of
	// bufFile, read while truncGen was gen.
	buf     []byte
	n       int
	bufPos  int64
	bufFile *logFile
	gen     uint64
}

// NewReader returns a Reader whose first item is the one at pos, reading
// ahead readAhead bytes at a time (DefaultReadAhead when readAhead ≤ 0).
// The Reader takes a reference on the file holding pos at once, when one
// does. On a Queue that is not writing (read-only, or before StartWriting)
// it reads the files alone and ends at unwritten space, like a Scanner.
func (q *Queue) NewReader(pos int64, readAhead int) *Reader {
	if readAhead <= 0 {
		readAhead = DefaultReadAhead
	}
	r := &Reader{q: q, pos: pos, readAhead: max(readAhead, ItemHeaderSize), gen: q.truncGen.Load()}
	r.hold()
	return r
}

// Retain makes every header and data slice that Next returns from now on
// the caller's to keep: each block (of the read-ahead, or copied from the
// in-flight buffers) is read into a new buffer that the Reader never writes
// again, instead of reusing one. The slices then need no copy, which is
// what a caller that hands entries out would make; they share their block's
// buffer, so one slice kept alive keeps the whole block (at most the
// read-ahead, or one item) alive.
func (r *Reader) Retain() { r.retain = true }

// SetAlloc makes Retain's new buffers come from alloc, which must return a
// slice of length n that nothing still in use aliases. It lets a caller
// that knows when the slices it was handed are dead (an iterator whose
// entries live until its next call) recycle blocks: a fresh 1 MiB block
// costs zeroing it, and the garbage collector returning it.
func (r *Reader) SetAlloc(alloc func(n int) []byte) { r.alloc = alloc }

// Block returns the buffer the Reader is reading from: under Retain, the
// newest block it allocated, which the slices of its next items will alias.
func (r *Reader) Block() []byte { return r.buf }

// newBlock returns a buffer of n bytes that the Reader never wrote before.
func (r *Reader) newBlock(n int) []byte {
	if r.alloc != nil {
		return r.alloc(n)
	}
	return make([]byte, n)
}

// Pos returns the position of the item the next Next reads (or of the end
// marker or slack it skips first).
func (r *Reader) Pos() int64 { return r.pos }

// SeekTo moves the Reader to pos, which must be the position of an item
// (or of an end marker); the read-ahead is kept when it covers pos. It takes
// a reference on the file of pos and releases the one it held, if
// different. (Not named Seek: go vet reserves that name for io.Seeker's
// signature.)
func (r *Reader) SeekTo(pos int64) {
	if r.closed {
		return
	}
	r.pos = pos
	r.hold()
}

// Close releases the Reader's file reference and buffer. It is idempotent;
// Next after Close returns ErrClosed.
func (r *Reader) Close() {
	r.drop()
	r.closed = true
	r.buf, r.n, r.bufFile = nil, 0, nil
}

// hold makes r.lf the file holding r.pos, referenced, or nil when no listed
// file holds it. A file already held is kept even if DeleteBefore has taken
// it out since.
func (r *Reader) hold() {
	if r.lf != nil && r.pos >= r.lf.start && r.pos-r.lf.start < r.q.opts.FileSize {
		return
	}
	r.drop()
	r.lf = r.q.acquire(r.pos)
}

func (r *Reader) drop() {
	if r.lf != nil {
		r.q.release(r.lf)
		r.lf = nil
	}
}

// Next returns the item at the Reader's position and advances past it. End
// markers, and slack shorter than a header at a file's end, are skipped
// into the next file. header and data alias the Reader's buffer and are
// valid until the next call (for good after Retain). Errors:
//
//   - ErrEndOfLog (bare, not wrapped) when the Reader has reached the end of
//     what was flushed: nothing more yet; a later call may succeed once more
//     is added and flushed. Items added but not flushed are not visible, as
//     for ReadItem. The position does not move.
//   - ErrCorrupt, wrapped with the file and offset and the ErrInvalidItem
//     that says what is wrong, for bytes that do not form a valid item where
//     one must be (also for a position inside an item).
//   - ErrNoFile when no file holds the position (deleted by DeleteBefore).
//   - ErrClosed after Close of the Reader or of the Queue; an error of the
//     write stage when the bytes at the position were never written.
func (r *Reader) Next() (m ItemMeta, header, data []byte, pos int64, err error) {
	q := r.q
	for {
		if r.closed || q.closed.Load() {
			return m, nil, nil, 0, ErrClosed
		}
		if g := q.truncGen.Load(); g != r.gen {
			// Bytes at or past the truncation point may have been rewritten.
			r.gen, r.n, r.bufFile = g, 0, nil
		}
		r.hold()
		lf := r.lf
		limit := q.flushedLimit()
		if lf == nil {
			if r.pos >= limit || r.pos >= q.endOfFiles() {
				return m, nil, nil, 0, ErrEndOfLog
			}
			return m, nil, nil, 0, q.noFile(r.pos)
		}
		end := lf.start + q.opts.FileSize
		room := end - r.pos
		if room < ItemHeaderSize {
			r.pos = end
			continue
		}
		if r.pos >= limit {
			return m, nil, nil, 0, ErrEndOfLog
		}
		m, header, data, pos, more, err := r.nextIn(lf, end)
		if err != nil && q.closed.Load() {
			err = ErrClosed // the file was closed under the read
		}
		if !more {
			return m, header, data, pos, err
		}
	}
}

// nextIn is Next inside lf, which ends at end and holds r.pos, a position
// below the flushed limit with room for a header. more is true when Next
// must go on at r.pos, in the next file.
func (r *Reader) nextIn(lf *logFile, end int64) (m ItemMeta, header, data []byte, pos int64, more bool, err error) {
	room := end - r.pos
	corrupt := func(err error) error {
		return fmt.Errorf("%w: %s at offset %d: %w", ErrCorrupt, lf.name, r.pos-lf.start, err)
	}
	b, err := r.fill(lf, ItemHeaderSize, room)
	if err != nil {
		return m, nil, nil, 0, false, err
	}
	if b == nil {
		return m, nil, nil, 0, false, ErrEndOfLog // truncated under us
	}
	kind, meta, tot, err := DecodeHeader(b, r.pos, room)
	if err != nil {
		return m, nil, nil, 0, false, corrupt(err)
	}
	switch kind {
	case KindUnwritten:
		if !r.q.writing.Load() {
			return m, nil, nil, 0, false, fmt.Errorf("%w: unwritten space in %s at offset %d",
				ErrEndOfLog, lf.name, r.pos-lf.start)
		}
		return m, nil, nil, 0, false, corrupt(fmt.Errorf("%w: unwritten space below the flushed position", ErrInvalidItem))
	case KindEndMarker:
		r.pos = end
		return m, nil, nil, 0, true, nil
	}
	if b, err = r.fill(lf, int(tot), room); err != nil {
		return m, nil, nil, 0, false, err
	}
	if b == nil {
		return m, nil, nil, 0, false, ErrEndOfLog
	}
	header, data, err = VerifyPayload(b, r.pos, &meta)
	if err != nil {
		return m, nil, nil, 0, false, corrupt(err)
	}
	pos = r.pos
	r.pos += tot
	return meta, header, data, pos, false, nil
}

// fill returns the need bytes at r.pos of lf (room bytes left in it): from
// the read-ahead when it holds them, else from the file when they are
// written, else from the in-flight buffers. A nil slice with a nil error
// means r.pos is no longer below the flushed limit (TruncateTail ran).
func (r *Reader) fill(lf *logFile, need int, room int64) ([]byte, error) {
	if r.bufFile == lf && r.pos >= r.bufPos && r.pos+int64(need) <= r.bufPos+int64(r.n) {
		off := r.pos - r.bufPos
		return r.buf[off : off+int64(need)], nil
	}
	r.n, r.bufFile = 0, nil
	q := r.q
	if r.pos >= q.writtenLimit() {
		switch src, err := r.copyInflight(lf, need); src {
		case srcCopied:
			return r.buf[:need], nil
		case srcEnd:
			return nil, nil
		case srcGap:
			return nil, fmt.Errorf("%w: %s at offset %d: %w", ErrCorrupt, lf.name, r.pos-lf.start,
				fmt.Errorf("%w: position %d is not inside any write", ErrInvalidItem, r.pos))
		case srcFailed:
			return nil, err
		}
		// srcFile: written since the check.
	}
	return r.readFile(lf, need, room)
}

// readFile reads a block of the read-ahead (at least need bytes, at most to
// the end of the file) at r.pos with one pread, and keeps the part below
// the written watermark.
func (r *Reader) readFile(lf *logFile, need int, room int64) ([]byte, error) {
	// Loaded before the pread: every byte below it was in the file before
	// the read started. Bytes past it may be a write in progress.
	written := r.q.writtenLimit()
	size := min(max(int64(need), int64(r.readAhead)), room)
	switch {
	case r.retain:
		r.buf = r.newBlock(int(size))
	case int64(cap(r.buf)) < size:
		r.buf = make([]byte, size)
	}
	if err := readFull(lf, r.buf[:size], r.pos-lf.start); err != nil {
		return nil, err
	}
	valid := min(size, written-r.pos)
	if valid < int64(need) {
		// Writes carry whole items, so an item boundary below the
		// watermark has the whole item below it.
		return nil, fmt.Errorf("%w: %s at offset %d: %w", ErrCorrupt, lf.name, r.pos-lf.start,
			fmt.Errorf("%w: %d bytes needed, %d written", ErrInvalidItem, need, valid))
	}
	r.bufFile, r.bufPos, r.n = lf, r.pos, int(valid)
	return r.buf[:need], nil
}

type source uint8

const (
	srcCopied source = iota // copied into r.buf
	srcFile                 // written: read the file
	srcEnd                  // at or past the flushed limit
	srcGap                  // flushed, not written, in no task: not an item boundary
	srcFailed               // the write of these bytes failed
)

// copyInflight copies the bytes at r.pos (at least need, at most
// max(need, inflightCopy), and never past the buffer holding them) out of
// the in-flight task covering r.pos. Under q.mu the watermarks and the
// list agree: a task leaves the list only after writtenPos covers it (or
// writeErr is set), and enters it before flushedPos covers it.
func (r *Reader) copyInflight(lf *logFile, need int) (source, error) {
	q := r.q
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case r.pos < q.writtenPos.Load():
		return srcFile, nil
	case r.pos >= q.flushedPos.Load():
		return srcEnd, nil
	}
	for _, t := range q.inflight {
		if r.pos < t.start || r.pos >= t.end {
			continue
		}
		at := t.start
		for _, buf := range t.bufs {
			if r.pos >= at+int64(len(buf)) {
				at += int64(len(buf))
				continue
			}
			// An item never spans two buffers: it lies whole in this one.
			rest := buf[r.pos-at:]
			n := min(len(rest), max(need, inflightCopy))
			if n < need {
				return srcGap, nil
			}
			switch {
			case r.retain:
				r.buf = r.newBlock(n)
			case cap(r.buf) < n:
				r.buf = make([]byte, max(n, r.readAhead))
			}
			copy(r.buf[:n], rest)
			r.bufFile, r.bufPos, r.n = lf, r.pos, n
			return srcCopied, nil
		}
		panicf("in-flight task [%d, %d) has only %d bytes of buffers", t.start, t.end, at-t.start)
	}
	if p := q.writeErr.Load(); p != nil {
		return srcFailed, *p
	}
	return srcGap, nil
}

// flushedLimit is the end of what readers may see: the flushed watermark,
// or no limit when the queue is not writing (the files are all there is).
func (q *Queue) flushedLimit() int64 {
	if !q.writing.Load() {
		return math.MaxInt64
	}
	return q.flushedPos.Load()
}

// writtenLimit is the written watermark, or no limit when not writing.
func (q *Queue) writtenLimit() int64 {
	if !q.writing.Load() {
		return math.MaxInt64
	}
	return q.writtenPos.Load()
}
