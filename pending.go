package raftlog

import (
	"sync"

	"github.com/raftlog/raftlog/metrics"

	"github.com/raftlog/raftlog/pipeline"
)

// pendingOp is a call waiting for the write stage to make its batch durable.
// seq is the chainwriter tag of the batch it waits for.
type pendingOp struct {
	seq       uint64
	lastIndex uint64
	fut       *pipeline.Future[uint64] // an Append; nil for the inner chunks of a large one
	hs        *hardStateRequest        // a SetHardState
	start     int64                    // Log.since() at submission, for the append latency
	// endPos is the log's write position when the op was queued: every
	// item below it is in a batch with a tag up to seq, so it is durable
	// once seq is (see Log.durablePos).
	endPos int64
}

// pendingQueue holds the calls in submission order until the force stage
// reports their seq durable. Appenders push under the append lock; the force
// goroutine pops. The first failure is sticky and drains the queue.
type pendingQueue struct {
	mu         sync.Mutex
	ops        []pendingOp
	head       int
	durableSeq uint64
	failErr    error
}

// push queues op. It returns the sticky failure instead if the log failed.
// ready is true when op's seq is already durable (only a SetHardState issued
// with no append in flight).
func (q *pendingQueue) push(op pendingOp) (ready bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.failErr != nil {
		return false, q.failErr
	}
	if op.seq <= q.durableSeq && q.head == len(q.ops) {
		return true, nil
	}
	if q.head > 0 && q.head == len(q.ops) {
		// Empty: reuse the backing array from its start.
		q.ops, q.head = q.ops[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.ops) {
		n := copy(q.ops, q.ops[q.head:])
		clear(q.ops[n:])
		q.ops, q.head = q.ops[:n], 0
	}
	q.ops = append(q.ops, op)
	return false, nil
}

// popThrough moves every op with seq ≤ seq into out (reused by the caller)
// and records seq as durable.
func (q *pendingQueue) popThrough(seq uint64, out []pendingOp) []pendingOp {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.failErr != nil {
		return out
	}
	if seq > q.durableSeq {
		q.durableSeq = seq
	}
	for q.head < len(q.ops) && q.ops[q.head].seq <= seq {
		out = append(out, q.ops[q.head])
		q.ops[q.head] = pendingOp{}
		q.head++
	}
	return out
}

// fail records err as the sticky failure (the first one wins) and completes
// every queued op with it. It reports whether err was the first.
func (q *pendingQueue) fail(err error) (first bool) {
	q.mu.Lock()
	if q.failErr == nil {
		q.failErr = err
		first = true
	}
	err = q.failErr
	ops := q.ops[q.head:]
	q.ops, q.head = nil, 0
	q.mu.Unlock()
	completeWithError(ops, err)
	return first
}

// failAll completes what is still queued with err without marking the queue
// failed (used by Close, once nothing can be pushed any more).
func (q *pendingQueue) failAll(err error) {
	q.mu.Lock()
	ops := q.ops[q.head:]
	q.ops, q.head = nil, 0
	q.mu.Unlock()
	completeWithError(ops, err)
}

func (q *pendingQueue) failure() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.failErr
}

func completeWithError(ops []pendingOp, err error) {
	for _, op := range ops {
		if op.fut != nil {
			op.fut.Complete(0, err)
		}
		if op.hs != nil {
			op.hs.fut.Complete(HardState{}, err)
		}
	}
}

// onForced runs each time batches become durable: it completes the futures
// in order, lets the index queue flush the positions, and hands hard states
// waiting on these batches to the status goroutine. It runs on the log
// chainwriter's report goroutine, or on the goroutine of an AppendWait that
// wrote its batch itself; the chainwriter makes these calls under one mutex,
// so they never overlap.
func (l *Log) onForced(seq uint64) {
	// forcedScratch is touched only here, and calls of onForced never overlap.
	ops := l.pending.popThrough(seq, l.forcedScratch[:0])
	if len(ops) == 0 {
		return
	}
	last := ops[len(ops)-1].lastIndex
	l.durablePos.Store(ops[len(ops)-1].endPos)
	if prev := l.durableIndex.Swap(last); last > prev {
		l.m.Observe(metrics.FsyncEntries, float64(last-prev))
	}
	l.iq.Durable(last)
	now := l.since()
	for i := range ops {
		op := &ops[i]
		if op.fut != nil {
			l.m.Observe(metrics.AppendLatency, float64(now-op.start)/1e9)
			op.fut.Complete(op.lastIndex, nil)
		}
		if op.hs != nil {
			if err := l.hsSave.Submit(*op.hs); err != nil {
				op.hs.fut.Complete(HardState{}, err)
			}
		}
		*op = pendingOp{}
	}
	l.forcedScratch = ops[:0]
}
