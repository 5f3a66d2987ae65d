package logqueue

// FindItems reports the valid items that lie after pos, where a recovery
// scan stopped, so that recovery can tell a torn tail (nothing after it was
// ever acknowledged) from damage in the middle of acknowledged data. It
// visits, in log order:
//
//   - every byte position of the rest of pos's file whose bytes form a valid
//     item (header and payload CRCs, both seeded with that position), up to
//     the point where cutCleanRun consecutive zero bytes show that the rest
//     was never written;
//   - then the items of each later file, read in order from its start for
//     as long as they validate.
//
// visit returns false to stop. The search costs little in the common case
// (zeros after the end, preallocated zeros in the next file) and reads more
// only when there are bytes to explain. It reads the files only, so it is for
// recovery, before StartWriting.
func (q *Queue) FindItems(pos int64, visit func(m ItemMeta, at int64) bool) error {
	if q.closed.Load() {
		return ErrClosed
	}
	fileSize := q.opts.FileSize
	var after int64 // later files start at or after this
	if lf := q.fileFor(pos); lf != nil {
		stop, err := q.findInFile(lf, pos, visit)
		if err != nil || stop {
			return err
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
				return nil
			}
		}
	}
	return nil
}

// findInFile tries every position of lf from pos on, block by block.
func (q *Queue) findInFile(lf *logFile, pos int64, visit func(ItemMeta, int64) bool) (stop bool, err error) {
	fileSize := q.opts.FileSize
	block := make([]byte, min(scanBlock, fileSize))
	zeroRun := int64(0)
	for off := pos - lf.start; off < fileSize && zeroRun < cutCleanRun; {
		b := block[:min(int64(len(block)), fileSize-off)]
		if err := readFull(lf, b, off); err != nil {
			return false, err
		}
		first, last := dirtyRange(b)
		if first < 0 {
			zeroRun += int64(len(b))
			off += int64(len(b))
			continue
		}
		if zeroRun+int64(first) >= cutCleanRun {
			return false, nil
		}
		zeroRun = int64(len(b) - 1 - last)
		// Positions whose header would run past this block are tried again
		// at the start of the next one; at the end of the file they cannot
		// hold a header at all.
		limit := len(b) - ItemHeaderSize + 1
		if limit <= 0 {
			break
		}
		// A header has its kind byte (1 for an item) at offKind, so none
		// starts more than offKind bytes before the first non-zero byte.
		for i := max(first-offKind, 0); i < limit; i++ {
			if Kind(b[i+offKind]) != KindItem {
				continue
			}
			at := lf.start + off + int64(i)
			kind, _, _, err := DecodeHeader(b[i:i+ItemHeaderSize], at, fileSize-(off+int64(i)))
			if err != nil || kind != KindItem {
				continue
			}
			m, _, _, err := q.ReadItem(at)
			if err != nil {
				continue
			}
			if !visit(m, at) {
				return true, nil
			}
		}
		off += int64(limit)
	}
	return false, nil
}
