package logqueue

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftlog/raftlog/chainwriter"
	"github.com/raftlog/raftlog/pipeline"
	"github.com/raftlog/raftlog/vfs"
)

// FileInfo describes one log file.
type FileInfo struct {
	StartPos int64
	Name     string // base name, inside Options.Dir
}

// Queue is the log file queue. See the package comment for who may call
// what from which goroutine.
type Queue struct {
	opts Options
	mask int64 // FileSize-1
	pool *bufferPool

	filesMu sync.RWMutex
	files   []*logFile // sorted by start; guarded by filesMu

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	// failErr is the sticky error of a failed background allocation.
	failErr atomic.Pointer[error]
	// writePos mirrors wp for WritePos callers on other goroutines.
	writePos atomic.Int64
	// writing is set by StartWriting, for readers on other goroutines.
	writing atomic.Bool
	// curStart mirrors cur.start for DeleteBefore, which must keep the
	// writer's file; TruncateTail, which moves it back, stores it under
	// filesMu (delete_files.go).
	curStart atomic.Int64
	// flushedPos is the end of the last task put in flight: every byte
	// below it is in an in-flight buffer or in its file. writtenPos is the
	// end of the last task written (WrittenPos). Both are stored under mu,
	// writtenPos before its task leaves the in-flight list, so that a
	// reader holding mu finds every flushed byte in one place or the other
	// (reader.go).
	flushedPos atomic.Int64
	writtenPos atomic.Int64
	// writeErr is the first error a write task reported, stored before the
	// task leaves the in-flight list.
	writeErr atomic.Pointer[error]
	// truncGen counts TruncateTail calls: a Reader drops its read-ahead
	// when it changes, since the bytes it holds may have been rewritten.
	truncGen atomic.Uint64

	// State of the Add/Flush goroutine (the caller serializes those calls).
	started bool
	writer  *chainwriter.Writer
	epoch   uint32
	wp      int64                      // where the next item goes
	cur     *logFile                   // the file holding wp
	next    *pipeline.Future[*logFile] // the file after cur
	// alloc is the last background allocation started and allocStart the
	// file it makes. After TruncateTail moves cur back, q.next is an
	// existing file while alloc may still run: Close waits for it, and
	// startAlloc reuses it when the writer gets there (truncate.go).
	alloc      *pipeline.Future[*logFile]
	allocStart int64
	spares     spares     // compacted files kept for reuse (recycle.go)
	zero       *zeroAhead // the ZeroAhead goroutine, nil in other modes
	chunk      *chunk     // current encode buffer
	pending    []segment  // [:npend] added since the last Flush
	npend      int        // segments in use in pending
	lastTag    uint64     // tag of the last task submitted

	// mu guards inflight (tasks submitted and not yet written) and the
	// free list of task records. Readers copy out of inflight under it and
	// the write goroutine removes a task under it, so a buffer is never
	// recycled while a reader copies from it.
	mu        sync.Mutex
	inflight  []*flushTask
	freeTasks []*flushTask

	// Test hooks. allocWaitHook runs when Add is about to wait for the next
	// file; submitHook sees every task Flush submits.
	allocWaitHook func()
	submitHook    func(chainwriter.Task)
}

// piece is a range of one chunk.
type piece struct {
	c      *chunk
	off, n int
}

// segment is a contiguous range of log positions inside one file, made of
// pieces of one or more chunks, that is submitted as one write task.
type segment struct {
	file   *logFile
	start  int64 // log position of its first byte
	n      int64
	pieces []piece
}

// flushTask is a submitted segment. It is recycled after it is written, so
// that Flush allocates nothing in the steady state.
type flushTask struct {
	q          *Queue
	file       *logFile
	start, end int64 // log positions [start, end)
	bufs       [][]byte
	chunks     []*chunk    // one reference each
	onWritten  func(error) // t.written, bound once
}

