package raftlog

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/logqueue"
	"github.com/raftlog/raftlog/vfs"
)

// tinyOptions forces many rotations and index files.
func tinyOptions() Options {
	return Options{LogFileSize: 64 << 10, IdxItemsPerFile: 8, MaxUnflushedIndexes: 256, IdxFlushInterval: time.Millisecond}
}

func openLog(t testing.TB, dir string, opts Options) *Log {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	l, err := Open(dir, opts)
	require.NoError(t, err)
	return l
}

// payload is the deterministic data of index i: size bytes derived from i, so
// a read can be checked without keeping what was written.
func payload(i uint64, size int) []byte {
	b := make([]byte, size)
	var seed [8]byte
	binary.LittleEndian.PutUint64(seed[:], i*0x9E3779B97F4A7C15)
	for j := range b {
		b[j] = seed[j%8] ^ byte(j)
	}
	return b
}

// sizeOf gives index i a data size in [0, maxSize) that varies with i.
func sizeOf(i uint64, maxSize int) int { return int((i * 7919) % uint64(maxSize)) }

func entryFor(i, term uint64, maxSize int) Entry {
	var hdr []byte
	if i%3 == 0 {
		hdr = []byte(fmt.Sprintf("h%d", i))
	}
	return Entry{Index: i, Term: term, Type: uint8(i % 4), Timestamp: int64(i) * 1000, Header: hdr, Data: payload(i, sizeOf(i, maxSize))}
}

// appendRange appends [from, to] in batches of batch entries and waits for
// the last future.
func appendRange(t testing.TB, l *Log, from, to, term uint64, maxSize, batch int) {
	t.Helper()
	var last interface {
		Wait(context.Context) (uint64, error)
	}
	for i := from; i <= to; {
		n := min(uint64(batch), to-i+1)
		es := make([]Entry, 0, n)
		for j := uint64(0); j < n; j++ {
			es = append(es, entryFor(i+j, term, maxSize))
		}
		last = l.Append(es)
		i += n
	}
	if last != nil {
		idx, err := last.Wait(context.Background())
		require.NoError(t, err)
		require.Equal(t, to, idx)
	}
}

func checkEntry(t testing.TB, l *Log, i, term uint64, maxSize int) {
	t.Helper()
	e, err := l.Entry(i)
	require.NoError(t, err, "index %d", i)
	want := entryFor(i, term, maxSize)
	require.Equal(t, want.Index, e.Index)
	require.Equal(t, want.Term, e.Term, "index %d", i)
	require.Equal(t, want.Type, e.Type)
	require.Equal(t, want.Timestamp, e.Timestamp)
	require.True(t, bytes.Equal(want.Header, e.Header), "header of %d", i)
	require.True(t, bytes.Equal(want.Data, e.Data), "data of %d", i)
}

func TestOpenEmpty(t *testing.T) {
	l := openLog(t, t.TempDir(), tinyOptions())
	defer l.Close()
	assert.Equal(t, uint64(1), l.FirstIndex())
	assert.Equal(t, uint64(0), l.LastIndex())
	assert.Equal(t, uint64(0), l.LastTerm())
	assert.Equal(t, uint64(0), l.DurableIndex())
	term, err := l.Term(0)
	require.NoError(t, err)
	assert.Equal(t, uint64(0), term)
	_, err = l.Entry(1)
	assert.ErrorIs(t, err, ErrUnavailable)
	_, err = l.Entry(0)
	assert.ErrorIs(t, err, ErrCompacted)
}

func TestAppendAcrossRotationsAndReopen(t *testing.T) {
	dir := t.TempDir()
	const maxSize = 1500
	const n = 12000 // about 9 MB: 140 log files of 64 KiB, 1500 index files
	l := openLog(t, dir, tinyOptions())
	appendRange(t, l, 1, n, 1, maxSize, 97)
	assert.Equal(t, uint64(n), l.LastIndex())
	assert.Equal(t, uint64(n), l.DurableIndex())
	for i := uint64(1); i <= n; i++ {
		checkEntry(t, l, i, 1, maxSize)
	}
	require.NoError(t, l.Close())

	logs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	require.NoError(t, err)
	assert.Greater(t, len(logs), 100, "expected hundreds of rotations")

	l = openLog(t, dir, tinyOptions())
	assert.Equal(t, uint64(n), l.LastIndex())
	assert.Equal(t, uint64(1), l.LastTerm())
	for i := uint64(1); i <= n; i++ {
		checkEntry(t, l, i, 1, maxSize)
	}
	appendRange(t, l, n+1, n+3000, 2, maxSize, 50)
	require.NoError(t, l.Close())

	l = openLog(t, dir, tinyOptions())
	defer l.Close()
	assert.Equal(t, uint64(n+3000), l.LastIndex())
	assert.Equal(t, uint64(2), l.LastTerm())
	es, err := l.Entries(n-5, n+5, 0)
	require.NoError(t, err)
	require.Len(t, es, 10)
	for _, e := range es {
		term := uint64(1)
		if e.Index > n {
			term = 2
		}
		assert.Equal(t, term, e.Term)
		assert.True(t, bytes.Equal(payload(e.Index, sizeOf(e.Index, maxSize)), e.Data), "data of %d", e.Index)
	}
}

