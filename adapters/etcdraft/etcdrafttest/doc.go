// Package etcdrafttest checks that a raft.Storage keeps the contract
// go.etcd.io/raft/v3 relies on: the exact error values raft compares with ==
// (ErrCompacted, ErrUnavailable, ErrSnapOutOfDate), maxSize in Entries (a
// prefix, at least one entry), the term kept for FirstIndex-1 after
// compaction and snapshot install, and FirstIndex/LastIndex through appends
// that overwrite a suffix, compaction and snapshots.
//
// Run takes a factory for a fresh, empty Store. raft.MemoryStorage is a
// Store as it is, so the reference implementation runs the same checks as
// any other (see this package's test), which is what makes them fair.
package etcdrafttest
