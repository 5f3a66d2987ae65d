package vfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOpString(t *testing.T) {
	tests := []struct {
		op   Op
		want string
	}{
		{OpCreate, "create"}, {OpOpen, "open"}, {OpRemove, "remove"},
		{OpRename, "rename"}, {OpWrite, "write"}, {OpSync, "sync"},
		{OpSyncDir, "syncdir"}, {OpAllocate, "allocate"},
		{OpTruncate, "truncate"}, {OpRead, "read"}, {Op(99), "Op(99)"}, {Op(-1), "Op(-1)"},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, tc.op.String())
	}
}

// step is one call of a workload that consults the injector exactly once.
type step struct {
	op  Op
	run func(fsys FS, f *File) error
}

// everyOpWorkload touches every Op once, in order.
var everyOpWorkload = []step{
	{OpCreate, func(fsys FS, f *File) (err error) { *f, err = fsys.Create("d/a"); return err }},
	{OpAllocate, func(_ FS, f *File) error { return (*f).Allocate(0, 100) }},
	{OpWrite, func(_ FS, f *File) error { _, err := (*f).WriteAt([]byte("abc"), 0); return err }},
	{OpWrite, func(_ FS, f *File) error {
		_, err := (*f).WritevAt([][]byte{[]byte("de"), []byte("f")}, 3)
		return err
	}},
	{OpTruncate, func(_ FS, f *File) error { return (*f).Truncate(6) }},
	{OpSync, func(_ FS, f *File) error { return (*f).Sync() }},
	{OpRead, func(_ FS, f *File) error { _, err := (*f).ReadAt(make([]byte, 6), 0); return err }},
	{OpRename, func(fsys FS, _ *File) error { return fsys.Rename("d/a", "d/b") }},
	{OpSyncDir, func(fsys FS, _ *File) error { return fsys.SyncDir("d") }},
	{OpOpen, func(fsys FS, f *File) (err error) { *f, err = fsys.OpenReadOnly("d/b"); return err }},
	{OpRemove, func(fsys FS, _ *File) error { return fsys.Remove("d/b") }},
}

// runSteps runs steps until one fails and returns its position, or -1.
func runSteps(t *testing.T, fsys FS, steps []step) (int, error) {
	t.Helper()
	var f File
	for i, s := range steps {
		if err := s.run(fsys, &f); err != nil {
			return i, err
		}
	}
	return -1, nil
}

func TestOnIndexFailsEveryK(t *testing.T) {
	newFS := func(inj Injector) FS {
		m := NewMem()
		require.NoError(t, m.MkdirAll("d"))
		return NewErrorFS(m, inj)
	}
	counter := OnIndex(-1)
	failed, err := runSteps(t, newFS(counter), everyOpWorkload)
	require.NoError(t, err)
	require.Equal(t, -1, failed)
	require.EqualValues(t, len(everyOpWorkload), counter.Count())
	require.False(t, counter.Fired())

	for k := range counter.Count() + 1 {
		t.Run(fmt.Sprint("k=", k), func(t *testing.T) {
			inj := OnIndex(k)
			failed, err := runSteps(t, newFS(inj), everyOpWorkload)
			if k == counter.Count() {
				require.NoError(t, err, "k past the workload fails nothing")
				require.False(t, inj.Fired())
				return
			}
			require.ErrorIs(t, err, ErrInjected)
			require.EqualValues(t, k, failed, "the k-th operation fails")
			require.True(t, inj.Fired())
			require.Contains(t, err.Error(), everyOpWorkload[k].op.String())
		})
	}
}

func TestOnIndexCountsOnlyListedOps(t *testing.T) {
	for _, op := range []Op{OpWrite, OpSync, OpRename} {
		t.Run(op.String(), func(t *testing.T) {
			var want []int
			for i, s := range everyOpWorkload {
				if s.op == op {
					want = append(want, i)
				}
			}
			for k, pos := range want {
				m := NewMem()
				require.NoError(t, m.MkdirAll("d"))
				inj := OnIndex(int64(k), op)
				failed, err := runSteps(t, NewErrorFS(m, inj), everyOpWorkload)
				require.ErrorIs(t, err, ErrInjected)
				require.Equal(t, pos, failed)
			}
		})
	}
}

// TestCrashAtEveryKAtomicReplace is the crash loop the other packages use,
// on the classic write-temp, sync, rename, sync-dir sequence: whatever
// operation fails and whenever the power goes, the file holds the old or the
// new content, never a mix or nothing.
func TestCrashAtEveryKAtomicReplace(t *testing.T) {
	const oldContent, newContent = "old-state", "new-state-longer"
	replace := func(fsys FS) error {
		f, err := fsys.Create("d/state.tmp")
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := f.WriteAt([]byte(newContent), 0); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
		if err := fsys.Rename("d/state.tmp", "d/state"); err != nil {
			return err
		}
		return fsys.SyncDir("d")
	}
	setup := func() *MemFS {
		m := NewMem()
		require.NoError(t, m.MkdirAll("d"))
		f, err := m.Create("d/state")
		require.NoError(t, err)
		_, err = f.WriteAt([]byte(oldContent), 0)
		require.NoError(t, err)
		require.NoError(t, f.Sync())
		require.NoError(t, m.SyncDir("d"))
		return m
	}
	for k := int64(0); ; k++ {
		m := setup()
		inj := OnIndex(k)
		err := replace(NewErrorFS(m, inj))
		if !inj.Fired() {
			require.NoError(t, err)
			require.Equal(t, "new-state-longer", contents(t, m.Crash(), "d")["state"])
			require.Positive(t, k)
			break
		}
		require.ErrorIs(t, err, ErrInjected, "k=%d", k)
		got := contents(t, m.Crash(), "d")["state"]
		require.Contains(t, []string{oldContent, newContent}, got, "k=%d", k)
	}
}

