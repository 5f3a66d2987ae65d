package status

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/raftlog/raftlog/vfs"
	"github.com/stretchr/testify/require"
)

const dir = "/db"

var (
	statusPath = filepath.Join(dir, fileName)
	tmpPath    = filepath.Join(dir, tmpFileName)
)

func openT(t *testing.T, fs vfs.FS) (*File, State, bool) {
	t.Helper()
	f, s, existed, err := Open(fs, dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	return f, s, existed
}

// slotSeqs returns the sequence numbers of the valid slots of a file image
// (0 for an invalid slot).
func slotSeqs(img []byte) [2]uint64 {
	var seqs [2]uint64
	for i := range 2 {
		if fr, reason := parseSlot(img[i*SlotSize : (i+1)*SlotSize]); reason == "" {
			seqs[i] = fr.seq
		}
	}
	return seqs
}

func TestOpenCreates(t *testing.T) {
	fs := newMem(t)
	f, s, existed := openT(t, fs)
	require.False(t, existed)
	require.True(t, initialState().Equal(s))
	require.True(t, initialState().Equal(f.State()))
	img := contents(t, fs, statusPath)
	require.Len(t, img, fileSize)
	require.Equal(t, [2]uint64{1, 0}, slotSeqs(img))
	require.False(t, exists(t, fs, tmpPath))

	// Durable at once: a crash right after Open keeps the file.
	c := fs.Crash()
	require.Equal(t, img, contents(t, c, statusPath))
	_, s, existed = openT(t, c)
	require.True(t, existed)
	require.True(t, initialState().Equal(s))
}

func TestSaveAlternatesSlotsAndReopenLoadsNewest(t *testing.T) {
	fs := newMem(t)
	f, _, _ := openT(t, fs)
	var last State
	for i := range 6 {
		last = State{Term: uint64(i + 1), Vote: 2, Commit: uint64(10 * i), FirstIndex: 1,
			Props: map[string][]byte{"i": {byte(i)}}}
		require.NoError(t, f.Save(last))
		require.True(t, last.Equal(f.State()))

		seqs := slotSeqs(contents(t, fs, statusPath))
		seq := uint64(i + 2)
		if i%2 == 0 {
			require.Equal(t, [2]uint64{seq - 1, seq}, seqs, "save %d goes to slot 1", i)
		} else {
			require.Equal(t, [2]uint64{seq, seq - 1}, seqs, "save %d goes to slot 0", i)
		}

		_, s, existed := openT(t, fs.Crash())
		require.True(t, existed)
		require.True(t, last.Equal(s), "save %d is durable when Save returns", i)
	}
	require.NoError(t, f.Close())

	// Reopen and keep saving: the sequence continues from the newest slot.
	f2, s, _ := openT(t, fs)
	require.True(t, last.Equal(s))
	require.NoError(t, f2.Save(State{Term: 100}))
	require.Equal(t, [2]uint64{7, 8}, slotSeqs(contents(t, fs, statusPath)))
	_, s, _ = openT(t, fs)
	require.Equal(t, uint64(100), s.Term)
}

func TestSaveAfterReopenOnSlot0DamageWritesOtherSlot(t *testing.T) {
	fs := newMem(t)
	f, _, _ := openT(t, fs)
	require.NoError(t, f.Save(State{Term: 1})) // slot 1, seq 2
	require.NoError(t, f.Close())
	img := contents(t, fs, statusPath)
	img[0] ^= 0xff // slot 0 (seq 1) unreadable
	setFile(t, fs, statusPath, img)

	f, s, _ := openT(t, fs)
	require.Equal(t, uint64(1), s.Term)
	require.NoError(t, f.Save(State{Term: 2}))
	require.Equal(t, [2]uint64{3, 2}, slotSeqs(contents(t, fs, statusPath)), "the damaged slot is the one rewritten")
}

func TestStateAndSaveCopy(t *testing.T) {
	f, _, _ := openT(t, newMem(t))
	s := State{Term: 1, Props: map[string][]byte{"k": []byte("v")}}
	require.NoError(t, f.Save(s))
	s.Props["k"][0] = 'x' // the caller keeps ownership of what it saved
	got := f.State()
	require.Equal(t, []byte("v"), got.Props["k"])
	got.Props["k"][0] = 'y' // and of what it got
	require.Equal(t, []byte("v"), f.State().Props["k"])
}

func TestOpenRecoversFromCreationCrash(t *testing.T) {
	tests := []struct {
		name  string
		setup func(fs vfs.FS)
	}{
		{"tmp only", func(fs vfs.FS) { setFile(t, fs, tmpPath, []byte("half written")) }},
		{"empty tmp only", func(fs vfs.FS) { setFile(t, fs, tmpPath, nil) }},
		{"empty status", func(fs vfs.FS) { setFile(t, fs, statusPath, nil) }},
		{"empty status and tmp", func(fs vfs.FS) {
			setFile(t, fs, statusPath, nil)
			setFile(t, fs, tmpPath, image(mustSlot(t, 1, initialState()), nil))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newMem(t)
			tt.setup(fs)
			f, s, existed := openT(t, fs)
			require.False(t, existed)
			require.True(t, initialState().Equal(s))
			require.NoError(t, f.Save(State{Term: 4}))
			c := fs.Crash()
			require.False(t, exists(t, c, tmpPath), "tmp removed durably")
			require.Len(t, contents(t, c, statusPath), fileSize)
			_, s, existed = openT(t, c)
			require.True(t, existed)
			require.Equal(t, uint64(4), s.Term)
		})
	}
}

func TestOpenRemovesStaleTmp(t *testing.T) {
	fs := newMem(t)
	f, _, _ := openT(t, fs)
	require.NoError(t, f.Save(State{Term: 3}))
	require.NoError(t, f.Close())
	setFile(t, fs, tmpPath, image(mustSlot(t, 1, initialState()), nil))

	_, s, existed := openT(t, fs)
	require.True(t, existed)
	require.Equal(t, uint64(3), s.Term, "the real status wins over the tmp")
	c := fs.Crash()
	require.False(t, exists(t, c, tmpPath))
}

func TestOpenCorrupt(t *testing.T) {
	zeroSlots := make([]byte, fileSize)
	tests := []struct {
		name string
		img  []byte
	}{
		{"zeros", zeroSlots},
		{"one byte", []byte{1}},
		{"both slots bad", func() []byte {
			img := image(mustSlot(t, 1, State{Term: 1}), mustSlot(t, 2, State{Term: 2}))
			img[slotHeaderSize] ^= 1
			img[SlotSize+slotHeaderSize] ^= 1
			return img
		}()},
		{"newest slot from the future", image(mustSlot(t, 1, State{Term: 1}), rawSlot(2, 2, nil))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newMem(t)
			setFile(t, fs, statusPath, tt.img)
			setFile(t, fs, tmpPath, []byte("tmp"))
			_, _, _, err := Open(fs, dir)
			require.ErrorIs(t, err, ErrCorrupt)
			require.ErrorContains(t, err, statusPath)
			require.Equal(t, tt.img, contents(t, fs, statusPath), "a corrupt file is never reset")
			require.NotNil(t, contents(t, fs, tmpPath), "nothing is cleaned up")
		})
	}
}

