// Package logqueue is the log file queue of raftlog: the files that hold the
// Raft entries themselves.
//
// # Files
//
// The log is one sequence of byte positions cut into files of FileSize bytes
// (a power of two, default 1 GiB). The file holding position p starts at
// p &^ (FileSize-1) and is named by that start position, zero padded to 20
// digits so names sort like positions:
//
//	00000000000000000000.log   positions [0, FileSize)
//	00000000001073741824.log   positions [1 GiB, 2 GiB)
//
// Every file is preallocated to its full size before the writer reaches it
// (fallocate by default; see PreallocMode for the measurements), so the writer never extends
// a file and fdatasync only flushes data. A file is created as name+".tmp",
// its space reserved and synced, renamed into place and the directory
// synced: a crash leaves no file or a whole one, and Open removes leftover
// .tmp files. Or it is made from a spare: a file that compaction freed,
// kept as name+".free" and renamed into place (recycle.go, Options.
// RecycleFiles), whose blocks were all written in its first life.
//
// # Items
//
// An item never straddles two files. Each item is (little endian; FROZEN):
//
//	0      4      8  9  10   12     16       24       32        40         48       52       56
//	+------+------+--+--+----+------+--------+--------+---------+----------+--------+--------+---------------+------+
//	|hdrCRC|totLen|K |Ty|lag | epoch| index  | term   | prevTerm| timestamp|hdrLen  |dataLen | header, data  |payCRC|
//	+------+------+--+--+----+------+--------+--------+---------+----------+--------+--------+---------------+------+
//	   4      4    1  1   2     4       8        8         8          8         4        4     hdrLen+dataLen    4
//
// where:
//
//   - K is the kind: 0 unwritten, 1 item, 2 end-of-file marker. Kind 0 is
//     the preallocated zeros, so the clean end of the log reads as
//     "unwritten". Ty is the entry type.
//   - lag (durable lag) is the item's index minus the highest index the
//     writer knew durable when it encoded the item (0: unknown, or more
//     than 16 bits). A valid item thus proves that every index up to
//     index-lag had been acknowledged before it was written; recovery uses
//     this to tell a torn tail from damage to acknowledged data.
//   - totLen = 56 + hdrLen + dataLen + 4. payCRC is always present.
//   - hdrCRC is CRC32C over bytes [4,56), payCRC is CRC32C over header‖data;
//     both are seeded with the item's absolute log position (the CRC of its
//     8 little-endian bytes is the initial value). Bytes of an item left
//     over at any other position, in a recycled file or a rewritten region,
//     therefore never validate.
//   - An end-of-file marker is a bare 56-byte header (totLen 56, index = the
//     next index expected, epoch set, every other field zero) written when
//     the next item does not fit in the rest of the file and at least 56
//     bytes are left. Fewer than 56 bytes left are slack: readers skip to the
//     next file.
//
// Decoding bounds every length (totLen against the bytes left in the file,
// and against the payload lengths) before anything is allocated.
//
// Crash invariant: every byte before a position reported durable was
// fdatasync'd; of the later writes, any subset of pages may have reached the
// disk (write-back has no order). So after a crash, scanning from the last
// durable item meets valid items, then either the clean end (zeros, or an end
// marker and zeros), the old bytes of a recycled file (which never validate
// at their new positions), or a torn tail: bytes of unacknowledged writes,
// ending within the dirty region the last writes covered. Recovery cuts
// that tail with CutTail before writing again: it zeroes the items past
// the end whose headers validate (no more than cutCleanRun, 4 MiB, past
// the end of the last one) and leaves bytes that cannot validate as they
// are. Items of an earlier run left beyond the cut carry an
// older epoch, which recovery (package restore) uses to stop; an invalid
// item followed by valid ones of the current chain is corruption of
// acknowledged data, which it refuses.
//
// # Goroutines
//
// StartWriting starts a chainwriter (its write, force and report
// goroutines belong to it; Close stops them), allocates the next file on the
// Options.Executor (Close waits for that allocation) and, under ZeroAhead,
// starts the zeroer goroutine (Close stops it). Add and Flush are called by one goroutine at a time (the
// appender), which owns the write position and the encode buffers. Items are
// encoded into pooled chunks (default 1 MiB); Flush hands each contiguous
// run to the chainwriter as one task per file. Until a task is written its
// buffers sit in an in-flight list, guarded by a mutex, that ReadItem copies
// from; the write goroutine removes the task under that mutex, so a chunk is
// reused only when no reader can still copy from it and the bytes are
// readable from the file. ReadItem, Files, FileSize, WritePos, WrittenPos,
// NewReader and DeleteBefore may be called from any goroutine; a Scanner
// and a Reader each belong to one goroutine.
//
// # Preallocation
//
// A file's space is reserved whole when the file is allocated
// (Options.Prealloc). Under ZeroAhead, the default, the zeroer
// (zero_ahead.go) also writes zeros over that space and syncs them, at most
// ZeroAheadLead bytes ahead of the write position and through descriptors
// of its own, so that the writer's fdatasyncs land on written blocks and
// commit no extent conversion. It never writes below the write position:
// it starts a chunk only at or above it, under a mutex the write goroutine
// takes before each write to wait out a chunk being zeroed. After an open
// it starts at the write position; once ahead, a writer closing in makes
// it restart further ahead rather than be waited for. It pauses while the
// writer's fdatasyncs average more than 128 KiB, where writing every byte
// twice costs more than the conversion. Nothing depends on the zeros: an
// error stops the zeroer and nothing else.
//
// # Raft operations
//
// TruncateTail (truncate.go) moves the write position back, for a follower
// that drops a conflicting suffix: it runs on the Add/Flush goroutine once
// nothing is in flight, and the files after the new position are reused as
// they are, their old items left stale behind a new epoch. DeleteBefore
// (delete_files.go) drops whole files below a position, for compaction:
// they leave Files() and the read paths at once and, on the Executor once
// no reader holds them, are kept as spares (up to Options.RecycleFiles) or
// renamed to a ".tmp" name, cut down in steps, closed and removed
// (file_refs.go: ReadItem and
// Scanner.Next hold their file for one read, a Reader for as long as it is
// positioned in it). A Reader (reader.go) reads items in order for
// replication: written bytes by pread in large blocks, bytes still in flight
// from the encode buffers, up to what was flushed. Two watermarks tell it
// which is which: WrittenPos, advanced in order by the write tasks'
// OnWritten, and the flushed position, advanced by Flush; both are updated
// under the in-flight mutex, so a reader holding it finds every flushed byte
// in one place or the other.
package logqueue
