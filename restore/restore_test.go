package restore

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/chainwriter"
	"github.com/raftlog/raftlog/idxqueue"
	"github.com/raftlog/raftlog/logqueue"
	"github.com/raftlog/raftlog/pipeline"
	"github.com/raftlog/raftlog/status"
	"github.com/raftlog/raftlog/vfs"
)

const (
	dir      = "/log"
	fileSize = 64 << 10
)

type item struct {
	index, term uint64
	size        int
	lag         uint16 // DurableLag
}

// env is a log directory on an in-memory file system.
type env struct {
	t    *testing.T
	fs   *vfs.MemFS
	exec *pipeline.Executor
}

func newEnv(t *testing.T) *env {
	exec, err := pipeline.NewExecutor(1)
	require.NoError(t, err)
	t.Cleanup(exec.Close)
	fs := vfs.NewMem()
	require.NoError(t, fs.MkdirAll(dir))
	return &env{t: t, fs: fs, exec: exec}
}

func (e *env) openLogQueue(forced chan uint64) *logqueue.Queue {
	lq, err := logqueue.Open(logqueue.Options{
		FS: e.fs, Dir: dir, FileSize: fileSize, Executor: e.exec,
		Writer: chainwriter.Options{OnForced: func(tag uint64) {
			if forced != nil {
				forced <- tag
			}
		}},
	})
	require.NoError(e.t, err)
	return lq
}

func (e *env) openIdxQueue() *idxqueue.Queue {
	iq, err := idxqueue.Open(idxqueue.Options{FS: e.fs, Dir: dir, ItemsPerFile: 8, MaxPending: 1024})
	require.NoError(e.t, err)
	return iq
}

// write appends items at pos with epoch and returns their positions. Each
// item's prevTerm is taken from prevTerm and then from the item before it.
func (e *env) write(pos int64, epoch uint32, prevTerm uint64, items []item) []int64 {
	forced := make(chan uint64, 1024)
	lq := e.openLogQueue(forced)
	require.NoError(e.t, lq.StartWriting(pos, epoch))
	var positions []int64
	for _, it := range items {
		m := logqueue.ItemMeta{Index: it.index, Term: it.term, PrevTerm: prevTerm, Type: 1, DurableLag: it.lag}
		p, err := lq.Add(&m, nil, make([]byte, it.size))
		require.NoError(e.t, err)
		positions = append(positions, p)
		prevTerm = it.term
	}
	require.NoError(e.t, lq.Flush(1))
	require.NoError(e.t, lq.Close())
	return positions
}

// persist records positions for indexes first.. in the index files, as the
// flush stage would.
func (e *env) persist(first uint64, positions []int64) {
	iq := e.openIdxQueue()
	require.NoError(e.t, iq.Start(first-1))
	for i, p := range positions {
		require.NoError(e.t, iq.Put(first+uint64(i), p))
	}
	iq.Durable(first + uint64(len(positions)) - 1)
	require.NoError(e.t, iq.Close())
}

func (e *env) restore(st status.State) (Result, error) {
	lq := e.openLogQueue(nil)
	defer lq.Close()
	iq := e.openIdxQueue()
	defer iq.Close()
	return Run(st, lq, iq, Options{})
}

func seq(from, to, term uint64, size int) []item {
	var out []item
	for i := from; i <= to; i++ {
		out = append(out, item{index: i, term: term, size: size})
	}
	return out
}

func newState(epoch uint32) status.State { return status.State{FirstIndex: 1, Epoch: epoch} }

func TestRestoreEmpty(t *testing.T) {
	e := newEnv(t)
	res, err := e.restore(newState(0))
	require.NoError(t, err)
	assert.Equal(t, uint64(0), res.LastIndex)
	assert.Equal(t, int64(0), res.WritePos)
	assert.Empty(t, res.TailPositions)
}

func TestRestoreScansFromPersistedIndex(t *testing.T) {
	tests := []struct {
		name      string
		persisted uint64
	}{
		{"nothing persisted", 0},
		{"some persisted", 300},
		{"all persisted", 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			positions := e.write(0, 1, 0, seq(1, 1000, 3, 500))
			if tc.persisted > 0 {
				e.persist(1, positions[:tc.persisted])
			}
			st := newState(1)
			st.PersistedIndex = tc.persisted
			res, err := e.restore(st)
			require.NoError(t, err)
			assert.Equal(t, uint64(1000), res.LastIndex)
			assert.Equal(t, uint64(3), res.LastTerm)
			assert.Equal(t, tc.persisted+1, res.TailFirst)
			// Only the tail after the persisted index is scanned.
			if want := positions[tc.persisted:]; len(want) > 0 {
				assert.Equal(t, want, res.TailPositions)
			} else {
				assert.Empty(t, res.TailPositions)
			}
			assert.Equal(t, positions[999]+logqueue.EncodedSize(0, 500), res.WritePos)
		})
	}
}