// Open opens the log files in opts.Dir, creating the directory if needed.
// Leftover "*.log.tmp" files from an interrupted allocation are removed.
// Every "%020d.log" file must start at a multiple of FileSize and be exactly
// FileSize long (ErrBadFile otherwise). Nothing is written until
// StartWriting.
func Open(opts Options) (*Queue, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.ReadOnly {
		return openReadOnly(opts)
	}
	fsys := opts.FS
	if err := fsys.MkdirAll(opts.Dir); err != nil {
		return nil, fmt.Errorf("logqueue: create dir %s: %w", opts.Dir, err)
	}
	names, err := fsys.List(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("logqueue: list %s: %w", opts.Dir, err)
	}
	q := &Queue{
		opts: opts,
		mask: opts.FileSize - 1,
		pool: newBufferPool(opts.BufferSize),
	}
	q.spares.max = opts.RecycleFiles
	removed := false
	for _, name := range names {
		path := filepath.Join(opts.Dir, name)
		if isSpareName(name) {
			gone, err := q.adoptSpare(path)
			if err != nil {
				q.closeFiles()
				return nil, err
			}
			removed = removed || gone
			continue
		}
		if strings.HasSuffix(name, logSuffix+tmpSuffix) {
			if err := fsys.Remove(path); err != nil {
				q.closeFiles()
				return nil, fmt.Errorf("logqueue: remove leftover %s: %w", path, err)
			}
			removed = true
			continue
		}
		start, ok := parseFileName(name)
		if !ok {
			continue // not ours (index files, the lock file, ...)
		}
		if err := q.openFile(name, start); err != nil {
			q.closeFiles()
			return nil, err
		}
	}
	if removed {
		if err := fsys.SyncDir(opts.Dir); err != nil {
			q.closeFiles()
			return nil, fmt.Errorf("logqueue: sync dir %s: %w", opts.Dir, err)
		}
	}
	return q, nil
}

func (q *Queue) openFile(name string, start int64) error {
	path := filepath.Join(q.opts.Dir, name)
	if start&q.mask != 0 {
		return fmt.Errorf("%w: %s: start position %d is not a multiple of the file size %d",
			ErrBadFile, path, start, q.opts.FileSize)
	}
	f, err := q.openPath(path)
	if err != nil {
		return fmt.Errorf("logqueue: open %s: %w", path, err)
	}
	size, err := f.Size()
	if err == nil && size != q.opts.FileSize {
		err = fmt.Errorf("%w: %s: size %d, want %d", ErrBadFile, path, size, q.opts.FileSize)
	}
	if err != nil {
		_ = f.Close()
		return err
	}
	q.addFile(&logFile{start: start, name: name, f: f})
	return nil
}

// Files returns the log files, by start position.
func (q *Queue) Files() []FileInfo {
	q.filesMu.RLock()
	defer q.filesMu.RUnlock()
	out := make([]FileInfo, len(q.files))
	for i, lf := range q.files {
		out[i] = FileInfo{StartPos: lf.start, Name: lf.name}
	}
	return out
}

// FileSize returns the size of every log file.
func (q *Queue) FileSize() int64 { return q.opts.FileSize }

// WritePos returns where the next item will go. It may be called from any
// goroutine; it is only meaningful after StartWriting.
func (q *Queue) WritePos() int64 { return q.writePos.Load() }

// WrittenPos returns the written watermark: every byte below it has been
// handed to its file (written, not necessarily synced), so it can be read
// with pread. It follows the write tasks' OnWritten calls, which come in
// order, and moves back only with TruncateTail. It may be called from any
// goroutine; it is only meaningful after StartWriting.
func (q *Queue) WrittenPos() int64 { return q.writtenPos.Load() }

// Writer returns the chainwriter started by StartWriting (nil before). Call
// it after StartWriting has returned.
func (q *Queue) Writer() *chainwriter.Writer { return q.writer }

func (q *Queue) addFile(lf *logFile) {
	lf.refs.Store(1) // the list's reference
	q.filesMu.Lock()
	defer q.filesMu.Unlock()
	i, found := slices.BinarySearchFunc(q.files, lf.start, cmpStart)
	if found {
		panicf("log file %s added twice", lf.name)
	}
	q.files = slices.Insert(q.files, i, lf)
}

func cmpStart(lf *logFile, start int64) int {
	switch {
	case lf.start < start:
		return -1
	case lf.start > start:
		return 1
	}
	return 0
}

// fileFor returns the file holding pos, or nil. It takes no reference: use
// acquire where DeleteBefore may run concurrently.
func (q *Queue) fileFor(pos int64) *logFile {
	q.filesMu.RLock()
	defer q.filesMu.RUnlock()
	return q.fileForLocked(pos)
}

