package logqueue

import (
	"bytes"
	"fmt"
	"path"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/vfs"
)

// zeroWatchFS records every all-zero WriteAt on the log files (the zeroer's
// writes; the writer uses WritevAt) and checks, as it happens, that nothing
// written by the writer lies in its range.
type zeroWatchFS struct {
	vfs.FS
	q        atomic.Pointer[Queue]
	mu       sync.Mutex
	zeroed   int64
	lowest   int64 // the lowest log position zeroed; -1 before any
	overlaps []string
}

func (w *zeroWatchFS) Open(name string) (vfs.File, error) {
	f, err := w.FS.Open(name)
	if err != nil {
		return nil, err
	}
	start, ok := parseFileName(path.Base(name))
	if !ok {
		return f, nil
	}
	return &zeroWatchFile{File: f, w: w, start: start}, nil
}

type zeroWatchFile struct {
	vfs.File
	w     *zeroWatchFS
	start int64
}

func (f *zeroWatchFile) WriteAt(b []byte, off int64) (int, error) {
	q := f.w.q.Load()
	if q != nil && len(b) > 0 && bytes.Count(b, []byte{0}) == len(b) {
		pos := f.start + off
		f.w.mu.Lock()
		f.w.zeroed += int64(len(b))
		if f.w.lowest < 0 || pos < f.w.lowest {
			f.w.lowest = pos
		}
		// Written bytes are below WrittenPos; zeros must never land there.
		if written := q.WrittenPos(); pos < written {
			f.w.overlaps = append(f.w.overlaps, fmt.Sprintf("zeros at %d below the written position %d", pos, written))
		}
		f.w.mu.Unlock()
	}
	return f.File.WriteAt(b, off)
}

// TestZeroAheadKeepsEveryItem appends across many small files with the
// zeroer running as close to the writer as the options allow, then checks
// that zeros were written ahead, none below what the writer had written,
// and that every item reads back after a reopen.
func TestZeroAheadKeepsEveryItem(t *testing.T) {
	checkNoLeak(t)
	mem := vfs.NewMem()
	watch := &zeroWatchFS{FS: mem, lowest: -1}
	opts, tags := testOptions(t, watch)
	opts.Prealloc = ZeroAhead
	opts.ZeroAheadLead = 64 << 10 // the minimum: chunks of 16 KiB, one file ahead
	// Under load the writer may merge many flushes into one large sync,
	// which would pause the zeroer until syncs are small again, and this
	// test waits for the zeroer while not writing.
	opts.zeroMaxSyncBytes = 1 << 40
	q := openQueue(t, opts)
	watch.q.Store(q)
	require.NoError(t, q.StartWriting(0, 1))

	var items []item
	tag := uint64(0)
	for i := 1; i <= 3000; i++ {
		items = append(items, addItem(t, q, uint64(i), i%5, 100+i%300))
		if i%7 == 0 {
			tag++
			require.NoError(t, q.Flush(tag))
		}
		if i%500 == 0 {
			// Let the zeroer catch up now and then, so it runs ahead of
			// the writer and not only behind it.
			tags.wait(t, tag)
			z := q.zero
			require.Eventually(t, func() bool {
				z.mu.Lock()
				defer z.mu.Unlock()
				return z.zeroedTo >= q.WritePos()+z.lead/2 || z.stopped.Load() != nil
			}, 10*time.Second, time.Millisecond)
		}
	}
	tag++
	require.NoError(t, q.Flush(tag))
	tags.wait(t, tag)
	if p := q.zero.stopped.Load(); p != nil {
		t.Fatalf("the zeroer stopped on an error: %v", *p)
	}
	require.NoError(t, q.Close())

	watch.mu.Lock()
	assert.Empty(t, watch.overlaps)
	assert.Positive(t, watch.zeroed, "no zeros were written ahead")
	watch.mu.Unlock()
	require.Greater(t, items[len(items)-1].pos, int64(10*testFileSize), "the test must cross many files")

	opts2, _ := testOptions(t, mem)
	q2 := openQueue(t, opts2)
	checkRead(t, q2, items)
	checkScan(t, q2, items)
}