func TestRestoreChainEnds(t *testing.T) {
	tests := []struct {
		name     string
		build    func(e *env)           // writes the log
		state    func(st *status.State) // changes the status file's state
		epoch    uint32                 // status epoch
		wantLast uint64
	}{
		{
			name: "stale items of an older epoch after a rewrite",
			build: func(e *env) {
				old := e.write(0, 1, 0, seq(1, 10, 1, 100))
				// Rewrite 6 and 7 in place with the same sizes and terms in
				// epoch 2: the old 8..10 follow them intact but are stale.
				e.write(old[5], 2, 1, seq(6, 7, 1, 100))
			},
			epoch:    2,
			wantLast: 7,
		},
		{
			name: "items cut off by the last tail truncation",
			build: func(e *env) {
				// 1..10 in epoch 1 (10 written when 9 was durable), then a
				// truncation at 6 recorded in the status file: 6..10 are stale
				// although they follow 5 intact.
				items := seq(1, 10, 1, 100)
				items[9].lag = 1
				e.write(0, 1, 0, items)
			},
			state:    func(st *status.State) { st.TruncatedFrom, st.TruncEpoch, st.Epoch = 6, 2, 2 },
			epoch:    2,
			wantLast: 5,
		},
		{
			name: "torn item followed by unacknowledged items",
			build: func(e *env) {
				p := e.write(0, 1, 0, seq(1, 10, 1, 100))
				// Items 8..10 were written while only 5 was durable (lag
				// 3..5): damage to 7 is a torn write, not lost data.
				for i, it := range []item{{8, 1, 100, 3}, {9, 1, 100, 4}, {10, 1, 100, 5}} {
					e.write(p[7+i], 1, 1, []item{it})
				}
				e.damage(p[6]+20, 1)
			},
			epoch:    1,
			wantLast: 6,
		},
		{
			name: "zeroed header followed by unacknowledged items",
			build: func(e *env) {
				p := e.write(0, 1, 0, seq(1, 10, 1, 100))
				e.zero(p[6], logqueue.ItemHeaderSize)
			},
			epoch:    1,
			wantLast: 6,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tc.build(e)
			st := newState(tc.epoch)
			if tc.state != nil {
				tc.state(&st)
			}
			res, err := e.restore(st)
			require.NoError(t, err)
			assert.Equal(t, tc.wantLast, res.LastIndex)
			assert.Len(t, res.TailPositions, int(tc.wantLast))
			// The cut tail is zeroed: a second restore finds the same end
			// with nothing more to cut.
			res2, err := e.restore(st)
			require.NoError(t, err)
			assert.Equal(t, tc.wantLast, res2.LastIndex)
			assert.Equal(t, int64(0), res2.CutBytes)
		})
	}
}

func TestRestoreRebuildsAWrongIndexEntry(t *testing.T) {
	e := newEnv(t)
	p := e.write(0, 1, 0, seq(1, 20, 1, 100))
	wrong := append([]int64(nil), p[:10]...)
	wrong[9] = p[8]
	e.persist(1, wrong)
	st := newState(1)
	st.PersistedIndex = 10
	res, err := e.restore(st)
	require.NoError(t, err)
	assert.True(t, res.Rebuilt)
	assert.Equal(t, uint64(1), res.TailFirst, "the whole log is handed back to the index")
	assert.Equal(t, p, res.TailPositions)
	assert.Equal(t, uint64(20), res.LastIndex)
}

