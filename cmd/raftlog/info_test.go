package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog"
)

func TestInfo(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, testEntries, 150)

	code, out, errOut := runCmd("info", dir)
	require.Equal(t, exitOK, code, errOut)
	require.Empty(t, errOut)
	for _, want := range []string{
		"directory    " + dir + "\n",
		fmt.Sprintf("hard state   term %d, vote 2, commit 150\n", 1+testEntries/25),
		fmt.Sprintf("status       persisted index %d, epoch 1, first index 1 at %020d.log offset 0, prev term 0\n", testEntries, 0),
		"first entry  index 1, term 1\n",
		fmt.Sprintf("last entry   index %d, term %d (%d entries)\n", testEntries, testEntry(testEntries).Term, testEntries),
		"unwritten space\n",
		fmt.Sprintf("LogFileSize %d (from the files)", testLogFileSize),
		fmt.Sprintf("IdxItemsPerFile %d (from the files)", testItemsPerFile),
		fmt.Sprintf("  %020d.idx  %d bytes, indexes [32, 47]\n", 32, testItemsPerFile*8),
		"  status  32768 bytes\n",
	} {
		require.Contains(t, out, want)
	}

	// Every file is listed with its size, and the total adds up.
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var total int64
	for _, e := range entries {
		fi, err := e.Info()
		require.NoError(t, err)
		total += fi.Size()
		require.Regexp(t, "(?m)^  "+regexp.QuoteMeta(e.Name())+"  "+strconv.FormatInt(fi.Size(), 10)+" bytes", out)
	}
	require.Contains(t, out, fmt.Sprintf("disk use     %d bytes in %d files, ", total, len(entries)))
}

func TestInfoNotRaftlog(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCmd("info", dir)
	require.Equal(t, exitFail, code)
	require.Empty(t, out)
	require.Contains(t, errOut, "not a raftlog directory")

	code, _, errOut = runCmd("info", filepath.Join(dir, "missing"))
	require.Equal(t, exitFail, code)
	require.Contains(t, errOut, "no such file or directory")
}

// TestRecycledEnd checks info and verify on a log that compacted as it
// grew, so that its files were recycled and the bytes after its end are
// those of an older file: a clean end, not damage.
func TestRecycledEnd(t *testing.T) {
	dir := t.TempDir()
	l, err := raftlog.Open(dir, testOptions())
	require.NoError(t, err)
	const n = 2000 // about 24 files of 64 KiB
	for first := uint64(1); first <= n; first += 200 {
		appendEntries(t, l, first, first+199)
		_, err := l.CompactTo(first + 100).Wait(context.Background())
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())
	spares, err := filepath.Glob(filepath.Join(dir, "*.log.free"))
	require.NoError(t, err)

	// The log ends in a recycled file: past its end lie old bytes.
	code, out, errOut := runCmd("info", dir)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, fmt.Sprintf("last entry   index %d", n))
	require.Contains(t, out, "(a torn tail or the old bytes of a recycled log file; verify tells them from damage)")
	for _, spare := range spares {
		require.Contains(t, out, filepath.Base(spare)+"  65536 bytes (spare: compacted, to be reused as a new log file)")
	}
	code, out, errOut = runCmd("verify", dir)
	require.Equal(t, exitOK, code, "%s%s", out, errOut)
	require.Contains(t, out, "no item header past the end (a write cut before one was whole, or the old bytes of a recycled log file): Open leaves them")
}
