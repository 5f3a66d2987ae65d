package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/raftlog/raftlog/idxqueue"
	"github.com/raftlog/raftlog/logqueue"
	"github.com/raftlog/raftlog/status"
	"github.com/raftlog/raftlog/vfs"
)

// maxResumes bounds how often verify follows a log that grows under it (see
// verify); an owner would have to acknowledge a write between every two
// reads of the tail for this to be reached.
const maxResumes = 100

// verifyResult is what verify found.
type verifyResult struct {
	entries    uint64
	lastIndex  uint64
	lastTerm   uint64
	bytes      int64
	logFiles   int
	idxChecked uint64
	stop       walkStop
	tornEnd    int64  // torn tail: log position of the end of what Open zeroes
	corruptAt  string // the first problem, "file offset N: reason"; "" when none
	corruptWhy string // why that makes the log corrupt
	ioErr      error

	lastFile int64 // start of the log file of the last entry counted
}

// runVerify checks the whole log and exits 1 on corruption. It applies the
// rules of recovery (restore.Run with FullScan), so that it fails on the
// logs that Open refuses and Repair cuts, plus damaged index files. The
// rules are restated here rather than calling restore.Run because verify
// must follow a log that grows under it (see verify):
//
//   - every item from the first index validates (both CRCs) and continues
//     the chain (index, prevTerm, term, epoch); a valid item of the current
//     epoch that breaks the chain is corruption;
//   - where the valid chain ends (unwritten space, bytes that are not an
//     item, a stale item of an older epoch or cut off by the last tail
//     truncation), it must not end below the hard state's commit index or
//     the persisted index;
//   - no valid item past the end may prove, through its DurableLag, that
//     the first missing index had been acknowledged;
//   - every index up to the persisted index has its position in the index
//     files (Log.Entry reads through them);
//   - the status file loads and every file has the right name and size.
//
// Bytes past the end that pass these checks are a torn tail (writes never
// acknowledged) or the old bytes of a recycled log file, which never
// validate at their new positions; Open zeroes the items among them whose
// headers validate (logqueue's TailExtent). verify reports them and exits 0.
func runVerify(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("verify", "DIR", stderr)
	dir, code, ok := parseArgs(fs, args, stderr)
	if !ok {
		return code
	}
	v, err := openView(dir)
	if err != nil {
		if errors.Is(err, logqueue.ErrBadFile) || errors.Is(err, idxqueue.ErrCorrupt) ||
			errors.Is(err, status.ErrCorrupt) {
			fmt.Fprintf(stdout, "CORRUPT      %v\n", err)
			return exitFail
		}
		fmt.Fprintf(stderr, "raftlog verify: %v\n", err)
		return exitFail
	}
	r := verify(v)
	for attempt := 0; r.corruptAt != "" && r.stop.epochAhead && attempt < 3; attempt++ {
		// The owner may have started a new epoch (reopened the log or cut
		// its tail) after the status file was read: if the file says so
		// now, look again with it.
		st, err := status.Load(vfs.Default, dir)
		if err != nil || st.Epoch == v.st.Epoch {
			break
		}
		v.close()
		if v, err = openView(dir); err != nil {
			fmt.Fprintf(stderr, "raftlog verify: %v\n", err)
			return exitFail
		}
		r = verify(v)
	}
	defer v.close()
	if r.ioErr != nil {
		fmt.Fprintf(stderr, "raftlog verify: %v\n", r.ioErr)
		return exitFail
	}
	r.print(stdout, v)
	if r.corruptAt != "" {
		return exitFail
	}
	return exitOK
}

// verify walks the log from its first index. The owner of the directory may
// be appending meanwhile, which a reader can mistake for corruption in one
// way: the walk reads the tail in blocks, so it may stop at space that was
// unwritten when read, and then find past it items written (and
// acknowledged) since. So when the look past the end finds such proof,
// verify resumes the walk where it stopped: if the next item is there now,
// the log grew and the walk goes on; if it still is not, the proof stands.
func verify(v *view) verifyResult {
	st := v.st
	r := verifyResult{lastFile: -1}
	w := v.walk(v.chainStart())
	proof := ""
	for resumes := 0; ; resumes++ {
		n := 0
		for {
			it, ok := w.next()
			if !ok {
				break
			}
			n++
			if !r.add(v, it) {
				return r
			}
		}
		r.stop = w.stop
		r.lastIndex, r.lastTerm = w.s.next-1, w.s.lastTerm
		if proof != "" && n == 0 {
			r.corruptAt = r.stop.describe(v)
			r.corruptWhy = fmt.Sprintf("index %d is missing or damaged, but %s", w.s.next, proof)
			return r
		}
		switch r.stop.kind {
		case stopIO:
			r.ioErr = r.stop.err
			return r
		case stopMissing:
			r.corruptAt = r.stop.describe(v)
			r.corruptWhy = "later log files exist, so the log cannot end here"
			return r
		case stopChain:
			r.corruptAt = r.stop.describe(v)
			r.corruptWhy = "a valid item of the current epoch must continue the chain"
			return r
		}
		switch {
		case r.lastIndex < st.Commit:
			r.corruptAt = r.stop.describe(v)
			r.corruptWhy = fmt.Sprintf("the valid log ends at index %d, below the commit index %d of the hard state", r.lastIndex, st.Commit)
			return r
		case r.lastIndex < st.PersistedIndex:
			r.corruptAt = r.stop.describe(v)
			r.corruptWhy = fmt.Sprintf("the valid log ends at index %d, below the persisted index %d", r.lastIndex, st.PersistedIndex)
			return r
		}
		if v.lookAheadHook != nil {
			v.lookAheadHook()
		}
		var err error
		if proof, err = v.acknowledgedAfter(w.s); err != nil {
			r.ioErr = err
			return r
		}
		if proof == "" {
			break
		}
		if resumes == maxResumes {
			r.corruptAt = r.stop.describe(v)
			r.corruptWhy = fmt.Sprintf("index %d is missing or damaged, but %s", w.s.next, proof)
			return r
		}
		w = v.walk(w.s)
	}
	if r.stop.kind != stopEnd {
		end, err := v.lq.TailExtent(r.stop.pos)
		if err != nil {
			r.ioErr = err
		}
		r.tornEnd = end
	}
	return r
}