func TestSaveTooLargeChangesNothing(t *testing.T) {
	fs := newMem(t)
	f, _, _ := openT(t, fs)
	require.NoError(t, f.Save(State{Term: 1}))
	before := contents(t, fs, statusPath)
	err := f.Save(State{Term: 2, Props: propsOfSize(maxBodySize + 1)})
	require.ErrorIs(t, err, ErrTooLarge)
	require.Equal(t, before, contents(t, fs, statusPath))
	require.Equal(t, uint64(1), f.State().Term)
	require.NoError(t, f.Save(State{Term: 3}), "ErrTooLarge is not sticky")
	require.Equal(t, [2]uint64{1 + 2, 2}, slotSeqs(contents(t, fs, statusPath)))
}

func TestSaveIOErrorIsStickyAndFileStaysLoadable(t *testing.T) {
	for _, op := range []vfs.Op{vfs.OpWrite, vfs.OpSync} {
		t.Run(op.String(), func(t *testing.T) {
			mem := newMem(t)
			failing := false
			fs := vfs.NewErrorFS(mem, failOps(&failing, op))
			f, _, _ := openT(t, fs)
			old := State{Term: 1, Vote: 1}
			require.NoError(t, f.Save(old))
			failing = true
			err := f.Save(State{Term: 2})
			require.ErrorIs(t, err, vfs.ErrInjected)
			require.ErrorContains(t, err, statusPath)
			require.True(t, old.Equal(f.State()), "State is the last successful Save")

			failing = false
			err2 := f.Save(State{Term: 3})
			require.ErrorIs(t, err2, vfs.ErrInjected, "the error is sticky even once the disk recovers")

			rng := rand.New(rand.NewPCG(1, 2))
			for name, c := range map[string]vfs.FS{"live": mem, "crashed": mem.Crash(), "crashed with loss": mem.CrashWithLoss(rng)} {
				_, s, existed, err := Open(c, dir)
				require.NoError(t, err, name)
				require.True(t, existed)
				require.True(t, s.Equal(old) || s.Term == 2, "%s: loaded %+v", name, s)
			}
		})
	}
}

