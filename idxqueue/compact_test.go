package idxqueue

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/pipeline"
	"github.com/raftlog/raftlog/vfs"
)

// idxFiles returns the first indexes of the index files in dir.
func idxFiles(t *testing.T, fs vfs.FS, dir string) []uint64 {
	t.Helper()
	var firsts []uint64
	for _, name := range mustList(t, fs, dir) {
		if first, ok := parseFileName(name); ok {
			firsts = append(firsts, first)
		}
	}
	return firsts
}

// requireCompacted checks that Position(i) fails with ErrCompacted (and
// ErrNotFound) for i in [from, to].
func requireCompacted(t *testing.T, q *Queue, from, to uint64) {
	t.Helper()
	for i := from; i <= to; i++ {
		_, err := q.Position(i)
		require.ErrorIs(t, err, ErrCompacted, "index %d", i)
		require.ErrorIs(t, err, ErrNotFound, "index %d", i)
	}
}

// TestCompactTo puts 1..40 (files of 8), persists 1..persist, compacts to
// first and checks what is left in memory, in the directory, and after more
// flushes and a reopen.
func TestCompactTo(t *testing.T) {
	tests := []struct {
		name          string
		persist       uint64
		first         uint64
		wantRemoved   int
		wantFiles     []uint64 // right after the compaction
		wantPersisted uint64
	}{
		// 40 persisted: files 0..40 exist (40 prepared ahead for 41).
		{"all persisted, first inside a file", 40, 19, 2, []uint64{16, 24, 32, 40}, 40},
		{"all persisted, first at a file boundary", 40, 24, 3, []uint64{24, 32, 40}, 40},
		{"all persisted, first in the first file", 40, 5, 0, []uint64{0, 8, 16, 24, 32, 40}, 40},
		// 20 persisted: files 0, 8, 16, 24 (prepared: 21 is in the second
		// half of 16); 21..40 only in the map.
		{"first above persisted", 20, 30, 3, []uint64{24}, 29},
		{"first at the next Put", 20, 41, 4, nil, 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noLeak(t)
			mem := vfs.NewMem()
			opts := flushOpts(mem)
			q, plog := openStarted(t, &opts)
			putN(t, q, 1, 40)
			q.Durable(tt.persist)
			plog.waitFor(t, tt.persist)

			fut := q.CompactTo(tt.first)
			require.Equal(t, tt.first, q.FirstIndex())
			require.Equal(t, tt.wantPersisted, q.PersistedIndex())
			requireCompacted(t, q, 1, tt.first-1)
			requirePositions(t, q, tt.first, 40, pos)
			removed, err := fut.Wait(t.Context())
			require.NoError(t, err)
			require.Equal(t, tt.wantRemoved, removed)
			require.Equal(t, tt.wantFiles, idxFiles(t, mem, "idx"))
			require.Equal(t, tt.wantFiles, idxFiles(t, mem.Crash(), "idx"), "removal is durable")
			requireCompacted(t, q, 1, tt.first-1) // also once the files are gone

			// Compacting again to the same or a lower index is a no-op.
			for _, f := range []uint64{tt.first, tt.first - 1, 1} {
				n, err := q.CompactTo(f).Wait(t.Context())
				require.NoError(t, err)
				require.Zero(t, n)
				require.Equal(t, tt.first, q.FirstIndex())
			}

			// The flush goes on from first on; it never writes below it, so
			// no removed file comes back and the skipped slots stay zero.
			putN(t, q, 41, 50)
			q.Durable(50)
			plog.waitFor(t, 50)
			for _, f := range idxFiles(t, mem, "idx") {
				require.GreaterOrEqual(t, f, tt.first&^7, "file %d re-created", f)
			}
			for i := max(tt.first&^7, 1); i < tt.first; i++ {
				if i > tt.persist {
					v, err := q.files.read(i)
					require.NoError(t, err)
					require.Zero(t, v, "slot %d below first written", i)
				}
			}
			requirePositions(t, q, tt.first, 50, pos)
			require.NoError(t, q.Close())

			q, err = Open(opts)
			require.NoError(t, err)
			require.NoError(t, q.Start(50))
			_, err = q.CompactTo(tt.first).Wait(t.Context())
			require.NoError(t, err)
			requirePositions(t, q, tt.first, 50, pos)
			requireCompacted(t, q, 1, tt.first-1)
			require.NoError(t, q.Close())
		})
	}
}

