package logqueue

import (
	"errors"
	"fmt"
	"io"
)

// readAhead is how much ReadItem reads with its first pread, so that most
// items take one system call.
const readAhead = 4 << 10

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

	b, m, found, err := q.readInflight(pos, room)
	if !found {
		b, m, err = q.readFile(lf, pos, room)
	}
	if err != nil {
		if q.closed.Load() {
			return ItemMeta{}, nil, nil, ErrClosed
		}
		if !errors.Is(err, ErrInvalidItem) {
			return ItemMeta{}, nil, nil, err // an I/O error, not bad bytes
		}
		return ItemMeta{}, nil, nil, corrupt(err)
	}
	header, data, err := VerifyPayload(b, pos, &m)
	if err != nil {
		return ItemMeta{}, nil, nil, corrupt(err)
	}
	return m, header, data, nil
}

// readInflight copies the item at pos out of the in-flight buffers. found is
// false when no in-flight task covers pos. The copy is made under q.mu: the
// write goroutine removes a task (and may recycle its chunks) only under it.
func (q *Queue) readInflight(pos, room int64) (b []byte, m ItemMeta, found bool, err error) {
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
			if err != nil {
				return nil, m, true, err
			}
			b = make([]byte, tot)
			copy(b, rest)
			return b, meta, true, nil
		}
		panicf("in-flight task [%d, %d) has only %d bytes of buffers", t.start, t.end, at-t.start)
	}
	return nil, m, false, nil
}

// readFile reads the item at pos from lf.
func (q *Queue) readFile(lf *logFile, pos, room int64) ([]byte, ItemMeta, error) {
	off := pos - lf.start
	b := make([]byte, min(readAhead, room))
	if err := readFull(lf, b, off); err != nil {
		return nil, ItemMeta{}, err
	}
	_, m, tot, err := decodeItemHeader(b, pos, room)
	if err != nil {
		return nil, m, err
	}
	if tot <= int64(len(b)) {
		return b[:tot:tot], m, nil
	}
	nb := make([]byte, tot)
	n := copy(nb, b)
	if err := readFull(lf, nb[n:], off+int64(n)); err != nil {
		return nil, m, err
	}
	return nb, m, nil
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