// TestCrashAtEveryOperation runs Open + Saves + Close and crashes at each
// k-th mutating operation for every k until the run completes: the crashed
// file system must always open, holding at least the last acknowledged state
// and at most the one being saved. Crashes with loss also tear the unsynced
// pages; their seed is printed.
func TestCrashAtEveryOperation(t *testing.T) {
	states := []State{initialState(), {Term: 1, FirstIndex: 1}, {Term: 2, FirstIndex: 1, Props: propsOfSize(maxBodySize)}, {Term: 3, Vote: 1, FirstIndex: 1}}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for _, leftover := range []string{"none", "tmp", "empty status"} {
		for _, loss := range []bool{false, true} {
			for k := 0; ; k++ {
				name := fmt.Sprintf("seed %d, %s leftover, crash at operation %d, loss %v", seed, leftover, k, loss)
				if crashAt(t, name, states, leftover, k, loss, rng) {
					require.Greater(t, k, 4, "%s: the workload has several operations", name)
					break
				}
			}
		}
	}
}

// crashAt runs the workload of TestCrashAtEveryOperation, crashing at the
// k-th mutating operation. It reports whether the run completed first.
func crashAt(t *testing.T, name string, states []State, leftover string, k int, loss bool, rng *rand.Rand) bool {
	mem := newMem(t)
	switch leftover {
	case "tmp":
		setFile(t, mem, tmpPath, []byte("junk"))
	case "empty status":
		setFile(t, mem, statusPath, nil)
	}
	var crashed []*vfs.MemFS
	ops := 0
	fs := vfs.NewErrorFS(mem, vfs.InjectorFunc(func(op vfs.Op, _ string) error {
		if op == vfs.OpOpen || op == vfs.OpRead {
			return nil
		}
		if ops == k {
			if loss {
				for range 8 {
					crashed = append(crashed, mem.CrashWithLoss(rng))
				}
			} else {
				crashed = append(crashed, mem.Crash())
			}
		}
		ops++
		if crashed != nil {
			return vfs.ErrInjected
		}
		return nil
	}))
	acked, attempted := 0, 0
	func() {
		f, _, _, err := Open(fs, dir)
		if err != nil {
			return
		}
		defer f.Close()
		for i, s := range states[1:] {
			attempted = i + 1
			if f.Save(s) != nil {
				return
			}
			acked = i + 1
		}
	}()
	if crashed == nil {
		require.Equal(t, len(states)-1, acked, "%s: the run completed", name)
		return true
	}
	for _, c := range crashed {
		f, s, _, err := Open(c, dir)
		require.NoError(t, err, name)
		require.NoError(t, f.Close())
		got := slices.IndexFunc(states, s.Equal)
		require.NotEqual(t, -1, got, "%s: loaded unknown state %+v", name, s)
		require.GreaterOrEqual(t, got, acked, "%s: lost an acknowledged Save", name)
		require.LessOrEqual(t, got, attempted, name)
	}
	return false
}

