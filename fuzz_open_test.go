package raftlog

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/status"
	"github.com/raftlog/raftlog/vfs"
)

const (
	fuzzDir     = "/db"
	fuzzLogName = "00000000000000000000.log"
	fuzzIdxName = "00000000000000000000.idx"
	fuzzLogSize = 64 << 10
	fuzzIdxSize = 8 * 8
	// fuzzTimeout is how long Open and the calls after it may take before
	// the input counts as a hang.
	fuzzTimeout = 10 * time.Second
)

func fuzzOptions(fs vfs.FS) Options {
	o := memOptions(fs)
	o.IdxItemsPerFile = 8
	return o
}

// sentinels are the errors Open may return: each exported one.
var sentinels = []error{
	ErrCorrupt, ErrOutOfOrder, ErrTermRegression, ErrEntryTooLarge, ErrCompacted,
	ErrUnavailable, ErrClosed, ErrLocked, ErrFailed, ErrInvalidOptions,
}

func isSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// fuzzSeeds returns real directories: 7 entries closed (so index file 0 and
// the status file's persisted index cover them), then 10 more left in the
// scanned tail by a crash.
func fuzzSeeds(t testing.TB) [][3][]byte {
	mem := vfs.NewMem()
	l := openLog(t, fuzzDir, fuzzOptions(mem))
	appendRange(t, l, 1, 7, 1, 400, 3)
	_, err := wait(l.SetHardState(HardState{Term: 1, Vote: 1, Commit: 7}))
	require.NoError(t, err)
	require.NoError(t, l.Close())
	closed := memFiles(t, mem, fuzzDir)

	l = openLog(t, fuzzDir, fuzzOptions(mem))
	appendRange(t, l, 8, 17, 2, 400, 4)
	crashed := memFiles(t, mem.Crash(), fuzzDir)
	require.NoError(t, l.Close())

	// Trailing zeros are cut (fit and the status padding put them back):
	// the fuzzer minimizes every new input, and 96 KiB inputs make that
	// take longer than the fuzzing itself.
	var out [][3][]byte
	for _, files := range []map[string][]byte{closed, crashed} {
		out = append(out, [3][]byte{trimZeros(files["status"]), trimZeros(files[fuzzLogName]), files[fuzzIdxName]})
	}
	return out
}

func trimZeros(b []byte) []byte {
	return bytes.TrimRight(b, "\x00")
}

// fit returns b cut or zero-padded to size, so the fuzzer's bytes land in a
// file of the only size Open accepts and explore its contents rather than
// the size check.
func fit(b []byte, size int) []byte {
	out := make([]byte, size)
	copy(out, b)
	return out
}

// FuzzOpen gives Open a directory holding a status file, log file 0 and
// index file 0 with arbitrary contents (an empty log or index argument means
// no such file; log and index bytes are cut or zero-padded to the file size,
// the status bytes too when padStatus is set). Open must not panic or hang, and must either fail with one
// of the exported sentinel errors or give a log whose every entry reads
// cleanly or as ErrCorrupt, that takes an append and that reopens.
//
//	go test -run '^$' -fuzz FuzzOpen -fuzztime 60s
func FuzzOpen(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(true, s[0], s[1], s[2])
		f.Add(true, s[0], s[1][:300], s[2])
		f.Add(true, s[0], s[1], []byte{})
		f.Add(false, s[0], s[1], s[2])
		f.Add(true, []byte{}, s[1], s[2])
	}
	f.Add(false, []byte{}, []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, padStatus bool, st, lg, idx []byte) {
		mem := vfs.NewMem()
		require.NoError(t, mem.MkdirAll(fuzzDir))
		put := func(name string, b []byte) {
			f, err := mem.Create(filepath.Join(fuzzDir, name))
			require.NoError(t, err)
			_, err = f.WriteAt(b, 0)
			require.NoError(t, err)
			require.NoError(t, f.Sync())
			require.NoError(t, f.Close())
		}
		if padStatus {
			// The size the status file always has, so that the fuzzer
			// explores its slots; unpadded, it explores short files.
			st = fit(st, 2*status.SlotSize)
		}
		put("status", st)
		if len(lg) > 0 {
			put(fuzzLogName, fit(lg, fuzzLogSize))
		}
		if len(idx) > 0 {
			put(fuzzIdxName, fit(idx, fuzzIdxSize))
		}
		require.NoError(t, mem.SyncDir(fuzzDir))

		l, err := fuzzCall(t, "Open", func() (*Log, error) { return Open(fuzzDir, fuzzOptions(mem)) })
		if err != nil {
			require.True(t, isSentinel(err), "Open returned an untyped error: %v", err)
			return
		}
		first, last := l.FirstIndex(), l.LastIndex()
		for i := first; i <= last && i < first+2000; i++ {
			if _, err := l.Entry(i); err != nil {
				require.ErrorIs(t, err, ErrCorrupt, "Entry(%d) of [%d, %d]", i, first, last)
			}
		}
		_, err = fuzzCall(t, "Append", func() (uint64, error) {
			return wait(l.Append([]Entry{{Index: last + 1, Term: l.LastTerm(), Data: []byte("after")}}))
		})
		require.NoError(t, err, "Append after an Open that succeeded (last index %d)", last)
		_, err = fuzzCall(t, "Close", func() (struct{}, error) { return struct{}{}, l.Close() })
		require.NoError(t, err)

		l, err = fuzzCall(t, "reopen", func() (*Log, error) { return Open(fuzzDir, fuzzOptions(mem)) })
		require.NoError(t, err, "reopen of a log that opened and took an append")
		require.Equal(t, last+1, l.LastIndex())
		e, err := l.Entry(last + 1)
		require.NoError(t, err)
		require.Equal(t, "after", string(e.Data))
		require.NoError(t, l.Close())
	})
}

// fuzzCall runs fn and fails the test if it takes longer than fuzzTimeout
// (a hang), leaving it running: the process is about to report anyway.
func fuzzCall[T any](t *testing.T, what string, fn func() (T, error)) (T, error) {
	t.Helper()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-time.After(fuzzTimeout):
		t.Fatalf("%s hangs", what)
		panic("unreachable")
	}
}