func TestRestoreRefusesCorruption(t *testing.T) {
	tests := []struct {
		name   string
		build  func(e *env) status.State
		substr string
	}{
		{
			name: "log ends below the persisted index",
			build: func(e *env) status.State {
				p := e.write(0, 1, 0, seq(1, 20, 1, 100))
				e.persist(1, p[:10])
				e.zero(p[4], logqueue.EncodedSize(0, 100)*16)
				st := newState(1)
				st.PersistedIndex = 10
				return st
			},
			substr: "below the commit index",
		},
		{
			name: "log ends below the commit index",
			build: func(e *env) status.State {
				p := e.write(0, 1, 0, seq(1, 20, 1, 100))
				e.damage(p[14]+60, 1)
				st := newState(1)
				st.Commit = 16
				return st
			},
			substr: "below the commit index",
		},
		{
			name: "damaged item before an item that proves it acknowledged",
			build: func(e *env) status.State {
				p := e.write(0, 1, 0, seq(1, 10, 1, 100))
				// 10 was written when 8 was durable.
				e.write(p[9], 1, 1, []item{{10, 1, 100, 2}})
				e.damage(p[7]+30, 1)
				return newState(1)
			},
			substr: "acknowledged",
		},
		{
			name: "prevTerm does not match",
			build: func(e *env) status.State {
				p := e.write(0, 1, 0, seq(1, 5, 2, 100))
				e.write(p[4]+logqueue.EncodedSize(0, 100), 1, 1, seq(6, 8, 2, 100))
				return newState(1)
			},
			substr: "index 6 has prevTerm 1, but index 5 has term 2",
		},
		{
			name: "index gap",
			build: func(e *env) status.State {
				p := e.write(0, 1, 0, seq(1, 5, 2, 100))
				e.write(p[4]+logqueue.EncodedSize(0, 100), 1, 2, seq(7, 8, 2, 100))
				return newState(1)
			},
			substr: "has index 7",
		},
		{
			name: "term goes down",
			build: func(e *env) status.State {
				p := e.write(0, 1, 0, seq(1, 5, 3, 100))
				e.write(p[4]+logqueue.EncodedSize(0, 100), 1, 3, seq(6, 6, 2, 100))
				return newState(1)
			},
			substr: "index 6 has term 2, below the term 3 before it",
		},
		{
			name: "epoch above the status epoch",
			build: func(e *env) status.State {
				p := e.write(0, 1, 0, seq(1, 5, 1, 100))
				e.write(p[4]+logqueue.EncodedSize(0, 100), 9, 1, seq(6, 8, 1, 100))
				return newState(1)
			},
			substr: "above the status file's epoch",
		},
		{
			name: "missing end marker",
			build: func(e *env) status.State {
				// 700-byte items: 86 fill a 64 KiB file and leave room for a
				// marker. Each was written when the one 3 before was durable.
				items := seq(1, 300, 1, 700)
				for i := range items {
					items[i].lag = 3
				}
				p := e.write(0, 1, 0, items)
				require.Equal(e.t, int64(fileSize), p[86], "item 87 opens the second file")
				e.zero(p[85]+logqueue.EncodedSize(0, 700), logqueue.EndMarkerSize)
				return newState(1)
			},
			substr: "acknowledged",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			st := tc.build(e)
			before := e.snapshot()
			_, err := e.restore(st)
			require.ErrorIs(t, err, ErrCorrupt)
			var ce *CorruptionError
			require.ErrorAs(t, err, &ce)
			assert.Contains(t, ce.Error(), tc.substr)
			assert.Contains(t, ce.Error(), ".log at offset")
			assert.Equal(t, before, e.snapshot(), "a refused restore changes nothing")
		})
	}
}

// damage flips bits of n bytes at log position pos.
func (e *env) damage(pos int64, n int) {
	e.edit(pos, n, func(b []byte) {
		for i := range b {
			b[i] ^= 0x5A
		}
	})
}

// zero clears n bytes at log position pos.
func (e *env) zero(pos int64, n int64) {
	e.edit(pos, int(n), func(b []byte) { clear(b) })
}

func (e *env) edit(pos int64, n int, change func([]byte)) {
	name := dir + "/" + fileNameOf(pos)
	f, err := e.fs.Open(name)
	require.NoError(e.t, err)
	defer f.Close()
	b := make([]byte, n)
	_, err = f.ReadAt(b, pos%fileSize)
	require.NoError(e.t, err)
	change(b)
	_, err = f.WriteAt(b, pos%fileSize)
	require.NoError(e.t, err)
	require.NoError(e.t, f.Sync())
}

func fileNameOf(pos int64) string {
	return fmt.Sprintf("%020d.log", pos-pos%fileSize)
}

// snapshot returns every file's name and bytes.
func (e *env) snapshot() map[string][]byte {
	names, err := e.fs.List(dir)
	require.NoError(e.t, err)
	out := map[string][]byte{}
	for _, n := range names {
		f, err := e.fs.Open(dir + "/" + n)
		require.NoError(e.t, err)
		size, err := f.Size()
		require.NoError(e.t, err)
		b := make([]byte, size)
		_, err = f.ReadAt(b, 0)
		require.NoError(e.t, err)
		require.NoError(e.t, f.Close())
		out[n] = b
	}
	return out
}
