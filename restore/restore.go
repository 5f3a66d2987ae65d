package restore

import (
	"errors"
	"fmt"
	"time"

	"github.com/raftlog/raftlog/idxqueue"
	"github.com/raftlog/raftlog/logqueue"
	"github.com/raftlog/raftlog/status"
)

// ErrCorrupt reports a log whose durable part contradicts itself. The error
// returned is a *CorruptionError that says where and why.
var ErrCorrupt = errors.New("restore: log is corrupt")

// CorruptionError locates the first problem recovery will not cut away:
// damage to data that was acknowledged, or a chain that contradicts itself.
type CorruptionError struct {
	// File and Offset locate the problem; Pos is its log position (where a
	// repair would cut). File is empty when no file holds Pos.
	File   string
	Offset int64
	Pos    int64
	// Index is the index expected at Pos.
	Index  uint64
	Reason string
}

func (e *CorruptionError) Error() string {
	where := fmt.Sprintf("log position %d", e.Pos)
	if e.File != "" {
		where = fmt.Sprintf("%s at offset %d", e.File, e.Offset)
	}
	return fmt.Sprintf("restore: log is corrupt in %s (index %d expected): %s", where, e.Index, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) hold.
func (e *CorruptionError) Is(target error) bool { return target == ErrCorrupt }

// EndKind says how the valid log ends.
type EndKind int

const (
	// CleanEnd: unwritten space (or the end of the last file, or items of an
	// older epoch) right after the last valid item.
	CleanEnd EndKind = iota
	// TornTail: bytes that are not an item follow the last valid item:
	// those of writes that were never acknowledged, which recovery cuts,
	// or the old bytes of a recycled log file (logqueue's recycle.go),
	// which a clean close leaves there too.
	TornTail
)

func (k EndKind) String() string {
	if k == TornTail {
		return "torn tail"
	}
	return "clean end"
}

// Classify tells what an error from a scan means for recovery: nil and
// ErrEndOfLog are a clean end, ErrInvalidItem a torn tail (until the checks
// in Run show that acknowledged data is damaged), and anything wrapping
// ErrCorrupt is corruption. ok is false for other errors (I/O failures).
func Classify(err error) (kind EndKind, corrupt, ok bool) {
	switch {
	case err == nil, errors.Is(err, logqueue.ErrEndOfLog):
		return CleanEnd, false, true
	case errors.Is(err, ErrCorrupt), errors.Is(err, logqueue.ErrCorrupt), errors.Is(err, logqueue.ErrNoFile):
		return CleanEnd, true, true
	case errors.Is(err, logqueue.ErrInvalidItem):
		return TornTail, false, true
	}
	return CleanEnd, false, false
}

// Options change how Run works.
type Options struct {
	// FullScan validates the whole log from its first index instead of only
	// the tail after the persisted index (for verification and repair).
	FullScan bool
	// ReadOnly leaves the disk untouched: no tail is cut or synced.
	ReadOnly bool
}

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
	// BaseTerm is the term of index TailFirst-1, and TermStarts lists where
	// the terms of the tail change: together they give the term of every
	// index from TailFirst-1 to LastIndex without reading the log again.
	BaseTerm   uint64
	TermStarts []TermStart
	// End says how the log ends; EndReason says what was found there.
	End       EndKind
	EndReason string
	// Rebuilt is true when the index files did not hold the persisted
	// index's position and the whole log was scanned to rebuild them.
	Rebuilt bool
	// ScannedBytes counts the log bytes validated; CutBytes the bytes zeroed
	// after the last valid item.
	ScannedBytes int64
	CutBytes     int64
	Duration     time.Duration
}

// TermStart says that entries from index First on have term Term.
type TermStart struct{ First, Term uint64 }

// Chain is the state of a validated chain of items just before the next
// position: the index expected there, the term before it and the epoch of
// the last valid item. Its methods are the rules recovery applies to the
// items it meets, which raftlog verify applies too.
type Chain struct {
	Next     uint64 // index expected next
	LastTerm uint64 // term of index Next-1
	Epoch    uint32 // epoch of the last valid item
}

