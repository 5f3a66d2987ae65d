package chainwriter

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// handedOffTags returns hooks that send every handed-off tag to the
// returned channel.
func handedOffTags() (testHooks, chan uint64) {
	c := make(chan uint64, 1024)
	return testHooks{handedOff: func(tag uint64) { c <- tag }}, c
}

// TestSyncCoalescing holds the first fdatasync and writes many tasks
// meanwhile (each holdBytes long, so none is held back): they must all share
// the next single fdatasync.
func TestSyncCoalescing(t *testing.T) {
	checkNoLeak(t)
	a := newFakeFile("a")
	a.syncEntered = make(chan string, 16)
	a.syncGate = make(chan struct{})
	rec := &recorder{forcedC: make(chan uint64, 16)}
	hooks, handed := handedOffTags()
	obs := &countingObserver{}
	w := newWriter(rec.options(Options{Observer: obs}), hooks)

	const n = 50
	const size = holdBytes
	require.NoError(t, w.Submit(Task{File: a, Offset: 0, Bufs: [][]byte{pattern(0, size)}, Tag: 1}))
	<-a.syncEntered // round one is now inside Sync

	for i := 2; i <= n; i++ {
		require.NoError(t, w.Submit(Task{File: a, Offset: int64(i-1) * size, Bufs: [][]byte{pattern(i, size)}, Tag: uint64(i)}))
	}
	waitTag(t, handed, n)
	require.EqualValues(t, n, w.WrittenTag())
	require.Zero(t, w.ForcedTag())

	close(a.syncGate)
	waitTag(t, rec.forcedC, n)
	require.NoError(t, w.Close())

	_, syncs := a.counts()
	require.Equal(t, 2, syncs, "tasks written during a sync must share one later sync")
	requireReportedUpTo(t, rec.forcedTags(), n)
	require.EqualValues(t, 2, obs.rounds.Load())
	require.EqualValues(t, n*size, obs.forcedBytes.Load())
}

// requireReportedUpTo checks that OnForced reported increasing tags ending
// with last. The report goroutine may fold the report of one round into the
// next one's, so how many there were is not fixed.
func requireReportedUpTo(t *testing.T, tags []uint64, last uint64) {
	t.Helper()
	require.NotEmpty(t, tags)
	require.IsIncreasing(t, tags)
	require.Equal(t, last, tags[len(tags)-1])
}

// TestNextRoundDoesNotWaitForReport blocks OnForced for the first round and
// submits another task meanwhile: its fdatasync must start while the
// callback (which completes the first round's futures) is still running,
// and its tag is reported once the callback returns.
func TestNextRoundDoesNotWaitForReport(t *testing.T) {
	checkNoLeak(t)
	a := newFakeFile("a")
	a.syncEntered = make(chan string, 16)
	inReport, release := make(chan uint64, 16), make(chan struct{})
	var forced []uint64
	w := New(Options{OnForced: func(tag uint64) {
		forced = append(forced, tag)
		inReport <- tag
		if tag == 1 {
			<-release
		}
	}})

	require.NoError(t, w.Submit(Task{File: a, Bufs: [][]byte{pattern(1, 100)}, Tag: 1}))
	<-a.syncEntered
	waitTag(t, inReport, 1) // OnForced(1) is running and will not return yet
	require.NoError(t, w.Submit(Task{File: a, Offset: 100, Bufs: [][]byte{pattern(2, 100)}, Tag: 2}))
	select {
	case <-a.syncEntered:
	case <-time.After(10 * time.Second):
		t.Fatal("the second round's fdatasync waited for OnForced of the first")
	}
	require.Eventually(t, func() bool { return w.ForcedTag() == 2 }, 10*time.Second, time.Millisecond,
		"ForcedTag is published before the report")
	close(release)
	waitTag(t, inReport, 2)
	require.NoError(t, w.Close())
	require.Equal(t, []uint64{1, 2}, forced)
}

// TestNoReportAfterError leaves a durable tag to the report goroutine while
// it is held in the previous callback, then fails the writer: OnError runs
// once the callback returns, and the tag left behind is never reported.
func TestNoReportAfterError(t *testing.T) {
	checkNoLeak(t)
	a, bad := newFakeFile("a"), newFakeFile("bad")
	bad.writeErr = errInjected
	inReport, release := make(chan uint64, 16), make(chan struct{})
	var forced []uint64 // report goroutine only, read after Close
	var errs atomic.Int32
	w := New(Options{
		OnForced: func(tag uint64) {
			forced = append(forced, tag)
			inReport <- tag
			if tag == 1 {
				<-release
			}
		},
		OnError: func(error) { errs.Add(1) },
	})

	require.NoError(t, w.Submit(Task{File: a, Bufs: [][]byte{pattern(1, 100)}, Tag: 1}))
	waitTag(t, inReport, 1)
	require.NoError(t, w.Submit(Task{File: a, Offset: 100, Bufs: [][]byte{pattern(2, 100)}, Tag: 2}))
	require.Eventually(t, func() bool { return w.ForcedTag() == 2 }, 10*time.Second, time.Millisecond)
	require.NoError(t, w.Submit(Task{File: bad, Bufs: [][]byte{pattern(3, 100)}, Tag: 3}))
	require.Eventually(t, func() bool { return w.Err() != nil }, 10*time.Second, time.Millisecond)
	close(release)
	require.ErrorIs(t, w.Close(), errInjected)
	require.Equal(t, []uint64{1}, forced, "tag 2 was reported after the failure")
	require.EqualValues(t, 1, errs.Load())
}

