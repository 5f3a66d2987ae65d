package raftlog

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftlog/raftlog/chainwriter"
	"github.com/raftlog/raftlog/idxqueue"
	"github.com/raftlog/raftlog/logqueue"
	"github.com/raftlog/raftlog/metrics"
	"github.com/raftlog/raftlog/pipeline"
	"github.com/raftlog/raftlog/restore"
	"github.com/raftlog/raftlog/status"
	"github.com/raftlog/raftlog/vfs"
)

// Entry is one Raft log entry.
type Entry struct {
	Index     uint64
	Term      uint64
	Type      uint8
	Timestamp int64  // Unix nanoseconds; 0 means "now" at Append
	Header    []byte // optional extension bytes; may be nil
	Data      []byte // may be nil
}

// HardState is the Raft state that must survive a restart with the log.
type HardState struct{ Term, Vote, Commit uint64 }

// Log is an open raftlog directory. All methods are safe for concurrent use.
type Log struct {
	dir  string
	opts Options

	lock   io.Closer
	exec   *pipeline.Executor
	lq     *logqueue.Queue
	iq     *idxqueue.Queue
	stFile *status.File
	hsSave *pipeline.Stage[hardStateRequest]

	// mu is the append lock: it orders Append, SetHardState and Close, and
	// guards seq and closed transitions.
	mu     sync.Mutex
	seq    uint64 // chainwriter tag of the last flushed batch
	epoch  uint32
	closed atomic.Bool

	// Published for readers; written under mu.
	// first is the first index and the term of the index before it,
	// published together so that a reader never pairs one with the other's
	// old value.
	first        atomic.Pointer[firstPoint]
	lastIndex    atomic.Uint64
	lastTerm     atomic.Uint64
	durableIndex atomic.Uint64
	// durablePos is a log position below which every item is durable, so
	// that no write or fdatasync of a file wholly below it is still to
	// come: compaction closes and deletes only such files. It may lag.
	durablePos atomic.Int64

	terms         termRuns     // terms of recent indexes, for Term and FindMatch
	pending       pendingQueue // guarded by its own lock; see pending.go
	forcedScratch []pendingOp  // owned by onForced, whose calls never overlap
	posScratch    []int64      // Append's positions of one part; under mu

	// stMu guards st and every Save of the status file.
	stMu sync.Mutex
	st   status.State
	// hs is the hard state last set (returned by HardState).
	hsMu sync.Mutex
	hs   HardState
	// hsSeq numbers SetHardState calls (under mu); hsSaved is the newest
	// one saved (status goroutine only).
	hsSeq   uint64
	hsSaved uint64

	// m receives every measurement: the Log's own recorder (rec, read by
	// Metrics) and Options.Metrics. t0 is the time base of latency stamps.
	m   metrics.Collector
	rec *metrics.Recorder
	t0  time.Time
	// curFile is the log file the appender is in (under mu), to count
	// rotations.
	curFile int64

	// deletions counts background file deletions not yet finished (tests
	// wait on it).
	deletions sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// Open opens the log in dir, creating dir and an empty log if needed. After a
// crash it restores every entry that was durable and cuts the torn tail.
func Open(dir string, opts Options) (*Log, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	fs := opts.fs
	if err := fs.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("raftlog: create %s: %w", dir, err)
	}
	lock, err := fs.Lock(dir)
	if err != nil {
		if errors.Is(err, vfs.ErrLocked) {
			return nil, fmt.Errorf("%w: %w", ErrLocked, err)
		}
		return nil, fmt.Errorf("raftlog: lock %s: %w", dir, err)
	}
	l := &Log{dir: dir, opts: opts, lock: lock, rec: metrics.NewRecorder(), t0: time.Now()}
	l.m = metrics.Tee(l.rec, opts.Metrics)
	if err := l.open(); err != nil {
		l.release()
		return nil, err
	}
	return l, nil
}

