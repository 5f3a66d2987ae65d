// Package hraft plugs raftlog into hashicorp/raft: Store is a
// raft.LogStore, raft.StableStore, raft.MonotonicLogStore and
// raft.CommitTrackingLogStore backed by one raftlog directory.
//
// Mapping:
//
//   - raft.Log ↔ raftlog.Entry: Index, Term, Type and Data map one to one,
//     Extensions is the entry Header, AppendedAt the Timestamp (Unix nanos;
//     the zero time is stored as math.MinInt64 because raftlog reads a zero
//     timestamp as "now").
//   - StoreLogs appends and waits for the future: hashicorp/raft expects the
//     entries durable when it returns.
//   - DeleteRange of a suffix is TruncateTail, of a prefix CompactTo, of
//     everything a durable "reset" property: the log reads as empty until
//     the next StoreLogs, which installs an empty snapshot just below its
//     first index (so it may start anywhere) and then clears the property.
//     A range strictly inside the log is refused: raft never asks for one.
//   - The stable store is raftlog's properties (status file). Absent keys
//     give (nil, nil) and (0, nil), as raft's StableStore documents and
//     raft-wal does; raft also accepts raft-boltdb's "not found" error.
//     An empty value deletes the key, so Get of a key set to empty is nil.
//   - The commit index (CommitTrackingLogStore) is the hard state's Commit.
//
// Store owns no goroutine of its own: the raftlog.Log it opens owns its
// stages and Close stops them.
package hraft
