package raftlog

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/logqueue"
	"github.com/raftlog/raftlog/pipeline"
	"github.com/raftlog/raftlog/status"
	"github.com/raftlog/raftlog/vfs"
)

// crashSeeds is the number of seeded CrashWithLoss runs; the default keeps
// the package fast, a soak raises it: go test -run CrashWithLoss -crash.seeds=2000.
var crashSeeds = flag.Int("crash.seeds", 20, "seeded random crash runs of TestCrashWithLossSeeds")

const (
	crashDir     = "/db"
	crashMaxData = 2000 // data sizes in [0, 2000): about 60 items per 64 KiB file
	// waitTimeout bounds every wait of these tests, so that a stage that
	// never completes a future fails the test instead of hanging it.
	waitTimeout = 20 * time.Second
)

// crashOptions: 64 KiB log files and 8-slot index files so the short
// workload rotates both, and a small in-memory index so that index flushes
// (and the status saves they make) happen while appends are in flight.
func crashOptions(fs vfs.FS) Options {
	return Options{
		Prealloc:            crashPrealloc,
		LogFileSize:         64 << 10,
		IdxItemsPerFile:     8,
		MaxUnflushedIndexes: 64,
		IdxFlushInterval:    time.Hour,
		Logger:              slog.New(slog.DiscardHandler),
		fs:                  fs,
	}
}

// crashPrealloc is the preallocation of crashOptions; TestCrashZeroAhead
// runs the crash tests again with the zeroer writing next to the writer.
var crashPrealloc = logqueue.Fallocate

// The workload: phase 1 appends [1, crashPhase1] at term 1, closes and
// reopens; phase 2 appends up to crashPhase2 at term 2 and closes.
// TestCrashRecycled makes it longer.
var crashPhase1, crashPhase2 uint64 = 100, 200

// crashCompactKeep, when set, makes the workload compact as it goes,
// keeping about that many entries: TestCrashRecycled runs the crash tests
// again with compacted files recycled as new ones.
var crashCompactKeep uint64

// crashTermOf is the term the workload gives index i. Every run follows the
// same timeline until it crashes, so the term (and entryFor's bytes) of any
// index that recovery returns is known.
func crashTermOf(i uint64) uint64 {
	if i <= crashPhase1 {
		return 1
	}
	return 2
}

// afterCrashEntry is what a test appends after recovery: another term and
// other data than the workload ever wrote at i, so a read of stale bytes is
// caught.
func afterCrashEntry(i uint64) Entry {
	return Entry{Index: i, Term: 3, Timestamp: 7, Data: payload(i+1_000_000, 100+int(i%50))}
}

func wait[T any](f interface {
	Wait(context.Context) (T, error)
}) (T, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	return f.Wait(ctx)
}

// ackLog records what the workload's futures acknowledged. Callbacks run on
// the log's goroutines, hence the mutex.
type ackLog struct {
	mu     sync.Mutex
	acked  uint64      // highest index whose Append future completed with nil
	issued []HardState // every SetHardState, in call order
	hsAck  int         // 1 + position in issued of the last acknowledged one; 0: none
}

func (a *ackLog) appendDone(last uint64, err error) {
	if err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.acked = max(a.acked, last)
}

