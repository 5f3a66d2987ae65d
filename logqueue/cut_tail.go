package logqueue

import (
	"bytes"
	"fmt"
)

// cutCleanRun bounds how far past the end of the log recovery looks for
// the items of a torn tail: that many bytes past the end, or past the end
// of the last item whose header validates. Writes are issued in order, so
// a torn tail is bytes of the last few writes (at most a few MaxWriteSize
// pwritevs in flight) just past the last valid item; beyond them lie
// preallocated zeros, or the old bytes of a recycled file (recycle.go),
// which never validate at their new positions.
const cutCleanRun = 4 << 20

// CutTail zero-fills the file holding pos from pos to TailExtent(pos): the
// bytes of the items past pos whose headers validate there, whole or torn,
// so that a later scan of the same positions cannot meet them. Bytes
// further on hold no header valid at its position and are left as they
// are: zeros, the old bytes of a recycled file, or pages of a torn write
// that carry no header. It then syncs the file if it zeroed anything, and
// returns the bytes overwritten with zeros. With no file holding pos (an
// empty log, or a log ending exactly at the end of its last file) there is
// nothing to cut and it returns 0, nil. It is for recovery and must be
// called before StartWriting (ErrWriting otherwise).
//
// Safety does not depend on the cut: the owner starts a new epoch before it
// writes again, and items of an older epoch after the current ones end the
// log (package restore). The cut keeps the next recovery from finding the
// same torn items again, and costs nothing when the log ends cleanly, also
// in a recycled file.
func (q *Queue) CutTail(pos int64) (zeroed int64, err error) {
	if err := q.checkCut(pos); err != nil {
		return 0, err
	}
	end, err := q.TailExtent(pos)
	if err != nil {
		return 0, err
	}
	return q.CutTailTo(pos, end)
}

// CutTailTo is CutTail with the end already known: from TailExtent, or
// from the FindItems that recovery runs first.
func (q *Queue) CutTailTo(pos, end int64) (zeroed int64, err error) {
	if err := q.checkCut(pos); err != nil {
		return 0, err
	}
	lf := q.fileFor(pos)
	if lf == nil {
		return 0, nil
	}
	stop := min(end, lf.start+q.opts.FileSize) - lf.start
	buf := make([]byte, max(0, min(int64(len(zeros)), stop-(pos-lf.start))))
	for off := pos - lf.start; off < stop; {
		b := buf[:min(int64(len(buf)), stop-off)]
		if err := readFull(lf, b, off); err != nil {
			return zeroed, err
		}
		if first, last := dirtyRange(b); first >= 0 {
			if _, err := lf.f.WriteAt(zeros[:last+1-first], off+int64(first)); err != nil {
				return zeroed, fmt.Errorf("logqueue: cut tail of %s at offset %d: %w", lf.name, off+int64(first), err)
			}
			zeroed += int64(last + 1 - first)
		}
		off += int64(len(b))
	}
	if zeroed == 0 {
		return 0, nil
	}
	if err := lf.f.Sync(); err != nil {
		return zeroed, fmt.Errorf("logqueue: sync %s after cutting its tail: %w", lf.name, err)
	}
	return zeroed, nil
}

// checkCut is what CutTail and CutTailTo refuse.
func (q *Queue) checkCut(pos int64) error {
	switch {
	case q.closed.Load():
		return ErrClosed
	case q.opts.ReadOnly:
		return ErrReadOnly
	case q.started:
		return ErrWriting
	case pos < 0:
		return q.noFile(pos)
	}
	return nil
}

// dirtyRange returns the indexes of the first and last non-zero bytes of b,
// or -1, -1 when b is all zeros. Recovery runs it over megabytes of
// preallocated zeros at every open, so it skips zero runs a zeroRun at a
// time with bytes.Equal (vectorised) before looking at single bytes.
func dirtyRange(b []byte) (first, last int) {
	first = -1
	for off := 0; off < len(b); off += len(zeroRun) {
		c := b[off:min(off+len(zeroRun), len(b))]
		if bytes.Equal(c, zeroRun[:len(c)]) {
			continue
		}
		for i, v := range c {
			if v != 0 {
				first = off + i
				break
			}
		}
		break
	}
	if first < 0 {
		return -1, -1
	}
	for end := len(b); end > first; end -= len(zeroRun) {
		start := max(end-len(zeroRun), first)
		c := b[start:end]
		if bytes.Equal(c, zeroRun[:len(c)]) {
			continue
		}
		for i := len(c) - 1; i >= 0; i-- {
			if c[i] != 0 {
				return first, start + i
			}
		}
	}
	return first, first
}

// zeroRun is what dirtyRange compares runs of bytes with.
var zeroRun = make([]byte, 256)

// SyncRange fdatasyncs every file holding a byte of the log positions
// [from, to). Recovery uses it for the tail it scanned: those bytes may have
// reached the page cache but not the disk before a process crash, and they
// are about to be reported durable.
func (q *Queue) SyncRange(from, to int64) error {
	if q.closed.Load() {
		return ErrClosed
	}
	if q.opts.ReadOnly {
		return ErrReadOnly
	}
	if from < 0 || from >= to {
		return nil
	}
	for start := from &^ q.mask; start < to; start += q.opts.FileSize {
		lf := q.fileFor(start)
		if lf == nil {
			return q.noFile(start)
		}
		if err := lf.f.Sync(); err != nil {
			return fmt.Errorf("logqueue: sync %s: %w", lf.name, err)
		}
	}
	return nil
}
