package chainwriter

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/raftlog/raftlog/vfs"
)

// ErrClosed is returned by Submit after Close.
var ErrClosed = errors.New("chainwriter: closed")

// Task is one contiguous write: Bufs written back to back into File at
// Offset. Tasks are written in the order they are submitted.
//
// File must be a comparable value (the vfs implementations are pointers):
// the force goroutine collects the distinct files of a round with ==. The
// caller must not close File before a tag submitted after its last task on
// that file has been reported by OnForced.
type Task struct {
	File   vfs.File
	Offset int64
	Bufs   [][]byte
	// Tag is reported through Options.OnForced once this task and every task
	// submitted before it are written and fdatasync'd. Tags must not go down
	// from one task to the next; a task that must not advance the durable
	// mark (the first part of a batch that spans two files) repeats the
	// previous tag.
	Tag uint64
	// OnWritten, if set, is called on the write goroutine once the task's
	// bytes have been handed to the OS (or the write failed: err != nil).
	// The buffers are no longer used by the writer after it returns.
	OnWritten func(err error)
	// A task with no Bufs writes nothing but still has File synced in the
	// next force round.
}

// size is the bytes the task writes.
func (t *Task) size() int {
	n := 0
	for _, b := range t.Bufs {
		n += len(b)
	}
	return n
}

// Options configure a Writer. Zero values mean the defaults given.
type Options struct {
	// QueueSize bounds the number of tasks submitted but not yet written;
	// Submit blocks when it is full. Default 1024.
	QueueSize int
	// MaxWriteSize caps the bytes of one pwritev built by merging adjacent
	// tasks on the same file. Default 4 MiB.
	MaxWriteSize int
	// OnForced is called on the report goroutine with the highest tag that
	// is now durable, after the fdatasync calls that made it so; each call
	// has a higher tag than the one before (tags made durable while a call
	// runs are reported together by the next one). It must not block for
	// long.
	OnForced func(tag uint64)
	// OnError is called once, on the goroutine that hit it, with the first
	// write or sync error. After it the writer is failed: no later tag is
	// ever reported, and Submit returns that error.
	OnError func(err error)
	// Observer, if set, receives per-round figures (may be nil).
	Observer Observer
}

// Defaults of Options.
const (
	DefaultQueueSize    = 1024
	DefaultMaxWriteSize = 4 << 20
	// maxIovecs caps the buffers of one WritevAt: IOV_MAX on Linux.
	maxIovecs = 1024
)

func (o *Options) ensureDefaults() {
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.MaxWriteSize <= 0 {
		o.MaxWriteSize = DefaultMaxWriteSize
	}
}

// Observer receives measurements from the two stages. Implementations must
// be cheap and safe for use from two goroutines.
type Observer interface {
	// Wrote reports one pwritev: bytes written and how long it took.
	Wrote(bytes int, nanos int64)
	// Forced reports one force round: how many files were fdatasync'd, the
	// bytes made durable and how long the syncs took.
	Forced(files int, bytes int64, nanos int64)
}