// setHardState issues hs and records its acknowledgement.
func (a *ackLog) setHardState(l *Log, hs HardState) *pipeline.Future[HardState] {
	a.mu.Lock()
	a.issued = append(a.issued, hs)
	n := len(a.issued)
	a.mu.Unlock()
	f := l.SetHardState(hs)
	f.OnComplete(func(_ HardState, err error) {
		if err != nil {
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		a.hsAck = max(a.hsAck, n)
	})
	return f
}

func (a *ackLog) snapshot() (acked uint64, issued []HardState, hsAck int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.acked, slices.Clone(a.issued), a.hsAck
}

// runCrashWorkload appends, rotates, sets hard states, closes and reopens.
// It returns at the first error: once the file system has "crashed" every
// operation fails and nothing more can be acknowledged.
func runCrashWorkload(fs vfs.FS, acks *ackLog) error {
	l, err := Open(crashDir, crashOptions(fs))
	if err != nil {
		return err
	}
	if err := crashPhase(l, 1, crashPhase1, acks); err != nil {
		_ = l.Close()
		return err
	}
	if err := l.Close(); err != nil {
		return err
	}
	l, err = Open(crashDir, crashOptions(fs))
	if err != nil {
		return err
	}
	if l.LastIndex() != crashPhase1 {
		_ = l.Close()
		return fmt.Errorf("reopen after a clean close: last index %d, want %d", l.LastIndex(), crashPhase1)
	}
	if err := crashPhase(l, crashPhase1+1, crashPhase2, acks); err != nil {
		_ = l.Close()
		return err
	}
	return l.Close()
}

// crashPhase appends [from, to] in batches of 1 to 4 entries, waiting for
// every third batch only, so several batches are in flight, and sets a hard
// state every fifth batch without waiting for it. Every seventh batch goes
// through AppendWait once the batches before it are durable, so that it is
// written and synced on this goroutine (a chainwriter claim).
func crashPhase(l *Log, from, to uint64, acks *ackLog) error {
	var last interface {
		Wait(context.Context) (uint64, error)
	}
	for i, batch := from, 0; i <= to; batch++ {
		n := min(uint64(1+batch%4), to-i+1)
		es := make([]Entry, 0, n)
		for j := i; j < i+n; j++ {
			es = append(es, entryFor(j, crashTermOf(j), crashMaxData))
		}
		if batch%7 == 6 {
			if last != nil {
				if _, err := last.Wait(context.Background()); err != nil {
					return err
				}
			}
			idx, err := l.AppendWait(context.Background(), es)
			acks.appendDone(idx, err)
			if err != nil {
				return err
			}
			i += n
			continue
		}
		f := l.Append(es)
		f.OnComplete(acks.appendDone)
		last = f
		i += n
		if batch%5 == 4 {
			acks.setHardState(l, HardState{Term: crashTermOf(i - 1), Vote: uint64(batch), Commit: i - 1})
		}
		if batch%3 == 2 {
			if _, err := wait(f); err != nil {
				return err
			}
		}
		if crashCompactKeep > 0 && batch%4 == 3 && i > crashCompactKeep {
			l.CompactTo(i - crashCompactKeep) // its failure is the crash's
		}
	}
	if _, err := wait(last); err != nil {
		return err
	}
	_, err := wait(acks.setHardState(l, HardState{Term: crashTermOf(to), Vote: 99, Commit: to}))
	return err
}

// isWriteOp reports the operations that change the disk: the ones counted
// for "crash at the k-th write operation".
func isWriteOp(op vfs.Op) bool {
	switch op {
	case vfs.OpWrite, vfs.OpSync, vfs.OpSyncDir, vfs.OpCreate, vfs.OpRename,
		vfs.OpRemove, vfs.OpAllocate, vfs.OpTruncate:
		return true
	}
	return false
}

// crashInjector is the vfs.Injector of the crash tests. At the k-th write
// operation it takes the crash image (through the gate, see crashGate) and
// from then on fails every operation.
type crashInjector struct {
	k       int64
	count   atomic.Int64
	gate    *crashGate
	crashFn func() *vfs.MemFS
	crashed *vfs.MemFS // set once, under gate.mu
}

func (c *crashInjector) MaybeError(op vfs.Op, _ string) error {
	if c.gate.isCrashed() {
		return vfs.ErrInjected
	}
	if !isWriteOp(op) {
		return nil
	}
	n := c.count.Add(1) - 1
	switch {
	case c.k < 0 || n < c.k:
		return nil
	case n == c.k:
		c.gate.crash(func() { c.crashed = c.crashFn() })
	}
	return vfs.ErrInjected
}

func (c *crashInjector) image() *vfs.MemFS {
	c.gate.mu.Lock()
	defer c.gate.mu.Unlock()
	return c.crashed
}

// crashGate sits between ErrorFS and the MemFS. It closes a race that an
// Injector alone cannot: an operation j < k that the injector let through
// may still be running (a Sync about to return nil and acknowledge a batch)
// when the k-th operation takes the crash image. Every disk-changing call
// holds the read lock while it runs; the crash takes the write lock, so it
// waits for the calls in progress, and a call let through before the crash
// that reaches the gate after it fails (as if the crash came first).
type crashGate struct {
	inner   vfs.FS
	mu      sync.RWMutex
	crashed bool
}

var errCrashed = fmt.Errorf("crash test: the machine crashed: %w", vfs.ErrInjected)

func (g *crashGate) isCrashed() bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.crashed
}