// add counts it and checks its position in the index files. It returns
// false when that check found corruption or failed.
func (r *verifyResult) add(v *view, it item) bool {
	m := it.meta
	r.entries++
	r.bytes += logqueue.EncodedSize(int(m.HeaderLen), int(m.DataLen))
	if f := it.pos &^ (v.logFileSize - 1); f != r.lastFile {
		r.logFiles++
		r.lastFile = f
	}
	if m.Index > v.st.PersistedIndex {
		return true
	}
	// The index files are trusted up to the persisted index: each of those
	// positions must be exactly where the chain has the item.
	p, err := v.iq.Position(m.Index)
	switch {
	case errors.Is(err, idxqueue.ErrNotFound):
		r.corruptAt = fmt.Sprintf("%s: %v", v.idxWhere(m.Index), err)
	case err != nil:
		r.ioErr = err
	case p != it.pos:
		r.corruptAt = fmt.Sprintf("%s: index %d points at log position %d (%s), but the item is at %d (%s)",
			v.idxWhere(m.Index), m.Index, p, v.where(p), it.pos, v.where(it.pos))
	default:
		r.idxChecked++
		return true
	}
	r.corruptWhy = fmt.Sprintf("the index files must hold the position of every index up to the persisted index %d", v.st.PersistedIndex)
	r.lastIndex, r.lastTerm = m.Index, m.Term
	return false
}

// acknowledgedAfter looks past the end of the chain s for a valid item of
// the current run that proves index s.next had been acknowledged before it
// was written (its DurableLag reaches back to s.next or beyond). It returns
// what proves it, or "". This is recovery's test
// (restore.Chain.ProvesAcknowledged).
func (v *view) acknowledgedAfter(s chainState) (string, error) {
	proof := ""
	c := s.chain()
	_, err := v.lq.FindItems(s.pos, func(m logqueue.ItemMeta, at int64) bool {
		if c.ProvesAcknowledged(m, v.st) {
			proof = fmt.Sprintf("index %d at %s was written after index %d had been acknowledged durable",
				m.Index, v.where(at), m.Index-uint64(m.DurableLag))
			return false
		}
		return true
	})
	if err != nil {
		return "", fmt.Errorf("looking past the end of the log at %s: %w", v.where(s.pos), err)
	}
	return proof, nil
}

func (r verifyResult) print(w io.Writer, v *view) {
	st := v.st
	fmt.Fprintf(w, "status       term %d, vote %d, commit %d; persisted index %d; first index %d; epoch %d\n",
		st.Term, st.Vote, st.Commit, st.PersistedIndex, st.FirstIndex, st.Epoch)
	fmt.Fprintf(w, "entries      %d valid [%d, %d], last term %d, %d bytes in %d log files\n",
		r.entries, st.FirstIndex, r.lastIndex, r.lastTerm, r.bytes, r.logFiles)
	fmt.Fprintf(w, "index files  %d positions match the log (indexes up to the persisted index %d)\n",
		r.idxChecked, st.PersistedIndex)
	if r.corruptAt != "" {
		fmt.Fprintf(w, "CORRUPT      %s\n", r.corruptAt)
		fmt.Fprintf(w, "             %s\n", r.corruptWhy)
		return
	}
	if r.stop.kind == stopEnd {
		fmt.Fprintf(w, "end          %s\n", r.stop.describe(v))
		fmt.Fprintln(w, "OK")
		return
	}
	fmt.Fprintf(w, "torn tail    %s\n", r.stop.describe(v))
	if r.tornEnd > r.stop.pos {
		fmt.Fprintf(w, "             items of unacknowledged writes up to %s offset %d: Open zeroes them\n",
			v.logFileName(r.stop.pos), r.tornEnd-r.stop.pos&^(v.logFileSize-1))
	} else {
		fmt.Fprintln(w, "             no item header past the end (a write cut before one was whole, or the old bytes of a recycled log file): Open leaves them")
	}
	fmt.Fprintf(w, "OK (torn tail after index %d, not below the commit index %d or the persisted index %d)\n",
		r.lastIndex, st.Commit, st.PersistedIndex)
}