// TestFileBoundaries places entries so that one exactly fills a file, one
// leaves less than a header of slack, and one needs an end marker.
func TestFileBoundaries(t *testing.T) {
	const fileSize = 64 << 10
	itemSize := func(data int) int64 { return logqueue.EncodedSize(0, data) }
	overhead := int(itemSize(0))
	tests := []struct {
		name  string
		sizes []int // data sizes of consecutive entries
	}{
		{"exact fill", []int{fileSize - overhead, 10, 20}},
		{"exact fill in two", []int{fileSize/2 - overhead, fileSize/2 - overhead, 5}},
		{"slack under a header", []int{fileSize - overhead - logqueue.ItemHeaderSize + 1, 100, 7}},
		{"end marker", []int{fileSize - overhead - 1000, 2000, 3}},
		{"end marker, exact size of a marker left", []int{fileSize - overhead - logqueue.EndMarkerSize, 64, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, tinyOptions())
			var es []Entry
			for i, s := range tc.sizes {
				es = append(es, Entry{Index: uint64(i + 1), Term: 3, Data: payload(uint64(i+1), s)})
			}
			// One call, then one call per entry again after reopen.
			_, err := l.Append(es).Wait(context.Background())
			require.NoError(t, err)
			check := func(l *Log, base uint64) {
				for i, s := range tc.sizes {
					e, err := l.Entry(base + uint64(i))
					require.NoError(t, err)
					require.Equal(t, payload(uint64(i+1), s), e.Data)
				}
			}
			check(l, 1)
			require.NoError(t, l.Close())
			l = openLog(t, dir, tinyOptions())
			check(l, 1)
			base := l.LastIndex() + 1
			for i, s := range tc.sizes {
				_, err := l.Append([]Entry{{Index: base + uint64(i), Term: 3, Data: payload(uint64(i+1), s)}}).Wait(context.Background())
				require.NoError(t, err)
			}
			check(l, base)
			require.NoError(t, l.Close())
			l = openLog(t, dir, tinyOptions())
			defer l.Close()
			check(l, 1)
			check(l, base)
		})
	}
}

func TestRejectedInputsChangeNothing(t *testing.T) {
	l := openLog(t, t.TempDir(), tinyOptions())
	defer l.Close()
	appendRange(t, l, 1, 10, 5, 100, 10)

	big := make([]byte, 64<<10)
	tests := []struct {
		name    string
		entries []Entry
		want    error
	}{
		{"gap before", []Entry{{Index: 12, Term: 5}}, ErrOutOfOrder},
		{"overlap", []Entry{{Index: 10, Term: 5}}, ErrOutOfOrder},
		{"gap inside", []Entry{{Index: 11, Term: 5}, {Index: 13, Term: 5}}, ErrOutOfOrder},
		{"term down at first", []Entry{{Index: 11, Term: 4}}, ErrTermRegression},
		{"term down inside", []Entry{{Index: 11, Term: 6}, {Index: 12, Term: 5}}, ErrTermRegression},
		{"too large", []Entry{{Index: 11, Term: 5}, {Index: 12, Term: 5, Data: big}}, ErrEntryTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := l.Append(tc.entries).Wait(context.Background())
			require.ErrorIs(t, err, tc.want)
			assert.Equal(t, uint64(10), l.LastIndex())
			assert.Equal(t, uint64(5), l.LastTerm())
			_, err = l.Entry(11)
			assert.ErrorIs(t, err, ErrUnavailable)
		})
	}
	// Still usable.
	appendRange(t, l, 11, 20, 6, 100, 3)
	checkEntry(t, l, 20, 6, 100)
}