func (g *crashGate) crash(take func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.crashed {
		g.crashed = true
		take()
	}
}

func (g *crashGate) do(fn func() error) error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.crashed {
		return errCrashed
	}
	return fn()
}

func (g *crashGate) wrap(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return &gatedFile{File: f, g: g}, nil
}

func (g *crashGate) Create(name string) (vfs.File, error) {
	var f vfs.File
	err := g.do(func() (err error) { f, err = g.inner.Create(name); return err })
	return g.wrap(f, err)
}
func (g *crashGate) Open(name string) (vfs.File, error) { return g.wrap(g.inner.Open(name)) }
func (g *crashGate) OpenReadOnly(name string) (vfs.File, error) {
	return g.wrap(g.inner.OpenReadOnly(name))
}
func (g *crashGate) Remove(name string) error {
	return g.do(func() error { return g.inner.Remove(name) })
}
func (g *crashGate) Rename(o, n string) error {
	return g.do(func() error { return g.inner.Rename(o, n) })
}
func (g *crashGate) List(dir string) ([]string, error) { return g.inner.List(dir) }
func (g *crashGate) MkdirAll(dir string) error         { return g.inner.MkdirAll(dir) }
func (g *crashGate) SyncDir(dir string) error {
	return g.do(func() error { return g.inner.SyncDir(dir) })
}
func (g *crashGate) Lock(dir string) (io.Closer, error) { return g.inner.Lock(dir) }
func (g *crashGate) Exists(name string) (bool, error)   { return g.inner.Exists(name) }

type gatedFile struct {
	vfs.File
	g *crashGate
}

func (f *gatedFile) WriteAt(p []byte, off int64) (n int, err error) {
	err = f.g.do(func() error { n, err = f.File.WriteAt(p, off); return err })
	return n, err
}
func (f *gatedFile) WritevAt(bufs [][]byte, off int64) (n int, err error) {
	err = f.g.do(func() error { n, err = f.File.WritevAt(bufs, off); return err })
	return n, err
}
func (f *gatedFile) Sync() error { return f.g.do(f.File.Sync) }
func (f *gatedFile) Truncate(size int64) error {
	return f.g.do(func() error { return f.File.Truncate(size) })
}
func (f *gatedFile) Allocate(off, size int64) error {
	return f.g.do(func() error { return f.File.Allocate(off, size) })
}

// crashRun runs the workload on a fresh MemFS that crashes at the k-th
// write operation (k < 0: never). crashed is nil when the workload finished
// before reaching k; ops is the number of write operations it counted.
func crashRun(k int64, take func(mem *vfs.MemFS) *vfs.MemFS) (crashed *vfs.MemFS, acks *ackLog, ops int64, werr error) {
	mem := vfs.NewMem()
	gate := &crashGate{inner: mem}
	inj := &crashInjector{k: k, gate: gate, crashFn: func() *vfs.MemFS { return take(mem) }}
	acks = &ackLog{}
	werr = runCrashWorkload(vfs.NewErrorFS(gate, inj), acks)
	return inj.image(), acks, inj.count.Load(), werr
}