// TestZeroAheadStartsAtWritePosition opens a new log and a log written to
// mid-file, writes nothing, and checks that the zeroer starts right at the
// write position rather than half its lead further: otherwise the first
// bytes written after every open would land on unzeroed space.
func TestZeroAheadStartsAtWritePosition(t *testing.T) {
	cases := []struct {
		name  string
		items int // written (and the queue reopened) before the zeroer is watched
	}{
		{"new log", 0},
		{"reopened mid-file", 40},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkNoLeak(t)
			mem := vfs.NewMem()
			opts, tags := testOptions(t, mem)
			opts.Prealloc = Fallocate
			start := int64(0)
			if tc.items > 0 {
				q := openQueue(t, opts)
				require.NoError(t, q.StartWriting(0, 1))
				for i := 1; i <= tc.items; i++ {
					addItem(t, q, uint64(i), 3, 200)
				}
				require.NoError(t, q.Flush(1))
				tags.wait(t, 1)
				start = q.WritePos()
				require.NoError(t, q.Close())
			}
			require.Positive(t, start%testFileSize+1, "the write position is inside a file")

			watch := &zeroWatchFS{FS: mem, lowest: -1}
			opts2, _ := testOptions(t, watch)
			opts2.Prealloc = ZeroAhead
			opts2.ZeroAheadLead = 64 << 10
			q := openQueue(t, opts2)
			watch.q.Store(q)
			require.NoError(t, q.StartWriting(start, 2))
			z := q.zero
			require.Eventually(t, func() bool {
				z.mu.Lock()
				defer z.mu.Unlock()
				return z.zeroedTo >= start+z.lead/2 || z.stopped.Load() != nil
			}, 10*time.Second, time.Millisecond)
			require.NoError(t, q.Close())
			if p := z.stopped.Load(); p != nil {
				t.Fatalf("the zeroer stopped on an error: %v", *p)
			}
			watch.mu.Lock()
			defer watch.mu.Unlock()
			assert.Empty(t, watch.overlaps)
			assert.Equal(t, start, watch.lowest, "the first zeros are not at the write position")
		})
	}
}

// TestZeroAheadWriterWaitsForBusyChunk checks the guard: a write that
// overlaps the chunk being zeroed waits until the zeros are down, and one
// that does not overlap it does not wait.
func TestZeroAheadWriterWaitsForBusyChunk(t *testing.T) {
	tests := []struct {
		name     string
		pos, n   int64
		mustWait bool
	}{
		{"overlaps the start", 900, 200, true},
		{"inside", 1200, 10, true},
		{"overlaps the end", 1900, 200, true},
		{"ends at the start", 800, 200, false},
		{"starts at the end", 2000, 50, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			z := &zeroAhead{}
			z.cond.L = &z.mu
			z.busyStart, z.busyEnd = 1000, 2000
			done := make(chan struct{})
			go func() {
				z.awaitClear(tc.pos, tc.n)
				close(done)
			}()
			if !tc.mustWait {
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Fatal("a write outside the busy chunk waited")
				}
				return
			}
			// The write must still be held after the waiter had every
			// chance to run.
			assert.Never(t, func() bool {
				select {
				case <-done:
					return true
				default:
					return false
				}
			}, 50*time.Millisecond, time.Millisecond, "the write did not wait for the zeros")
			z.release(2000)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the write was not let through after the chunk was released")
			}
		})
	}
}

// TestZeroAheadPausesForLargeSyncs checks that the zeroer stops when the
// writer's fdatasyncs are large on average and starts again when they are
// small.
func TestZeroAheadPausesForLargeSyncs(t *testing.T) {
	z := &zeroAhead{maxSyncBytes: zeroMaxSyncBytes}
	c := syncCounter{z: z}
	rounds := []struct {
		syncs  int
		bytes  int64
		paused bool
	}{
		{10, 4 << 10, false},
		{4, 1 << 20, true},
		{100, 12 << 10, false},
		{1, zeroMaxSyncBytes + 1, true},
		{0, 0, true}, // no syncs since the last look: keep the decision
	}
	for i, r := range rounds {
		for range r.syncs {
			c.Forced(1, r.bytes, 1000)
		}
		z.sampleAt = time.Time{} // look now
		assert.Equal(t, r.paused, z.pausedForLargeSyncs(), "round %d", i)
	}
}