// fileForLocked is fileFor for a caller holding filesMu.
func (q *Queue) fileForLocked(pos int64) *logFile {
	if pos < 0 {
		return nil
	}
	if i, found := slices.BinarySearchFunc(q.files, pos&^q.mask, cmpStart); found {
		return q.files[i]
	}
	return nil
}

// endOfFiles returns the position just past the last file (0 with none).
func (q *Queue) endOfFiles() int64 {
	q.filesMu.RLock()
	defer q.filesMu.RUnlock()
	if len(q.files) == 0 {
		return 0
	}
	return q.files[len(q.files)-1].start + q.opts.FileSize
}

func (q *Queue) noFile(pos int64) error {
	return fmt.Errorf("%w: position %d (file %s)", ErrNoFile, pos, fileName(max(pos, 0)&^q.mask))
}

// StartWriting makes pos the position of the next item and epoch the epoch
// stamped on every item. The file holding pos is created if it does not
// exist (durably, before StartWriting returns); the chainwriter is started
// and the next file is allocated in the background. Files from pos on must
// hold no stale items: recovery cuts the tail (CutTail) first.
func (q *Queue) StartWriting(pos int64, epoch uint32) error {
	if q.closed.Load() {
		return ErrClosed
	}
	if q.opts.ReadOnly {
		return ErrReadOnly
	}
	if q.started {
		return ErrWriting
	}
	if pos < 0 || pos > math.MaxInt64-2*q.opts.FileSize {
		return q.noFile(pos)
	}
	start := pos &^ q.mask
	lf := q.fileFor(start)
	if lf == nil {
		var err error
		// Open must not wait for a zero fill of a whole file: the file the
		// writer starts in is only fallocated. Every later file is
		// allocated in the background with the configured mode.
		mode := q.opts.Prealloc
		if mode == ZeroFill {
			mode = Fallocate
		}
		lf, err = allocFile(q.opts.FS, q.opts.Dir, start, q.opts.FileSize, mode, nil)
		if err != nil {
			return err
		}
		q.addFile(lf)
	}
	q.started = true
	q.epoch = epoch
	q.cur = lf
	q.curStart.Store(lf.start)
	q.setWritePos(pos)
	q.flushedPos.Store(pos)
	q.writtenPos.Store(pos)
	q.writing.Store(true)
	wopts := q.opts.Writer
	if q.opts.Prealloc == ZeroAhead {
		q.zero = newZeroAhead(q, pos)
		wopts.Observer = syncCounter{z: q.zero, next: wopts.Observer}
	}
	q.writer = chainwriter.New(wopts)
	q.startAlloc(start + q.opts.FileSize)
	return nil
}

// taskFile is the handle write tasks for lf go through: under ZeroAhead a
// guard that keeps writes and zeros apart (zero_ahead.go).
func (q *Queue) taskFile(lf *logFile) vfs.File {
	if q.zero == nil {
		return lf.f
	}
	if lf.guard == nil {
		lf.guard = &zeroGuardFile{File: lf.f, start: lf.start, z: q.zero}
	}
	return lf.guard
}

func (q *Queue) setWritePos(pos int64) {
	q.wp = pos
	q.writePos.Store(pos)
}

// startAlloc makes q.next the file starting at start: an existing one (a
// file reused after TruncateTail needs no waiting), the allocation already
// running for it, or one allocated on the executor. A failure fails the
// queue at once, so Add reports it without waiting to reach the file.
func (q *Queue) startAlloc(start int64) {
	if lf := q.fileFor(start); lf != nil {
		q.next = pipeline.Completed(lf, nil)
		return
	}
	if q.alloc != nil && q.allocStart == start {
		q.next = q.alloc
		return
	}
	if q.alloc != nil {
		// Only after TruncateTail into a region with a missing file can a
		// second allocation be needed while one runs; one at a time keeps
		// Close's wait simple.
		<-q.alloc.Done()
	}
	q.allocStart = start
	q.alloc = pipeline.Run(q.opts.Executor, func() (*logFile, error) {
		lf, err := q.newFile(start)
		if err != nil {
			if !errors.Is(err, errAllocStopped) {
				q.fail(err)
			}
			return nil, err
		}
		q.addFile(lf)
		if q.zero != nil {
			q.zero.wake() // it may be waiting for this file
		}
		return lf, nil
	})
	q.next = q.alloc
}