// Writer is the write stage and the force stage of one file queue.
//
// The pipeline is: Submit → queue (bounded channel) → write goroutine
// (pwritev, OnWritten, WrittenTag) → hand-off → force goroutine (fdatasync
// per file, ForcedTag) → report goroutine (OnForced). Splitting write from
// sync lets batch k+1 be written while batch k is being synced; that split
// is what the following argument has to make safe. Reporting on a third
// goroutine lets round k+1's fdatasync start while round k's callback
// still runs.
//
// Why a reported tag is durable. The write goroutine adds a batch's files
// and highest tag to the hand-off only after every WritevAt of the batch
// has returned successfully. The force goroutine takes the hand-off (files
// F, tag T) under the hand-off mutex, so every batch whose tag is ≤ T (all
// of them submitted no later than the task carrying T, because tags do not
// go down) had finished writing before the take, and each of its files is
// either in F or was in the F of an earlier round that also succeeded (a
// failed round makes the writer failed and no round reports after it). The
// force goroutine then calls Sync on every file of F, each call starting
// after the take and so after the writes it must cover; fdatasync covers
// everything written to the file before it started. Only when all calls
// succeed is T published and reported.
//
// Why order is preserved. There is one queue and one write goroutine; a
// batch is a prefix of what is left in the queue, written buffer by buffer
// in queue order (merging only joins neighbours, it never reorders), and
// OnWritten runs in queue order after the batch. Hand-offs are merged with
// max on the tag, and rounds run one after another on one goroutine, so
// the published tags never go down, and the report goroutine reports only
// a tag above the last one it reported. WrittenTag is published before the
// hand-off and ForcedTag only after it, so ForcedTag ≤ WrittenTag.
//
// Holding small batches. While a force round runs, the write goroutine may
// keep a batch of less than holdBytes unwritten and add later tasks to it
// (holdWhileForcing): the round in progress took its hand-off before these
// tasks were written, so it could not cover them anyway. The batch is then
// written and handed off as any other, so neither argument above changes;
// what changes is that many small submissions cost one pwritev per round
// instead of one each.
//
// Claims (claim.go). A claim holds writeRole, which the write goroutine
// holds while it writes a batch, and forceRole, which the force goroutine
// holds during a round, and it is granted only when queued (tasks accepted
// by Submit and not yet written and handed off, counted down under
// writeRole) is zero, the hand-off is empty and no round is running (set
// under hmu together with the take). Then every task submitted before the
// claim was written, handed off, taken by a round that has finished, and
// so is durable or the writer has failed; the claimed task's own write and
// fdatasync make its tag durable, and the claimant publishes it (failMu)
// and reports it (reportMu) like a round. Tasks submitted while the claim
// is held wait for writeRole, so they are written after the claimed one,
// and their round waits for forceRole. The claim also holds the read side
// of mu, so Close waits for it; it is released before the report, whose
// callbacks may submit.
//
// What happens on error. The first error (a failed or short pwritev, a
// failed fdatasync) is stored once under failMu, and OnError is then called
// under reportMu. ForcedTag is published under failMu, and OnForced called
// under reportMu, each after checking that no error is stored, so no tag is
// reported once OnError has been called, even when the write goroutine
// fails while the force goroutine is between its syncs and its report.
// After the failure the write goroutine writes nothing more but still takes
// every queued task and calls OnWritten with the sticky error, so buffers
// are released and blocked submitters move on; the force goroutine never
// calls Sync again (a retried fdatasync may succeed on a file whose dirty
// pages the kernel already dropped). Submit returns the sticky error.
//
// Closing. Submit sends under the read side of mu; Close closes closing
// first (waking a Submit blocked on a full queue, which then returns
// ErrClosed), then takes the write side and closes the queue, so a send on
// a closed channel cannot happen and a blocked submitter never holds up
// Close. The write goroutine drains the closed queue to the end and then
// marks the hand-off done; the force goroutine runs one last round for
// what is left and exits; then Close closes the report goroutine's kick
// channel, and that goroutine reports what is left and exits. Close waits
// for all three.
type Writer struct {
	opts Options

	queue chan Task

	mu        sync.RWMutex // read: Submit's send; write: Close closing queue
	closed    bool         // guarded by mu
	closing   chan struct{}
	closeOnce sync.Once

	written atomic.Uint64
	forced  atomic.Uint64

	failMu sync.Mutex // orders the first failure against publishing ForcedTag
	err    atomic.Pointer[error]
	// reportMu orders OnForced and OnError calls: none overlaps another,
	// and none reports a tag once OnError has been called.
	reportMu sync.Mutex
	reported uint64 // the last tag given to OnForced; guarded by reportMu

	// reportTag is the newest tag handed to the report goroutine, which
	// reportKick (capacity 1) wakes; see publishForced.
	reportTag    atomic.Uint64
	reportKick   chan struct{}
	reportOnce   sync.Once
	reportExited chan struct{}

	hmu  sync.Mutex
	h    handoff       // guarded by hmu
	kick chan struct{} // capacity 1: "the hand-off changed"

	// queued counts tasks accepted by Submit and not yet written (and
	// handed off). writeRole is held by the write goroutine while it
	// writes a batch and by a claim (claim.go); forceRole by the force
	// goroutine during a round and by a claim.
	queued    atomic.Int64
	writeRole sync.Mutex
	forceRole sync.Mutex
	claimLoop writeLoop // owned by the holder of a claim

	// forcing is set while a force round runs; roundDone (capacity 1) is
	// signalled after each round. The write goroutine holds small batches
	// while a round runs (holdWhileForcing).
	forcing   atomic.Bool
	roundDone chan struct{}

	writeExited chan struct{}
	forceExited chan struct{}

	wl writeLoop // owned by the write goroutine

	hooks testHooks
}

// testHooks are seams for tests; all nil in production.
type testHooks struct {
	// handedOff runs on the write goroutine after a batch with the given
	// highest tag has been handed to the force goroutine.
	handedOff func(tag uint64)
	// roundTaken runs on the force goroutine after a round has taken the
	// hand-off and before it syncs.
	roundTaken func()
}

// New starts the write and force goroutines.
func New(opts Options) *Writer { return newWriter(opts, testHooks{}) }