// open builds the stages and restores the log. On error the caller releases
// what was built.
func (l *Log) open() error {
	opts := l.opts
	stFile, st, _, err := status.Open(opts.fs, l.dir)
	if err != nil {
		return classify(err)
	}
	l.stFile = stFile
	if st.FirstIndex == 0 {
		st.FirstIndex = 1
	}
	l.exec, err = pipeline.NewExecutor(opts.BackgroundWorkers)
	if err != nil {
		return err
	}
	l.lq, err = logqueue.Open(logqueue.Options{
		FS:           opts.fs,
		Dir:          l.dir,
		FileSize:     opts.LogFileSize,
		Prealloc:     opts.Prealloc,
		RecycleFiles: opts.SpareLogFiles,
		Executor:     l.exec,
		Writer: chainwriter.Options{
			QueueSize:    opts.WriteQueueSize,
			MaxWriteSize: opts.MaxWriteSize,
			OnForced:     l.onForced,
			OnError:      l.fail,
			Observer:     stageObserver{l},
		},
		OnAllocWait: l.onAllocWait,
		OnRecycle:   func() { l.m.Add(metrics.LogFilesRecycled, 1) },
	})
	if err != nil {
		return classify(err)
	}
	l.iq, err = idxqueue.Open(idxqueue.Options{
		FS:            opts.fs,
		Dir:           l.dir,
		ItemsPerFile:  opts.IdxItemsPerFile,
		MaxPending:    opts.MaxUnflushedIndexes,
		FlushInterval: opts.IdxFlushInterval,
		OnPersisted:   l.onIdxPersisted,
		OnError:       l.fail,
		OnFlush:       l.onIdxFlush,
		OnRoomWait:    l.onRoomWait,
	})
	if err != nil {
		return classify(err)
	}

	res, err := restore.Run(st, l.lq, l.iq, restore.Options{})
	if err != nil {
		opts.Logger.Error("raftlog: recovery refused to open the log", "dir", l.dir, "err", err)
		return classify(err)
	}
	l.m.Set(metrics.RecoveryDuration, res.Duration.Seconds())
	l.m.Set(metrics.RecoveryScannedBytes, float64(res.ScannedBytes))
	l.m.Add(metrics.TornBytesCut, float64(res.CutBytes))
	opts.Logger.Info("raftlog: opened", "dir", l.dir, "first", st.FirstIndex, "last", res.LastIndex,
		"lastTerm", res.LastTerm, "end", res.End.String(), "scannedBytes", res.ScannedBytes,
		"cutBytes", res.CutBytes, "indexRebuilt", res.Rebuilt, "recovery", res.Duration)

	// A new epoch before anything new is written: items of this incarnation
	// can then never be confused with stale ones of an earlier one.
	st.Epoch++
	if err := stFile.Save(st); err != nil {
		return fmt.Errorf("raftlog: save status: %w", err)
	}
	l.st = st
	l.epoch = st.Epoch
	l.hs = HardState{Term: st.Term, Vote: st.Vote, Commit: st.Commit}
	l.setFirst(st.FirstIndex, st.FirstPrevTerm)
	l.lastIndex.Store(res.LastIndex)
	l.lastTerm.Store(res.LastTerm)
	l.durableIndex.Store(res.LastIndex)
	l.durablePos.Store(res.WritePos) // restore synced the tail
	l.curFile = res.WritePos / opts.LogFileSize
	runs := []termRun{{first: res.TailFirst - 1, term: res.BaseTerm}}
	for _, ts := range res.TermStarts {
		runs = append(runs, termRun{first: ts.First, term: ts.Term})
	}
	l.terms.reset(res.TailFirst-1, runs)

	if err := l.iq.Start(res.TailFirst - 1); err != nil {
		return err
	}
	if st.FirstIndex > 1 {
		// The index queue does not keep its first index: tell it, which
		// also removes index files a crash left behind mid-compaction.
		l.countDeleted(metrics.IdxFilesDeleted, l.iq.CompactTo(st.FirstIndex))
	}
	if err := l.putRecovered(res); err != nil {
		return err
	}
	l.hsSave = pipeline.NewStage(256, 256, l.saveHardStates)
	if err := l.lq.StartWriting(res.WritePos, l.epoch); err != nil {
		return classify(err)
	}
	if st.FirstIndex > 1 {
		// Log files wholly below the first index that a compaction left
		// (it deletes only what was durable) or a crash interrupted the
		// removal of: everything before the write position is durable now.
		l.deleteLogFilesBelow(st.FirstPos)
	}
	return nil
}