// checkRecovered opens the crash image and checks the durability contract
// against what the workload had acknowledged when it crashed, then that the
// log takes new appends across a reopen.
func checkRecovered(t *testing.T, fs *vfs.MemFS, acks *ackLog, msg string) {
	t.Helper()
	acked, issued, hsAck := acks.snapshot()
	l, err := Open(crashDir, crashOptions(fs))
	require.NoError(t, err, msg)
	last := l.LastIndex()
	require.GreaterOrEqual(t, last, acked, "%s: acknowledged index %d lost", msg, acked)
	require.LessOrEqual(t, last, uint64(crashPhase2), msg)
	if last > 0 {
		require.Equal(t, crashTermOf(last), l.LastTerm(), msg)
	}
	// A prefix of what was appended: every index up to LastIndex, intact.
	first := l.FirstIndex()
	if crashCompactKeep == 0 {
		require.Equal(t, uint64(1), first, msg)
	}
	require.LessOrEqual(t, first, last+1, msg)
	for i := first; i <= last; i++ {
		e, err := l.Entry(i)
		require.NoError(t, err, "%s: index %d", msg, i)
		want := entryFor(i, crashTermOf(i), crashMaxData)
		require.Equal(t, want.Term, e.Term, "%s: term of %d", msg, i)
		require.Equal(t, want.Timestamp, e.Timestamp, "%s: timestamp of %d", msg, i)
		require.True(t, bytes.Equal(want.Header, e.Header), "%s: header of %d", msg, i)
		require.True(t, bytes.Equal(want.Data, e.Data), "%s: data of %d", msg, i)
	}
	_, err = l.Entry(last + 1)
	require.ErrorIs(t, err, ErrUnavailable, msg)

	// The hard state is the last acknowledged one or one issued after it
	// (whose save reached the disk before the crash), and its commit index
	// is durable.
	hs := l.HardState()
	if hsAck == 0 {
		require.True(t, hs == HardState{} || slices.Contains(issued, hs), "%s: hard state %+v was never set", msg, hs)
	} else {
		require.Contains(t, issued[hsAck-1:], hs, "%s: hard state %+v is older than the acknowledged %+v", msg, hs, issued[hsAck-1])
	}
	require.LessOrEqual(t, hs.Commit, last, "%s: commit index %d above the last index %d", msg, hs.Commit, last)

	// New appends land after the recovered tail and survive a reopen.
	es := []Entry{afterCrashEntry(last + 1), afterCrashEntry(last + 2), afterCrashEntry(last + 3)}
	_, err = wait(l.Append(es))
	require.NoError(t, err, msg)
	require.NoError(t, l.Close(), msg)
	l, err = Open(crashDir, crashOptions(fs))
	require.NoError(t, err, msg)
	defer l.Close()
	require.Equal(t, last+3, l.LastIndex(), msg)
	for _, want := range es {
		e, err := l.Entry(want.Index)
		require.NoError(t, err, msg)
		require.Equal(t, want.Term, e.Term, msg)
		require.True(t, bytes.Equal(want.Data, e.Data), "%s: data of %d", msg, want.Index)
	}
	if last > 0 {
		checkEntry(t, l, last, crashTermOf(last), crashMaxData)
	}
	require.NoError(t, l.Close(), msg)
}

// TestCrashAtEveryWrite crashes the workload at its k-th disk-changing
// operation for every k until the workload completes before reaching k.
// The crash keeps exactly what was synced (file data by Sync, names by
// SyncDir).
func TestCrashAtEveryWrite(t *testing.T) {
	clean := func(mem *vfs.MemFS) *vfs.MemFS { return mem.Crash() }
	_, _, total, err := crashRun(-1, clean)
	require.NoError(t, err, "the workload fails without a crash")
	t.Logf("the workload makes %d write operations", total)

	points := 0
	for k := int64(0); ; k++ {
		crashed, acks, _, werr := crashRun(k, clean)
		if crashed == nil {
			// The workload finished before its k-th operation (the count
			// varies a little with the interleaving of the stages).
			require.NoError(t, werr, "k=%d: the workload failed without a crash", k)
			break
		}
		if crashCompactKeep == 0 {
			// With compaction the crash may land on the background removal
			// (or recycling) of a compacted file after the last append:
			// its failure is only logged, and rightly loses nothing.
			require.Error(t, werr, "k=%d: the workload did not notice the crash", k)
		}
		checkRecovered(t, crashed, acks, fmt.Sprintf("crash at write op k=%d", k))
		points++
	}
	require.Greater(t, points, 100, "too few crash points: the workload is not exercising rotations")
	t.Logf("crash points covered: %d", points)
}

