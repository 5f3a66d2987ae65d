package raftlog

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/vfs"
)

func waitOK[T any](t *testing.T, f interface {
	Wait(context.Context) (T, error)
}) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, err := f.Wait(ctx)
	require.NoError(t, err)
	return v
}

func logFiles(t *testing.T, dir, ext string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"+ext))
	require.NoError(t, err)
	return names
}

func TestTruncateTail(t *testing.T) {
	const maxSize = 900
	tests := []struct {
		name  string
		at    func(l *Log) uint64 // truncation index
		check func(t *testing.T, l *Log, at uint64)
	}{
		{"inside a file", func(*Log) uint64 { return 250 }, nil},
		{"at a file boundary", func(l *Log) uint64 {
			// The first index whose item starts a file.
			for i := uint64(150); i < 400; i++ {
				pos, err := l.iq.Position(i)
				if err == nil && pos%l.opts.LogFileSize == 0 {
					return i
				}
			}
			return 0
		}, nil},
		{"to the first index", func(*Log) uint64 { return 1 }, nil},
		{"in an earlier file", func(*Log) uint64 { return 20 }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, tinyOptions())
			appendRange(t, l, 1, 400, 1, maxSize, 30)
			at := tc.at(l)
			require.NotZero(t, at)
			assert.Equal(t, at-1, waitOK[uint64](t, l.TruncateTail(at)))
			assert.Equal(t, at-1, l.LastIndex())
			_, err := l.Entry(at)
			require.ErrorIs(t, err, ErrUnavailable)
			// New entries of term 2, fewer than the old ones.
			appendRange(t, l, at, at+50, 2, maxSize, 7)
			check := func(l *Log) {
				require.Equal(t, at+50, l.LastIndex())
				for i := uint64(1); i < at; i++ {
					checkEntry(t, l, i, 1, maxSize)
				}
				for i := at; i <= at+50; i++ {
					checkEntry(t, l, i, 2, maxSize)
				}
				_, err := l.Entry(at + 51)
				require.ErrorIs(t, err, ErrUnavailable)
			}
			check(l)
			require.NoError(t, l.Close())
			l = openLog(t, dir, tinyOptions())
			defer l.Close()
			check(l)
		})
	}
}

func TestTruncateTailRefusals(t *testing.T) {
	l := openLog(t, t.TempDir(), tinyOptions())
	defer l.Close()
	appendRange(t, l, 1, 100, 1, 100, 10)
	waitOK[HardState](t, l.SetHardState(HardState{Term: 1, Commit: 60}))
	_, err := l.TruncateTail(60).Wait(context.Background())
	require.ErrorIs(t, err, ErrBelowCommit)
	_, err = l.TruncateTail(10).Wait(context.Background())
	require.ErrorIs(t, err, ErrBelowCommit)
	assert.Equal(t, uint64(100), l.LastIndex())
	assert.Equal(t, uint64(100), waitOK[uint64](t, l.TruncateTail(101)), "above the last index: nothing to do")
	assert.Equal(t, uint64(60), waitOK[uint64](t, l.TruncateTail(61)))
}

