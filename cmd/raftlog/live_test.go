package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog"
)

// TestReadOnlyCommandsBesideOwner runs info, dump and verify on a directory
// whose Log is open and appending. They take no lock (the Log holds it, so
// taking it would fail) and must see a consistent prefix of the log.
func TestReadOnlyCommandsBesideOwner(t *testing.T) {
	dir := t.TempDir()
	l, err := raftlog.Open(dir, testOptions())
	require.NoError(t, err)
	defer l.Close()
	appendEntries(t, l, 1, testEntries)
	_, err = l.SetHardState(raftlog.HardState{Term: 9, Vote: 1, Commit: testEntries}).Wait(context.Background())
	require.NoError(t, err)

	code, out, errOut := runCmd("info", dir)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, fmt.Sprintf("last entry   index %d,", testEntries))
	require.Contains(t, out, "commit 200")

	code, out, errOut = runCmd("dump", "-data", "none", dir)
	require.Equal(t, exitOK, code, errOut)
	require.Len(t, lines(out), testEntries)

	code, out, errOut = runCmd("verify", dir)
	require.Equal(t, exitOK, code, out+errOut)
	require.Contains(t, out, fmt.Sprintf("%d valid [1, %d]", testEntries, testEntries))

	// Now with the owner appending all the while (up to a bound that keeps
	// the test fast): every run sees at least what was durable before it
	// started, and never reports corruption.
	const maxAppended = testEntries + 4000
	stop := make(chan struct{})
	var appended atomic.Uint64
	appended.Store(testEntries)
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			select {
			case <-started:
			default:
				close(started)
			}
		}()
		for i := uint64(testEntries + 1); i+testBatch-1 <= maxAppended; i += testBatch {
			select {
			case <-stop:
				return
			default:
			}
			batch := make([]raftlog.Entry, testBatch)
			for k := range batch {
				batch[k] = testEntry(i + uint64(k))
			}
			// Not waited for: many batches in flight, as a leader keeps them.
			if _, err, done := l.Append(batch).Result(); done && err != nil {
				return // rejected: the Log is closed
			}
			if appended.Swap(i+testBatch-1) == testEntries {
				close(started)
			}
		}
	}()
	<-started
	for round := 0; round < 10; round++ {
		durable := l.DurableIndex()
		code, out, errOut := runCmd("verify", dir)
		require.Equal(t, exitOK, code, "round %d:\n%s%s", round, out, errOut)
		require.NotContains(t, out, "CORRUPT")
		var n, last uint64
		_, err := fmt.Sscanf(out[len(lines(out)[0])+1:], "entries      %d valid [1, %d]", &n, &last)
		require.NoError(t, err, out)
		require.GreaterOrEqual(t, last, durable, out)

		code, out, errOut = runCmd("dump", "-data", "none", "-from", "150", dir)
		require.Equal(t, exitOK, code, errOut)
		require.GreaterOrEqual(t, uint64(len(lines(out))), durable-149)

		code, _, errOut = runCmd("info", dir)
		require.Equal(t, exitOK, code, errOut)
	}
	close(stop)
	wg.Wait()
	require.Greater(t, appended.Load(), uint64(testEntries), "the owner appended during the runs")
	t.Logf("the owner appended %d entries during the runs", appended.Load()-testEntries)
	require.NoError(t, l.Close())

	code, out, errOut = runCmd("verify", dir)
	require.Equal(t, exitOK, code, out+errOut)
}

// TestReadOnlyCommandsWriteNothing compares every file of a closed log's
// directory, contents and modification times, before and after the
// read-only commands.
func TestReadOnlyCommandsWriteNothing(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, testEntries, testEntries)
	// A torn tail makes verify look past the end too.
	pos, v := positions(t, dir)
	v.close()
	last := pos[testEntries]
	patchLog(t, dir, last+1000, readLog(t, dir, last, 100))
	before := snapshot(t, dir)
	for _, args := range [][]string{
		{"info", dir},
		{"dump", dir},
		{"dump", "-json", "-from", "100", dir},
		{"verify", dir},
	} {
		code, out, errOut := runCmd(args...)
		require.Equal(t, exitOK, code, "%v: %s%s", args, out, errOut)
	}
	require.Equal(t, before, snapshot(t, dir))
}