func TestCompactToAboveNextPut(t *testing.T) {
	noLeak(t)
	q, err := Open(testOpts(vfs.NewMem()))
	require.NoError(t, err)
	require.NoError(t, q.Start(0))
	putN(t, q, 1, 5)
	_, err = q.CompactTo(7).Wait(t.Context())
	require.ErrorIs(t, err, ErrOutOfRange)
	require.Equal(t, uint64(1), q.FirstIndex())
	requirePositions(t, q, 1, 5, pos)
	require.NoError(t, q.Close())
}

// TestCompactToWaitsForFlush compacts while a flush of 1..20 is blocked in
// its sync: the flush must not write below the new first index afterwards,
// which it would if CompactTo changed the map under it.
func TestCompactToWaitsForFlush(t *testing.T) {
	noLeak(t)
	inj, armed, entered, release := blockingSync()
	mem := vfs.NewMem()
	opts := flushOpts(vfs.NewErrorFS(mem, inj))
	q, plog := openStarted(t, &opts)
	putN(t, q, 1, 30)
	armed.Store(true)
	q.Durable(20)
	recv(t, entered)
	done := make(chan int, 1)
	go func() {
		n, err := q.CompactTo(17).Wait(t.Context())
		if err != nil {
			t.Errorf("CompactTo: %v", err)
		}
		done <- n
	}()
	select {
	case <-done:
		t.Fatal("CompactTo completed during a flush")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	require.Equal(t, 2, recv(t, done))
	require.Equal(t, []uint64{20}, plog.calls())
	require.Equal(t, uint64(20), q.PersistedIndex())
	requirePositions(t, q, 17, 30, pos)
	require.NoError(t, q.Close())
	require.Equal(t, []uint64{16, 24}, idxFiles(t, mem, "idx"))
}

// TestReset installs a snapshot ahead of the log: every position is gone,
// Put continues at first, the old files are removed.
func TestReset(t *testing.T) {
	noLeak(t)
	mem := vfs.NewMem()
	opts := flushOpts(mem)
	q, plog := openStarted(t, &opts)
	putN(t, q, 1, 30)
	q.Durable(20)
	plog.waitFor(t, 20)
	waitIdxFiles(t, mem, []uint64{0, 8, 16, 24})

	fut := q.Reset(101)
	require.Equal(t, uint64(101), q.FirstIndex())
	require.Equal(t, uint64(100), q.PersistedIndex())
	require.Zero(t, mapLen(q))
	requireCompacted(t, q, 1, 100)
	requireNotFound(t, q, 101, 110)
	require.ErrorIs(t, q.Put(31, 1), ErrNotConsecutive)
	require.ErrorIs(t, q.Put(102, 1), ErrNotConsecutive)
	n, err := fut.Wait(t.Context())
	require.NoError(t, err)
	require.Equal(t, 4, n)
	require.Empty(t, idxFiles(t, mem, "idx"))

	putN(t, q, 101, 110)
	q.Durable(110)
	plog.waitFor(t, 110)
	require.Equal(t, []uint64{20, 110}, plog.calls())
	requirePositions(t, q, 101, 110, pos)
	waitIdxFiles(t, mem, []uint64{96, 104, 112}) // 112 is prepared ahead, after the flush
	require.NoError(t, q.Close())

	_, err, _ = q.Reset(1).Result()
	require.ErrorIs(t, err, ErrClosed)
	q, err = Open(opts)
	require.NoError(t, err)
	_, err, _ = q.Reset(0).Result()
	require.ErrorIs(t, err, ErrOutOfRange)
	require.NoError(t, q.Start(110))
	requirePositions(t, q, 101, 110, pos)
	require.NoError(t, q.Close())
}

// TestResetBelowFirstWaitsForRemoval resets to a first index below the
// current one while the removal of the file that must now receive positions
// is still queued: the flush must wait for the removal before re-creating
// the file, or the remover would unlink the new one.
func TestResetBelowFirstWaitsForRemoval(t *testing.T) {
	noLeak(t)
	mem := vfs.NewMem()
	var block, inRemove, createdWhileBlocked atomic.Bool
	removing := make(chan struct{}, 1)
	release := make(chan struct{})
	inj := vfs.InjectorFunc(func(op vfs.Op, name string) error {
		switch {
		case op == vfs.OpRemove && strings.HasSuffix(name, fileName(8)) && block.CompareAndSwap(true, false):
			inRemove.Store(true)
			removing <- struct{}{}
			<-release
			inRemove.Store(false)
		case op == vfs.OpCreate && inRemove.Load():
			createdWhileBlocked.Store(true)
		}
		return nil
	})
	opts := flushOpts(vfs.NewErrorFS(mem, inj))
	q, plog := openStarted(t, &opts)
	putN(t, q, 1, 20)
	q.Durable(20)
	plog.waitFor(t, 20)
	waitIdxFiles(t, mem, []uint64{0, 8, 16, 24})

	block.Store(true)
	compacted := q.CompactTo(20) // removes 0, then blocks removing 8
	recv(t, removing)
	reset := q.Reset(10) // file 8 must receive 10.. again
	require.Equal(t, uint64(10), q.FirstIndex())
	putN(t, q, 10, 12)
	q.Durable(12)
	// The flush must now wait for the removal of file 8; give it the
	// chance to get it wrong.
	requireNoFlush(t, q, 9)
	close(release)
	plog.waitFor(t, 12)
	require.False(t, createdWhileBlocked.Load(), "file created while its removal was pending")
	n, err := compacted.Wait(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, n)
	n, err = reset.Wait(t.Context())
	require.NoError(t, err)
	require.Zero(t, n)
	requirePositions(t, q, 10, 12, pos)
	require.NoError(t, q.Close())
	require.Equal(t, []uint64{8, 16, 24}, idxFiles(t, mem, "idx"))

	q, err = Open(testOpts(mem.Crash()))
	require.NoError(t, err)
	requirePositions(t, q, 10, 12, pos)
	require.NoError(t, q.Close())
}

// TestRemoveErrorFailsFutureOnly: a failed unlink fails CompactTo's future;
// the queue goes on.
func TestRemoveErrorFailsFutureOnly(t *testing.T) {
	noLeak(t)
	mem := vfs.NewMem()
	inj := vfs.InjectorFunc(func(op vfs.Op, name string) error {
		if op == vfs.OpRemove && strings.HasSuffix(name, fileName(0)) {
			return vfs.ErrInjected
		}
		return nil
	})
	opts := flushOpts(vfs.NewErrorFS(mem, inj))
	q, plog := openStarted(t, &opts)
	putN(t, q, 1, 20)
	q.Durable(20)
	plog.waitFor(t, 20)
	n, err := q.CompactTo(17).Wait(t.Context())
	require.ErrorIs(t, err, vfs.ErrInjected)
	require.ErrorContains(t, err, fileName(0))
	require.Equal(t, 1, n, "file 8 is removed all the same")
	require.NoError(t, q.Err())
	requirePositions(t, q, 17, 20, pos)
	require.NoError(t, q.Put(21, pos(21)))
	require.NoError(t, q.Close())
	require.Equal(t, []uint64{0, 16, 24}, idxFiles(t, mem, "idx"))
}

// TestPositionConcurrentWithTailOps reads positions from several goroutines
// while one goroutine puts, reports durable, truncates, compacts and resets
// (with a flush every few entries). Each index has a generation counter the
// writer moves like a seqlock: odd while a Put or an operation that
// invalidates it runs, 4k+2 while a position put with that generation is
// valid, 4k while none is. A reader that sees the same even generation
// before and after Position knows the exact answer: the position of that
// generation, or an error. Stale slots of truncated or compacted indexes
// carry an older generation and are caught.
func TestPositionConcurrentWithTailOps(t *testing.T) {
	noLeak(t)
	const maxIndex = 1 << 13
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	enc := func(i, g uint64) int64 { return int64(i<<24 | g) }

	opts := testOpts(vfs.NewMem())
	opts.MaxPending, opts.FlushThreshold = 64, 4
	q, err := Open(opts)
	require.NoError(t, err)
	require.NoError(t, q.Start(0))

	gens := make([]atomic.Uint64, maxIndex+64)
	var hi atomic.Uint64 // readers look at [1, hi]
	stop := make(chan struct{})
	var checked, found atomic.Int64
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Go(func() {
			rr := rand.New(rand.NewPCG(uint64(seed), uint64(r+1)))
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := 1 + rr.Uint64N(hi.Load()+1)
				g1 := gens[i].Load()
				v, err := q.Position(i)
				g2 := gens[i].Load()
				if g1 != g2 || g1%2 == 1 {
					continue
				}
				checked.Add(1)
				switch {
				case g1%4 == 2 && (err != nil || v != enc(i, g1)):
					t.Errorf("Position(%d) = %d, %v; want %d (generation %d)", i, v, err, enc(i, g1), g1)
					return
				case g1%4 == 0 && err == nil:
					t.Errorf("Position(%d) = %d (generation %d); want an error, no valid position", i, v, v&(1<<24-1))
					return
				case g1%4 == 0 && !errors.Is(err, ErrNotFound):
					t.Errorf("Position(%d): %v; want ErrNotFound", i, err)
					return
				case err == nil:
					found.Add(1)
				}
			}
		})
	}

	// invalidate runs op with every valid index of [from, to] marked busy,
	// then marks them invalid.
	invalidate := func(from, to uint64, op func()) {
		var busy []uint64
		for i := from; i <= to; i++ {
			if gens[i].Load()%4 == 2 {
				gens[i].Add(1)
				busy = append(busy, i)
			}
		}
		op()
		for _, i := range busy {
			gens[i].Add(1)
		}
	}
	var futs []*pipeline.Future[int]
	next := uint64(1)
	ops := map[string]int{}
	for next < maxIndex-64 && !t.Failed() {
		switch x := rng.IntN(100); {
		case x < 12 && next > q.FirstIndex():
			index := max(q.FirstIndex(), next-1-rng.Uint64N(min(next-1, 30)))
			invalidate(index, next-1, func() {
				_, err := q.TruncateTail(index)
				require.NoError(t, err)
			})
			next = index
			ops["truncate"]++
		case x < 17:
			first := min(next, q.FirstIndex()+1+rng.Uint64N(20))
			invalidate(q.FirstIndex(), first-1, func() { futs = append(futs, q.CompactTo(first)) })
			ops["compact"]++
		case x < 18:
			first := next + rng.Uint64N(50)
			invalidate(q.FirstIndex(), next-1, func() { futs = append(futs, q.Reset(first)) })
			next = first
			ops["reset"]++
		default:
			for range 1 + rng.IntN(16) {
				g := gens[next].Load()
				gens[next].Add(1)
				for {
					err := q.Put(next, enc(next, g+2))
					if !errors.Is(err, ErrFull) {
						require.NoError(t, err)
						break
					}
					q.Durable(next - 1)
					require.NoError(t, q.WaitRoom(1))
				}
				gens[next].Add(1)
				next++
				hi.Store(next + 8)
			}
			q.Durable(next - 1 - rng.Uint64N(4))
			ops["put"]++
		}
	}
	close(stop)
	wg.Wait()
	for _, f := range futs {
		_, err := f.Wait(t.Context())
		require.NoError(t, err)
	}
	require.NoError(t, q.Close())
	t.Logf("ops %v, checked %d reads, %d found", ops, checked.Load(), found.Load())
	require.Positive(t, found.Load())
	require.Greater(t, checked.Load(), found.Load())
}

// waitIdxFiles waits (bounded) until the index files are want: the file
// after the one being written is created ahead on the flush goroutine, which
// may happen just after OnPersisted returned, with no event to wait on.
func waitIdxFiles(t *testing.T, mem vfs.FS, want []uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := idxFiles(t, mem, "idx")
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			require.Equal(t, want, got)
		}
		runtime.Gosched()
	}
}