func TestCompactTo(t *testing.T) {
	dir := t.TempDir()
	const maxSize = 1400
	l := openLog(t, dir, tinyOptions())
	appendRange(t, l, 1, 900, 1, maxSize, 50) // about ten 64 KiB files
	files := logFiles(t, dir, ".log")
	require.GreaterOrEqual(t, len(files), 9)

	// A reader in an early file holds it while compaction runs.
	it := l.NewIterator(5, IterOptions{})
	es, err := it.Next(3, 0)
	require.NoError(t, err)
	require.Len(t, es, 3)

	assert.Equal(t, uint64(850), waitOK[uint64](t, l.CompactTo(850)))
	assert.Equal(t, uint64(850), l.FirstIndex())
	_, err = l.Entry(849)
	require.ErrorIs(t, err, ErrCompacted)
	_, err = l.Entries(800, 860, 0)
	require.ErrorIs(t, err, ErrCompacted)
	checkEntry(t, l, 850, 1, maxSize)
	term, err := l.Term(849)
	require.NoError(t, err, "the term just below the first index is kept")
	assert.Equal(t, uint64(1), term)
	assert.Equal(t, uint64(850), waitOK[uint64](t, l.CompactTo(10)), "compaction never goes back")

	it.Close()
	l.deletions.Wait()
	after := logFiles(t, dir, ".log")
	assert.LessOrEqual(t, len(after), 3, "about the file holding 850, the one being written and the next: %v", after)
	idx := logFiles(t, dir, ".idx")
	require.NotEmpty(t, idx)
	for _, name := range idx {
		var first uint64
		_, err := fmt.Sscanf(filepath.Base(name), "%020d.idx", &first)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, first, uint64(848), "index file %s holds only compacted indexes", name)
	}

	appendRange(t, l, 901, 950, 2, maxSize, 10)
	require.NoError(t, l.Close())
	l = openLog(t, dir, tinyOptions())
	defer l.Close()
	assert.Equal(t, uint64(850), l.FirstIndex())
	assert.Equal(t, uint64(950), l.LastIndex())
	for i := uint64(850); i <= 950; i++ {
		checkEntry(t, l, i, map[bool]uint64{true: 1, false: 2}[i <= 900], maxSize)
	}
	_, err = l.Entry(849)
	require.ErrorIs(t, err, ErrCompacted)
}

// TestCompactBeyondDurable compacts entries whose fdatasyncs are still to
// come, as a Raft leader may (it can apply, snapshot and compact what its
// followers made durable before its own disk has). No file may be closed
// under the writer: every append must still succeed, and the files go once
// they are durable, at a later compaction.
func TestCompactBeyondDurable(t *testing.T) {
	dir := t.TempDir()
	const maxSize = 1400
	release := make(chan struct{})
	var held atomic.Bool
	held.Store(true)
	fsys := vfs.NewErrorFS(vfs.Default, vfs.InjectorFunc(func(op vfs.Op, name string) error {
		if op == vfs.OpSync && strings.HasSuffix(name, ".log") && held.Load() {
			<-release // the log files' fdatasyncs wait: nothing becomes durable
		}
		return nil
	}))
	l, err := Open(dir, memOptions(fsys))
	require.NoError(t, err)
	var futs []interface {
		Wait(context.Context) (uint64, error)
	}
	for i := uint64(1); i <= 900; i += 50 { // about ten 64 KiB files
		es := make([]Entry, 0, 50)
		for j := i; j < i+50; j++ {
			es = append(es, entryFor(j, 1, maxSize))
		}
		futs = append(futs, l.Append(es))
	}
	require.Zero(t, l.DurableIndex())
	files := logFiles(t, dir, ".log")
	require.GreaterOrEqual(t, len(files), 9)

	assert.Equal(t, uint64(850), waitOK[uint64](t, l.CompactTo(850)))
	l.deletions.Wait()
	assert.Subset(t, logFiles(t, dir, ".log"), files, "a file was deleted before its items were durable")

	held.Store(false)
	close(release)
	for _, f := range futs {
		waitOK[uint64](t, f) // fails if a file was closed under the writer
	}
	// The files the compaction left go at the next compaction, or, as
	// here, at the next Open.
	require.NoError(t, l.Close())
	assert.Subset(t, logFiles(t, dir, ".log"), files)
	l = openLog(t, dir, tinyOptions())
	l.deletions.Wait()
	assert.LessOrEqual(t, len(logFiles(t, dir, ".log")), 3, "the files below the first index go once durable")
	assert.Equal(t, uint64(850), l.FirstIndex())
	for i := uint64(850); i <= 900; i++ {
		checkEntry(t, l, i, 1, maxSize)
	}
	require.NoError(t, l.Close())
}