func (q *Queue) fail(err error) {
	err = fmt.Errorf("logqueue: allocating the next log file failed: %w", err)
	q.failErr.CompareAndSwap(nil, &err)
}

func (q *Queue) failed() error {
	if p := q.failErr.Load(); p != nil {
		return *p
	}
	return nil
}

// checkWriting returns the error that Add and Flush must return, if any.
func (q *Queue) checkWriting() error {
	if q.closed.Load() {
		return ErrClosed
	}
	if q.opts.ReadOnly {
		return ErrReadOnly
	}
	if !q.started {
		return ErrNotWriting
	}
	return q.failed()
}

// Add encodes the item at the write position and returns that position. It
// sets m.Epoch (and m.HeaderLen, m.DataLen). header and data are copied, so
// the caller may reuse them at once; the item is submitted by the next Flush.
// If the item does not fit in the rest of the current file, an
// end marker closes it (when at least EndMarkerSize bytes are left) and the
// item goes to the start of the next file, waiting for its allocation if
// that is not done yet.
func (q *Queue) Add(m *ItemMeta, header, data []byte) (pos int64, err error) {
	if err := q.checkWriting(); err != nil {
		return 0, err
	}
	size := EncodedSize(len(header), len(data))
	if size > q.opts.FileSize || size > math.MaxUint32 {
		return 0, fmt.Errorf("%w: %d bytes, the file size is %d", ErrTooLarge, size, q.opts.FileSize)
	}
	if q.wp+size > q.cur.start+q.opts.FileSize {
		if err := q.rotate(m.Index); err != nil {
			return 0, err
		}
	}
	m.Epoch = q.epoch
	pos = q.wp
	EncodeItem(q.reserve(int(size)), pos, m, header, data)
	q.setWritePos(pos + size)
	return pos, nil
}

// rotate closes the current file with an end marker, if there is room for
// one, and moves the write position to the start of the next file.
func (q *Queue) rotate(nextIndex uint64) error {
	end := q.cur.start + q.opts.FileSize
	if end-q.wp >= EndMarkerSize {
		EncodeEndMarker(q.reserve(EndMarkerSize), q.wp, nextIndex, q.epoch)
	}
	q.setWritePos(end)
	next := q.next
	if _, _, done := next.Result(); !done {
		if q.allocWaitHook != nil {
			q.allocWaitHook()
		}
		t0 := time.Now()
		<-next.Done()
		if q.opts.OnAllocWait != nil {
			q.opts.OnAllocWait(time.Since(t0).Nanoseconds())
		}
	}
	lf, err, _ := next.Result()
	if err != nil {
		q.fail(err)
		return q.failed()
	}
	if lf.start != end {
		panicf("next file starts at %d, want %d", lf.start, end)
	}
	q.cur = lf
	q.curStart.Store(lf.start)
	q.startAlloc(end + q.opts.FileSize)
	return nil
}

// reserve returns size bytes of encode buffer for the bytes at q.wp and
// records them in the pending segments. An item is always contiguous in one
// chunk, so a reader finds it whole in one in-flight buffer.
func (q *Queue) reserve(size int) []byte {
	c := q.chunk
	if size > q.opts.BufferSize {
		c = q.pool.oneOff(size)
		q.addPiece(c, 0, size)
		q.pool.release(c) // the piece holds it now
		return c.buf
	}
	if q.npend == 0 && c != nil && c.used > 0 && c.refs.Load() == 1 {
		// Every byte handed out is written and no task or pending segment
		// holds the chunk: start it over. A caller that waits for each
		// batch (batch-then-wait, AppendWait) then encodes into the bytes
		// it encoded last time, still in this core's cache, instead of
		// walking the whole chunk and the pool (the Append call of 1024
		// entries of 128 B took 8–13 % less in BenchmarkAppendWait).
		// npend is checked first so that only the first item after a
		// Flush reads the shared reference count: a pending segment
		// holds the chunk anyway.
		c.used = 0
	}
	if c == nil || len(c.buf)-c.used < size {
		if c != nil {
			q.pool.release(c)
		}
		c = q.pool.get()
		q.chunk = c
	}
	off := c.used
	c.used += size
	q.addPiece(c, off, size)
	return c.buf[off : off+size : off+size]
}

