package vfs

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// flatModel is the obvious implementation memNode must agree with: two
// contiguous byte slices.
type flatModel struct{ cur, synced []byte }

func (f *flatModel) writeAt(p []byte, off int64) {
	if len(p) == 0 {
		return
	}
	if end := off + int64(len(p)); end > int64(len(f.cur)) {
		f.cur = append(f.cur, make([]byte, end-int64(len(f.cur)))...)
	}
	copy(f.cur[off:], p)
}

func (f *flatModel) truncate(size int64) {
	if size <= int64(len(f.cur)) {
		f.cur = f.cur[:size]
		return
	}
	f.cur = append(f.cur, make([]byte, size-int64(len(f.cur)))...)
}

// memNodeOps decodes data as a list of operations and applies each to a
// memNode and to a flatModel, failing t at the first disagreement. Each
// operation is 5 bytes: kind, offset (2 bytes, in units of 37 bytes so that
// page boundaries get crossed), length (2 bytes).
func memNodeOps(t *testing.T, data []byte) {
	n := newMemNode()
	model := flatModel{cur: []byte{}, synced: []byte{}}
	var clones []*memNode
	var cloneWant [][]byte
	for i := 0; len(data) >= 5; i++ {
		kind := data[0] % 6
		off := int64(binary.LittleEndian.Uint16(data[1:])) * 37 % (6 * pageSize)
		length := int64(binary.LittleEndian.Uint16(data[3:])) % (2 * pageSize)
		data = data[5:]
		switch kind {
		case 0:
			p := make([]byte, length)
			for j := range p {
				p[j] = byte(i + j + 1)
			}
			n.writeAt(p, off)
			model.writeAt(p, off)
		case 1:
			n.truncate(off)
			model.truncate(off)
		case 2:
			if length > 0 {
				size := max(n.cur.size, off+length)
				n.cur.size = size
				model.truncate(max(int64(len(model.cur)), off+length))
			}
		case 3:
			n.sync()
			model.synced = append([]byte{}, model.cur...)
		case 4:
			clones = append(clones, n.crashClone(nil))
			cloneWant = append(cloneWant, append([]byte{}, model.synced...))
		case 5:
			got := make([]byte, length)
			m := n.cur.readAt(got, off)
			want := max(0, min(length, int64(len(model.cur))-off))
			require.EqualValues(t, want, m, "read count at %d", off)
			if m > 0 {
				require.Equal(t, model.cur[off:off+int64(m)], got[:m], "read at %d", off)
			}
		}
		require.Equal(t, model.cur, n.cur.bytes(), "current after op %d", i)
		require.Equal(t, model.synced, n.synced.bytes(), "synced after op %d", i)
		// A lossy crash must only ever be made of old, new and torn pages.
		lossy := n.lossyImage(rand.New(rand.NewPCG(uint64(i), 7)))
		got := lossy.bytes()
		require.Contains(t, []int{len(model.cur), len(model.synced)}, len(got))
		for idx := range pageCount(int64(len(got))) {
			visible := min(pageSize, len(got)-int(idx)*pageSize)
			g := padded(got, int(idx))[:visible]
			require.NotEqual(t, -1, pageKind(g, padded(model.synced, int(idx))[:visible], padded(model.cur, int(idx))[:visible]),
				"lossy page %d after op %d", idx, i)
		}
	}
	// Crash clones never see what happened to the original after them.
	for j, c := range clones {
		require.Equal(t, cloneWant[j], c.cur.bytes(), "clone %d", j)
		require.Equal(t, cloneWant[j], c.synced.bytes(), "clone %d synced", j)
	}
}

func opBytes(kind byte, off, length uint16) []byte {
	b := []byte{kind, 0, 0, 0, 0}
	binary.LittleEndian.PutUint16(b[1:], off)
	binary.LittleEndian.PutUint16(b[3:], length)
	return b
}

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var memNodeSeeds = map[string][]byte{
	"write-sync-write": concat(opBytes(0, 0, 5000), opBytes(3, 0, 0), opBytes(0, 100, 300), opBytes(5, 0, 6000)),
	"truncate-mid-page-regrow": concat(opBytes(0, 0, 8000), opBytes(3, 0, 0), opBytes(1, 50, 0),
		opBytes(2, 0, 9000), opBytes(5, 0, 9000), opBytes(4, 0, 0), opBytes(3, 0, 0)),
	"clone-then-write": concat(opBytes(0, 3, 4096), opBytes(3, 0, 0), opBytes(4, 0, 0),
		opBytes(0, 3, 4096), opBytes(3, 0, 0), opBytes(4, 0, 0)),
	"allocate-sparse": concat(opBytes(2, 600, 8000), opBytes(3, 0, 0), opBytes(0, 599, 10), opBytes(1, 0, 0)),
}

func TestMemNodeAgainstFlatModel(t *testing.T) {
	for name, seed := range memNodeSeeds {
		t.Run(name, func(t *testing.T) { memNodeOps(t, seed) })
	}
	t.Run("random", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(42, 42))
		for range 300 {
			data := make([]byte, 5*rng.IntN(40))
			for i := range data {
				data[i] = byte(rng.UintN(256))
			}
			memNodeOps(t, data)
		}
	})
}

// FuzzMemNode checks the sparse page model of MemFS files, including crash
// clones and lossy crashes, against flat byte slices.
func FuzzMemNode(f *testing.F) {
	for _, seed := range memNodeSeeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 5*64 {
			data = data[:5*64]
		}
		memNodeOps(t, data)
	})
}

func TestMemNodeSyncCostsOnlyDirtyPages(t *testing.T) {
	n := newMemNode()
	n.cur.size = 1 << 30 // a preallocated 1 GiB file
	n.sync()
	require.Empty(t, n.synced.pages, "allocation must not materialise pages")
	n.writeAt([]byte("x"), 512<<20)
	require.Len(t, n.dirty, 1)
	n.sync()
	require.Empty(t, n.dirty)
	require.Len(t, n.synced.pages, 1)
}
