package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/raftlog/raftlog"
	"github.com/raftlog/raftlog/vfs"
)

// runRepair runs raftlog.Repair on DIR with the file sizes found on disk and
// prints its report. It is the one command that writes, so it is the one
// that must not run beside the directory's owner: Repair takes the
// directory lock and fails with raftlog.ErrLocked while the owner holds it.
func runRepair(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("repair", "DIR", stderr)
	dir, code, ok := parseArgs(fs, args, stderr)
	if !ok {
		return code
	}
	names, err := vfs.Default.List(dir)
	if err != nil {
		fmt.Fprintf(stderr, "raftlog repair: list %s: %v\n", dir, err)
		return exitFail
	}
	logFileSize, itemsPerFile, err := inferSizes(dir, names)
	if err != nil {
		fmt.Fprintf(stderr, "raftlog repair: %v\n", err)
		return exitFail
	}
	rep, err := raftlog.Repair(dir, raftlog.Options{LogFileSize: logFileSize, IdxItemsPerFile: int(itemsPerFile)})
	if err != nil {
		if errors.Is(err, raftlog.ErrLocked) {
			return refuseRepair(dir, err, stderr)
		}
		fmt.Fprintf(stderr, "raftlog repair: %v\n", err)
		return exitFail
	}
	printRepairReport(stdout, rep)
	return exitOK
}

func refuseRepair(dir string, err error, stderr io.Writer) int {
	fmt.Fprintf(stderr, "raftlog repair: refusing: %s is open in a running Log (%v); stop it first, or inspect it with info, dump and verify\n", dir, err)
	return exitFail
}

func printRepairReport(w io.Writer, rep raftlog.RepairReport) {
	if !rep.Corrupt {
		fmt.Fprintf(w, "nothing to repair: the log validated to its end (last index %d)\n", rep.LastIndex)
		return
	}
	fmt.Fprintf(w, "cut at       %s offset %d: %s\n", rep.File, rep.Offset, rep.Reason)
	fmt.Fprintf(w, "last index   %d kept\n", rep.LastIndex)
	fmt.Fprintf(w, "removed      %d bytes, a copy saved in %s\n", rep.RemovedBytes, rep.SideDir)
	if rep.CommitLowered != 0 {
		fmt.Fprintf(w, "WARNING      the commit index was %d: entries this node had committed are gone and must come back from a peer or a snapshot\n", rep.CommitLowered)
	}
}