// putRecovered gives the index queue the positions of the recovered tail.
// restore synced them, so they are durable at once.
func (l *Log) putRecovered(res restore.Result) error {
	chunk := l.opts.MaxUnflushedIndexes / 2
	positions := res.TailPositions
	index := res.TailFirst
	for len(positions) > 0 {
		n := min(chunk, len(positions))
		if err := l.iq.WaitRoom(n); err != nil {
			return err
		}
		if err := l.iq.PutRun(index, positions[:n]); err != nil {
			return err
		}
		index += uint64(n)
		l.iq.Durable(index - 1)
		positions = positions[n:]
	}
	return nil
}

// Close waits until everything appended is durable, completes the pending
// futures, flushes the index, saves the status file and releases the
// directory. It returns the first error of any stage. Calling it again
// returns the same result; every other method returns ErrClosed afterwards.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed.Store(true)
		l.mu.Unlock()
		l.closeErr = l.release()
		// Anything still pending could not be made durable.
		l.pending.failAll(ErrClosed)
	})
	return l.closeErr
}

// release stops every stage that was started, in dependency order, and
// returns the first error.
func (l *Log) release() error {
	var errs []error
	if l.lq != nil {
		// Drains the write and force stages: every submitted batch is
		// durable (or the log failed) when this returns.
		errs = append(errs, l.lq.Close())
	}
	if l.hsSave != nil {
		l.hsSave.Close()
	}
	if l.iq != nil {
		errs = append(errs, l.iq.Close())
	}
	if l.stFile != nil {
		errs = append(errs, l.stFile.Close())
	}
	if l.exec != nil {
		l.exec.Close()
	}
	if l.lock != nil {
		errs = append(errs, l.lock.Close())
	}
	if ferr := l.pending.failure(); ferr != nil {
		errs = append([]error{ferr}, errs...)
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// onIdxPersisted records in the status file that the index files are
// trusted up to index. It runs on the index flush goroutine.
func (l *Log) onIdxPersisted(index uint64) error {
	return l.updateStatus(func(st *status.State) { st.PersistedIndex = index })
}

// updateStatus applies change to the status state and saves it durably;
// the in-memory state changes only if the save succeeds.
func (l *Log) updateStatus(change func(st *status.State)) error {
	l.stMu.Lock()
	defer l.stMu.Unlock()
	st := l.st
	change(&st)
	if err := l.stFile.Save(st); err != nil {
		return fmt.Errorf("raftlog: save status: %w", err)
	}
	l.st = st
	return nil
}

// statusSnapshot returns the status state last saved.
func (l *Log) statusSnapshot() status.State {
	l.stMu.Lock()
	defer l.stMu.Unlock()
	return l.st
}

// fail makes the log fail with cause: every pending and later call gets an
// error wrapping ErrFailed and cause.
func (l *Log) fail(cause error) {
	if l.pending.fail(fmt.Errorf("%w: %w", ErrFailed, cause)) {
		l.m.Add(metrics.Failures, 1)
		l.opts.Logger.Error("raftlog: the log failed and must be reopened", "dir", l.dir, "err", cause)
	}
}

// classify maps the lower packages' corruption errors to ErrCorrupt.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, logqueue.ErrCorrupt), errors.Is(err, logqueue.ErrInvalidItem), errors.Is(err, logqueue.ErrNoFile),
		errors.Is(err, restore.ErrCorrupt), errors.Is(err, status.ErrCorrupt),
		errors.Is(err, idxqueue.ErrCorrupt):
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

// FirstIndex returns the first index held (1 on a new log).
func (l *Log) FirstIndex() uint64 { return l.first.Load().index }

// firstPoint is the first index and the term of the index just below it.
type firstPoint struct{ index, prevTerm uint64 }

func (l *Log) setFirst(index, prevTerm uint64) {
	l.first.Store(&firstPoint{index: index, prevTerm: prevTerm})
}

// LastIndex returns the last index appended (0 on a new log). The entry is
// readable at once but may not be durable yet.
func (l *Log) LastIndex() uint64 { return l.lastIndex.Load() }

// LastTerm returns the term of the last entry (the snapshot term, or 0, if
// there is none).
func (l *Log) LastTerm() uint64 { return l.lastTerm.Load() }

// DurableIndex returns the highest index known to be written and fdatasync'd.
func (l *Log) DurableIndex() uint64 { return l.durableIndex.Load() }
