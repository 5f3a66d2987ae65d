// Package etcdraft runs go.etcd.io/raft/v3 on a raftlog log.
//
// Storage implements raft.Storage over a raftlog.Log and adds what an
// application needs to write to it, in the two ways raft offers:
//
//   - Synchronous Ready handling: SaveReady persists a Ready's snapshot,
//     entries and HardState, in that order, and returns once they are
//     durable (call it before sending rd.Messages and calling Advance).
//   - AsyncStorageWrites: RunAsync is the "local append thread". It takes
//     MsgStorageAppend messages in order, turns each into pipelined raftlog
//     calls without waiting for the previous one to be durable, and delivers
//     each message's Responses only after its writes are durable, in order.
//     Appends in flight share fdatasyncs.
//
// MsgStorageApply messages are the application's: it applies the committed
// entries to its state machine (and calls RawNode.ApplyConfChange for
// configuration changes on the raft goroutine), then steps the Responses back
// into the node. A MsgStorageAppend that carries a snapshot tells the
// application to replace its state machine with the snapshot's data.
//
// # Layout of a directory
//
//	DIR/log/                         the raftlog directory (entries, HardState,
//	                                 snapshot metadata as a property)
//	DIR/snap/TTTTTTTTTTTTTTTT-IIIIIIIIIIIIIIII.snap
//	                                 the data of the current snapshot (term,
//	                                 index in hex), followed by its CRC32C
//
// The current snapshot is the one whose metadata (index, term, ConfState) is
// stored in the log's property "etcdraft.snapshot". A snapshot is installed in
// three durable steps: write the data file, set the property, then
// raftlog.InstallSnapshot. A crash after the first step leaves an orphan file
// (deleted at Open); a crash after the second leaves a property that the log
// does not reflect yet, and Open finishes the install. A snapshot created from
// local state (CreateSnapshot) is at an index the log holds with the same term,
// which is how Open tells the two apart.
//
// # Goroutines
//
// Storage starts none outside RunAsync. RunAsync runs until its context is
// cancelled or its input channel is closed, and starts one helper goroutine
// that waits for durability and delivers responses; both have exited when
// RunAsync returns. Every method of Storage is safe for concurrent use.
package etcdraft
