// Package idxqueue maps Raft indexes to the 8-byte log positions of their
// items: recent positions in memory, older ones in index files.
//
// # Roles and goroutines
//
// The appender calls Put(index, pos) for every entry it assigns a position,
// in index order, from one goroutine at a time. Put never blocks and never
// allocates: it stores the position in a LongLongSeqMap, a ring buffer keyed
// by (index − first index held). When MaxPending positions are held, Put
// returns ErrFull and the appender calls WaitRoom.
//
// Whoever learns that log entries are durable (the force stage) calls
// Durable(index); it never blocks. One flush goroutine, started by Start and
// stopped by Close, owns the index files' writes and syncs. It flushes when
// FlushThreshold durable positions wait, when the map is more than half full,
// when someone is blocked in WaitRoom, when FlushInterval passes, and on
// Close. A flush copies the positions of (persisted, durable] out of the map
// under the mutex (a few thousand at a time), writes them with one pwrite per
// file, syncs every file written, calls OnPersisted(durable) (where raftlog
// records the persisted index in its status file), publishes the new
// persisted index, and only then removes those positions from the map and
// wakes WaitRoom. The mutex is never held across disk I/O. The same goroutine
// creates index files ahead of need.
//
// Position may be called from any goroutine: it answers from the map if the
// index is held there, else from the index file if the index is at most the
// persisted index (before Start, from any existing file). On the real file
// system every index file is mapped read-only (shared), so reading a
// persisted position is a load from the page cache rather than an 8-byte
// pread; index files never change size, and a file is unmapped under the
// set's write lock when it is removed or closed, while readers hold the
// read lock.
//
// # Truncation, compaction and snapshot install
//
// TruncateTail(i) forgets the positions of indexes ≥ i and lowers the
// persisted index to at most i−1; CompactTo(f) forgets those below f and
// raises the persisted index to at least f−1; Reset(f) forgets all of them
// and sets the persisted index to f−1. All three first take the lock a flush
// holds from start to finish, so they wait for a flush in progress
// (OnPersisted included) and none starts while they run; they change only
// memory under the mutex. Slots above the persisted index in the files are
// stale and never read. Index files entirely below the first index are
// detached at once and removed in the background by one remover goroutine
// (file_remover.go), which Close waits for; the flush never writes below
// the first index, so it never re-creates them. Position below FirstIndex
// returns an error matching ErrCompacted and ErrNotFound. None of these
// calls writes the persisted or first index anywhere: the caller records
// them (raftlog's status file) so that, after a crash, the files are trusted
// only where they should be.
//
// # File layout
//
// The file for index i covers ItemsPerFile (a power of two, default 2^20)
// consecutive indexes starting at first = i − i%ItemsPerFile, and is named
// by first as 20 decimal digits: 00000000000001048576.idx. It is exactly
// ItemsPerFile*8 bytes: slot k holds the position of index first+k as a
// little-endian int64. Index 0 is never used, so slot 0 of file 0 stays zero.
//
//	00000000000000000000.idx (ItemsPerFile = 8)
//	+--------+--------+--------+--------+--------+--------+--------+--------+
//	| unused | pos(1) | pos(2) | pos(3) | pos(4) | pos(5) | pos(6) | pos(7) |
//	+--------+--------+--------+--------+--------+--------+--------+--------+
//	 0        8        16       24       32       40       48       56      64
//	   8 B each, int64 little-endian, file offset = (i % ItemsPerFile) * 8
//
//	00000000000000000008.idx
//	+--------+--------+-- ... --+--------+
//	| pos(8) | pos(9) |         | pos(15)|
//	+--------+--------+-- ... --+--------+
//
// A new file is written in full with zeros as <name>.tmp, synced, renamed to
// <name> and its directory synced, so a file under its final name always has
// its full size; Open removes any *.idx.tmp left by a crash and rejects (with
// ErrCorrupt) an index file whose name is not aligned to ItemsPerFile or
// whose size is wrong.
//
// # Crash invariant
//
// OnPersisted(n) is called only after the positions of every index ≤ n are
// written and fdatasync'd, and their files' names are durable; so after a
// crash, the files hold a correct position for every index up to the
// persisted index the caller recorded. Slots above it may hold zeros or
// positions from before the crash and are not trusted: a zero is also a
// valid position (the first item of the log), so only the persisted index
// tells them apart, and readers still check that the item found at a
// position carries the index they asked for. The first write, sync, create
// or OnPersisted error is sticky: the queue stops flushing, OnError is
// called once, and Put, WaitRoom and Close return it. A failed sync is never
// retried.
package idxqueue
