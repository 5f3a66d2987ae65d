package restore

import (
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
		m := logqueue.ItemMeta{Index: it.index, Term: it.term, PrevTerm: prevTerm, Type: 1}
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
	return Run(st, lq, iq)
}

func seq(from, to, term uint64, size int) []item {
	var out []item
	for i := from; i <= to; i++ {
		out = append(out, item{i, term, size})
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
		build    func(e *env) // writes the log
		epoch    uint32       // status epoch
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
			name: "epoch above the status epoch",
			build: func(e *env) {
				p := e.write(0, 1, 0, seq(1, 5, 1, 100))
				e.write(p[4]+logqueue.EncodedSize(0, 100), 9, 1, seq(6, 8, 1, 100))
			},
			epoch:    1,
			wantLast: 5,
		},
		{
			name: "prevTerm does not match",
			build: func(e *env) {
				p := e.write(0, 1, 0, seq(1, 5, 2, 100))
				e.write(p[4]+logqueue.EncodedSize(0, 100), 1, 1, seq(6, 8, 2, 100))
			},
			epoch:    1,
			wantLast: 5,
		},
		{
			name: "index gap",
			build: func(e *env) {
				p := e.write(0, 1, 0, seq(1, 5, 2, 100))
				e.write(p[4]+logqueue.EncodedSize(0, 100), 1, 2, seq(7, 8, 2, 100))
			},
			epoch:    1,
			wantLast: 5,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tc.build(e)
			res, err := e.restore(newState(tc.epoch))
			require.NoError(t, err)
			assert.Equal(t, tc.wantLast, res.LastIndex)
			assert.Len(t, res.TailPositions, int(tc.wantLast))
			// The cut tail is zeroed: a second restore finds the same end
			// with nothing more to cut.
			res2, err := e.restore(newState(tc.epoch))
			require.NoError(t, err)
			assert.Equal(t, tc.wantLast, res2.LastIndex)
			assert.Equal(t, int64(0), res2.CutBytes)
		})
	}
}

func TestRestoreRefusesContradictions(t *testing.T) {
	t.Run("index file points at the wrong item", func(t *testing.T) {
		e := newEnv(t)
		p := e.write(0, 1, 0, seq(1, 20, 1, 100))
		wrong := append([]int64(nil), p[:10]...)
		wrong[9] = p[8]
		e.persist(1, wrong)
		st := newState(1)
		st.PersistedIndex = 10
		_, err := e.restore(st)
		require.ErrorIs(t, err, ErrCorrupt)
	})
	t.Run("log ends below the persisted index", func(t *testing.T) {
		e := newEnv(t)
		p := e.write(0, 1, 0, seq(1, 20, 1, 100))
		e.persist(1, p[:10])
		// Destroy item 11 onwards but claim 15 persisted: the index file
		// has no position for 15.
		st := newState(1)
		st.PersistedIndex = 15
		_, err := e.restore(st)
		require.ErrorIs(t, err, ErrCorrupt)
	})
}
