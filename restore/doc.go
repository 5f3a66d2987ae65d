// Package restore brings a raftlog directory back to a consistent state at
// start-up.
//
// It runs once, on the goroutine that calls raftlog.Open, before any
// background stage exists. Its input is the state loaded from the status
// file and the opened log and index queues; its output is the last index and
// term, the position where the next item goes, and the positions of the items
// that the index files do not cover yet (the unpersisted tail).
//
// The work is proportional to that tail, not to the size of the log:
//
//  1. The status file says up to which index the index files are trusted
//     (PersistedIndex, P). The index files give the position of P; the item
//     found there must carry index P.
//  2. From the item after P the log is scanned forward, validating every
//     item: both CRCs (seeded by the item's position), index = previous + 1,
//     prevTerm = previous term, term never going down, and an epoch that
//     never goes down and is not above the epoch in the status file. Every
//     open and every tail truncation raises the epoch before anything is
//     written, so an intact item left over from an earlier incarnation of
//     the same byte range stops the chain.
//  3. The first item that fails these checks, or unwritten space, ends the
//     log. Everything after it is the torn tail of writes that were never
//     acknowledged; it is zeroed so it cannot be mistaken for data later.
//  4. The files that hold the scanned tail are fdatasync'd: what a killed
//     process left in the page cache becomes durable before Open reports
//     it, so nothing Open shows can vanish in a later power loss.
package restore
