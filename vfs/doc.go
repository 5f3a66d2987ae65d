// Package vfs is the one door through which raftlog touches the disk.
//
// Every package above it (chainwriter, logqueue, idxqueue, status, restore and
// the root package) opens, writes, syncs, renames and removes files only
// through the FS and File interfaces defined here. That gives three
// implementations one shape:
//
//   - Default: the real operating system, using pwritev, fdatasync,
//     fallocate and flock from golang.org/x/sys/unix. Its files also
//     implement Mapper (read-only shared mmap), which the others do not.
//   - NewMem: an in-memory file system that can Crash: the clone it returns
//     keeps only what was synced (file data by File.Sync, directory entries by
//     FS.SyncDir), which is what survives a power loss. CrashWithLoss also
//     keeps a random part of the unsynced data, page by page.
//   - NewErrorFS: a wrapper that injects errors (failed or short writes,
//     failed syncs, ENOSPC, failed create/rename/remove) at chosen operations.
//
// Only this package imports os for files. Nothing in it starts goroutines;
// every implementation is safe for concurrent use.
//
// Invariants every implementation keeps:
//   - File.Sync makes the file's data durable (fdatasync); it does not make
//     the file's name durable. FS.SyncDir does that for every entry of a
//     directory created, renamed or removed before it.
//   - WritevAt writes the buffers back to back starting at off and returns
//     the number of bytes written; a short count comes with a non-nil error.
//   - ReadAt past the end returns the bytes there are and io.EOF.
//   - A missing file gives an error matching fs.ErrNotExist, creating an
//     existing one fs.ErrExist, any call on a closed File os.ErrClosed, and
//     writing through OpenReadOnly syscall.EBADF.
//   - Lock takes an exclusive advisory lock on a directory that conflicts
//     with every other Lock of the same directory, in this process or
//     another, until the returned Closer is closed. It leaves an empty file
//     named LOCK in the directory, which List reports.
//
// # The crash model of MemFS
//
// Each file has two images: what the page cache holds (current) and what the
// last File.Sync made durable (synced). Each directory has two sets of
// entries: the current ones and those of its last SyncDir. Crash builds a new
// MemFS from the durable entries, each file with its synced image; a file
// whose name is durable but whose data was never synced comes back empty.
// Directories themselves are durable as soon as MkdirAll makes them (and gone
// as soon as Remove deletes them): raftlog makes its directory once, and
// modelling the fsync of parents would only add noise.
//
// Files are stored as sparse 4 KiB pages shared copy-on-write between the
// two images and crash clones, so a preallocated 1 GiB file costs nothing,
// Sync costs one map update per page written since the previous Sync, and
// the pages that may differ between current and synced are known exactly.
// CrashWithLoss keeps each of those pages old, new or torn (a prefix of the
// new page over the rest of the old one), and the synced or current size,
// all drawn from a seeded rng in a fixed order so that runs reproduce.
//
// # Error injection
//
// ErrorFS asks its Injector before each Create, Open, OpenReadOnly, Remove,
// Rename, SyncDir and each File ReadAt, WriteAt, WritevAt, Sync, Allocate and
// Truncate (see Op); List, MkdirAll, Lock, Exists and File Size, Name and
// Close always pass through. A non-nil answer fails the call before it
// reaches the inner FS, wrapped with the operation, the name and for reads
// and writes the offset, except ShortWrite, which lets a write store a
// prefix first. Crash tests combine the two: run a workload on
// NewErrorFS(mem, OnIndex(k)) for k = 0, 1, 2, … until it no longer fails,
// and check what mem.Crash() holds after each.
package vfs
