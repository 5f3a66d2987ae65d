package vfs

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// memHelper wraps a MemFS with terse, fatal-on-error steps for tests.
type memHelper struct {
	t *testing.T
	m *MemFS
}

func (h memHelper) create(name string) File {
	f, err := h.m.Create(name)
	require.NoError(h.t, err)
	return f
}

func (h memHelper) open(name string) File {
	f, err := h.m.Open(name)
	require.NoError(h.t, err)
	return f
}

func (h memHelper) write(f File, off int64, s string) {
	_, err := f.WriteAt([]byte(s), off)
	require.NoError(h.t, err)
}

// contents returns every file of dir in fsys with its bytes.
func contents(t *testing.T, fsys FS, dir string) map[string]string {
	t.Helper()
	names, err := fsys.List(dir)
	require.NoError(t, err)
	out := make(map[string]string)
	for _, n := range names {
		f, err := fsys.OpenReadOnly(dir + "/" + n)
		require.NoError(t, err)
		size, err := f.Size()
		require.NoError(t, err)
		b := make([]byte, size)
		_, err = f.ReadAt(b, 0)
		if err != io.EOF {
			require.NoError(t, err)
		}
		require.NoError(t, f.Close())
		out[n] = string(b)
	}
	return out
}

func TestMemCrashKeepsSyncedDataAndDurableNames(t *testing.T) {
	tests := []struct {
		name  string
		steps func(h memHelper)
		want  map[string]string
	}{
		{
			name: "nothing durable",
			steps: func(h memHelper) {
				f := h.create("d/a")
				h.write(f, 0, "abc")
				require.NoError(h.t, f.Sync())
			},
			want: map[string]string{},
		},
		{
			name: "name durable, data never synced",
			steps: func(h memHelper) {
				f := h.create("d/a")
				h.write(f, 0, "abc")
				require.NoError(h.t, h.m.SyncDir("d"))
			},
			want: map[string]string{"a": ""},
		},
		{
			name: "synced data and name",
			steps: func(h memHelper) {
				f := h.create("d/a")
				h.write(f, 0, "abc")
				require.NoError(h.t, f.Sync())
				require.NoError(h.t, h.m.SyncDir("d"))
			},
			want: map[string]string{"a": "abc"},
		},
		{
			name: "writes after sync lost",
			steps: func(h memHelper) {
				f := h.create("d/a")
				h.write(f, 0, "abc")
				require.NoError(h.t, f.Sync())
				h.write(f, 1, "XYZW")
				require.NoError(h.t, h.m.SyncDir("d"))
			},
			want: map[string]string{"a": "abc"},
		},
		{
			name: "truncate after sync lost",
			steps: func(h memHelper) {
				f := h.create("d/a")
				require.NoError(h.t, h.m.SyncDir("d"))
				h.write(f, 0, "abcdef")
				require.NoError(h.t, f.Sync())
				require.NoError(h.t, f.Truncate(2))
			},
			want: map[string]string{"a": "abcdef"},
		},
		{
			name: "synced truncate and allocate kept",
			steps: func(h memHelper) {
				f := h.create("d/a")
				require.NoError(h.t, h.m.SyncDir("d"))
				h.write(f, 0, "abcdef")
				require.NoError(h.t, f.Truncate(2))
				require.NoError(h.t, f.Allocate(0, 4))
				require.NoError(h.t, f.Sync())
			},
			want: map[string]string{"a": "ab\x00\x00"},
		},
		{
			name: "sync through a second handle and after close",
			steps: func(h memHelper) {
				f := h.create("d/a")
				h.write(f, 0, "abc")
				require.NoError(h.t, f.Close())
				g := h.open("d/a")
				require.NoError(h.t, g.Sync())
				require.NoError(h.t, g.Close())
				require.NoError(h.t, h.m.SyncDir("d"))
			},
			want: map[string]string{"a": "abc"},
		},
		{
			name: "SyncDir of another directory does not help",
			steps: func(h memHelper) {
				require.NoError(h.t, h.m.MkdirAll("other"))
				f := h.create("d/a")
				h.write(f, 0, "abc")
				require.NoError(h.t, f.Sync())
				require.NoError(h.t, h.m.SyncDir("other"))
			},
			want: map[string]string{},
		},
		{
			name: "entries created after SyncDir lost",
			steps: func(h memHelper) {
				f := h.create("d/a")
				h.write(f, 0, "abc")
				require.NoError(h.t, f.Sync())
				require.NoError(h.t, h.m.SyncDir("d"))
				g := h.create("d/b")
				h.write(g, 0, "b")
				require.NoError(h.t, g.Sync())
			},
			want: map[string]string{"a": "abc"},
		},
		{
			name: "multi-page file",
			steps: func(h memHelper) {
				f := h.create("d/a")
				h.write(f, pageSize-2, "spans")
				h.write(f, 3*pageSize, "far")
				require.NoError(h.t, f.Sync())
				require.NoError(h.t, h.m.SyncDir("d"))
				h.write(f, pageSize-2, "XXXXX")
			},
			want: map[string]string{"a": string(bytes.Repeat([]byte{0}, pageSize-2)) + "spans" +
				string(bytes.Repeat([]byte{0}, 2*pageSize-3)) + "far"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMem()
			require.NoError(t, m.MkdirAll("d"))
			tc.steps(memHelper{t, m})
			before := contents(t, m, "d")
			c := m.Crash()
			require.Equal(t, tc.want, contents(t, c, "d"))
			// The original is untouched by the crash.
			require.Equal(t, before, contents(t, m, "d"))
		})
	}
}