func TestReadRangeErrors(t *testing.T) {
	l := openLog(t, t.TempDir(), tinyOptions())
	appendRange(t, l, 1, 20, 1, 300, 20)
	_, err := l.Entries(0, 5, 0)
	assert.ErrorIs(t, err, ErrCompacted)
	_, err = l.Entries(5, 22, 0)
	assert.ErrorIs(t, err, ErrUnavailable)
	_, err = l.Term(21)
	assert.ErrorIs(t, err, ErrUnavailable)

	es, err := l.Entries(1, 21, 1)
	require.NoError(t, err)
	assert.Len(t, es, 1, "at least one entry even over the byte limit")
	limit := int(logqueue.EncodedSize(len(entryFor(3, 1, 300).Header), sizeOf(3, 300)) +
		logqueue.EncodedSize(len(entryFor(4, 1, 300).Header), sizeOf(4, 300)))
	es, err = l.Entries(3, 21, limit)
	require.NoError(t, err)
	assert.Len(t, es, 2, "exactly two entries fit in their own encoded size")
	es, err = l.Entries(7, 7, 0)
	require.NoError(t, err)
	assert.Empty(t, es)

	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "Close is idempotent")
	_, err = l.Entry(1)
	assert.ErrorIs(t, err, ErrClosed)
	_, err = l.Append([]Entry{{Index: 21, Term: 1}}).Wait(context.Background())
	assert.ErrorIs(t, err, ErrClosed)
	_, err = l.SetHardState(HardState{}).Wait(context.Background())
	assert.ErrorIs(t, err, ErrClosed)
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, tinyOptions())
	_, err := Open(dir, tinyOptions())
	require.ErrorIs(t, err, ErrLocked)
	require.NoError(t, l.Close())
	l = openLog(t, dir, tinyOptions())
	require.NoError(t, l.Close())
}

func TestInvalidOptions(t *testing.T) {
	tests := []Options{
		{LogFileSize: 1000},
		{LogFileSize: 32 << 10},
		{IdxItemsPerFile: 4},
		{IdxItemsPerFile: 12},
		{MaxUnflushedIndexes: 100},
	}
	for _, o := range tests {
		_, err := Open(t.TempDir(), o)
		assert.ErrorIs(t, err, ErrInvalidOptions, "%+v", o)
	}
}

func TestHardState(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, tinyOptions())
	assert.Equal(t, HardState{}, l.HardState())

	// A hard state set behind appends in flight completes after them.
	var order []string
	var mu sync.Mutex
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	fa := l.Append([]Entry{{Index: 1, Term: 2, Data: []byte("a")}})
	fa.OnComplete(func(uint64, error) { note("append") })
	hs := HardState{Term: 2, Vote: 7, Commit: 1}
	fh := l.SetHardState(hs)
	fh.OnComplete(func(HardState, error) { note("hardstate") })
	assert.Equal(t, hs, l.HardState())
	got, err := fh.Wait(context.Background())
	require.NoError(t, err)
	assert.Equal(t, hs, got)
	mu.Lock()
	assert.Equal(t, []string{"append", "hardstate"}, order)
	mu.Unlock()
	require.NoError(t, l.Close())

	l = openLog(t, dir, tinyOptions())
	defer l.Close()
	assert.Equal(t, hs, l.HardState())
	assert.Equal(t, uint64(1), l.LastIndex())
}

