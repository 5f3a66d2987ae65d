package logqueue

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// readAhead is the most ReadItem reads with its first pread.
const readAhead = 4 << 10

// sizeHintUnit is the granularity of sizeHint; minFirstRead is the least
// ReadItem reads first.
const (
	sizeHintUnit = 64
	minFirstRead = 256
)

// sizeHint is the size of the last item ReadItem met in a file, rounded up
// to sizeHintUnit: the size of its first pread. The pread goes straight
// into the buffer handed to the caller, so an item that fits it is neither
// copied nor read at a size it does not need: copying 4 KiB out of the page
// cache costs about half a microsecond more than 1 KiB on the machine of
// issue 6 (and a random 4 KiB read spans two pages). Raft entries of one
// log tend to be alike in size; an item larger than the hint costs a second
// pread, one much smaller a copy to its own size. It is one hint for every
// Queue of the process: it only sizes reads, so a wrong one costs time,
// never correctness.
var sizeHint atomic.Int64

// headerBufs holds ReadMeta's header buffers: a stack array would escape
// through the file's ReadAt.
var headerBufs = sync.Pool{New: func() any { return new([ItemHeaderSize]byte) }}

// ReadItem reads the item at pos. It may be called from any goroutine. The
// header and data it returns are freshly allocated (nil when empty). Bytes
// submitted by Flush but not yet written are served from the in-flight
// buffers; everything else is read from the file. Both CRCs and the kind
// are checked: a position that does not hold a valid item gives ErrCorrupt
// (wrapped with the file name and offset, and with the ErrInvalidItem saying
// what is wrong when there is one); a position whose file does not exist
// gives ErrNoFile, also once DeleteBefore has taken the file out. Items added
// but not flushed are not visible.
func (q *Queue) ReadItem(pos int64) (ItemMeta, []byte, []byte, error) {
	return q.readItem(pos, true)
}

// ReadMeta reads the fixed header of the item at pos, for callers that need
// only its index, term or lengths (Log.Term): one pread of 56 bytes, and
// only the header CRC is checked, which covers every field returned. Errors
// are ReadItem's.
func (q *Queue) ReadMeta(pos int64) (ItemMeta, error) {
	m, _, _, err := q.readItem(pos, false)
	return m, err
}

// readItem is ReadItem, or ReadMeta when payload is false.
func (q *Queue) readItem(pos int64, payload bool) (ItemMeta, []byte, []byte, error) {
	if q.closed.Load() {
		return ItemMeta{}, nil, nil, ErrClosed
	}
	lf := q.acquire(pos) // DeleteBefore waits for the read to finish
	if lf == nil {
		return ItemMeta{}, nil, nil, q.noFile(pos)
	}
	defer q.release(lf)
	room := lf.start + q.opts.FileSize - pos
	corrupt := func(err error) error {
		return fmt.Errorf("%w: %s at offset %d: %w", ErrCorrupt, lf.name, pos-lf.start, err)
	}
	fail := func(err error) (ItemMeta, []byte, []byte, error) {
		if q.closed.Load() {
			return ItemMeta{}, nil, nil, ErrClosed
		}
		if !errors.Is(err, ErrInvalidItem) {
			return ItemMeta{}, nil, nil, err // an I/O error, not bad bytes
		}
		return ItemMeta{}, nil, nil, corrupt(err)
	}

	// Below the written watermark the bytes are in the file (an item is
	// written whole, so all of it is): skip the in-flight list and its lock,
	// which the write goroutine needs to retire tasks.
	var (
		b     []byte
		m     ItemMeta
		found bool
		err   error
	)
	if pos >= q.writtenLimit() {
		b, m, found, err = q.readInflight(pos, room, payload)
	}
	if !found {
		if !payload {
			m, err = q.readFileMeta(lf, pos, room)
			if err != nil {
				return fail(err)
			}
			return m, nil, nil, nil
		}
		b, m, err = q.readFile(lf, pos, room)
	}
	if err != nil {
		return fail(err)
	}
	if !payload {
		return m, nil, nil, nil
	}
	// b is the caller's (a buffer of this read alone), and VerifyPayload's
	// slices of it are capped: appending to one never reaches the other.
	header, data, err := VerifyPayload(b, pos, &m)
	if err != nil {
		return ItemMeta{}, nil, nil, corrupt(err)
	}
	return m, header, data, nil
}

