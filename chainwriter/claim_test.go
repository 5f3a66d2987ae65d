package chainwriter

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestClaimWriteSync claims an idle writer and writes through the claim:
// when WriteSync returns, the bytes are synced, both tags are published,
// OnForced has run on the caller's goroutine, and the Observer saw one
// write and one round.
func TestClaimWriteSync(t *testing.T) {
	checkNoLeak(t)
	a := newFakeFile("a")
	obs := &countingObserver{}
	rec := &recorder{}
	w := New(rec.options(Options{Observer: obs}))

	for tag := uint64(1); tag <= 3; tag++ {
		c, ok := w.TryClaim()
		require.True(t, ok, "an idle writer refused a claim")
		off := int64(tag-1) * 10
		require.NoError(t, c.WriteSync(Task{File: a, Offset: off, Bufs: [][]byte{pattern(int(tag), 10)}, Tag: tag}))
		require.Equal(t, tag, w.WrittenTag())
		require.Equal(t, tag, w.ForcedTag())
		require.Equal(t, tag, rec.forcedTags()[len(rec.forcedTags())-1], "OnForced had not run when WriteSync returned")
		require.Equal(t, pattern(int(tag), 10), a.durableCopy()[off:off+10])
	}
	require.EqualValues(t, 3, obs.writes.Load())
	require.EqualValues(t, 3, obs.rounds.Load())
	require.NoError(t, w.Close())
	require.Equal(t, []uint64{1, 2, 3}, rec.forcedTags())
}

// TestClaimRefused: no claim while anything is in flight (a task being
// written, a force round syncing, another claim), after a failure or after
// Close; each case then lets the writer go on and must still close cleanly.
func TestClaimRefused(t *testing.T) {
	tests := []struct {
		name string
		// busy makes the writer busy (or failed, or closed) and returns
		// what undoes it, if anything.
		busy func(t *testing.T, w *Writer) (undo func())
		// closeErr is what Close returns afterwards.
		closeErr error
	}{
		{"task being written", func(t *testing.T, w *Writer) func() {
			gate := holdWriter(t, w)
			return func() { close(gate) }
		}, nil},
		{"force round syncing", func(t *testing.T, w *Writer) func() {
			f := newFakeFile("gated")
			f.syncEntered, f.syncGate = make(chan string, 1), make(chan struct{})
			require.NoError(t, w.Submit(Task{File: f, Bufs: [][]byte{pattern(1, 10)}, Tag: 1}))
			<-f.syncEntered
			return func() { close(f.syncGate) }
		}, nil},
		{"claimed", func(t *testing.T, w *Writer) func() {
			c, ok := w.TryClaim()
			require.True(t, ok)
			return c.Release
		}, nil},
		{"failed", func(t *testing.T, w *Writer) func() {
			f := newFakeFile("bad")
			f.setWriteErr(errInjected)
			require.NoError(t, w.Submit(Task{File: f, Bufs: [][]byte{pattern(1, 10)}, Tag: 1}))
			require.Eventually(t, func() bool { return w.Err() != nil }, 10*time.Second, time.Millisecond)
			return nil
		}, errInjected},
		{"closed", func(t *testing.T, w *Writer) func() {
			require.NoError(t, w.Close())
			return nil
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkNoLeak(t)
			w := New(Options{OnError: func(error) {}})
			undo := tt.busy(t, w)
			_, ok := w.TryClaim()
			require.False(t, ok, "claim granted while %s", tt.name)
			if undo != nil {
				undo()
			}
			require.ErrorIs(t, w.Close(), tt.closeErr)
		})
	}
}

// TestNoClaimBetweenTakeAndSync holds the force goroutine after it took a
// round's hand-off and before it locked anything: the hand-off is empty
// and nothing is queued, but the round has still to sync, so a claim (whose
// sync of one file would not cover the round's) must be refused.
func TestNoClaimBetweenTakeAndSync(t *testing.T) {
	checkNoLeak(t)
	taken, release := make(chan struct{}, 1), make(chan struct{})
	w := newWriter(Options{}, testHooks{roundTaken: func() {
		taken <- struct{}{}
		<-release
	}})
	require.NoError(t, w.Submit(Task{File: newFakeFile("a"), Bufs: [][]byte{pattern(1, 10)}, Tag: 1}))
	<-taken
	require.Eventually(t, func() bool { return w.queued.Load() == 0 }, 10*time.Second, time.Millisecond)
	_, ok := w.TryClaim()
	require.False(t, ok, "claim granted while a round that took the hand-off had not synced")
	close(release)
	require.NoError(t, w.Close())
}