// TestCrashWithLossSeeds crashes at a random write operation and keeps a
// random part of the unsynced pages, torn pages included. A failure prints
// its seed; rerun one seed with -crash.seeds larger than it.
func TestCrashWithLossSeeds(t *testing.T) {
	_, _, total, err := crashRun(-1, func(mem *vfs.MemFS) *vfs.MemFS { return mem.Crash() })
	require.NoError(t, err)
	for seed := uint64(0); seed < uint64(*crashSeeds); seed++ {
		rng := rand.New(rand.NewPCG(seed, 0x5eed))
		k := rng.Int64N(total)
		lossy := func(mem *vfs.MemFS) *vfs.MemFS { return mem.CrashWithLoss(rng) }
		crashed, acks, _, _ := crashRun(k, lossy)
		if crashed == nil {
			continue
		}
		checkRecovered(t, crashed, acks, fmt.Sprintf("seed %d (crash with loss at write op %d)", seed, k))
	}
	t.Logf("seeds run: %d", *crashSeeds)
}

// TestCrashZeroAhead repeats TestCrashAtEveryWrite and TestCrashWithLossSeeds
// with ZeroAhead preallocation: its zeros, written and synced through their
// own file handles next to the writer's, must never cost an acknowledged
// entry.
func TestCrashZeroAhead(t *testing.T) {
	crashPrealloc = logqueue.ZeroAhead
	t.Cleanup(func() { crashPrealloc = logqueue.Fallocate })
	t.Run("every write", TestCrashAtEveryWrite)
	t.Run("with loss", TestCrashWithLossSeeds)
}

// TestCrashRecycled repeats the crash tests with a workload that compacts
// as it appends, so that log files are kept as spares and renamed into
// place as new ones (logqueue's recycle.go): the old bytes of a recycled
// file after the end of the log, a crash in the middle of a rename, and a
// spare taken back by Open must never cost an acknowledged entry or bring
// back a stale one. The workload must really recycle: the test counts the
// renames of spares into place.
func TestCrashRecycled(t *testing.T) {
	crashCompactKeep, crashPhase1, crashPhase2 = 30, 200, 400
	t.Cleanup(func() { crashCompactKeep, crashPhase1, crashPhase2 = 0, 100, 200 })
	mem := vfs.NewMem()
	counter := &renameCounter{}
	require.NoError(t, runCrashWorkload(vfs.NewErrorFS(mem, counter), &ackLog{}))
	require.Greater(t, counter.recycled.Load(), int64(2), "the workload recycles too few files")
	t.Logf("spares renamed into place without a crash: %d", counter.recycled.Load())
	t.Run("every write", TestCrashAtEveryWrite)
	t.Run("with loss", TestCrashWithLossSeeds)
	crashPrealloc = logqueue.ZeroAhead
	t.Cleanup(func() { crashPrealloc = logqueue.Fallocate })
	t.Run("zero ahead with loss", TestCrashWithLossSeeds)
}

// renameCounter counts renames of spare files into place.
type renameCounter struct{ recycled atomic.Int64 }

func (c *renameCounter) MaybeError(op vfs.Op, name string) error {
	if op == vfs.OpRename && strings.HasSuffix(name, ".log.free") {
		c.recycled.Add(1)
	}
	return nil
}

// memFiles returns name → contents of every file in dir of fs.
func memFiles(t testing.TB, fs vfs.FS, dir string) map[string][]byte {
	t.Helper()
	names, err := fs.List(dir)
	require.NoError(t, err)
	out := make(map[string][]byte, len(names))
	for _, name := range names {
		path := filepath.Join(dir, name)
		if f, err := fs.OpenReadOnly(path); errors.Is(err, syscall.EISDIR) {
			continue // a subdirectory (Repair's side directory)
		} else if err == nil {
			require.NoError(t, f.Close())
		}
		out[name] = readMemFile(t, fs, path)
	}
	return out
}

func readMemFile(t testing.TB, fs vfs.FS, path string) []byte {
	t.Helper()
	f, err := fs.OpenReadOnly(path)
	require.NoError(t, err)
	defer f.Close()
	size, err := f.Size()
	require.NoError(t, err)
	b := make([]byte, size)
	if size > 0 {
		_, err = f.ReadAt(b, 0)
		require.NoError(t, err)
	}
	return b
}

