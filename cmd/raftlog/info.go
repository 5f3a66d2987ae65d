package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// runInfo prints what a directory holds. Finding the last index costs what
// recovery costs: a scan of the log written after the persisted index, not
// of the whole log.
func runInfo(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("info", "DIR", stderr)
	dir, code, ok := parseArgs(fs, args, stderr)
	if !ok {
		return code
	}
	v, ok := openOrReport("info", dir, stderr)
	if !ok {
		return exitFail
	}
	defer v.close()
	uses, err := diskUse(dir, v.names)
	if err != nil {
		fmt.Fprintf(stderr, "raftlog info: %v\n", err)
		return exitFail
	}
	if err := printInfo(stdout, stderr, v, uses); err != nil {
		fmt.Fprintf(stderr, "raftlog info: %v\n", err)
		return exitFail
	}
	return exitOK
}

func printInfo(w, stderr io.Writer, v *view, uses []fileUse) error {
	st := v.st
	fmt.Fprintf(w, "directory    %s\n", v.dir)
	fmt.Fprintf(w, "hard state   term %d, vote %d, commit %d\n", st.Term, st.Vote, st.Commit)
	fmt.Fprintf(w, "status       persisted index %d, epoch %d, first index %d at %s, prev term %d\n",
		st.PersistedIndex, st.Epoch, st.FirstIndex, v.where(st.FirstPos), st.FirstPrevTerm)
	if st.TruncatedFrom > 0 {
		fmt.Fprintf(w, "             last tail truncation from index %d (epoch %d)\n", st.TruncatedFrom, st.TruncEpoch)
	}
	if st.Installing {
		fmt.Fprintln(w, "             a snapshot install is in progress")
	}
	if len(st.Props) > 0 {
		keys := make([]string, 0, len(st.Props))
		for k := range st.Props {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		fmt.Fprintf(w, "properties   %s\n", strings.Join(keys, ", "))
	}

	// The first entry, then the end of the chain from the persisted index.
	first := v.walk(v.chainStart())
	if it, ok := first.next(); ok {
		fmt.Fprintf(w, "first entry  index %d, term %d\n", it.meta.Index, it.meta.Term)
	} else {
		fmt.Fprintf(w, "first entry  none (%s)\n", first.stop.describe(v))
	}
	s, err := v.startNear(st.PersistedIndex)
	if err != nil {
		fmt.Fprintf(stderr, "raftlog info: %v; scanning from the first index\n", err)
		s = v.chainStart()
	}
	tail := v.walk(s)
	for {
		if _, ok := tail.next(); !ok {
			break
		}
	}
	if tail.stop.kind == stopIO {
		return tail.stop.err
	}
	last := tail.s.next - 1
	fmt.Fprintf(w, "last entry   index %d, term %d (%d entries)\n", last, tail.s.lastTerm, last+1-st.FirstIndex)
	switch tail.stop.kind {
	case stopEnd:
		fmt.Fprintf(w, "end          %s\n", tail.stop.describe(v))
	case stopInvalid:
		fmt.Fprintf(w, "end          %s (a torn tail or the old bytes of a recycled log file; verify tells them from damage)\n", tail.stop.describe(v))
	default:
		fmt.Fprintf(w, "end          %s (run verify)\n", tail.stop.describe(v))
	}

	var logs, idxs, others []fileUse
	var total, allocated int64
	for _, u := range uses {
		total += u.size
		allocated += u.allocated
		if _, ok := parseName(u.name, logSuffix); ok {
			logs = append(logs, u)
		} else if _, ok := parseName(u.name, idxSuffix); ok {
			idxs = append(idxs, u)
		} else {
			others = append(others, u)
		}
	}
	fmt.Fprintf(w, "log files    %d, LogFileSize %d (from the files)\n", len(logs), v.logFileSize)
	for _, u := range logs {
		fmt.Fprintf(w, "  %s  %d bytes, %d allocated\n", u.name, u.size, u.allocated)
	}
	fmt.Fprintf(w, "index files  %d, IdxItemsPerFile %d (from the files)\n", len(idxs), v.itemsPerFile)
	for _, u := range idxs {
		firstIdx, _ := parseName(u.name, idxSuffix)
		fmt.Fprintf(w, "  %s  %d bytes, indexes [%d, %d]\n", u.name, u.size, firstIdx, firstIdx+v.itemsPerFile-1)
	}
	fmt.Fprintf(w, "other files  %d\n", len(others))
	for _, u := range others {
		note := ""
		if base, ok := strings.CutSuffix(u.name, spareSuffix); ok {
			if _, ok := parseName(base, logSuffix); ok {
				note = " (spare: compacted, to be reused as a new log file)"
			}
		}
		fmt.Fprintf(w, "  %s  %d bytes%s\n", u.name, u.size, note)
	}
	fmt.Fprintf(w, "disk use     %d bytes in %d files, %d allocated\n", total, len(uses), allocated)
	return nil
}
