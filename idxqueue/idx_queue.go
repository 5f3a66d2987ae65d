package idxqueue

import (
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftlog/raftlog/vfs"
)

// Queue maps Raft indexes to log positions: recent ones in a LongLongSeqMap,
// older ones in the index files. See the package comment for the goroutines
// and the invariants.
type Queue struct {
	opts       Options
	files      fileSet
	maxPending uint64
	threshold  uint64

	// flushMu serializes one flush (from reading the persisted index to
	// OnPersisted, the map trim and the files prepared ahead) with
	// TruncateTail, CompactTo and Reset, which move the watermarks a flush
	// works from. It is taken before mu and held across disk I/O, so nothing
	// on the append or read path takes it.
	flushMu sync.Mutex

	// mu guards the fields below it. It is never held across disk I/O.
	mu      sync.Mutex
	m       *LongLongSeqMap
	next    uint64 // the index the next Put must carry
	started bool
	closed  bool
	err     error         // sticky: the first failure
	room    chan struct{} // closed (and replaced) when room frees up, on failure and on Close

	// The remover (file_remover.go): queued removals of detached files and
	// whether its goroutine runs; Close waits for it with removerWG.
	removeTasks    []removeTask
	removerRunning bool
	removerWG      sync.WaitGroup

	// Watermarks. durable only goes up (CAS max) except in TruncateTail and
	// Reset; lastPut is written by the appender, persisted by the flush
	// goroutine, and both by TruncateTail, CompactTo and Reset under flushMu
	// and mu; first only by CompactTo and Reset, under both; anyone reads
	// them. Invariant once started: first−1 ≤ persisted ≤ durable and
	// persisted ≤ lastPut.
	durable   atomic.Uint64
	lastPut   atomic.Uint64
	persisted atomic.Uint64
	first     atomic.Uint64 // positions of indexes below it are gone
	failed    atomic.Bool
	waiters   atomic.Int32 // goroutines blocked in WaitRoom

	kick chan struct{} // capacity 1: "there may be something to flush"
	quit chan struct{} // closed by Close
	done chan struct{} // closed when the flush goroutine returns

	closeOnce sync.Once
	closeErr  error

	flushBufs // owned by the flush goroutine
}