func TestCompactBefore(t *testing.T) {
	var mu sync.Mutex
	clock := time.Unix(1_000_000, 0)
	o := tinyOptions()
	o.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	l := openLog(t, t.TempDir(), o)
	defer l.Close()
	data := make([]byte, 500)
	for i := uint64(1); i <= 300; i++ {
		if i%10 == 1 {
			mu.Lock()
			clock = clock.Add(time.Minute) // ten entries per minute
			mu.Unlock()
		}
		waitOK[uint64](t, l.Append([]Entry{{Index: i, Term: 1, Data: data}}))
	}
	// Entries 1..10 at minute 1, 11..20 at minute 2, ...
	cut := time.Unix(1_000_000, 0).Add(15 * time.Minute)
	assert.Equal(t, uint64(141), waitOK[uint64](t, l.CompactBefore(cut)))
	e, err := l.Entry(141)
	require.NoError(t, err)
	assert.False(t, time.Unix(0, e.Timestamp).Before(cut))
	_, err = l.Entry(140)
	require.ErrorIs(t, err, ErrCompacted)
}

func TestInstallSnapshot(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, tinyOptions())
	appendRange(t, l, 1, 500, 1, 900, 25)
	assert.Equal(t, uint64(1000), waitOK[uint64](t, l.InstallSnapshot(1000, 7)))
	check := func(l *Log) {
		assert.Equal(t, uint64(1001), l.FirstIndex())
		assert.Equal(t, uint64(1000), l.LastIndex())
		assert.Equal(t, uint64(7), l.LastTerm())
		term, err := l.Term(1000)
		require.NoError(t, err)
		assert.Equal(t, uint64(7), term)
		_, err = l.Entry(500)
		require.ErrorIs(t, err, ErrCompacted)
		assert.GreaterOrEqual(t, l.HardState().Commit, uint64(1000))
	}
	check(l)
	l.deletions.Wait()
	assert.LessOrEqual(t, len(logFiles(t, dir, ".log")), 2)
	require.NoError(t, l.Close())
	l = openLog(t, dir, tinyOptions())
	defer l.Close()
	check(l)
	_, err := l.Append([]Entry{{Index: 1002, Term: 7}}).Wait(context.Background())
	require.ErrorIs(t, err, ErrOutOfOrder)
	appendRange(t, l, 1001, 1100, 8, 900, 9)
	checkEntry(t, l, 1050, 8, 900)
	m, i, ok, err := l.FindMatch(7, 1000)
	require.NoError(t, err)
	assert.Equal(t, []any{uint64(7), uint64(1000), true}, []any{m, i, ok})
	_, _, ok, err = l.FindMatch(7, 999)
	require.NoError(t, err)
	assert.False(t, ok, "below the snapshot nothing is held")
}

func TestIterator(t *testing.T) {
	const maxSize = 800
	l := openLog(t, t.TempDir(), tinyOptions())
	defer l.Close()
	appendRange(t, l, 1, 500, 1, maxSize, 50)

	it := l.NewIterator(1, IterOptions{ReadAhead: 16 << 10})
	es, err := it.Next(10, 0)
	require.NoError(t, err)
	require.Len(t, es, 10)
	for k, e := range es {
		require.Equal(t, uint64(k+1), e.Index)
	}
	// A byte limit smaller than one entry still returns one.
	es, err = it.Next(0, 1)
	require.NoError(t, err)
	require.Len(t, es, 1)
	require.Equal(t, uint64(11), es[0].Index)
	// Everything else, while appends continue concurrently.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		appendRange(t, l, 501, 1500, 1, maxSize, 13)
	}()
	next := uint64(12)
	for next <= 1500 {
		es, err := it.Next(64, 32<<10)
		require.NoError(t, err)
		for _, e := range es {
			require.Equal(t, next, e.Index)
			require.Equal(t, payload(next, sizeOf(next, maxSize)), append([]byte{}, e.Data...))
			next++
		}
		if len(es) == 0 && l.LastIndex() >= 1500 && next > l.LastIndex() {
			break
		}
	}
	wg.Wait()
	es, err = it.Next(10, 0)
	require.NoError(t, err)
	require.Empty(t, es, "caught up")
	it.Close()
	_, err = it.Next(1, 0)
	require.ErrorIs(t, err, ErrClosed)

	waitOK[uint64](t, l.CompactTo(1000))
	it = l.NewIterator(5, IterOptions{})
	_, err = it.Next(1, 0)
	require.ErrorIs(t, err, ErrCompacted)
	it.Close()
}