func TestShortWrite(t *testing.T) {
	tests := []struct {
		name   string
		bufs   []string
		n      int
		wantN  int
		stored string
	}{
		{"nothing", []string{"abcdef"}, 0, 0, ""},
		{"inside one buffer", []string{"abcdef"}, 4, 4, "abcd"},
		{"across buffers", []string{"ab", "", "cd", "ef"}, 3, 3, "abc"},
		{"at a buffer boundary", []string{"ab", "cd"}, 2, 2, "ab"},
		{"more than asked", []string{"ab", "cd"}, 10, 4, "abcd"},
	}
	for _, tc := range tests {
		for _, vectored := range []bool{false, true} {
			if !vectored && len(tc.bufs) > 1 {
				continue
			}
			t.Run(fmt.Sprintf("%s/vectored=%v", tc.name, vectored), func(t *testing.T) {
				m := NewMem()
				efs := NewErrorFS(m, InjectorFunc(func(op Op, name string) error {
					if op == OpWrite && name == "f" {
						return ShortWrite{N: tc.n}
					}
					return nil
				}))
				f, err := efs.Create("f")
				require.NoError(t, err)
				var n int
				if vectored {
					bufs := make([][]byte, len(tc.bufs))
					for i, b := range tc.bufs {
						bufs[i] = []byte(b)
					}
					n, err = f.WritevAt(bufs, 10)
				} else {
					n, err = f.WriteAt([]byte(tc.bufs[0]), 10)
				}
				require.ErrorIs(t, err, ErrInjected)
				var sw ShortWrite
				require.ErrorAs(t, err, &sw)
				require.Equal(t, tc.wantN, n)
				require.Contains(t, err.Error(), fmt.Sprintf("offset %d", 10+tc.wantN))

				size, err := f.Size()
				require.NoError(t, err)
				if tc.stored == "" {
					require.Zero(t, size)
					return
				}
				require.EqualValues(t, 10+len(tc.stored), size)
				got := make([]byte, len(tc.stored))
				_, err = f.ReadAt(got, 10)
				require.NoError(t, err)
				require.Equal(t, tc.stored, string(got))
			})
		}
	}
}

func TestShortWriteOnOtherOpsIsPlainFailure(t *testing.T) {
	efs := NewErrorFS(NewMem(), InjectorFunc(func(op Op, _ string) error {
		if op == OpSync {
			return ShortWrite{N: 1}
		}
		return nil
	}))
	f, err := efs.Create("f")
	require.NoError(t, err)
	require.ErrorIs(t, f.Sync(), ErrInjected)
}

func TestENOSPC(t *testing.T) {
	m := NewMem()
	full := false
	efs := NewErrorFS(m, InjectorFunc(func(op Op, _ string) error {
		if full && (op == OpWrite || op == OpAllocate) {
			return syscall.ENOSPC
		}
		return nil
	}))
	f, err := efs.Create("f")
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("ok"), 0)
	require.NoError(t, err)
	full = true
	n, err := f.WriteAt([]byte("more"), 2)
	require.ErrorIs(t, err, syscall.ENOSPC)
	require.NotErrorIs(t, err, ErrInjected)
	require.Zero(t, n)
	require.Contains(t, err.Error(), "offset 2")
	require.ErrorIs(t, f.Allocate(0, 1<<20), syscall.ENOSPC)
	size, err := f.Size()
	require.NoError(t, err)
	require.EqualValues(t, 2, size, "a failed write or allocation changes nothing")
}

func TestErrorFSWrapsNamespaceErrors(t *testing.T) {
	m := NewMem()
	require.NoError(t, m.MkdirAll("d"))
	boom := errors.New("boom")
	efs := NewErrorFS(m, InjectorFunc(func(Op, string) error { return boom }))
	tests := []struct {
		name string
		err  error
		path string
	}{
		{"create", func() error { _, err := efs.Create("d/a"); return err }(), "d/a"},
		{"open", func() error { _, err := efs.Open("d/a"); return err }(), "d/a"},
		{"open-read-only", func() error { _, err := efs.OpenReadOnly("d/a"); return err }(), "d/a"},
		{"remove", efs.Remove("d/a"), "d/a"},
		{"rename", efs.Rename("d/a", "d/b"), "d/a d/b"},
		{"syncdir", efs.SyncDir("d"), "syncdir d"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, tc.err, boom)
			require.Contains(t, tc.err.Error(), tc.path, "names the path")
		})
	}
	// Nothing happened underneath.
	ok, err := m.Exists("d/a")
	require.NoError(t, err)
	require.False(t, ok)

	// Operations that are never injected go through.
	require.NoError(t, efs.MkdirAll("e"))
	names, err := efs.List(".")
	require.NoError(t, err)
	require.Equal(t, []string{"d", "e"}, names)
	l, err := efs.Lock("e")
	require.NoError(t, err)
	require.NoError(t, l.Close())
	var pe *fs.PathError
	require.ErrorAs(t, efs.SyncDir("d"), &pe)
	var le *os.LinkError
	require.ErrorAs(t, efs.Rename("d/a", "d/b"), &le)
}
