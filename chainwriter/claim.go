package chainwriter

import "github.com/raftlog/raftlog/vfs"

// Claim is the writer reserved for one task written and fdatasync'd on the
// caller's goroutine. A caller that is going to wait for its task anyway
// (append-and-wait) saves the hand-offs to the write, force and report
// goroutines, each a thread wake, when nothing else is in flight; under
// load it gets no claim and submits as usual, so group commit is kept.
//
// The zero Claim holds nothing. A Claim from TryClaim must be used exactly
// once: WriteSync or Release.
type Claim struct{ w *Writer }

// TryClaim reserves the writer if it is idle: every task submitted so far
// has been written, every force round has finished (so all of them are
// durable, or the writer has failed), and the writer has neither failed
// nor been closed. It returns false, holding nothing, otherwise.
//
// While the claim is held, tasks submitted by others queue up and are
// written after the claimed task, and no force round runs; Close waits for
// the claim to end. The caller orders the claim against its own Submits
// (as it orders Submits among themselves): the task written with the claim
// must carry a tag no lower than any task submitted before TryClaim, and
// tasks submitted after it no lower than the claimed one.
func (w *Writer) TryClaim() (Claim, bool) {
	if w.queued.Load() != 0 || !w.mu.TryRLock() {
		return Claim{}, false
	}
	if w.closed || !w.writeRole.TryLock() {
		w.mu.RUnlock()
		return Claim{}, false
	}
	if !w.forceRole.TryLock() {
		w.writeRole.Unlock()
		w.mu.RUnlock()
		return Claim{}, false
	}
	// With writeRole held nothing more is written or handed off: queued
	// is exact, and an empty, unclaimed hand-off with no round running
	// means every written task was synced by a round that has finished.
	w.hmu.Lock()
	busy := w.h.pending || w.h.running
	w.hmu.Unlock()
	if busy || w.queued.Load() != 0 || w.Err() != nil {
		w.release()
		return Claim{}, false
	}
	return Claim{w: w}, true
}

// Release gives the claim back without writing.
func (c Claim) Release() {
	if c.w != nil {
		c.w.release()
	}
}

func (w *Writer) release() {
	w.forceRole.Unlock()
	w.writeRole.Unlock()
	w.mu.RUnlock()
}

// WriteSync writes t, calls its OnWritten, fdatasyncs t.File, publishes
// t.Tag as WrittenTag and ForcedTag, releases the claim and then reports
// t.Tag through OnForced on the calling goroutine, so the caller's own
// completion needs no other goroutine. It returns the writer's sticky
// error if the write or the sync failed (OnError has then been called, and
// the tag is never reported). A Task with a nil File panics, as in Submit.
func (c Claim) WriteSync(t Task) error {
	w := c.w
	if w == nil {
		panic("chainwriter: WriteSync on a zero Claim")
	}
	if t.File == nil {
		c.Release()
		panic("chainwriter: WriteSync of a Task with a nil File")
	}
	l := &w.claimLoop
	l.batch = append(l.batch[:0], t)
	_, bytes, err := w.writeTasks(l)
	clear(l.batch)
	l.batch = l.batch[:0]
	published := false
	if err == nil {
		if err = w.syncFiles([]vfs.File{t.File}, bytes); err == nil {
			published = w.publish(t.Tag)
		}
	}
	// Released before the report: OnForced completes futures whose
	// callbacks may submit more, which must not wait for this claim.
	w.release()
	if err != nil {
		return err
	}
	if !published {
		return w.Err() // failed by another goroutine after the sync
	}
	if w.opts.OnForced != nil {
		w.report(t.Tag)
	}
	return nil
}
