package chainwriter

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/raftlog/raftlog/vfs"
)

// slowSync is the force-round duration above which a warning is logged
// (etcd warns above one second too).
const slowSync = time.Second

// handoff is what the write goroutine has written and the force goroutine
// has not yet taken. Batches written while a force round runs accumulate
// here, which is how one fdatasync covers all of them: the write goroutine
// never waits for the force goroutine, and the hand-off never grows beyond
// the number of distinct files written since the last round.
type handoff struct {
	files   []vfs.File // distinct files written since the last take
	tag     uint64     // highest tag written since the last take
	bytes   int64      // bytes written since the last take
	pending bool       // something was handed off since the last take
	running bool       // a round took the hand-off and has not finished
	done    bool       // the write goroutine has exited
}

// handOff adds a written batch to the hand-off and wakes the force
// goroutine.
func (w *Writer) handOff(files []vfs.File, tag uint64, bytes int64) {
	w.hmu.Lock()
	for _, f := range files {
		w.h.files = addFile(w.h.files, f)
	}
	w.h.tag = max(w.h.tag, tag)
	w.h.bytes += bytes
	w.h.pending = true
	w.hmu.Unlock()
	w.wake()
}

// handOffDone tells the force goroutine that nothing more will be handed
// off.
func (w *Writer) handOffDone() {
	w.hmu.Lock()
	w.h.done = true
	w.hmu.Unlock()
	w.wake()
}

// wake signals the force goroutine. The state change is made before the
// signal and read after it is received, so a full kick channel already
// guarantees a take that will see the change.
func (w *Writer) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// runForces is the force goroutine.
func (w *Writer) runForces() {
	defer close(w.forceExited)
	var files []vfs.File // swapped with h.files, so both keep their capacity
	for {
		<-w.kick
		w.hmu.Lock()
		files, w.h.files = w.h.files, files
		tag, bytes, pending, done := w.h.tag, w.h.bytes, w.h.pending, w.h.done
		w.h.tag, w.h.bytes, w.h.pending = 0, 0, false
		// Marked under hmu with the take, so that a claim (claim.go) never
		// finds the hand-off empty while a round that took it is yet to
		// sync.
		w.h.running = pending
		w.hmu.Unlock()

		if pending {
			if w.hooks.roundTaken != nil {
				w.hooks.roundTaken()
			}
			w.forcing.Store(true)
			w.forceRole.Lock()
			w.force(files, tag, bytes)
			w.forceRole.Unlock()
			w.hmu.Lock()
			w.h.running = false
			w.hmu.Unlock()
			w.forcing.Store(false)
			select {
			case w.roundDone <- struct{}{}:
			default:
			}
		}
		clear(files)
		files = files[:0]
		if done {
			return
		}
	}
}

// force runs one round: one Sync per file, then the report.
func (w *Writer) force(files []vfs.File, tag uint64, bytes int64) {
	if w.Err() != nil {
		// Never sync after a failure: a failed fdatasync is not retried,
		// and after a failed write nothing is reported anyway.
		return
	}
	if w.syncFiles(files, bytes) == nil {
		w.publishForced(tag)
	}
}

// syncFiles calls Sync on each file, reports the round to the Observer and
// fails the writer on the first error, which it returns.
func (w *Writer) syncFiles(files []vfs.File, bytes int64) error {
	start := time.Now()
	for _, f := range files {
		if err := f.Sync(); err != nil {
			err = fmt.Errorf("chainwriter: fdatasync of %s: %w", f.Name(), err)
			w.fail(err)
			return err
		}
	}
	elapsed := time.Since(start)
	if w.opts.Observer != nil {
		w.opts.Observer.Forced(len(files), bytes, elapsed.Nanoseconds())
	}
	if elapsed > slowSync {
		slog.Warn("chainwriter: slow fdatasync", "files", len(files), "bytes", bytes, "duration", elapsed)
	}
	return nil
}