// writeMemFile writes b at off of path in fs and syncs it.
func writeMemFile(t testing.TB, fs vfs.FS, path string, b []byte, off int64) {
	t.Helper()
	f, err := fs.Open(path)
	require.NoError(t, err)
	_, err = f.WriteAt(b, off)
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	require.NoError(t, f.Close())
}

// TestStatusFileEdgeCases opens whole logs whose status file a crash left
// empty, half replaced, or next to a stale temporary file.
func TestStatusFileEdgeCases(t *testing.T) {
	statusPath := filepath.Join(crashDir, "status")

	t.Run("0-byte status file", func(t *testing.T) {
		// A crash during the first Open made the rename durable, not the
		// data: the directory holds an empty status file and nothing else.
		mem := vfs.NewMem()
		require.NoError(t, mem.MkdirAll(crashDir))
		f, err := mem.Create(statusPath)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		require.NoError(t, mem.SyncDir(crashDir))
		l, err := Open(crashDir, memOptions(mem))
		require.NoError(t, err)
		require.Equal(t, uint64(0), l.LastIndex())
		appendRange(t, l, 1, 30, 1, 500, 4)
		require.NoError(t, l.Close())
		l = openLog(t, crashDir, memOptions(mem.Crash()))
		defer l.Close()
		require.Equal(t, uint64(30), l.LastIndex())
		checkEntry(t, l, 30, 1, 500)
	})

	t.Run("stale status.tmp", func(t *testing.T) {
		mem := vfs.NewMem()
		l := openLog(t, crashDir, memOptions(mem))
		appendRange(t, l, 1, 50, 1, 500, 5)
		hs := HardState{Term: 1, Vote: 2, Commit: 50}
		_, err := wait(l.SetHardState(hs))
		require.NoError(t, err)
		require.NoError(t, l.Close())
		tmp, err := mem.Create(filepath.Join(crashDir, "status.tmp"))
		require.NoError(t, err)
		_, err = tmp.WriteAt(bytes.Repeat([]byte{0xEE}, 1000), 0)
		require.NoError(t, err)
		require.NoError(t, tmp.Sync())
		require.NoError(t, tmp.Close())
		require.NoError(t, mem.SyncDir(crashDir))

		l = openLog(t, crashDir, memOptions(mem))
		defer l.Close()
		assert.Equal(t, hs, l.HardState())
		assert.Equal(t, uint64(50), l.LastIndex())
		for i := uint64(1); i <= 50; i++ {
			checkEntry(t, l, i, 1, 500)
		}
		ok, err := mem.Exists(filepath.Join(crashDir, "status.tmp"))
		require.NoError(t, err)
		assert.False(t, ok, "Open leaves the stale status.tmp")
	})

	t.Run("torn at every byte of its last write", func(t *testing.T) {
		mem := vfs.NewMem()
		l := openLog(t, crashDir, memOptions(mem))
		appendRange(t, l, 1, 40, 1, 500, 5)
		hs1 := HardState{Term: 1, Vote: 1, Commit: 20}
		_, err := wait(l.SetHardState(hs1))
		require.NoError(t, err)
		before := readMemFile(t, mem, statusPath)
		hs2 := HardState{Term: 2, Vote: 3, Commit: 40}
		_, err = wait(l.SetHardState(hs2))
		require.NoError(t, err)
		after := readMemFile(t, mem, statusPath)
		base := mem.Crash() // before Close writes anything more
		require.NoError(t, l.Close())

		require.Equal(t, len(before), len(after))
		lo := -1
		for i := range before {
			if before[i] != after[i] {
				lo = i
				break
			}
		}
		require.GreaterOrEqual(t, lo, 0, "the last SetHardState changed no byte of the status file")
		hi := lo
		for i := range before {
			if before[i] != after[i] {
				hi = i
			}
		}
		// The write starts at its slot and ends at or after hi.
		slotStart := lo - lo%status.SlotSize
		require.Less(t, hi, slotStart+status.SlotSize, "the last write spans two slots")
		for cut := slotStart; cut <= hi+1; cut++ {
			fs := base.Crash()
			torn := append(slices.Clone(after[:cut]), before[cut:]...)
			writeMemFile(t, fs, statusPath, torn, 0)
			l, err := Open(crashDir, memOptions(fs))
			require.NoError(t, err, "status torn after %d bytes of the write", cut-slotStart)
			want := hs1
			if cut > hi {
				want = hs2
			}
			require.Equal(t, want, l.HardState(), "status torn after %d bytes of the write", cut-slotStart)
			require.Equal(t, uint64(40), l.LastIndex(), "status torn after %d bytes", cut-slotStart)
			checkEntry(t, l, 40, 1, 500)
			require.NoError(t, l.Close())
		}
	})
}