// Run recovers the log described by st. It changes the disk only to cut the
// torn tail and to sync what it validated (neither with opts.ReadOnly).
//
// Corruption is reported, never cut: an item that fails validation, or
// unwritten space, followed by a valid item that proves the failed index had
// been acknowledged (see logqueue.ItemMeta.DurableLag); a valid item in the
// current epoch whose index, term or previous term breaks the chain; a log
// that ends below the hard state's commit index or the persisted index.
func Run(st status.State, lq *logqueue.Queue, iq *idxqueue.Queue, opts Options) (Result, error) {
	start := time.Now()
	var res Result
	first := max(st.FirstIndex, 1)
	mustHave := max(st.Commit, st.PersistedIndex)

	pos := st.FirstPos
	c := Chain{Next: first, LastTerm: st.FirstPrevTerm}
	if p := st.PersistedIndex; p >= first && !opts.FullScan {
		ppos, m, err := persistedItem(lq, iq, p)
		if err == nil {
			pos = ppos + logqueue.EncodedSize(int(m.HeaderLen), int(m.DataLen))
			c = Chain{Next: p + 1, LastTerm: m.Term, Epoch: m.Epoch}
		} else {
			// The index files are only a cache of positions: scan the
			// whole log and let the flush stage write them again.
			res.Rebuilt = true
		}
	}
	res.TailFirst = c.Next
	res.BaseTerm = c.LastTerm

	sc := lq.NewScanner(pos)
	var endErr error
	for {
		m, _, _, ipos, err := sc.Next()
		if err != nil {
			endErr = err
			break
		}
		if c.Stale(m, st) {
			endErr = fmt.Errorf("%w: stale item (index %d, epoch %d) after epoch %d", logqueue.ErrEndOfLog, m.Index, m.Epoch, c.Epoch)
			break
		}
		if reason := c.Breaks(m, st.Epoch); reason != "" {
			return res, corruption(lq, ipos, c.Next, reason)
		}
		res.TailPositions = append(res.TailPositions, ipos)
		if m.Term != c.LastTerm {
			res.TermStarts = append(res.TermStarts, TermStart{First: m.Index, Term: m.Term})
		}
		res.ScannedBytes += logqueue.EncodedSize(int(m.HeaderLen), int(m.DataLen))
		c = Chain{Next: m.Index + 1, LastTerm: m.Term, Epoch: m.Epoch}
		pos = sc.Pos()
	}
	kind, corrupt, ok := Classify(endErr)
	switch {
	case !ok:
		return res, fmt.Errorf("restore: scanning the log at position %d: %w", sc.Pos(), endErr)
	case corrupt:
		return res, corruption(lq, sc.Pos(), c.Next, endErr.Error())
	}
	res.End, res.EndReason = kind, endErr.Error()
	if c.Next <= mustHave {
		return res, corruption(lq, sc.Pos(), c.Next, fmt.Sprintf(
			"the log ends at index %d, below the commit index %d / persisted index %d that were durable (%s)",
			c.Next-1, st.Commit, st.PersistedIndex, endErr))
	}
	extent, err := acknowledgedAfter(lq, sc.Pos(), c, st)
	if err != nil {
		return res, err
	}

	res.LastIndex = c.Next - 1
	res.LastTerm = c.LastTerm
	res.LastEpoch = c.Epoch
	res.WritePos = pos
	if !opts.ReadOnly {
		// The search past the end started at sc.Pos(): pos, or past a stale
		// item or an end marker. Cutting from pos to the extent it found
		// takes those too (CutTailTo stops at the end of pos's file); the
		// writer rewrites an end marker when it gets there.
		cut, err := lq.CutTailTo(pos, extent)
		if err != nil {
			return res, fmt.Errorf("restore: cutting the tail at position %d: %w", pos, err)
		}
		res.CutBytes = cut
		if len(res.TailPositions) > 0 {
			if err := lq.SyncRange(res.TailPositions[0], pos); err != nil {
				return res, fmt.Errorf("restore: syncing the recovered tail: %w", err)
			}
		}
	}
	res.Duration = time.Since(start)
	return res, nil
}

