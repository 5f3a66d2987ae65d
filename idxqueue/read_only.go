package idxqueue

import "github.com/raftlog/raftlog/vfs"

// Options.ReadOnly serves inspection tools that read a directory whose owner
// may be running. Open then lists the directory once and opens the index
// files with OpenReadOnly: no MkdirAll, no removal of *.idx.tmp (the owner's
// file creation in progress, or a crash leftover its next Open removes), no
// file creation. The queue is never started, so Position answers from the
// files for any index they cover; as before Start, the caller must check
// that the item found at a position carries the index asked for, and trust
// the files only up to the persisted index recorded in the status file.
// Files the owner creates after Open are not seen (ErrNotFound); a file
// listed but gone when opened (the owner compacted the log in between) is
// skipped.

// openPath opens an existing index file read-write, or read-only for
// Options.ReadOnly.
func (s *fileSet) openPath(path string) (vfs.File, error) {
	if s.readOnly {
		return s.fs.OpenReadOnly(path)
	}
	return s.fs.Open(path)
}
