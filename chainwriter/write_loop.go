package chainwriter

import (
	"fmt"
	"io"
	"time"

	"github.com/raftlog/raftlog/vfs"
)

// writeLoop is the state of the write goroutine. Every slice here is reused
// from batch to batch, so after warm-up writing a batch allocates nothing.
type writeLoop struct {
	maxWrite int
	observer Observer

	batch []Task     // tasks taken from the queue in one go
	files []vfs.File // distinct files of the current batch

	// The run being built: buffers contiguous in runFile starting at runOff.
	runFile vfs.File
	runOff  int64
	runSize int
	iov     [][]byte
}

func (l *writeLoop) init(opts Options) {
	l.maxWrite = opts.MaxWriteSize
	l.observer = opts.Observer
	l.batch = make([]Task, 0, opts.QueueSize)
	l.iov = make([][]byte, 0, maxIovecs)
}

// runWrites is the write goroutine.
func (w *Writer) runWrites() {
	defer close(w.writeExited)
	defer w.handOffDone()
	l := &w.wl
	for {
		t, ok := <-w.queue
		if !ok {
			return
		}
		l.batch = append(l.batch, t)
	fill:
		for len(l.batch) < cap(l.batch) {
			select {
			case t, ok := <-w.queue:
				if !ok {
					// The next receive above sees the closed queue.
					break fill
				}
				l.batch = append(l.batch, t)
			default:
				break fill
			}
		}
		w.holdWhileForcing()
		w.writeRole.Lock()
		w.writeBatch()
		// Counted down under writeRole, after the hand-off: a claim that
		// holds writeRole and finds nothing queued knows every task
		// submitted before it was written and handed to the force
		// goroutine.
		w.queued.Add(-int64(len(l.batch)))
		w.writeRole.Unlock()
		clear(l.batch) // drop Bufs and callbacks so they can be collected
		l.batch = l.batch[:0]
	}
}

// holdBytes is how much a batch may grow to while held for a force round.
const holdBytes = 16 << 10

// holdWhileForcing keeps adding queued tasks to a small batch for as long as
// a force round runs, instead of writing it at once. A round in progress
// cannot cover the batch anyway (it took the hand-off when it started), and
// many appenders each submitting a little would otherwise cost one pwritev
// (and one journal handle for the file's mtime) per submission: with 128
// concurrent single-entry appenders that was most of the CPU. The batch is
// written as soon as the round ends, the batch passes holdBytes or fills,
// or the queue is closed.
func (w *Writer) holdWhileForcing() {
	l := &w.wl
	if !w.forcing.Load() {
		return
	}
	size := 0
	for i := range l.batch {
		size += l.batch[i].size()
	}
	for size < holdBytes && len(l.batch) < cap(l.batch) && w.forcing.Load() {
		select {
		case t, ok := <-w.queue:
			if !ok {
				return // runWrites sees the closed queue after this batch
			}
			l.batch = append(l.batch, t)
			size += t.size()
		case <-w.roundDone:
			// forcing is checked again; a token left by an earlier round
			// costs one more look.
		}
	}
}

// writeBatch writes the write goroutine's batch (writeTasks), then hands
// it to the force goroutine.
func (w *Writer) writeBatch() {
	l := &w.wl
	tag, bytes, err := w.writeTasks(l)
	if err != nil {
		return
	}
	l.files = l.files[:0]
	for i := range l.batch {
		l.files = addFile(l.files, l.batch[i].File)
	}
	w.handOff(l.files, tag, bytes)
	clear(l.files)
	if w.hooks.handedOff != nil {
		w.hooks.handedOff(tag)
	}
}

// writeTasks writes l.batch unless the writer has failed, calls OnWritten
// for each task in order, and publishes the batch's highest tag to
// WrittenTag. It returns that tag, the bytes written and the sticky error.
// The write goroutine and the holder of a claim call it, each with its own
// writeLoop, under writeRole.
func (w *Writer) writeTasks(l *writeLoop) (tag uint64, bytes int64, err error) {
	err = w.Err()
	if err == nil {
		bytes, err = l.write()
		if err != nil {
			w.fail(err)
			// Report the sticky error, which may be an earlier one from
			// the force goroutine, so every task sees the same cause.
			err = w.Err()
		}
	}
	for i := range l.batch {
		t := &l.batch[i]
		tag = max(tag, t.Tag)
		if t.OnWritten != nil {
			t.OnWritten(err)
		}
	}
	if err != nil {
		return 0, bytes, err
	}
	if tag > w.written.Load() {
		w.written.Store(tag)
	}
	return tag, bytes, nil
}

// write issues the WritevAt calls for l.batch, merging contiguous buffers on
// one file into one call of at most maxWrite bytes and maxIovecs buffers.
// It returns the bytes written.
func (l *writeLoop) write() (int64, error) {
	defer func() { l.runFile = nil }() // do not keep a file the caller may close
	var total int64
	for i := range l.batch {
		t := &l.batch[i]
		off := t.Offset
		for _, b := range t.Bufs {
			if len(b) == 0 {
				continue
			}
			if t.File != l.runFile || off != l.runOff+int64(l.runSize) ||
				len(l.iov) == maxIovecs || (l.runSize > 0 && l.runSize+len(b) > l.maxWrite) {
				n, err := l.flush()
				total += int64(n)
				if err != nil {
					return total, err
				}
				l.runFile, l.runOff = t.File, off
			}
			l.iov = append(l.iov, b)
			l.runSize += len(b)
			off += int64(len(b))
		}
	}
	n, err := l.flush()
	total += int64(n)
	return total, err
}

// flush writes the pending run, if any, with one WritevAt.
func (l *writeLoop) flush() (int, error) {
	if len(l.iov) == 0 {
		return 0, nil
	}
	var start time.Time
	if l.observer != nil {
		start = time.Now()
	}
	n, err := l.runFile.WritevAt(l.iov, l.runOff)
	if l.observer != nil {
		l.observer.Wrote(n, time.Since(start).Nanoseconds())
	}
	if err == nil && n != l.runSize {
		err = io.ErrShortWrite
	}
	if err != nil {
		err = fmt.Errorf("chainwriter: write of %d bytes to %s at offset %d: %w",
			l.runSize, l.runFile.Name(), l.runOff, err)
	}
	clear(l.iov)
	l.iov = l.iov[:0]
	l.runSize = 0
	return n, err
}

// addFile appends f to files unless it is already there. A batch touches
// one or two files, so a linear scan beats any set.
func addFile(files []vfs.File, f vfs.File) []vfs.File {
	for i := len(files) - 1; i >= 0; i-- {
		if files[i] == f {
			return files
		}
	}
	return append(files, f)
}