// persistedItem reads the item the index files give for index p.
func persistedItem(lq *logqueue.Queue, iq *idxqueue.Queue, p uint64) (int64, logqueue.ItemMeta, error) {
	ppos, err := iq.Position(p)
	if err != nil {
		return 0, logqueue.ItemMeta{}, err
	}
	m, _, _, err := lq.ReadItem(ppos)
	if err != nil {
		return 0, m, err
	}
	if m.Index != p {
		return 0, m, fmt.Errorf("%w: index file gives position %d for index %d, which holds index %d",
			ErrCorrupt, ppos, p, m.Index)
	}
	return ppos, m, nil
}

// Stale reports whether m is left over from an earlier use of its bytes: an
// item of an older epoch than the chain's, or one that the last tail
// truncation cut off (st is the status file's state). A stale item ends the
// chain cleanly.
func (c Chain) Stale(m logqueue.ItemMeta, st status.State) bool {
	if m.Epoch < c.Epoch {
		return true
	}
	return st.TruncatedFrom > 0 && m.Index >= st.TruncatedFrom && m.Epoch < st.TruncEpoch
}

// Breaks returns why item m, valid and not stale, cannot follow the chain
// c, or "" if it can. maxEpoch is the status file's epoch, which no item
// may be above. An item that breaks the chain is corruption.
func (c Chain) Breaks(m logqueue.ItemMeta, maxEpoch uint32) string {
	switch {
	case m.Epoch > maxEpoch:
		return fmt.Sprintf("index %d has epoch %d, above the status file's epoch %d", m.Index, m.Epoch, maxEpoch)
	case m.Index != c.Next:
		return fmt.Sprintf("item has index %d, want %d", m.Index, c.Next)
	case m.Term < c.LastTerm:
		return fmt.Sprintf("index %d has term %d, below the term %d before it", m.Index, m.Term, c.LastTerm)
	case m.PrevTerm != c.LastTerm:
		return fmt.Sprintf("index %d has prevTerm %d, but index %d has term %d", m.Index, m.PrevTerm, m.Index-1, c.LastTerm)
	}
	return ""
}

// ProvesAcknowledged reports whether m, a valid item found past the end of
// the chain c, proves that index c.Next had been acknowledged durable
// before m was written (its DurableLag reaches back to c.Next or beyond):
// then the end of c is damage to acknowledged data, not a torn tail.
func (c Chain) ProvesAcknowledged(m logqueue.ItemMeta, st status.State) bool {
	if c.Stale(m, st) || m.Epoch > st.Epoch || m.Index < c.Next || m.DurableLag == 0 {
		return false
	}
	return m.Index-uint64(m.DurableLag) >= c.Next
}

// acknowledgedAfter looks past the end at pos for a valid item of the
// current chain that proves index c.Next had been acknowledged before it was
// written. Such an item turns what looks like a torn tail into corruption.
//
// It returns the extent of the items past pos (logqueue.TailExtent).
func acknowledgedAfter(lq *logqueue.Queue, pos int64, c Chain, st status.State) (int64, error) {
	var proof string
	extent, err := lq.FindItems(pos, func(m logqueue.ItemMeta, at int64) bool {
		if c.ProvesAcknowledged(m, st) {
			proof = fmt.Sprintf("the item at position %d (index %d) was written after index %d was acknowledged durable",
				at, m.Index, c.Next)
			return false
		}
		return true
	})
	if err != nil {
		return 0, fmt.Errorf("restore: looking past the end of the log at position %d: %w", pos, err)
	}
	if proof != "" {
		return 0, corruption(lq, pos, c.Next, "an item is missing or damaged: "+proof)
	}
	return extent, nil
}

func corruption(lq *logqueue.Queue, pos int64, index uint64, reason string) error {
	e := &CorruptionError{Pos: pos, Index: index, Reason: reason}
	fileSize := lq.FileSize()
	start := pos - pos%fileSize
	for _, f := range lq.Files() {
		if f.StartPos == start {
			e.File, e.Offset = f.Name, pos-start
		}
	}
	return e
}