// readInflight copies the item at pos out of the in-flight buffers (only
// decodes its header when payload is false). found is false when no
// in-flight task covers pos. The copy is made under q.mu: the write
// goroutine removes a task (and may recycle its chunks) only under it. The
// copy is a buffer of its own, which ReadItem hands out.
func (q *Queue) readInflight(pos, room int64, payload bool) (b []byte, m ItemMeta, found bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, t := range q.inflight {
		if pos < t.start || pos >= t.end {
			continue
		}
		at := t.start
		for _, buf := range t.bufs {
			if pos >= at+int64(len(buf)) {
				at += int64(len(buf))
				continue
			}
			// An item never spans two buffers: it starts and ends in this one.
			rest := buf[pos-at:]
			_, meta, tot, err := decodeItemHeader(rest, pos, min(room, int64(len(rest))))
			if err != nil || !payload {
				return nil, meta, true, err
			}
			b = make([]byte, tot)
			copy(b, rest)
			return b, meta, true, nil
		}
		panicf("in-flight task [%d, %d) has only %d bytes of buffers", t.start, t.end, at-t.start)
	}
	return nil, m, false, nil
}

// readFile reads the item at pos from lf into a new buffer of its own (b
// is the whole item), with one pread of the size hint when the item fits
// it. Past the item, b holds less than its size in slack.
func (q *Queue) readFile(lf *logFile, pos, room int64) (b []byte, m ItemMeta, err error) {
	off := pos - lf.start
	first := min(max(sizeHint.Load(), minFirstRead), readAhead, room)
	b = make([]byte, first)
	if err := readFull(lf, b, off); err != nil {
		return nil, m, err
	}
	_, m, tot, err := decodeItemHeader(b, pos, room)
	if err != nil {
		return nil, m, err
	}
	if h := (tot + sizeHintUnit - 1) &^ (sizeHintUnit - 1); h != sizeHint.Load() {
		sizeHint.Store(h) // stored only on a change: readers on other cores share it
	}
	if tot <= first {
		if 2*tot < first {
			// Do not make the caller keep more than twice the item alive.
			return append([]byte(nil), b[:tot]...), m, nil
		}
		return b[:tot:tot], m, nil
	}
	nb := make([]byte, tot)
	n := copy(nb, b)
	if err := readFull(lf, nb[n:], off+int64(n)); err != nil {
		return nil, m, err
	}
	return nb, m, nil
}

// readFileMeta reads and decodes the header of the item at pos from lf.
func (q *Queue) readFileMeta(lf *logFile, pos, room int64) (ItemMeta, error) {
	hb := headerBufs.Get().(*[ItemHeaderSize]byte)
	defer headerBufs.Put(hb)
	b := hb[:min(ItemHeaderSize, room)]
	if err := readFull(lf, b, pos-lf.start); err != nil {
		return ItemMeta{}, err
	}
	_, m, _, err := decodeItemHeader(b, pos, room)
	return m, err
}

// decodeItemHeader is DecodeHeader that accepts only an item.
func decodeItemHeader(b []byte, pos, room int64) (Kind, ItemMeta, int64, error) {
	kind, m, tot, err := DecodeHeader(b, pos, room)
	if err != nil {
		return kind, m, tot, err
	}
	if kind != KindItem {
		return kind, m, tot, fmt.Errorf("%w: %s where an item was expected", ErrInvalidItem, kind)
	}
	return kind, m, tot, nil
}

// readFull reads len(b) bytes at off, treating a short file as an error.
func readFull(lf *logFile, b []byte, off int64) error {
	n, err := lf.f.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("logqueue: read %d bytes at offset %d of %s: %w", len(b), off, lf.name, err)
}