// Open lists opts.Dir (creating it if needed), removes leftover *.idx.tmp
// files and opens every index file read-write. Positions can be read with
// Position at once; Start begins accepting Puts.
func Open(opts Options) (*Queue, error) {
	opts, err := opts.ensureDefaults()
	if err != nil {
		return nil, err
	}
	q := &Queue{
		opts:       opts,
		maxPending: uint64(opts.MaxPending),
		threshold:  uint64(opts.FlushThreshold),
		m:          NewLongLongSeqMap(min(opts.MaxPending, 1024), opts.MaxPending),
		room:       make(chan struct{}),
		kick:       make(chan struct{}, 1),
		quit:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	q.files = fileSet{
		fs:           opts.FS,
		dir:          opts.Dir,
		itemsPerFile: uint64(opts.ItemsPerFile),
		shift:        uint(bits.TrailingZeros64(uint64(opts.ItemsPerFile))),
		files:        make(map[uint64]vfs.File),
		readOnly:     opts.ReadOnly,
	}
	q.first.Store(1) // index 0 is never used
	if err := q.files.load(); err != nil {
		_ = q.files.closeAll()
		return nil, err
	}
	return q, nil
}

// Position returns the log position of index: from memory if it is held
// there, else from its index file if index ≤ PersistedIndex() (before Start:
// from any existing file, whose content the caller must validate). Below
// FirstIndex it returns an error matching both ErrCompacted and
// ErrNotFound; otherwise ErrNotFound. Safe from any goroutine, also
// concurrently with TruncateTail, CompactTo and Reset, against which it
// answers as if it ran entirely before or entirely after them.
func (q *Queue) Position(index uint64) (int64, error) {
	if index == 0 {
		return 0, fmt.Errorf("%w: index 0 is never used", ErrNotFound)
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return 0, ErrClosed
	}
	if first := q.first.Load(); index < first {
		q.mu.Unlock()
		return 0, compactedError(index, first)
	}
	if v, ok := q.m.Get(index); ok {
		q.mu.Unlock()
		return v, nil
	}
	started := q.started
	// The flush goroutine publishes persisted before it takes mu to remove
	// entries from the map, so an index missing from the map here is either
	// above the last Put or already persisted. TruncateTail and Reset lower
	// persisted under mu, so slots above it (stale positions of cut-off
	// indexes) are never read.
	p := q.persisted.Load()
	q.mu.Unlock()
	if started && index > p {
		return 0, fmt.Errorf("%w: index %d is not held and above persisted index %d", ErrNotFound, index, p)
	}
	v, err := q.files.read(index)
	if err != nil && errors.Is(err, ErrNotFound) {
		// CompactTo may have detached the file since the check above.
		if first := q.first.Load(); index < first {
			return 0, compactedError(index, first)
		}
	}
	return v, err
}

// compactedError is Position's error for an index below the first index.
func compactedError(index, first uint64) error {
	return fmt.Errorf("%w: index %d is below the first index %d (%w)", ErrCompacted, index, first, ErrNotFound)
}

// FirstIndex returns the lowest index whose position is kept: 1 until
// CompactTo or Reset raises (or Reset lowers) it.
func (q *Queue) FirstIndex() uint64 { return q.first.Load() }

// Start starts the flush goroutine. persistedIndex is the highest index whose
// position the index files hold (as recorded by OnPersisted); the next Put
// must carry persistedIndex+1. The file for that index is created here if
// missing.
func (q *Queue) Start(persistedIndex uint64) error {
	q.mu.Lock()
	switch {
	case q.closed:
		q.mu.Unlock()
		return ErrClosed
	case q.opts.ReadOnly:
		q.mu.Unlock()
		return ErrReadOnly
	case q.started:
		q.mu.Unlock()
		return ErrAlreadyStarted
	case q.err != nil:
		err := q.err
		q.mu.Unlock()
		return err
	}
	q.mu.Unlock()

	if _, err := q.files.ensure(persistedIndex + 1); err != nil {
		if err != ErrClosed {
			q.fail(err)
		}
		return err
	}

	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	if q.started {
		return ErrAlreadyStarted
	}
	q.started = true
	q.next = persistedIndex + 1
	q.persisted.Store(persistedIndex)
	q.lastPut.Store(persistedIndex)
	q.durable.Store(persistedIndex) // Durable calls before Start are void
	go q.flushLoop()
	return nil
}

// Put records that index is at log position pos. index must follow the
// previous Put (or be persistedIndex+1). It never blocks: ErrFull if
// MaxPending positions wait to be flushed. Call from one goroutine at a time.
func (q *Queue) Put(index uint64, pos int64) error {
	return q.PutRun(index, []int64{pos})
}

// PutRun is Put of positions[i] under first+i, in order, under one lock: the
// append path puts a whole batch at once instead of taking the lock per
// entry. On an error the positions before the failing one are in.
func (q *Queue) PutRun(first uint64, positions []int64) error {
	if len(positions) == 0 {
		return nil
	}
	q.mu.Lock()
	if err := q.unusableLocked(); err != nil {
		q.mu.Unlock()
		return err
	}
	if first != q.next {
		want := q.next
		q.mu.Unlock()
		return fmt.Errorf("%w: Put(%d), want %d", ErrNotConsecutive, first, want)
	}
	for i, pos := range positions {
		if err := q.m.Put(first+uint64(i), pos); err != nil {
			if i > 0 {
				q.next += uint64(i)
				q.lastPut.Store(first + uint64(i) - 1)
			}
			q.mu.Unlock()
			return err
		}
	}
	last := first + uint64(len(positions)) - 1
	q.next = last + 1
	q.lastPut.Store(last)
	q.mu.Unlock()
	if p := q.persisted.Load(); last-p > q.maxPending/2 && q.durable.Load() > p {
		q.signal()
	}
	return nil
}

// unusableLocked returns why Put or WaitRoom cannot go on, or nil.
func (q *Queue) unusableLocked() error {
	switch {
	case q.err != nil:
		return q.err
	case q.closed:
		return ErrClosed
	case q.opts.ReadOnly:
		return ErrReadOnly
	case !q.started:
		return ErrNotStarted
	}
	return nil
}

// WaitRoom blocks until n more Puts fit. It returns ErrFull at once if n >
// MaxPending, and the sticky error or ErrClosed if the queue fails or is
// closed while waiting. Room only frees up when entries are flushed, so the
// entries held must eventually be reported through Durable.
func (q *Queue) WaitRoom(n int) error {
	if n > int(q.maxPending) {
		return fmt.Errorf("%w: WaitRoom(%d) > MaxPending %d", ErrFull, n, q.maxPending)
	}
	registered := false
	var start time.Time
	defer func() {
		if registered {
			q.waiters.Add(-1)
			if q.opts.OnRoomWait != nil {
				q.opts.OnRoomWait(int64(time.Since(start)))
			}
		}
	}()
	for {
		q.mu.Lock()
		if err := q.unusableLocked(); err != nil {
			q.mu.Unlock()
			return err
		}
		if q.m.MaxCap()-q.m.Len() >= n {
			q.mu.Unlock()
			return nil
		}
		ch := q.room
		q.mu.Unlock()
		if !registered {
			start = time.Now()
			// Durable checks waiters after raising the watermark; a Durable
			// that ran before this Add is covered by the signal below.
			q.waiters.Add(1)
			registered = true
		}
		q.signal()
		<-ch
	}
}

// Durable reports that the log entries up to index are on stable storage,
// so their positions may be flushed. It never blocks. Lower values than an
// earlier call, and calls before Start, are ignored. Any goroutine.
func (q *Queue) Durable(index uint64) {
	d := q.raiseDurable(index)
	p := q.persisted.Load()
	if d <= p {
		return
	}
	if d-p >= q.threshold || q.lastPut.Load()-p > q.maxPending/2 || q.waiters.Load() > 0 {
		q.signal()
	}
}

// raiseDurable sets durable to max(durable, index) and returns the result.
func (q *Queue) raiseDurable(index uint64) uint64 {
	for {
		cur := q.durable.Load()
		if index <= cur {
			return cur
		}
		if q.durable.CompareAndSwap(cur, index) {
			return index
		}
	}
}

// signal wakes the flush goroutine without blocking.
func (q *Queue) signal() {
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// PersistedIndex returns the highest index whose position is synced to the
// index files and accepted by OnPersisted.
func (q *Queue) PersistedIndex() uint64 { return q.persisted.Load() }

// Err returns the sticky error, or nil.
func (q *Queue) Err() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.err
}

// fail records err as the sticky error if it is the first, wakes every
// WaitRoom and calls OnError once.
func (q *Queue) fail(err error) {
	q.mu.Lock()
	first := q.err == nil
	if first {
		q.err = err
		q.failed.Store(true)
		q.wakeLocked()
	}
	q.mu.Unlock()
	if first && q.opts.OnError != nil {
		q.opts.OnError(err)
	}
}

// wakeLocked wakes every goroutine in WaitRoom so it re-checks its condition.
func (q *Queue) wakeLocked() {
	close(q.room)
	q.room = make(chan struct{})
}

// Close flushes every durable position (and reports it through
// OnPersisted), stops the flush goroutine, waits for the removal of the
// files CompactTo and Reset detached, and closes the files. It returns
// the sticky error if the queue failed, else the first close error. Later
// calls return the same; every other call then returns ErrClosed.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() {
		q.mu.Lock()
		q.closed = true
		started := q.started
		q.wakeLocked()
		q.mu.Unlock()
		if started {
			close(q.quit)
			<-q.done
		}
		// No task is queued once closed is set (CompactTo and Reset check it
		// under mu), so this waits for the remover to drain the last ones.
		q.removerWG.Wait()
		cerr := q.files.closeAll()
		if err := q.Err(); err != nil {
			q.closeErr = err
		} else {
			q.closeErr = cerr
		}
	})
	return q.closeErr
}