// TestClaimOrdersLaterSubmits: a task submitted while a claim is held is
// not written while the claim is held (the write goroutine would have
// written it within the 20 ms given), it is written after the claimed
// one, and the reports follow the tags.
func TestClaimOrdersLaterSubmits(t *testing.T) {
	checkNoLeak(t)
	a := newFakeFile("a")
	rec := &recorder{}
	w := New(rec.options(Options{}))
	var mu sync.Mutex
	var order []uint64
	wrote2 := make(chan struct{})
	written := func(tag uint64) func(error) {
		return func(err error) {
			require.NoError(t, err)
			mu.Lock()
			order = append(order, tag)
			mu.Unlock()
			if tag == 2 {
				close(wrote2)
			}
		}
	}

	c, ok := w.TryClaim()
	require.True(t, ok)
	require.NoError(t, w.Submit(Task{File: a, Offset: 10, Bufs: [][]byte{pattern(2, 10)}, Tag: 2, OnWritten: written(2)}))
	select {
	case <-wrote2:
		t.Fatal("a task submitted while a claim was held was written before the claimed one")
	case <-time.After(20 * time.Millisecond):
	}
	require.NoError(t, c.WriteSync(Task{File: a, Bufs: [][]byte{pattern(1, 10)}, Tag: 1, OnWritten: written(1)}))
	require.NoError(t, w.Close())
	require.Equal(t, []uint64{1, 2}, order)
	requireReportedUpTo(t, rec.forcedTags(), 2)
	require.Equal(t, append(pattern(1, 10), pattern(2, 10)...), a.durableCopy())
}

// TestClaimErrors fails the claimed write or its sync: WriteSync returns
// the error, OnError runs once, the tag is never reported or published as
// durable, and the writer stays failed.
func TestClaimErrors(t *testing.T) {
	tests := []struct {
		name        string
		inject      func(f *fakeFile)
		wantWritten uint64 // WrittenTag after the failure
	}{
		{"write", func(f *fakeFile) { f.setWriteErr(errInjected) }, 0},
		{"sync", func(f *fakeFile) { f.setSyncErr(errInjected) }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkNoLeak(t)
			a := newFakeFile("a")
			tt.inject(a)
			rec := &recorder{}
			w := New(rec.options(Options{}))
			c, ok := w.TryClaim()
			require.True(t, ok)
			var gotWritten error
			err := c.WriteSync(Task{File: a, Bufs: [][]byte{pattern(1, 10)}, Tag: 1, OnWritten: func(err error) { gotWritten = err }})
			require.ErrorIs(t, err, errInjected)
			if tt.name == "write" {
				require.ErrorIs(t, gotWritten, errInjected)
			} else {
				require.NoError(t, gotWritten, "the bytes were written; only the sync failed")
			}
			require.Equal(t, tt.wantWritten, w.WrittenTag())
			require.Zero(t, w.ForcedTag())
			require.ErrorIs(t, w.Submit(Task{File: a, Tag: 2}), errInjected)
			_, ok = w.TryClaim()
			require.False(t, ok)
			require.ErrorIs(t, w.Close(), errInjected)
			require.Empty(t, rec.forcedTags())
			require.Len(t, rec.errors(), 1)
		})
	}
}

// TestCloseWaitsForClaim: Close called while a claim is held returns only
// after the claimed write is done and synced.
func TestCloseWaitsForClaim(t *testing.T) {
	checkNoLeak(t)
	a := newFakeFile("a")
	w := New(Options{})
	c, ok := w.TryClaim()
	require.True(t, ok)
	closed := make(chan error, 1)
	go func() { closed <- w.Close() }()
	<-w.closing // Close has started
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a claim was held", err)
	case <-time.After(20 * time.Millisecond):
	}
	require.NoError(t, c.WriteSync(Task{File: a, Bufs: [][]byte{pattern(1, 10)}, Tag: 1}))
	require.NoError(t, <-closed)
	require.Equal(t, pattern(1, 10), a.durableCopy())
}

// TestClaimDoesNotAllocate: claiming and writing through a claim allocate
// nothing once warm, like Submit.
func TestClaimDoesNotAllocate(t *testing.T) {
	checkNoLeak(t)
	w := New(Options{OnForced: func(uint64) {}})
	defer w.Close()
	f := &nopFile{}
	buf := [][]byte{make([]byte, 64)}
	var tag uint64
	allocs := testing.AllocsPerRun(200, func() {
		c, ok := w.TryClaim()
		if !ok {
			t.Fatal("claim refused on an idle writer")
		}
		tag++
		if err := c.WriteSync(Task{File: f, Bufs: buf, Tag: tag}); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
}
