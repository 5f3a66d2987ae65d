package logqueue

// File references let DeleteBefore take a file out of the queue at once
// while the readers already in it finish undisturbed.
//
// lf.refs counts one reference for the list (q.files) plus one per reader
// holding the file: ReadItem and Scanner.Next for the duration of one read,
// a Reader for as long as it is positioned in the file. acquire takes a
// reader's reference under the read side of filesMu, and only for a listed
// file, whose count is at least 1; DeleteBefore unlists a file under the
// write side. So once a file is unlisted nobody can acquire it again, and
// its count, having lost the list's reference, only goes down. The one
// that brings it to zero (DeleteBefore itself when no reader holds the file,
// otherwise the last reader to release it) hands it to lf.del, which closes
// and removes it on the executor. Queue.Close closes the listed files
// without touching the counts: their removal is not wanted, and a reader
// that releases one later only takes the count back to 1.
//
// The read path pays one atomic add and one atomic subtract per read, and
// allocates nothing.

// acquire returns the file holding pos with a reference taken for the
// caller, or nil when no listed file holds it. The caller releases it.
func (q *Queue) acquire(pos int64) *logFile {
	if pos < 0 {
		return nil
	}
	q.filesMu.RLock()
	defer q.filesMu.RUnlock()
	lf := q.fileForLocked(pos)
	if lf != nil {
		lf.refs.Add(1)
	}
	return lf
}

// release drops a reference taken by acquire. The last reference of an
// unlisted file starts its removal.
func (q *Queue) release(lf *logFile) {
	switch n := lf.refs.Add(-1); {
	case n > 0:
		return
	case n < 0:
		panicf("log file %s released more often than acquired", lf.name)
	}
	if lf.del == nil {
		panicf("listed log file %s lost its last reference", lf.name)
	}
	lf.del.dispose(lf)
}
