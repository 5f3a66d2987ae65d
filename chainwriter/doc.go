// Package chainwriter is the ordered write stage and the force stage of one
// file queue: it turns a stream of write tasks (a file, an offset, buffers,
// a tag) into pwritev calls in submission order, and turns "written" into
// "durable" with as few fdatasync calls as possible, reporting the highest
// durable tag in order.
//
// # Goroutines
//
// A Writer owns exactly three goroutines, all started by New and stopped by
// Close:
//
//   - the write goroutine drains the bounded task queue in batches, merges
//     adjacent contiguous tasks on the same file into one WritevAt, calls
//     each task's OnWritten, publishes WrittenTag and hands the set of files
//     it touched to the force goroutine;
//   - the force goroutine takes everything handed off since its last round
//     (while one fdatasync runs, any number of batches may be written and
//     their hand-offs coalesce), calls Sync once per distinct file, then
//     publishes ForcedTag and hands the tag to the report goroutine;
//   - the report goroutine calls OnForced with the newest tag handed to it,
//     so that the next round's fdatasync does not wait for the callback
//     (which completes the round's futures).
//
// Producers never call Sync and never wait for the disk except through the
// bounded queue: Submit blocks only while QueueSize tasks are waiting.
//
// # Claims
//
// A producer that will wait for its task anyway may instead try to claim
// the writer (TryClaim). A claim is granted only when the writer is idle:
// every task submitted so far written, every force round finished. The
// claimant then writes, fdatasyncs, publishes and reports its one task on
// its own goroutine (Claim.WriteSync), with no hand-off to the three
// goroutines, each of which costs a thread wake. While a claim is held the
// write and force goroutines wait for it, so tasks submitted meanwhile are
// written after the claimed one.
//
// # Invariants
//
//   - Tasks are written in submission order; OnWritten calls follow that
//     order; OnForced tags go up from one call to the next (a call may
//     cover several rounds), and OnForced(t) runs only once ForcedTag ≥ t.
//   - A tag is reported by OnForced (and ForcedTag) only after every task
//     submitted up to and including the task carrying it was written and
//     every file those tasks touched was fdatasync'd after the write.
//   - ForcedTag <= WrittenTag at every instant.
//   - The first write or sync error is sticky: OnError is called once, no
//     tag is reported after it, every later Submit returns it, and a failed
//     fdatasync is never retried (the kernel may have dropped the dirty
//     pages, so a later successful fdatasync would prove nothing).
//   - Every task accepted by Submit gets exactly one OnWritten call, with a
//     nil error only if its bytes were handed to the operating system.
//   - A claim is granted only when no task is queued or being written, the
//     hand-off is empty and no round that took it is still running: so
//     every earlier task is already durable (or the writer failed), and
//     the claimed task's fdatasync of its own file is all its tag needs.
package chainwriter