func newWriter(opts Options, hooks testHooks) *Writer {
	opts.ensureDefaults()
	w := &Writer{
		opts:        opts,
		queue:       make(chan Task, opts.QueueSize),
		closing:     make(chan struct{}),
		kick:        make(chan struct{}, 1),
		roundDone:   make(chan struct{}, 1),
		writeExited: make(chan struct{}),
		forceExited: make(chan struct{}),
		hooks:       hooks,

		reportKick:   make(chan struct{}, 1),
		reportExited: make(chan struct{}),
	}
	w.wl.init(opts)
	w.claimLoop.init(opts)
	go w.runWrites()
	go w.runForces()
	go w.runReports()
	return w
}

// Submit queues t for writing. It blocks while the queue is full. It returns
// the sticky error if the writer has failed, or ErrClosed after Close.
// The caller must not touch t.Bufs until t.OnWritten has been called.
//
// A Task with a nil File is a programming error and panics.
func (w *Writer) Submit(t Task) error {
	if t.File == nil {
		panic("chainwriter: Submit of a Task with a nil File")
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return ErrClosed
	}
	if err := w.Err(); err != nil {
		return err
	}
	w.queued.Add(1)
	select {
	case w.queue <- t:
		return nil
	default:
	}
	select {
	case w.queue <- t:
		return nil
	case <-w.closing:
		w.queued.Add(-1)
		return ErrClosed
	}
}

// WrittenTag returns the highest tag whose task has been written.
func (w *Writer) WrittenTag() uint64 { return w.written.Load() }

// ForcedTag returns the highest tag made durable so far.
func (w *Writer) ForcedTag() uint64 { return w.forced.Load() }

// Err returns the sticky error, or nil.
func (w *Writer) Err() error {
	if p := w.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Close waits until every submitted task is written and forced (or the writer
// failed), stops both goroutines and returns the sticky error, if any. Calling
// Close again returns the same result.
//
// Close must not be called from OnWritten, OnForced or OnError: it waits for
// the goroutines those run on.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() {
		close(w.closing)
		w.mu.Lock()
		w.closed = true
		close(w.queue)
		w.mu.Unlock()
	})
	<-w.writeExited
	<-w.forceExited
	// The force goroutine, the only one that kicks the report goroutine,
	// has exited; a kick it left is still taken before the range ends.
	w.reportOnce.Do(func() { close(w.reportKick) })
	<-w.reportExited
	return w.Err()
}

// fail records err as the sticky error if there is none yet and calls
// OnError with it. It runs on the write or the force goroutine.
func (w *Writer) fail(err error) {
	w.failMu.Lock()
	first := w.err.Load() == nil
	if first {
		w.err.Store(&err)
	}
	w.failMu.Unlock()
	if !first || w.opts.OnError == nil {
		return
	}
	// After a report in progress, and before any later one, which finds
	// the error stored.
	w.reportMu.Lock()
	defer w.reportMu.Unlock()
	w.opts.OnError(err)
}

// publishForced publishes tag as durable, unless the writer has failed, and
// hands it to the report goroutine, which calls OnForced. The force
// goroutine thus starts its next round (the next fdatasync) without first
// running the callback, which completes every future of the round: with
// many appenders each waiting on its own future, running it between two
// rounds left the disk idle for as long as that took.
func (w *Writer) publishForced(tag uint64) {
	if !w.publish(tag) || w.opts.OnForced == nil {
		return
	}
	// Stored before the kick and loaded after it is received, so the
	// report goroutine sees this tag or a later one.
	w.reportTag.Store(tag)
	select {
	case w.reportKick <- struct{}{}:
	default:
	}
}

// publish raises ForcedTag to tag unless the writer has failed, and
// reports whether it had not.
func (w *Writer) publish(tag uint64) bool {
	w.failMu.Lock()
	defer w.failMu.Unlock()
	if w.err.Load() != nil {
		return false
	}
	if tag > w.forced.Load() {
		w.forced.Store(tag)
	}
	return true
}

// runReports is the report goroutine: it calls OnForced with the newest
// tag published, under reportMu so that no report follows OnError. A kick
// may find the tag of a later round already stored, and that round's own
// kick then finds it again, so only a tag above the last one reported is
// reported (tag 0, which no round makes durable beyond the start, never is).
func (w *Writer) runReports() {
	defer close(w.reportExited)
	for range w.reportKick {
		w.report(w.reportTag.Load())
	}
}

// report calls OnForced(tag) unless the writer has failed or tag is not
// above the last tag reported. Called by the report goroutine and by the
// holder of a claim, it runs under reportMu, so reports never overlap and
// their tags go up.
func (w *Writer) report(tag uint64) {
	w.reportMu.Lock()
	defer w.reportMu.Unlock()
	if tag <= w.reported || w.err.Load() != nil {
		return
	}
	w.reported = tag
	w.opts.OnForced(tag)
}