func TestConcurrentAppendersAndReaders(t *testing.T) {
	l := openLog(t, t.TempDir(), tinyOptions())
	defer l.Close()
	const writers, perWriter, maxSize = 8, 300, 400
	var appendMu sync.Mutex // a leader assigns indexes in order
	var wg sync.WaitGroup
	errs := make(chan error, writers+4)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < perWriter; k++ {
				appendMu.Lock()
				i := l.LastIndex() + 1
				f := l.Append([]Entry{entryFor(i, 1, maxSize)})
				appendMu.Unlock()
				if k%10 == 0 {
					if _, err := f.Wait(context.Background()); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	stop := make(chan struct{})
	var rwg sync.WaitGroup
	for r := 0; r < 4; r++ {
		rwg.Add(1)
		go func(seed uint64) {
			defer rwg.Done()
			rng := rand.New(rand.NewPCG(seed, 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				last := l.LastIndex()
				if last == 0 {
					continue
				}
				i := 1 + rng.Uint64N(last)
				e, err := l.Entry(i)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(e.Data, payload(i, sizeOf(i, maxSize))) {
					errs <- fmt.Errorf("index %d: wrong data", i)
					return
				}
			}
		}(uint64(r))
	}
	wg.Wait()
	close(stop)
	rwg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	_, err := l.Append(nil).Wait(context.Background())
	require.NoError(t, err)
	assert.Equal(t, uint64(writers*perWriter), l.DurableIndex())
}

// TestFuturesCompleteInOrder submits many calls without waiting and checks
// that completions arrive in submission order with the right values.
func TestFuturesCompleteInOrder(t *testing.T) {
	l := openLog(t, t.TempDir(), tinyOptions())
	defer l.Close()
	var mu sync.Mutex
	var seen []uint64
	var last interface {
		Wait(context.Context) (uint64, error)
	}
	for i := uint64(1); i <= 2000; i += 4 {
		es := []Entry{entryFor(i, 1, 64), entryFor(i+1, 1, 64), entryFor(i+2, 1, 64), entryFor(i+3, 1, 64)}
		f := l.Append(es)
		f.OnComplete(func(v uint64, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				seen = append(seen, v)
			}
		})
		last = f
	}
	_, err := last.Wait(context.Background())
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, 500)
	for k, v := range seen {
		require.Equal(t, uint64(4*k+4), v)
	}
}

// memOptions runs a log on an in-memory file system that can crash. The index
// flush is held back so the recovered tail is scanned from the log itself.
func memOptions(fs vfs.FS) Options {
	o := tinyOptions()
	o.fs = fs
	o.IdxFlushInterval = time.Hour
	o.MaxUnflushedIndexes = 1 << 16
	// Open refuses damaged logs loudly; the tests that want the log lines
	// set a logger of their own.
	o.Logger = slog.New(slog.DiscardHandler)
	return o
}

// TestTornTail cuts the last item at every byte offset, by zeroing and by
// garbage, and checks that Open keeps exactly the items before it and that
// appends continue.
func TestTornTail(t *testing.T) {
	const dir = "/db"
	mem := vfs.NewMem()
	l := openLog(t, dir, memOptions(mem))
	const n = 40
	appendRange(t, l, 1, n, 1, 200, 7)
	lastPos, err := l.iq.Position(n)
	require.NoError(t, err)
	lastSize := logqueue.EncodedSize(len(entryFor(n, 1, 200).Header), sizeOf(n, 200))
	fileSize := l.opts.LogFileSize
	crashed := mem.Crash()
	require.NoError(t, l.Close())

	name := filepath.Join(dir, fmt.Sprintf("%020d.log", lastPos-lastPos%fileSize))
	for _, fill := range []byte{0x00, 0xA5} {
		for cut := int64(0); cut < lastSize; cut++ {
			fs := crashed.Crash() // an independent copy
			f, err := fs.Open(name)
			require.NoError(t, err)
			junk := bytes.Repeat([]byte{fill}, int(lastSize-cut))
			_, err = f.WriteAt(junk, lastPos%fileSize+cut)
			require.NoError(t, err)
			require.NoError(t, f.Sync())
			require.NoError(t, f.Close())

			l2, err := Open(dir, memOptions(fs))
			require.NoError(t, err, "fill %#x cut %d", fill, cut)
			require.Equal(t, uint64(n-1), l2.LastIndex(), "fill %#x cut %d", fill, cut)
			checkEntry(t, l2, n-1, 1, 200)
			appendRange(t, l2, n, n+2, 2, 200, 3)
			checkEntry(t, l2, n, 2, 200)
			checkEntry(t, l2, n+2, 2, 200)
			require.NoError(t, l2.Close())
		}
	}
}

// TestFailedSyncFailsTheLog checks the error contract: the failing future and
// every later one get ErrFailed wrapping the cause, Close returns, and the
// next Open recovers what was durable.
func TestFailedSyncFailsTheLog(t *testing.T) {
	const dir = "/db"
	mem := vfs.NewMem()
	var armed sync.Mutex
	fail := false
	efs := vfs.NewErrorFS(mem, vfs.InjectorFunc(func(op vfs.Op, name string) error {
		armed.Lock()
		defer armed.Unlock()
		if fail && op == vfs.OpSync && filepath.Ext(name) == ".log" {
			return vfs.ErrInjected
		}
		return nil
	}))
	o := tinyOptions()
	o.fs = efs
	l := openLog(t, dir, o)
	appendRange(t, l, 1, 10, 1, 100, 5)
	armed.Lock()
	fail = true
	armed.Unlock()
	_, err := l.Append([]Entry{entryFor(11, 1, 100)}).Wait(context.Background())
	require.ErrorIs(t, err, ErrFailed)
	require.ErrorIs(t, err, vfs.ErrInjected)
	_, err = l.Append([]Entry{entryFor(12, 1, 100)}).Wait(context.Background())
	require.ErrorIs(t, err, ErrFailed)
	_, err = l.SetHardState(HardState{Term: 1}).Wait(context.Background())
	require.ErrorIs(t, err, ErrFailed)
	require.ErrorIs(t, l.Close(), ErrFailed)

	armed.Lock()
	fail = false
	armed.Unlock()
	l = openLog(t, dir, o)
	defer l.Close()
	require.GreaterOrEqual(t, l.LastIndex(), uint64(10))
	for i := uint64(1); i <= 10; i++ {
		checkEntry(t, l, i, 1, 100)
	}
}