func TestMemRenameRemoveWithoutSyncDirUndone(t *testing.T) {
	m := NewMem()
	h := memHelper{t, m}
	require.NoError(t, m.MkdirAll("d"))
	f := h.create("d/a.tmp")
	h.write(f, 0, "new")
	require.NoError(t, f.Sync())
	old := h.create("d/old")
	h.write(old, 0, "old")
	require.NoError(t, old.Sync())
	require.NoError(t, m.SyncDir("d"))

	require.NoError(t, m.Rename("d/a.tmp", "d/a"))
	require.NoError(t, m.Remove("d/old"))
	require.Equal(t, map[string]string{"a": "new"}, contents(t, m, "d"))
	require.Equal(t, map[string]string{"a.tmp": "new", "old": "old"}, contents(t, m.Crash(), "d"))

	require.NoError(t, m.SyncDir("d"))
	require.Equal(t, map[string]string{"a": "new"}, contents(t, m.Crash(), "d"))

	// A removed file stays usable through its handle, but its data is gone
	// after a crash once the removal is durable.
	h.write(old, 0, "OLD")
	require.NoError(t, old.Sync())
	require.Equal(t, map[string]string{"a": "new"}, contents(t, m.Crash(), "d"))
}

func TestMemCrashCloneIsIndependent(t *testing.T) {
	m := NewMem()
	h := memHelper{t, m}
	f := h.create("a")
	h.write(f, 0, "one")
	require.NoError(t, f.Sync())
	require.NoError(t, m.SyncDir("."))

	c := m.Crash()
	cf, err := c.Open("a")
	require.NoError(t, err)
	// Writes on either side after the crash stay on that side, even though
	// both started out sharing pages.
	_, err = cf.WriteAt([]byte("TWO"), 0)
	require.NoError(t, err)
	h.write(f, 0, "333")
	require.NoError(t, f.Sync())
	require.Equal(t, map[string]string{"a": "TWO"}, contents(t, c, "."))
	require.Equal(t, map[string]string{"a": "333"}, contents(t, m, "."))
	// The clone's unsynced write is itself lost in its own crash.
	require.Equal(t, map[string]string{"a": "one"}, contents(t, c.Crash(), "."))
}

func TestMemCrashDropsLocks(t *testing.T) {
	m := NewMem()
	l, err := m.Lock(".")
	require.NoError(t, err)
	_, err = m.Lock(".")
	require.ErrorIs(t, err, ErrLocked)
	c := m.Crash()
	l2, err := c.Lock(".")
	require.NoError(t, err)
	require.NoError(t, l2.Close())
	require.NoError(t, l.Close())
	require.ErrorIs(t, l.Close(), os.ErrClosed)
}

// pageKind classifies got, a page as read back after CrashWithLoss, against
// the old and new versions of it: 0 old, 1 new, 2 torn, -1 none of those.
func pageKind(got, oldPg, newPg []byte) int {
	switch {
	case bytes.Equal(got, oldPg):
		return keepOld
	case bytes.Equal(got, newPg):
		return keepNew
	}
	// Torn at cut means got[:cut] is new and got[cut:] is old: cut is at
	// most the length of the common prefix with new and at least the start
	// of the common suffix with old.
	prefix := 0
	for prefix < len(got) && got[prefix] == newPg[prefix] {
		prefix++
	}
	suffix := len(got)
	for suffix > 0 && got[suffix-1] == oldPg[suffix-1] {
		suffix--
	}
	if max(1, suffix) <= min(prefix, len(got)-1) {
		return keepTorn
	}
	return -1
}

// padded returns the page at idx of b, zero-filled past the end of b.
func padded(b []byte, idx int) []byte {
	pg := make([]byte, pageSize)
	if start := idx * pageSize; start < len(b) {
		copy(pg, b[start:])
	}
	return pg
}

