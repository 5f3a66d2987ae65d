package logqueue

import (
	"bytes"
	"encoding/binary"
)

// FindItems reports the valid items that lie after pos, where a recovery
// scan stopped, so that recovery can tell a torn tail (nothing after it was
// ever acknowledged) from damage in the middle of acknowledged data. It
// visits, in log order:
//
//   - every byte position of the rest of pos's file whose bytes form a valid
//     item (header and payload CRCs, both seeded with that position), until
//     cutCleanRun bytes have passed without a valid item header: past pos,
//     or past the end of the last item whose header validated;
//   - then the items of each later file, read in order from its start for
//     as long as they validate.
//
// The space after the end of the log is preallocated zeros, or the old
// bytes of a recycled file (recycle.go), which never validate at their new
// positions; a torn tail is bytes of the last writes, whose items' headers
// lie less than cutCleanRun apart. visit returns false to stop. The search
// reads at most about cutCleanRun bytes past the last item it finds. It
// reads the files only, so it is for recovery, before StartWriting.
//
// extent is what TailExtent(pos) returns, found on the way, when visit
// never stopped the search (recovery passes it to CutTailTo rather than
// searching the same bytes again).
func (q *Queue) FindItems(pos int64, visit func(m ItemMeta, at int64) bool) (extent int64, err error) {
	if q.closed.Load() {
		return 0, ErrClosed
	}
	fileSize := q.opts.FileSize
	extent = pos
	var after int64 // later files start at or after this
	if lf := q.fileFor(pos); lf != nil {
		end, stop, err := q.scanPast(lf, pos, q.visitValid(visit))
		extent = lf.start + end
		if err != nil || stop {
			return extent, err
		}
		after = lf.start + fileSize
	} else {
		after = pos
	}
	for _, fi := range q.Files() {
		if fi.StartPos < after {
			continue
		}
		sc := q.NewScanner(fi.StartPos)
		for {
			m, _, _, at, err := sc.Next()
			if err != nil || at >= fi.StartPos+fileSize {
				break
			}
			if !visit(m, at) {
				return extent, nil
			}
		}
	}
	return extent, nil
}

// visitValid is the scanPast callback of FindItems: it visits each item
// whose payload validates too, and skips it whole, since no other item can
// start inside it and validate (writing one would have changed its bytes).
func (q *Queue) visitValid(visit func(ItemMeta, int64) bool) func(at int64) (skip, stop bool) {
	return func(at int64) (skip, stop bool) {
		m, _, _, err := q.ReadItem(at)
		if err != nil {
			return false, false
		}
		return true, !visit(m, at)
	}
}

// TailExtent returns the end of the bytes past pos, in pos's file, that
// recovery must clear before writing there again: the end of the last item
// whose header validates at its position past pos (the items of a torn
// tail, whole or torn), found as FindItems finds them, or pos when there is
// none. Whatever lies beyond (never written, or the old bytes of a recycled
// file) holds no item header valid at its position, so it can never be
// taken for an item. It reads the files only.
func (q *Queue) TailExtent(pos int64) (int64, error) {
	if q.closed.Load() {
		return 0, ErrClosed
	}
	lf := q.fileFor(pos)
	if lf == nil {
		return pos, nil
	}
	end, _, err := q.scanPast(lf, pos, func(int64) (bool, bool) { return false, false })
	return lf.start + end, err
}

// scanPast tries every position of lf from pos on, block by block, and
// calls onHeader for each one whose bytes start an item header that
// validates there. It stops once cutCleanRun bytes have passed without one
// (past pos, or past the end of the last item whose header validated), at
// the end of the file, or when onHeader says stop; skip makes it go on
// after the end of that item. It returns the file offset of the end of the
// last item whose header validated (pos's offset when none did).
func (q *Queue) scanPast(lf *logFile, pos int64, onHeader func(at int64) (skip, stop bool)) (extent int64, stop bool, err error) {
	fileSize := q.opts.FileSize
	block := make([]byte, min(scanBlock, fileSize))
	off := pos - lf.start
	quiet := off // file offset after the last item whose header validated
	for off < fileSize && off-quiet < cutCleanRun {
		b := block[:min(int64(len(block)), fileSize-off)]
		if err := readFull(lf, b, off); err != nil {
			return quiet, false, err
		}
		// Positions whose header would run past this block are tried again
		// at the start of the next one; at the end of the file they cannot
		// hold a header at all.
		limit := len(b) - ItemHeaderSize + 1
		if limit <= 0 {
			break
		}
		next := off + int64(limit)
		first, _ := dirtyRange(b[:limit+offKind])
		if first < 0 {
			off = next
			continue
		}
		// A header has its kind byte (1 for an item) at offKind, so none
		// starts more than offKind bytes before the first non-zero byte;
		// IndexByte (vectorised) jumps to the next such byte, which in the
		// old bytes of a recycled file comes every few hundred bytes.
		for i := max(first-offKind, 0); i < limit; i++ {
			k := bytes.IndexByte(b[i+offKind:limit+offKind], byte(KindItem))
			if k < 0 {
				break
			}
			i += k
			if off+int64(i)-quiet >= cutCleanRun {
				return quiet, false, nil
			}
			at := lf.start + off + int64(i)
			// The lengths, then the CRC, without DecodeHeader: the old
			// bytes of a recycled file hold a kind byte of 1 every few
			// hundred bytes, and an error value built for each would cost
			// more than the whole search.
			h := b[i : i+ItemHeaderSize]
			le := binary.LittleEndian
			if int64(le.Uint32(h[offTotLen:])) != EncodedSize(int(le.Uint32(h[offHdrLen:])), int(le.Uint32(h[offDataLen:]))) ||
				le.Uint32(h[offHdrCRC:]) != headerCRC(h, at) {
				continue
			}
			// The kind byte, the lengths and the CRC are what DecodeHeader
			// checks of an item header; what is left is the room.
			totLen := int64(le.Uint32(h[offTotLen:]))
			if totLen > fileSize-(off+int64(i)) {
				continue
			}
			// A header that validates at this position was written here,
			// so the item it starts, torn or not, ends at totLen: look at
			// least cutCleanRun past that.
			end := off + int64(i) + totLen
			quiet = max(quiet, end)
			skip, stop := onHeader(at)
			if stop {
				return quiet, true, nil
			}
			if !skip {
				continue
			}
			if end >= next {
				next = end
				break
			}
			i = int(end-off) - 1
		}
		off = next
	}
	return quiet, false, nil
}