// failureCase is one way for the disk to fail under a running log.
type failureCase struct {
	name     string
	prealloc logqueue.PreallocMode
	// inject returns the error for op on name, or nil; it is consulted only
	// once the test arms the failure.
	inject func(op vfs.Op, name string) error
	cause  error
}

// logStart parses the start position of a log file path ("….log" or
// "….log.tmp"); ok is false for other files.
func logStart(name string) (int64, bool) {
	base := strings.TrimSuffix(filepath.Base(name), ".tmp")
	digits, ok := strings.CutSuffix(base, ".log")
	if !ok {
		return 0, false
	}
	var v int64
	_, err := fmt.Sscanf(digits, "%d", &v)
	return v, err == nil
}

// TestFailureSemantics fails a write, a sync or a preallocation under a log
// with appends in flight and checks the error contract: the failing future
// and every later one get ErrFailed wrapping the cause, no fsync of the
// failed file is retried, Close returns and releases the lock, and the next
// Open recovers every acknowledged entry.
func TestFailureSemantics(t *testing.T) {
	const fileSize = 64 << 10
	isLog := func(name string) bool { return strings.HasSuffix(name, ".log") }
	// nextFile matches the allocation of any log file after the two that
	// exist once the log is open, so the failure hits a rotation.
	nextFile := func(name string) bool {
		start, ok := logStart(name)
		return ok && strings.HasSuffix(name, ".tmp") && start >= 2*fileSize
	}
	cases := []failureCase{
		{"write error", logqueue.ZeroFill, func(op vfs.Op, name string) error {
			if op == vfs.OpWrite && isLog(name) {
				return vfs.ErrInjected
			}
			return nil
		}, vfs.ErrInjected},
		{"sync error", logqueue.ZeroFill, func(op vfs.Op, name string) error {
			if op == vfs.OpSync && isLog(name) {
				return vfs.ErrInjected
			}
			return nil
		}, vfs.ErrInjected},
		{"ENOSPC on write", logqueue.ZeroFill, func(op vfs.Op, name string) error {
			if op == vfs.OpWrite && isLog(name) {
				return syscall.ENOSPC
			}
			return nil
		}, syscall.ENOSPC},
		{"short write", logqueue.ZeroFill, func(op vfs.Op, name string) error {
			if op == vfs.OpWrite && isLog(name) {
				return vfs.ShortWrite{N: 100}
			}
			return nil
		}, vfs.ErrInjected},
		{"ENOSPC creating the next file", logqueue.ZeroFill, func(op vfs.Op, name string) error {
			if op == vfs.OpCreate && nextFile(name) {
				return syscall.ENOSPC
			}
			return nil
		}, syscall.ENOSPC},
		{"ENOSPC zero-filling the next file", logqueue.ZeroFill, func(op vfs.Op, name string) error {
			if op == vfs.OpWrite && nextFile(name) {
				return syscall.ENOSPC
			}
			return nil
		}, syscall.ENOSPC},
		{"ENOSPC fallocating the next file", logqueue.Fallocate, func(op vfs.Op, name string) error {
			if op == vfs.OpAllocate && nextFile(name) {
				return syscall.ENOSPC
			}
			return nil
		}, syscall.ENOSPC},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { testFailure(t, tc) })
	}
}