func TestMemCrashWithLoss(t *testing.T) {
	const pages = 16
	oldData := make([]byte, pages*pageSize)
	newData := make([]byte, (pages+4)*pageSize-100)
	src := rand.New(rand.NewPCG(1, 2))
	for i := range oldData {
		oldData[i] = byte(src.UintN(255) + 1)
	}
	for i := range newData {
		newData[i] = byte(src.UintN(255) + 1)
	}

	setup := func() *MemFS {
		m := NewMem()
		h := memHelper{t, m}
		f := h.create("f")
		h.write(f, 0, string(oldData))
		require.NoError(t, f.Sync())
		require.NoError(t, m.SyncDir("."))
		// Every page changes, and the file grows by a partial page.
		h.write(f, 0, string(newData))
		return m
	}

	seen := map[int]int{}
	sizes := map[int]bool{}
	for seed := range uint64(20) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			m := setup()
			got := contents(t, m.CrashWithLoss(rand.New(rand.NewPCG(seed, 0))), ".")["f"]
			again := contents(t, m.CrashWithLoss(rand.New(rand.NewPCG(seed, 0))), ".")["f"]
			require.Equal(t, got, again, "a seed must reproduce its outcome")
			require.Contains(t, []int{len(oldData), len(newData)}, len(got))
			sizes[len(got)] = true

			gotPadded := []byte(got)
			for idx := range pageCount(int64(len(got))) {
				g := padded(gotPadded, int(idx))
				o, n := padded(oldData, int(idx)), padded(newData, int(idx))
				// The last page may be cut short by the size chosen; compare
				// only the bytes the file holds.
				visible := min(pageSize, len(got)-int(idx)*pageSize)
				kind := pageKind(g[:visible], o[:visible], n[:visible])
				require.NotEqual(t, -1, kind, "page %d is neither old, new nor torn", idx)
				seen[kind]++
			}
		})
	}
	// With 20 seeds × 20 pages, each outcome turns up: a CrashWithLoss that
	// always kept the synced (or the current) data would fail here.
	require.Positive(t, seen[keepOld])
	require.Positive(t, seen[keepNew])
	require.Positive(t, seen[keepTorn])
	require.Len(t, sizes, 2, "both the old and the new size must occur")
}

func TestMemCrashWithLossKeepsDurableNamespaceAndSyncedFiles(t *testing.T) {
	m := NewMem()
	h := memHelper{t, m}
	synced := h.create("synced")
	h.write(synced, 0, "stable")
	require.NoError(t, synced.Sync())
	require.NoError(t, m.SyncDir("."))
	h.create("undurable")
	for seed := range uint64(10) {
		c := m.CrashWithLoss(rand.New(rand.NewPCG(seed, seed)))
		require.Equal(t, map[string]string{"synced": "stable"}, contents(t, c, "."))
	}
}

func TestMemPathErrors(t *testing.T) {
	m := NewMem()
	h := memHelper{t, m}
	h.create("file")
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"create under a file", func() error { _, err := m.Create("file/x"); return err }(), nil},
		{"mkdir over a file", m.MkdirAll("file/sub"), nil},
		{"open a directory", func() error { _, err := m.Open("."); return err }(), nil},
		{"create over a directory", func() error { _, err := m.Create("/"); return err }(), fs.ErrExist},
		{"rename a directory", func() error { require.NoError(t, m.MkdirAll("dir")); return m.Rename("dir", "dir2") }(), nil},
		{"rename onto a directory", m.Rename("file", "dir"), nil},
		{"remove root", m.Remove("."), nil},
		{"lock a missing directory", func() error { _, err := m.Lock("missing"); return err }(), fs.ErrNotExist},
		{"negative offset", func() error { _, err := h.open("file").WriteAt([]byte("x"), -1); return err }(), nil},
		{"allocate nothing", h.open("file").Allocate(0, 0), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Error(t, tc.err)
			if tc.want != nil {
				require.ErrorIs(t, tc.err, tc.want)
			}
		})
	}
	// Paths are cleaned: these all name the same file.
	ok, err := m.Exists("./dir/../file")
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, m.Rename("file", "./file"), "renaming onto itself")
}

func TestMemConcurrentUse(t *testing.T) {
	checkGoroutines(t)
	m := NewMem()
	require.NoError(t, m.MkdirAll("d"))
	const writers, writes = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for w := range writers {
		wg.Go(func() {
			f, err := m.Create(fmt.Sprintf("d/f%d", w))
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			for i := range writes {
				buf := bytes.Repeat([]byte{byte(i)}, 100)
				if _, err := f.WriteAt(buf, int64(i)*100); err != nil {
					errs <- err
					return
				}
				if err := f.Sync(); err != nil {
					errs <- err
					return
				}
				if err := m.SyncDir("d"); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		// Crashing while others write sees a consistent snapshot.
		for range writes {
			c := m.Crash()
			if _, err := c.List("d"); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got := contents(t, m.Crash(), "d")
	require.Len(t, got, writers)
	for _, data := range got {
		require.Len(t, data, writes*100)
		require.Equal(t, byte(writes-1), data[len(data)-1])
	}
}
