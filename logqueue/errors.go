package logqueue

import (
	"errors"
	"fmt"
)

var (
	// ErrTooLarge is returned by Add for an item whose encoded size exceeds
	// the file size (or the 4 GiB length field): it could never be written.
	ErrTooLarge = errors.New("logqueue: item too large for a log file")
	// ErrCorrupt is returned by ReadItem and Reader.Next when the bytes at a
	// position are not a valid item (bad CRC, bad length, unwritten space,
	// an end marker). It is wrapped with the file name and offset, and with the
	// ErrInvalidItem that says what is wrong when there is one.
	ErrCorrupt = errors.New("logqueue: corrupt item")
	// ErrInvalidItem is returned by DecodeHeader, VerifyPayload and
	// Scanner.Next for bytes that do not form a valid item or end marker.
	// For recovery it means "the usable log ends here, or is damaged here".
	ErrInvalidItem = errors.New("logqueue: invalid item")
	// ErrEndOfLog is returned by Scanner.Next at unwritten space (the clean
	// end) or past the last file, and by Reader.Next at the end of what
	// was flushed.
	ErrEndOfLog = errors.New("logqueue: end of log")
	// ErrNoFile is returned for a position whose log file does not exist
	// (or was taken out by DeleteBefore).
	ErrNoFile = errors.New("logqueue: no log file holds this position")
	// ErrBadFile is returned by Open for a log file whose size is not the
	// configured file size or whose start position is not a multiple of it.
	ErrBadFile = errors.New("logqueue: bad log file")
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("logqueue: closed")
	// ErrInvalidOptions is returned by Open for options it cannot work
	// with (missing FS or Executor, a file size that is not a power of two
	// of at least 64 KiB, ...).
	ErrInvalidOptions = errors.New("logqueue: invalid options")
	// ErrNotWriting is returned by Add and Flush before StartWriting.
	ErrNotWriting = errors.New("logqueue: StartWriting has not been called")
	// ErrReadOnly is returned by every method that writes, on a Queue
	// opened with Options.ReadOnly.
	ErrReadOnly = errors.New("logqueue: opened read-only")
	// ErrWriting is returned by StartWriting when it was already called, and
	// by CutTail once writing has started (recovery must come first).
	ErrWriting = errors.New("logqueue: already writing")
	// ErrBadPosition is returned by TruncateTail for a position past the
	// write position (truncation only goes back).
	ErrBadPosition = errors.New("logqueue: bad position")
	// ErrInFlight is returned by TruncateTail while write tasks are still
	// in flight: its caller must wait until everything submitted is written
	// and synced.
	ErrInFlight = errors.New("logqueue: writes in flight")
)

// panicf reports a broken invariant: a bug, never bad input or an I/O error.
func panicf(format string, args ...any) {
	panic(fmt.Sprintf("logqueue: invariant broken: "+format, args...))
}
