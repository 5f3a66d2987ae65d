package raftlog

import (
	"context"
	"fmt"
	"math"

	"github.com/raftlog/raftlog/logqueue"
	"github.com/raftlog/raftlog/metrics"
	"github.com/raftlog/raftlog/pipeline"
)

// Append appends entries after LastIndex and returns a future that completes
// with the last index of the call once these entries and every entry
// appended before them are written and fdatasync'd.
//
// Append may be called from many goroutines; calls are ordered and their
// futures complete in that order. It does not wait for the disk, only for
// room: when the write queue or the in-memory index is full it waits until
// the stages behind it catch up. The entries are readable as soon as Append
// returns, and the caller may reuse their byte slices then.
//
// A call that is rejected (ErrOutOfOrder, ErrTermRegression,
// ErrEntryTooLarge, ErrClosed, ErrFailed) writes nothing; its future is
// already completed with the error. Append of no entries returns a future
// that completes, with LastIndex, once everything appended before is durable.
func (l *Log) Append(entries []Entry) *pipeline.Future[uint64] {
	fut, _, _ := l.append(entries, false)
	return fut
}

// AppendWait appends entries as Append does and waits until they are
// durable, returning the last index of the call. When nothing else is in
// flight (no earlier batch still being written or synced), the write and
// the fdatasync run on the calling goroutine, without handing the batch to
// the writer's goroutines, each hand-off a thread wake: a caller that waits
// for every batch anyway (a Raft node persisting a Ready, hashicorp/raft's
// StoreLogs) gets it durable sooner. Otherwise it is Append followed by
// Wait, and the batch shares fdatasyncs with the others in flight. ctx
// bounds only that wait; a batch written on the caller's goroutine is
// always waited for.
func (l *Log) AppendWait(ctx context.Context, entries []Entry) (uint64, error) {
	fut, claimed, ok := l.append(entries, true)
	if ok {
		// A failure fails the log, which completes fut with it.
		if claimed.WriteSync() == nil {
			l.m.Add(metrics.AppendsOnCaller, 1)
		}
	}
	return fut.Wait(ctx)
}