func (q *Queue) addPiece(c *chunk, off, n int) {
	if q.npend > 0 {
		seg := &q.pending[q.npend-1]
		if seg.file == q.cur && seg.start+seg.n == q.wp {
			seg.n += int64(n)
			if last := &seg.pieces[len(seg.pieces)-1]; last.c == c && last.off+last.n == off {
				last.n += n
				return
			}
			q.pool.retain(c)
			seg.pieces = append(seg.pieces, piece{c: c, off: off, n: n})
			return
		}
	}
	if q.npend == len(q.pending) {
		q.pending = append(q.pending, segment{})
	}
	seg := &q.pending[q.npend]
	q.npend++
	seg.file, seg.start, seg.n = q.cur, q.wp, int64(n)
	q.pool.retain(c)
	seg.pieces = append(seg.pieces[:0], piece{c: c, off: off, n: n})
}

// Flush submits everything added since the last Flush to the chainwriter,
// one task per file segment; the last task carries tag, earlier ones repeat
// the previous tag so that the durable mark does not pass a batch that is
// only partly written. With nothing added it submits an empty task carrying
// tag (which syncs the current file), unless tag was already submitted. It
// returns the chainwriter's sticky error if the writer has failed.
func (q *Queue) Flush(tag uint64) error {
	if err := q.checkWriting(); err != nil {
		return err
	}
	if err := q.writer.Err(); err != nil {
		q.dropPending()
		return err
	}
	if q.npend == 0 {
		if tag == q.lastTag {
			return nil
		}
		err := q.writer.Submit(chainwriter.Task{File: q.taskFile(q.cur), Offset: q.wp - q.cur.start, Tag: tag})
		if err == nil {
			q.lastTag = tag
		}
		return err
	}
	for i := 0; i < q.npend; i++ {
		tg := q.lastTag
		if i == q.npend-1 {
			tg = tag
		}
		task, t := q.inflightTask(&q.pending[i], tg)
		// Not under mu: Submit blocks while the writer's queue is full,
		// and the writer needs mu to retire tasks.
		if err := q.writer.Submit(task); err != nil {
			t.written(err) // the writer never will
			for j := i + 1; j < q.npend; j++ {
				q.releasePieces(&q.pending[j])
			}
			q.npend = 0
			return err
		}
	}
	q.npend = 0
	q.lastTag = tag
	if q.zero != nil {
		q.zero.flushed(q.wp)
	}
	return nil
}

// inflightTask turns seg into a write task carrying tag and lists it as in
// flight, so readers find its bytes until they are written.
func (q *Queue) inflightTask(seg *segment, tag uint64) (chainwriter.Task, *flushTask) {
	t := q.taskFor(seg)
	q.mu.Lock()
	q.inflight = append(q.inflight, t)
	q.flushedPos.Store(t.end)
	q.mu.Unlock()
	task := chainwriter.Task{
		File:      q.taskFile(t.file),
		Offset:    t.start - t.file.start,
		Bufs:      t.bufs,
		Tag:       tag,
		OnWritten: t.onWritten,
	}
	if q.submitHook != nil {
		q.submitHook(task)
	}
	return task, t
}

// ClaimedFlush is a Flush whose one write task is to be written and synced
// on the caller's goroutine, under a chainwriter claim (FlushClaimed).
type ClaimedFlush struct {
	claim chainwriter.Claim
	task  chainwriter.Task
}

// WriteSync writes and fdatasyncs the task and reports its tag through the
// chainwriter's OnForced, on the calling goroutine; see
// chainwriter.Claim.WriteSync. It may be called after the caller's own
// lock around Add and Flush is released: the claim keeps later flushes
// behind it.
func (c ClaimedFlush) WriteSync() error { return c.claim.WriteSync(c.task) }

// FlushClaimed is Flush for a caller that will wait for tag to be durable:
// if everything added since the last Flush is one contiguous write and the
// chainwriter is idle (chainwriter.Writer.TryClaim), it returns that write
// as a ClaimedFlush, which the caller must then run; otherwise it does what
// Flush does and returns ok false.
func (q *Queue) FlushClaimed(tag uint64) (c ClaimedFlush, ok bool, err error) {
	if q.npend != 1 || q.checkWriting() != nil {
		return ClaimedFlush{}, false, q.Flush(tag)
	}
	claim, ok := q.writer.TryClaim()
	if !ok {
		return ClaimedFlush{}, false, q.Flush(tag)
	}
	task, _ := q.inflightTask(&q.pending[0], tag)
	q.npend = 0
	q.lastTag = tag
	if q.zero != nil {
		q.zero.flushed(q.wp)
	}
	return ClaimedFlush{claim: claim, task: task}, true, nil
}