func testFailure(t *testing.T, tc failureCase) {
	const maxSize = 1500
	mem := vfs.NewMem()
	var (
		armed    atomic.Bool
		mu       sync.Mutex
		failedOn string         // file of the first injected failure
		syncsOn  map[string]int // syncs per file after the first failure
	)
	syncsOn = make(map[string]int)
	inj := vfs.InjectorFunc(func(op vfs.Op, name string) error {
		if !armed.Load() {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if failedOn != "" && op == vfs.OpSync {
			syncsOn[name]++
		}
		err := tc.inject(op, name)
		if err != nil && failedOn == "" {
			failedOn = name
		}
		return err
	})
	o := memOptions(vfs.NewErrorFS(mem, inj))
	o.Prealloc = tc.prealloc
	l := openLog(t, crashDir, o)
	appendRange(t, l, 1, 10, 1, maxSize, 5)

	armed.Store(true)
	// 200 entries of up to 1.5 KB: several rotations, all in flight.
	const n = 200
	type result struct {
		last uint64
		err  error
	}
	futs := make([]interface {
		Wait(context.Context) (uint64, error)
	}, 0, n)
	for i := uint64(11); i < 11+n; i++ {
		futs = append(futs, l.Append([]Entry{entryFor(i, 1, maxSize)}))
	}
	results := make([]result, len(futs))
	for i, f := range futs {
		last, err := wait(f)
		require.False(t, errors.Is(err, context.DeadlineExceeded), "future %d never completed", i)
		results[i] = result{last, err}
	}
	firstFail := slices.IndexFunc(results, func(r result) bool { return r.err != nil })
	require.GreaterOrEqual(t, firstFail, 0, "no append failed")
	acked := uint64(10 + firstFail)
	for i, r := range results[firstFail:] {
		require.ErrorIs(t, r.err, ErrFailed, "future %d after the failure", firstFail+i)
		require.ErrorIs(t, r.err, tc.cause, "future %d after the failure", firstFail+i)
	}
	_, err := wait(l.Append([]Entry{entryFor(l.LastIndex()+1, 1, maxSize)}))
	require.ErrorIs(t, err, ErrFailed, "an append after the failure")
	_, err = wait(l.SetHardState(HardState{Term: 1, Commit: 5}))
	require.ErrorIs(t, err, ErrFailed, "a hard state after the failure")

	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			require.ErrorIs(t, err, ErrFailed)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Close did not return after the failure")
	}
	mu.Lock()
	require.NotEmpty(t, failedOn, "the injector never fired")
	if tc.name == "sync error" {
		require.Zero(t, syncsOn[failedOn], "the failed fsync of %s was retried", failedOn)
	}
	mu.Unlock()
	armed.Store(false)

	// The lock is released and the disk as the process left it recovers;
	// so does the disk as a power loss right now would leave it.
	for _, fs := range []vfs.FS{vfs.NewErrorFS(mem, inj), mem.Crash()} {
		o.fs = fs
		l := openLog(t, crashDir, o)
		require.GreaterOrEqual(t, l.LastIndex(), acked)
		for i := uint64(1); i <= l.LastIndex(); i++ {
			checkEntry(t, l, i, 1, maxSize)
		}
		next := l.LastIndex() + 1
		appendRange(t, l, next, next+20, 2, maxSize, 4)
		checkEntry(t, l, next+20, 2, maxSize)
		require.NoError(t, l.Close())
	}
}

// TestHardStateNotOverwrittenByOlder sets a hard state behind an append
// without waiting, waits for the append, then sets a newer hard state and
// waits for it: after Close and Open the newer one must be restored. The
// first is handed to the status goroutine by the report goroutine after it
// completes the append's future, the second by the caller once the append is
// durable; if the two hand-offs race, the older state is saved last and a
// restart restores an older vote and commit (found by TestCrashWithLossSeeds).
func TestHardStateNotOverwrittenByOlder(t *testing.T) {
	mem := vfs.NewMem()
	for i := uint64(1); i <= 400; i++ {
		l := openLog(t, crashDir, memOptions(mem))
		f := l.Append([]Entry{entryFor(i, 1, 50)})
		l.SetHardState(HardState{Term: 1, Vote: 1, Commit: i - 1})
		_, err := wait(f)
		require.NoError(t, err)
		newer := HardState{Term: 1, Vote: 2, Commit: i}
		_, err = wait(l.SetHardState(newer))
		require.NoError(t, err)
		require.NoError(t, l.Close())
		l = openLog(t, crashDir, memOptions(mem))
		require.Equal(t, newer, l.HardState(), "round %d: an older hard state was saved after the newer one", i)
		require.NoError(t, l.Close())
	}
}