// append is Append; with claim, the last flush of the call is returned to
// be written by the caller once the append lock is released, if the
// writer could be claimed (logqueue.Queue.FlushClaimed).
func (l *Log) append(entries []Entry, claim bool) (fut *pipeline.Future[uint64], claimed logqueue.ClaimedFlush, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return pipeline.Failed[uint64](ErrClosed), claimed, false
	}
	if err := l.checkAppend(entries); err != nil {
		return pipeline.Failed[uint64](err), claimed, false
	}
	fut = pipeline.NewFuture[uint64]()
	start := l.since()
	if len(entries) == 0 {
		l.pushOp(pendingOp{seq: l.seq, lastIndex: l.lastIndex.Load(), fut: fut, start: start})
		return fut, claimed, false
	}
	var encoded int64
	count := len(entries)

	var now int64
	// Read once per call: durable only grows, so an older value still gives
	// each item a true (if larger) lag.
	durable := l.durableIndex.Load()
	chunk := l.opts.MaxUnflushedIndexes / 2
	prevTerm := l.lastTerm.Load()
	// The term runs take a lock only when a term changes.
	newRun := l.terms.empty()
	for len(entries) > 0 {
		n := min(chunk, len(entries))
		part := entries[:n]
		entries = entries[n:]
		if err := l.iq.WaitRoom(n); err != nil {
			l.fail(err)
			fut.Complete(0, l.pending.failure())
			return fut, claimed, false
		}
		positions := l.posScratch[:0]
		for i := range part {
			e := &part[i]
			ts := e.Timestamp
			if ts == 0 {
				if now == 0 {
					now = l.opts.now().UnixNano()
				}
				ts = now
			}
			m := logqueue.ItemMeta{
				Index:      e.Index,
				Term:       e.Term,
				PrevTerm:   prevTerm,
				Timestamp:  ts,
				Type:       e.Type,
				DurableLag: durableLag(e.Index, durable),
			}
			pos, err := l.lq.Add(&m, e.Header, e.Data)
			if f := pos / l.opts.LogFileSize; f != l.curFile {
				l.curFile = f
				l.m.Add(metrics.FileRotations, 1)
			}
			encoded += logqueue.EncodedSize(len(e.Header), len(e.Data))
			if err != nil {
				// Part of the batch may be encoded: the log cannot go on.
				l.fail(err)
				fut.Complete(0, l.pending.failure())
				return fut, claimed, false
			}
			positions = append(positions, pos)
			if newRun || e.Term != prevTerm {
				l.terms.add(e.Index, e.Term)
				newRun = false
			}
			prevTerm = e.Term
		}
		// One lock of the index for the part rather than one per entry.
		err := l.iq.PutRun(part[0].Index, positions)
		l.posScratch = positions[:0]
		if err != nil {
			l.fail(err)
			fut.Complete(0, l.pending.failure())
			return fut, claimed, false
		}
		last := part[n-1]
		l.seq++
		op := pendingOp{seq: l.seq, lastIndex: last.Index, start: start}
		if len(entries) == 0 {
			op.fut = fut
		}
		// Queued before the flush so the force stage cannot report the seq
		// before the op is there to be completed.
		l.pushOp(op)
		if claim && len(entries) == 0 {
			claimed, ok, err = l.lq.FlushClaimed(l.seq)
		} else {
			err = l.lq.Flush(l.seq)
		}
		if err != nil {
			l.fail(err)
		}
		l.lastIndex.Store(last.Index)
		l.lastTerm.Store(last.Term)
	}
	l.m.Add(metrics.Appends, 1)
	l.m.Add(metrics.EntriesAppended, float64(count))
	l.m.Add(metrics.BytesAppended, float64(encoded))
	return fut, claimed, ok
}

// pushOp queues op, or completes its futures at once if the log failed or
// the op has nothing to wait for.
func (l *Log) pushOp(op pendingOp) {
	op.endPos = l.lq.WritePos()
	ready, err := l.pending.push(op)
	switch {
	case err != nil:
		completeWithError([]pendingOp{op}, err)
	case ready:
		if op.fut != nil {
			op.fut.Complete(op.lastIndex, nil)
		}
		if op.hs != nil {
			if err := l.hsSave.Submit(*op.hs); err != nil {
				op.hs.fut.Complete(HardState{}, err)
			}
		}
	}
}

// checkAppend validates a batch against the log's tail without changing
// anything. It runs under the append lock.
func (l *Log) checkAppend(entries []Entry) error {
	if err := l.pending.failure(); err != nil {
		return err
	}
	next := l.lastIndex.Load() + 1
	term := l.lastTerm.Load()
	fileSize := l.opts.LogFileSize
	for i := range entries {
		e := &entries[i]
		if e.Index != next {
			if i == 0 {
				return fmt.Errorf("%w: first index %d, want %d", ErrOutOfOrder, e.Index, next)
			}
			return fmt.Errorf("%w: entry %d of the call has index %d, want %d", ErrOutOfOrder, i, e.Index, next)
		}
		if e.Term < term {
			return fmt.Errorf("%w: index %d has term %d after term %d", ErrTermRegression, e.Index, e.Term, term)
		}
		if size := logqueue.EncodedSize(len(e.Header), len(e.Data)); size > fileSize {
			return fmt.Errorf("%w: index %d needs %d bytes, a log file holds %d", ErrEntryTooLarge, e.Index, size, fileSize)
		}
		next++
		term = e.Term
	}
	return nil
}

// durableLag is the distance from index back to the durable index, as
// recorded in each item for recovery, or 0 when it does not fit.
func durableLag(index, durable uint64) uint16 {
	if durable >= index || index-durable > math.MaxUint16 {
		return 0
	}
	return uint16(index - durable)
}