func (q *Queue) dropPending() {
	for i := 0; i < q.npend; i++ {
		q.releasePieces(&q.pending[i])
	}
	q.npend = 0
}

func (q *Queue) releasePieces(seg *segment) {
	for i := range seg.pieces {
		q.pool.release(seg.pieces[i].c)
		seg.pieces[i] = piece{}
	}
	seg.pieces = seg.pieces[:0]
	seg.file = nil
}

// taskFor moves seg's pieces (and their chunk references) into a task.
func (q *Queue) taskFor(seg *segment) *flushTask {
	q.mu.Lock()
	var t *flushTask
	if n := len(q.freeTasks); n > 0 {
		t = q.freeTasks[n-1]
		q.freeTasks[n-1] = nil
		q.freeTasks = q.freeTasks[:n-1]
	}
	q.mu.Unlock()
	if t == nil {
		t = &flushTask{q: q}
		t.onWritten = t.written
	}
	t.file, t.start, t.end = seg.file, seg.start, seg.start+seg.n
	for i := range seg.pieces {
		p := &seg.pieces[i]
		t.bufs = append(t.bufs, p.c.buf[p.off:p.off+p.n:p.off+p.n])
		t.chunks = append(t.chunks, p.c)
		*p = piece{}
	}
	seg.pieces = seg.pieces[:0]
	seg.file = nil
	return t
}

// written runs on the chainwriter's write goroutine once the task's bytes
// are in the file (or failed to get there). From here on readers find them
// by pread, so the task leaves the in-flight list before its chunks can be
// reused.
func (t *flushTask) written(err error) {
	q := t.q
	q.mu.Lock()
	defer q.mu.Unlock()
	i := slices.Index(q.inflight, t) // tasks are written in order: almost always 0
	if i < 0 {
		panicf("written task [%d, %d) is not in flight", t.start, t.end)
	}
	// Before the task leaves the list: a reader holding mu must find its
	// bytes either in flight or below the watermark (or learn they never
	// will be written).
	if err == nil {
		q.writtenPos.Store(t.end)
	} else {
		err = fmt.Errorf("logqueue: writing [%d, %d) of %s: %w", t.start, t.end, t.file.name, err)
		q.writeErr.CompareAndSwap(nil, &err)
	}
	q.inflight = slices.Delete(q.inflight, i, i+1)
	for j, c := range t.chunks {
		q.pool.release(c)
		t.chunks[j] = nil
		t.bufs[j] = nil
	}
	t.chunks, t.bufs, t.file = t.chunks[:0], t.bufs[:0], nil
	q.freeTasks = append(q.freeTasks, t)
}

// Close closes the chainwriter, waiting for the tasks already submitted to
// be written and synced, waits for a background allocation, and closes the
// files. Items added but not flushed are dropped. It returns the first
// error; later calls return the same. Close must not run concurrently with
// Add, Flush or StartWriting; readers may still be running, and get
// ErrClosed or an error from the closed file.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() {
		q.closed.Store(true)
		var errs []error
		if q.writer != nil {
			errs = append(errs, q.writer.Close())
		}
		if q.zero != nil {
			q.zero.close()
		}
		if q.next != nil {
			<-q.next.Done()
		}
		if q.alloc != nil {
			<-q.alloc.Done()
		}
		q.dropPending()
		if q.chunk != nil {
			q.pool.release(q.chunk)
			q.chunk = nil
		}
		errs = append(errs, q.closeFiles())
		q.closeErr = errors.Join(errs...)
	})
	return q.closeErr
}

func (q *Queue) closeFiles() error {
	q.filesMu.Lock()
	defer q.filesMu.Unlock()
	var errs []error
	for _, lf := range q.files {
		if err := lf.f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("logqueue: close %s: %w", lf.name, err))
		}
	}
	q.files = nil
	return errors.Join(errs...)
}
