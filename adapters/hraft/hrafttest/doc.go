// Package hrafttest is a conformance suite for hashicorp/raft log and
// stable stores. Run checks what raft relies on: first and last index of
// an empty and a filled log, every field of raft.Log round-tripping,
// batched StoreLogs, DeleteRange of a prefix, a suffix and everything
// (and storing at a new index afterwards), raft.ErrLogNotFound returned
// exactly (raft compares it with ==), stable-store values and absent keys,
// and, for a persistent store, that everything survives a close and reopen.
//
// It runs against any store: raftlog's adapter, raft.NewInmemStore,
// raft-boltdb, raft-wal. It starts no goroutines.
package hrafttest
