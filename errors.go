package raftlog

import "errors"

// Errors returned by Log. Compare with errors.Is: most are wrapped with the
// detail of what went wrong.
var (
	// ErrOutOfOrder: the first index of an Append is not LastIndex()+1, or
	// the indexes inside one call are not consecutive.
	ErrOutOfOrder = errors.New("raftlog: entries out of order")
	// ErrTermRegression: an entry's term is lower than the term before it.
	ErrTermRegression = errors.New("raftlog: term goes down")
	// ErrEntryTooLarge: an entry cannot fit in one log file.
	ErrEntryTooLarge = errors.New("raftlog: entry too large for a log file")
	// ErrCompacted: a read below FirstIndex().
	ErrCompacted = errors.New("raftlog: index compacted")
	// ErrUnavailable: a read above LastIndex().
	ErrUnavailable = errors.New("raftlog: index unavailable")
	// ErrClosed: the Log was closed.
	ErrClosed = errors.New("raftlog: log closed")
	// ErrLocked: the directory is open in another Log, in this process or
	// another.
	ErrLocked = errors.New("raftlog: directory locked")
	// ErrCorrupt: data failed validation. The wrapping error names the file
	// and offset.
	ErrCorrupt = errors.New("raftlog: corrupt data")
	// ErrFailed: a write or fdatasync failed earlier. The wrapping error
	// carries the first cause. The Log must be closed and reopened.
	ErrFailed = errors.New("raftlog: log failed")
	// ErrBelowCommit: TruncateTail would remove entries at or below the
	// hard state's commit index, which Raft never takes back.
	ErrBelowCommit = errors.New("raftlog: truncation below the commit index")
	// ErrInvalidOptions: Options that cannot be used (a size that is not a
	// power of two, or out of range).
	ErrInvalidOptions = errors.New("raftlog: invalid options")
)