func TestClose(t *testing.T) {
	f, _, _ := openT(t, newMem(t))
	require.NoError(t, f.Save(State{Term: 5}))
	require.NoError(t, f.Close())
	require.ErrorIs(t, f.Close(), ErrClosed)
	require.ErrorIs(t, f.Save(State{Term: 6}), ErrClosed)
	require.Equal(t, uint64(5), f.State().Term, "State still answers after Close")
}

func TestConcurrentSave(t *testing.T) {
	before := runtime.NumGoroutine()
	fs := newMem(t)
	f, _, _ := openT(t, fs)
	const writers, saves = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range saves {
				s := State{Term: uint64(w), Commit: uint64(i), Props: map[string][]byte{"w": {byte(w)}}}
				if err := f.Save(s); err != nil {
					t.Error(err)
					return
				}
				got := f.State()
				// Another writer may have saved since, but never a mix of two.
				if got.Props["w"][0] != byte(got.Term) {
					t.Errorf("torn state %+v", got)
				}
			}
		})
	}
	wg.Wait()
	seqs := slotSeqs(contents(t, fs, statusPath))
	require.Equal(t, uint64(1+writers*saves), max(seqs[0], seqs[1]), "every Save got its own sequence number")
	_, s, _ := openT(t, fs.Crash())
	require.True(t, f.State().Equal(s), "the last Save is the one on disk")
	require.NoError(t, f.Close())
	// The writers have called Done but may not have exited yet, and a
	// goroutine of an earlier test may still have been ending when before
	// was counted: wait (bounded) for the count to settle.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	require.LessOrEqual(t, runtime.NumGoroutine(), before, "no goroutine outlives the test")
}

func TestOpenErrors(t *testing.T) {
	for _, op := range []vfs.Op{vfs.OpCreate, vfs.OpWrite, vfs.OpSync, vfs.OpRename, vfs.OpSyncDir} {
		t.Run(op.String(), func(t *testing.T) {
			mem := newMem(t)
			failing := true
			_, _, _, err := Open(vfs.NewErrorFS(mem, failOps(&failing, op)), dir)
			require.ErrorIs(t, err, vfs.ErrInjected)
			_, s, _ := openT(t, mem)
			require.True(t, initialState().Equal(s))
		})
	}
	t.Run("remove stale tmp", func(t *testing.T) {
		mem := newMem(t)
		setFile(t, mem, tmpPath, []byte("junk"))
		failing := true
		_, _, _, err := Open(vfs.NewErrorFS(mem, failOps(&failing, vfs.OpRemove)), dir)
		require.ErrorIs(t, err, vfs.ErrInjected)
	})
	t.Run("read", func(t *testing.T) {
		mem := newMem(t)
		openT(t, mem)
		failing := true
		_, _, _, err := Open(vfs.NewErrorFS(mem, failOps(&failing, vfs.OpRead)), dir)
		require.ErrorIs(t, err, vfs.ErrInjected)
		require.NotErrorIs(t, err, ErrCorrupt)
	})
}

func BenchmarkSave(b *testing.B) {
	f, _, _, err := Open(vfs.Default, b.TempDir())
	require.NoError(b, err)
	defer f.Close()
	s := State{Term: 3, Vote: 1, Commit: 1000, PersistedIndex: 990, FirstIndex: 1,
		Props: map[string][]byte{"cluster": []byte("raftlog-bench")}}
	body, err := Encode(nil, s)
	require.NoError(b, err)
	b.SetBytes(int64(slotHeaderSize + len(body) + slotTrailerSize))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Commit++
		if err := f.Save(s); err != nil {
			b.Fatal(err)
		}
	}
}
