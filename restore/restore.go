package restore

import (
	"errors"
	"fmt"
	"time"

	"github.com/raftlog/raftlog/idxqueue"
	"github.com/raftlog/raftlog/logqueue"
	"github.com/raftlog/raftlog/status"
)

// ErrCorrupt reports a log whose durable part contradicts itself: the index
// files point at an item that is not the one they name, or the log ends below
// what the status file records as persisted.
var ErrCorrupt = errors.New("restore: log is corrupt")

// Result is what recovery found.
type Result struct {
	// LastIndex and LastTerm describe the last valid item; with no item after
	// the first index they are FirstIndex-1 and the snapshot term.
	LastIndex, LastTerm uint64
	// LastEpoch is the epoch of the last valid item (0 with none).
	LastEpoch uint32
	// WritePos is where the next item goes.
	WritePos int64
	// TailFirst is the index of TailPositions[0]: the items after the
	// persisted index, whose positions the index queue must be given.
	TailFirst     uint64
	TailPositions []int64
	// ScannedBytes counts the log bytes validated; CutBytes the bytes zeroed
	// after the last valid item.
	ScannedBytes int64
	CutBytes     int64
	Duration     time.Duration
}

// Run recovers the log described by st. It changes the disk only to cut the
// torn tail and to sync what it validated.
func Run(st status.State, lq *logqueue.Queue, iq *idxqueue.Queue) (Result, error) {
	start := time.Now()
	var res Result
	first := max(st.FirstIndex, 1)

	// Where the scan starts, and the chain state just before it.
	pos := st.FirstPos
	next := first
	lastTerm := st.FirstPrevTerm
	var lastEpoch uint32
	if p := st.PersistedIndex; p >= first {
		ppos, err := iq.Position(p)
		if err != nil {
			return res, fmt.Errorf("%w: position of persisted index %d: %w", ErrCorrupt, p, err)
		}
		m, hdr, data, err := lq.ReadItem(ppos)
		if err != nil {
			return res, fmt.Errorf("%w: persisted index %d at position %d: %w", ErrCorrupt, p, ppos, err)
		}
		if m.Index != p {
			return res, fmt.Errorf("%w: index file says index %d is at position %d, but the item there has index %d",
				ErrCorrupt, p, ppos, m.Index)
		}
		pos = ppos + logqueue.EncodedSize(len(hdr), len(data))
		next = p + 1
		lastTerm = m.Term
		lastEpoch = m.Epoch
	}
	res.TailFirst = next

	sc := lq.NewScanner(pos)
	for {
		m, _, _, ipos, err := sc.Next()
		if err != nil {
			if errors.Is(err, logqueue.ErrEndOfLog) || errors.Is(err, logqueue.ErrInvalidItem) {
				break
			}
			if errors.Is(err, logqueue.ErrNoFile) {
				return res, fmt.Errorf("%w: a log file is missing in the middle of the log: %w", ErrCorrupt, err)
			}
			return res, err
		}
		if m.Index != next || m.PrevTerm != lastTerm || m.Term < lastTerm ||
			m.Epoch < lastEpoch || m.Epoch > st.Epoch {
			// A stale or foreign item: the chain ends before it.
			pos = ipos
			break
		}
		res.TailPositions = append(res.TailPositions, ipos)
		res.ScannedBytes += logqueue.EncodedSize(int(m.HeaderLen), int(m.DataLen))
		next++
		lastTerm = m.Term
		lastEpoch = m.Epoch
		pos = sc.Pos()
	}
	if next <= st.PersistedIndex {
		return res, fmt.Errorf("%w: log ends at index %d below the persisted index %d", ErrCorrupt, next-1, st.PersistedIndex)
	}
	res.LastIndex = next - 1
	res.LastTerm = lastTerm
	res.LastEpoch = lastEpoch
	res.WritePos = pos

	cut, err := lq.CutTail(pos)
	if err != nil {
		return res, fmt.Errorf("restore: cutting the tail at position %d: %w", pos, err)
	}
	res.CutBytes = cut
	if len(res.TailPositions) > 0 {
		if err := lq.SyncRange(res.TailPositions[0], pos); err != nil {
			return res, fmt.Errorf("restore: syncing the recovered tail: %w", err)
		}
	}
	res.Duration = time.Since(start)
	return res, nil
}