// TestReadsRaceCompaction reads while compaction moves the first index:
// every read returns the right entry or ErrCompacted, nothing else.
func TestReadsRaceCompaction(t *testing.T) {
	const maxSize = 600
	l := openLog(t, t.TempDir(), tinyOptions())
	defer l.Close()
	appendRange(t, l, 1, 2000, 1, maxSize, 40)
	stop := make(chan struct{})
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			for i := uint64(r + 1); ; i = i%2000 + 1 {
				select {
				case <-stop:
					return
				default:
				}
				e, err := l.Entry(i)
				switch {
				case err == nil && string(e.Data) != string(payload(i, sizeOf(i, maxSize))):
					errs <- fmt.Errorf("index %d: wrong data", i)
					return
				case err != nil && !isCompacted(err):
					errs <- err
					return
				}
			}
		}(r)
	}
	for first := uint64(100); first <= 1900; first += 100 {
		waitOK[uint64](t, l.CompactTo(first))
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func isCompacted(err error) bool { return err != nil && errors.Is(err, ErrCompacted) }

// crashAtEachWrite runs op on a copy of base, crashing it at its k-th
// disk-changing operation for k = 0, 1, 2, … until op finishes before k, and
// hands each crash image to check with what op had reported before the
// crash. It returns the number of crash points.
func crashAtEachWrite[R any](t *testing.T, base *vfs.MemFS, op func(l *Log) (R, error), check func(img *vfs.MemFS, r R, msg string)) int {
	const dir = "/db"
	points := 0
	for k := int64(0); ; k++ {
		mem := base.Crash()
		gate := &crashGate{inner: mem}
		inj := &crashInjector{k: k, gate: gate, crashFn: mem.Crash}
		var r R
		l, err := Open(dir, memOptions(vfs.NewErrorFS(gate, inj)))
		if err == nil {
			r, err = op(l)
			_ = l.Close()
		}
		img := inj.image()
		if img == nil {
			require.NoError(t, err, "no crash, yet the workload failed")
			break
		}
		points++
		check(img, r, fmt.Sprintf("crash at write op %d (%+v)", k, r))
	}
	require.Greater(t, points, 10)
	return points
}

// appendTerm appends [from, to] with term in calls of 8 entries and returns
// the last index acknowledged before an error.
func appendTerm(l *Log, from, to, term uint64) (acked uint64, err error) {
	for i := from; i <= to; i += 8 {
		var es []Entry
		for j := i; j < i+8 && j <= to; j++ {
			es = append(es, entryFor(j, term, 700))
		}
		if _, err := l.Append(es).Wait(context.Background()); err != nil {
			return acked, err
		}
		acked = es[len(es)-1].Index
	}
	return acked, nil
}

func crashBase(t *testing.T) *vfs.MemFS {
	base := vfs.NewMem()
	l := openLog(t, "/db", memOptions(base))
	appendRange(t, l, 1, 300, 1, 700, 20)
	require.NoError(t, l.Close())
	return base
}

// TestInstallSnapshotCrash crashes an install (and the appends after it) at
// every disk-changing operation: the log reopens as it was before or as it
// is after, never a mix, and an acknowledged install is never undone.
func TestInstallSnapshotCrash(t *testing.T) {
	type done struct {
		installed bool
		appended  uint64
	}
	points := crashAtEachWrite(t, crashBase(t), func(l *Log) (d done, err error) {
		if _, err := l.InstallSnapshot(5000, 9).Wait(context.Background()); err != nil {
			return d, err
		}
		d.installed = true
		d.appended, err = appendTerm(l, 5001, 5040, 9)
		return d, err
	}, func(img *vfs.MemFS, d done, msg string) {
		l, err := Open("/db", memOptions(img))
		require.NoError(t, err, msg)
		defer l.Close()
		if l.FirstIndex() == 1 {
			require.False(t, d.installed, "%s: an acknowledged install was undone", msg)
			require.Equal(t, uint64(300), l.LastIndex(), msg)
			checkEntry(t, l, 300, 1, 700)
			return
		}
		require.Equal(t, uint64(5001), l.FirstIndex(), msg)
		require.GreaterOrEqual(t, l.LastIndex(), max(d.appended, 5000), msg)
		tm, err := l.Term(5000)
		require.NoError(t, err, msg)
		require.Equal(t, uint64(9), tm, msg)
		for i := uint64(5001); i <= l.LastIndex(); i++ {
			checkEntry(t, l, i, 9, 700)
		}
		_, err = l.Entry(300)
		require.ErrorIs(t, err, ErrCompacted, msg)
	})
	t.Logf("crash points covered: %d", points)
}

// TestTruncateTailCrash crashes a truncation (and the appends after it) at
// every disk-changing operation: after reopening, the entries below the
// truncation point are intact, an acknowledged truncation is never undone
// (no entry of the old tail comes back), and what follows is a clean prefix
// of either the old tail or the new one.
func TestTruncateTailCrash(t *testing.T) {
	type done struct {
		truncated bool
		appended  uint64
	}
	points := crashAtEachWrite(t, crashBase(t), func(l *Log) (d done, err error) {
		if _, err := l.TruncateTail(200).Wait(context.Background()); err != nil {
			return d, err
		}
		d.truncated = true
		d.appended, err = appendTerm(l, 200, 239, 2)
		return d, err
	}, func(img *vfs.MemFS, d done, msg string) {
		l, err := Open("/db", memOptions(img))
		require.NoError(t, err, msg)
		defer l.Close()
		last := l.LastIndex()
		require.GreaterOrEqual(t, last, max(d.appended, 199), msg)
		for i := uint64(1); i < 200; i++ {
			checkEntry(t, l, i, 1, 700)
		}
		if last < 200 {
			return
		}
		e, err := l.Entry(200)
		require.NoError(t, err, msg)
		if d.truncated {
			require.Equal(t, uint64(2), e.Term, "%s: the old tail came back", msg)
		}
		for i := uint64(200); i <= last; i++ {
			checkEntry(t, l, i, e.Term, 700)
		}
	})
	t.Logf("crash points covered: %d", points)
}

// TestSpareLogFiles compacts as it appends and checks that, with spares
// kept (the default, or a number), new log files are made from compacted
// ones (raftlog_log_files_recycled_total counts them and spare files
// appear on disk), and with SpareLogFiles negative none is; every entry
// reads back across a reopen either way.
func TestSpareLogFiles(t *testing.T) {
	tests := []struct {
		name     string
		spares   int
		recycles bool
	}{
		{"default", 0, true},
		{"one", 1, true},
		{"none", -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := tinyOptions()
			opts.SpareLogFiles = tt.spares
			l := openLog(t, dir, opts)
			var first uint64 = 1
			for round := uint64(0); round < 8; round++ {
				from := round*100 + 1
				appendRange(t, l, from, from+99, 1, 1500, 10)
				first = from + 50
				_, err := wait(l.CompactTo(first))
				require.NoError(t, err)
			}
			l.deletions.Wait()
			m := l.Metrics()
			assert.Positive(t, m.LogFilesDeleted)
			spares, err := filepath.Glob(filepath.Join(dir, "*.log.free"))
			require.NoError(t, err)
			if tt.recycles {
				assert.Positive(t, m.LogFilesRecycled)
				if tt.spares > 0 {
					assert.LessOrEqual(t, len(spares), tt.spares)
				}
			} else {
				assert.Zero(t, m.LogFilesRecycled)
				assert.Empty(t, spares)
			}
			require.NoError(t, l.Close())

			l = openLog(t, dir, opts)
			defer l.Close()
			require.Equal(t, first, l.FirstIndex())
			require.Equal(t, uint64(800), l.LastIndex())
			for i := first; i <= 800; i++ {
				checkEntry(t, l, i, 1, 1500)
			}
		})
	}
}