// TestSmallTasksHeldDuringSync holds the first fdatasync and submits small
// tasks meanwhile: the write goroutine keeps them until the round ends
// instead of writing each at once, then writes them all with one pwritev,
// and they share the next fdatasync.
func TestSmallTasksHeldDuringSync(t *testing.T) {
	checkNoLeak(t)
	a := newFakeFile("a")
	a.syncEntered = make(chan string, 16)
	a.syncGate = make(chan struct{})
	rec := &recorder{forcedC: make(chan uint64, 16)}
	obs := &countingObserver{}
	w := New(rec.options(Options{Observer: obs}))

	const n, size = 50, 100
	require.NoError(t, w.Submit(Task{File: a, Bufs: [][]byte{pattern(0, size)}, Tag: 1}))
	<-a.syncEntered // round one is now inside Sync
	writesBefore, _ := a.counts()
	for i := 2; i <= n; i++ {
		require.NoError(t, w.Submit(Task{File: a, Offset: int64(i-1) * size, Bufs: [][]byte{pattern(i, size)}, Tag: uint64(i)}))
	}
	// Let the write goroutine take every task into its held batch before
	// the round ends: the queue empties only into that batch.
	require.Eventually(t, func() bool { return len(w.queue) == 0 }, 10*time.Second, time.Millisecond)
	writes, _ := a.counts()
	require.Equal(t, writesBefore, writes, "small tasks were written while the round ran")
	require.Zero(t, w.WrittenTag()-1, "nothing after the first task is written yet")

	close(a.syncGate)
	waitTag(t, rec.forcedC, n)
	require.NoError(t, w.Close())
	writes, syncs := a.counts()
	require.Equal(t, writesBefore+1, writes, "the held tasks go out in one pwritev")
	require.Equal(t, 2, syncs, "and share one sync")
	requireReportedUpTo(t, rec.forcedTags(), n)
}

// TestTwoFiles: a batch that spans two files (the first part repeating the
// previous tag) must not be reported until both files are synced, whichever
// of the two syncs is slow.
func TestTwoFiles(t *testing.T) {
	for _, slow := range []string{"a", "b"} {
		t.Run("slow "+slow, func(t *testing.T) {
			checkNoLeak(t)
			files := map[string]*fakeFile{"a": newFakeFile("a"), "b": newFakeFile("b")}
			blocked := files[slow]
			blocked.syncEntered = make(chan string, 16)
			blocked.syncGate = make(chan struct{})
			dataA, dataB := pattern(1, 100), pattern(2, 100)

			var reportErr error
			forced := make(chan uint64, 16)
			w := New(Options{
				OnForced: func(tag uint64) {
					if tag >= 1 {
						for name, want := range map[string][]byte{"a": dataA, "b": dataB} {
							d := files[name].durableCopy()
							if len(d) < 100 || !bytes.Equal(d[:100], want) {
								reportErr = fmt.Errorf("tag %d reported before %s was synced", tag, name)
							}
						}
					}
					forced <- tag
				},
			})
			require.NoError(t, w.Submit(Task{File: files["a"], Bufs: [][]byte{dataA}, Tag: 0}))
			require.NoError(t, w.Submit(Task{File: files["b"], Bufs: [][]byte{dataB}, Tag: 1}))
			<-blocked.syncEntered
			require.Zero(t, w.ForcedTag(), "tag reported while %s was being synced", slow)
			close(blocked.syncGate)
			waitTag(t, forced, 1)
			require.NoError(t, w.Close())
			require.NoError(t, reportErr)
			require.EqualValues(t, 1, w.ForcedTag())
		})
	}
}

// TestSyncErrorSticky: a failed fdatasync fails the writer, is never
// retried, and no tag is reported from then on.
func TestSyncErrorSticky(t *testing.T) {
	checkNoLeak(t)
	a := newFakeFile("a")
	a.syncEntered = make(chan string, 16)
	a.syncGate = make(chan struct{})
	a.setSyncErr(errInjected)
	rec := &recorder{errC: make(chan error, 4)}
	hooks, handed := handedOffTags()
	w := newWriter(rec.options(Options{}), hooks)

	var writtenErrs []error
	onWritten := func(err error) { writtenErrs = append(writtenErrs, err) }
	require.NoError(t, w.Submit(Task{File: a, Bufs: [][]byte{pattern(0, 10)}, Tag: 1, OnWritten: onWritten}))
	<-a.syncEntered
	// Written while the failing sync runs (holdBytes long, so not held
	// back): written fine, never reported.
	for i := 2; i <= 5; i++ {
		require.NoError(t, w.Submit(Task{File: a, Offset: 10 + int64(i-2)*holdBytes, Bufs: [][]byte{pattern(i, holdBytes)}, Tag: uint64(i), OnWritten: onWritten}))
	}
	waitTag(t, handed, 5)
	close(a.syncGate)

	err := <-rec.errC
	require.ErrorIs(t, err, errInjected)
	require.Contains(t, err.Error(), "a")
	require.ErrorIs(t, w.Err(), errInjected)
	require.ErrorIs(t, w.Submit(Task{File: a, Offset: 10 + 4*holdBytes, Bufs: [][]byte{{1}}, Tag: 6}), errInjected)

	require.ErrorIs(t, w.Close(), errInjected)
	require.ErrorIs(t, w.Close(), errInjected)
	_, syncs := a.counts()
	require.Equal(t, 1, syncs, "a failed fdatasync must never be retried")
	require.Empty(t, rec.forcedTags())
	require.Zero(t, w.ForcedTag())
	require.Len(t, rec.errors(), 1, "OnError called more than once")
	require.Len(t, writtenErrs, 5)
	for _, e := range writtenErrs {
		require.NoError(t, e, "tasks written before the failure were written")
	}
}
