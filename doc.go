// Package raftlog is a storage engine for Raft logs built for leaders that
// pipeline their appends.
//
// A caller hands Append a batch of entries and gets a future that completes
// once the batch, and everything appended before it, is written and
// fdatasync'd. Append does not wait for the disk: it checks the batch,
// encodes it into pooled buffers and hands it to the write stage, so the next
// batch is being encoded while this one is written and the one before is
// synced. Many batches in flight share one fdatasync. AppendWait is Append
// followed by Wait for a caller that waits for every batch anyway; when
// nothing else is in flight it writes and fdatasyncs the batch on the
// caller's goroutine, sparing the hand-offs (thread wakes) to the stages.
//
// # Layout of a directory
//
//	LOCK                      flock held while a Log has the directory open
//	status                    two alternating checksummed slots: hard state,
//	                          persisted index, first index, epoch, properties
//	00000000000000000000.log  log files, fixed size (Options.LogFileSize),
//	00000000001073741824.log  named by the log position of their first byte
//	00000000000000000000.idx  index files: one 8-byte log position per Raft
//	00000000000001048576.idx  index, Options.IdxItemsPerFile per file, named
//	                          by their first index
//
// # Goroutines
//
// The Log owns every goroutine it starts and stops them in Close:
//
//   - the caller's goroutine validates and encodes (Append holds the append
//     lock only while encoding), and, for AppendWait on an idle log, also
//     writes, syncs and completes its batch after releasing that lock;
//   - the log chainwriter's write goroutine issues pwritev calls in order,
//     its force goroutine runs one fdatasync per file per round, and its
//     report goroutine completes futures in order (so that the next round's
//     fdatasync need not wait for them);
//   - the index queue's flush goroutine writes positions of durable entries
//     to the index files, syncs them and records the persisted index in the
//     status file;
//   - the status goroutine saves hard states once the appends before them are
//     durable;
//   - an ants pool preallocates the next log file in the background.
//
// # Durability
//
// A future completes with nil only after its entries and all earlier ones are
// durable. After a crash, Open restores a prefix of what was appended that
// holds every entry whose future completed. A failed write or fdatasync fails
// the log: every pending and later call gets an error wrapping ErrFailed, and
// the log must be reopened; an fdatasync is never retried.
package raftlog
