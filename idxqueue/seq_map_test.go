package idxqueue

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// seqOp is one step of a table-driven LongLongSeqMap scenario.
type seqOp struct {
	put      []uint64 // keys to put, value = -key
	putErr   error    // expected error of the last put
	head     *uint64  // RemoveHead argument
	tail     *uint64  // TruncateTail argument
	first    uint64   // expected FirstKey after the step
	last     uint64   // expected LastKey after the step
	len, cap int
}

func u(v uint64) *uint64 { return &v }

func keys(from, to uint64) []uint64 {
	var ks []uint64
	for k := from; k <= to; k++ {
		ks = append(ks, k)
	}
	return ks
}

func TestSeqMapTable(t *testing.T) {
	tests := []struct {
		name        string
		initial, mx int
		ops         []seqOp
	}{
		{"empty", 4, 8, []seqOp{
			{first: 0, last: 0, len: 0, cap: 4},
			{head: u(100), first: 0, last: 0, len: 0, cap: 4},
			{tail: u(0), first: 0, last: 0, len: 0, cap: 4},
		}},
		{"put get", 4, 8, []seqOp{
			{put: keys(10, 13), first: 10, last: 13, len: 4, cap: 4},
		}},
		{"non consecutive rejected", 4, 8, []seqOp{
			{put: []uint64{5, 6, 8}, putErr: ErrNotConsecutive, first: 5, last: 6, len: 2, cap: 4},
			{put: []uint64{6}, putErr: ErrNotConsecutive, first: 5, last: 6, len: 2, cap: 4},
			{put: []uint64{4}, putErr: ErrNotConsecutive, first: 5, last: 6, len: 2, cap: 4},
		}},
		{"full rejected", 2, 4, []seqOp{
			{put: keys(1, 5), putErr: ErrFull, first: 1, last: 4, len: 4, cap: 4},
			{head: u(1), put: []uint64{5}, first: 2, last: 5, len: 4, cap: 4},
		}},
		{"remove head", 8, 8, []seqOp{
			{put: keys(1, 6), first: 1, last: 6, len: 6, cap: 8},
			{head: u(0), first: 1, last: 6, len: 6, cap: 8},
			{head: u(3), first: 4, last: 6, len: 3, cap: 8},
			{head: u(6), first: 0, last: 0, len: 0, cap: 8},
			{put: []uint64{42}, first: 42, last: 42, len: 1, cap: 8},
			{head: u(1000), first: 0, last: 0, len: 0, cap: 8},
		}},
		{"truncate tail", 8, 8, []seqOp{
			{put: keys(1, 6), first: 1, last: 6, len: 6, cap: 8},
			{tail: u(7), first: 1, last: 6, len: 6, cap: 8},
			{tail: u(4), first: 1, last: 3, len: 3, cap: 8},
			{put: []uint64{4, 5}, first: 1, last: 5, len: 5, cap: 8},
			{tail: u(1), first: 0, last: 0, len: 0, cap: 8},
			{put: []uint64{9}, first: 9, last: 9, len: 1, cap: 8},
			{tail: u(2), first: 0, last: 0, len: 0, cap: 8},
		}},
		{"wrap around", 4, 4, []seqOp{
			{put: keys(1, 4), first: 1, last: 4, len: 4, cap: 4},
			{head: u(3), put: keys(5, 7), first: 4, last: 7, len: 4, cap: 4},
			{head: u(6), put: keys(8, 10), first: 7, last: 10, len: 4, cap: 4},
			{tail: u(9), first: 7, last: 8, len: 2, cap: 4},
		}},
		{"growth while wrapped", 4, 16, []seqOp{
			{put: keys(1, 4), first: 1, last: 4, len: 4, cap: 4},
			{head: u(2), put: keys(5, 6), first: 3, last: 6, len: 4, cap: 4},
			{put: keys(7, 9), first: 3, last: 9, len: 7, cap: 8},
			{head: u(7), put: keys(10, 20), first: 8, last: 20, len: 13, cap: 16},
			{put: []uint64{21, 22, 23, 24}, putErr: ErrFull, first: 8, last: 23, len: 16, cap: 16},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewLongLongSeqMap(tt.initial, tt.mx)
			for i, op := range tt.ops {
				if op.head != nil {
					m.RemoveHead(*op.head)
				}
				if op.tail != nil {
					m.TruncateTail(*op.tail)
				}
				var err error
				for _, k := range op.put {
					if err = m.Put(k, -int64(k)); err != nil {
						break
					}
				}
				require.ErrorIs(t, err, op.putErr, "step %d", i)
				if op.putErr == nil {
					require.NoError(t, err, "step %d", i)
				}
				require.Equal(t, op.first, m.FirstKey(), "step %d first", i)
				require.Equal(t, op.last, m.LastKey(), "step %d last", i)
				require.Equal(t, op.len, m.Len(), "step %d len", i)
				require.Equal(t, op.cap, m.Cap(), "step %d cap", i)
				// Every held key maps to its value; keys just outside do not.
				if m.Len() > 0 {
					for k := m.FirstKey(); k <= m.LastKey(); k++ {
						v, ok := m.Get(k)
						require.True(t, ok, "step %d key %d", i, k)
						require.Equal(t, -int64(k), v, "step %d key %d", i, k)
					}
					_, ok := m.Get(m.FirstKey() - 1)
					require.False(t, ok)
					_, ok = m.Get(m.LastKey() + 1)
					require.False(t, ok)
				} else {
					for _, k := range []uint64{0, 1, op.first, ^uint64(0)} {
						_, ok := m.Get(k)
						require.False(t, ok)
					}
				}
			}
		})
	}
}

func TestSeqMapCaps(t *testing.T) {
	tests := []struct {
		initial, mx         int
		wantCap, wantMaxCap int
	}{
		{4, 16, 4, 16},
		{3, 9, 4, 16},
		{0, 0, 1, 1},
		{64, 8, 8, 8},
		{-5, 2, 1, 2},
	}
	for _, tt := range tests {
		m := NewLongLongSeqMap(tt.initial, tt.mx)
		require.Equal(t, tt.wantCap, m.Cap(), "%+v", tt)
		require.Equal(t, tt.wantMaxCap, m.MaxCap(), "%+v", tt)
	}
}

func TestSeqMapCopyRange(t *testing.T) {
	m := NewLongLongSeqMap(8, 8)
	for k := uint64(1); k <= 8; k++ {
		require.NoError(t, m.Put(k, int64(k*10)))
	}
	m.RemoveHead(5)
	for k := uint64(9); k <= 12; k++ { // wraps into slots 0..3
		require.NoError(t, m.Put(k, int64(k*10)))
	}
	dst := make([]int64, 6)
	m.copyRange(dst, 7)
	require.Equal(t, []int64{70, 80, 90, 100, 110, 120}, dst)
	m.copyRange(dst[:0], 100) // empty range is always fine
	require.Panics(t, func() { m.copyRange(make([]int64, 2), 12) })
	require.Panics(t, func() { m.copyRange(make([]int64, 1), 5) })
}

func TestSeqMapPutDoesNotAllocate(t *testing.T) {
	m := NewLongLongSeqMap(1024, 1024)
	k := uint64(1)
	allocs := testing.AllocsPerRun(1000, func() {
		if m.Len() == m.MaxCap() {
			m.RemoveHead(m.LastKey())
		}
		if err := m.Put(k, int64(k)); err != nil {
			t.Fatal(err)
		}
		k++
	})
	require.Zero(t, allocs)
}

// FuzzSeqMap checks LongLongSeqMap against a slice model under random
// operations decoded from the fuzz input.
func FuzzSeqMap(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 1, 2, 0, 0, 0, 3, 1})
	f.Add([]byte{0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 1, 4, 0, 0, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		m := NewLongLongSeqMap(2, 16)
		var model []uint64 // held keys, consecutive
		next := uint64(1)
		for i := 0; i+1 < len(ops); i += 2 {
			arg := uint64(ops[i+1])
			switch ops[i] % 4 {
			case 0, 1: // put next key, or a wrong key when arg is odd and nonzero
				k := next
				if arg%7 == 3 {
					k = next + arg
				}
				err := m.Put(k, int64(k)*3)
				switch {
				case len(model) > 0 && k != next:
					if err != ErrNotConsecutive {
						t.Fatalf("put %d: %v, want ErrNotConsecutive", k, err)
					}
				case len(model) == 16:
					if err != ErrFull {
						t.Fatalf("put %d: %v, want ErrFull", k, err)
					}
				default:
					if err != nil {
						t.Fatalf("put %d: %v", k, err)
					}
					model = append(model, k)
					next = k + 1
				}
			case 2:
				upTo := next - 1 - arg%8
				m.RemoveHead(upTo)
				for len(model) > 0 && model[0] <= upTo {
					model = model[1:]
				}
			case 3:
				from := next - arg%8
				m.TruncateTail(from)
				for len(model) > 0 && model[len(model)-1] >= from {
					model = model[:len(model)-1]
				}
				if len(model) > 0 {
					next = model[len(model)-1] + 1
				}
			}
			if m.Len() != len(model) {
				t.Fatalf("len %d, model %d", m.Len(), len(model))
			}
			if len(model) > 0 {
				if m.FirstKey() != model[0] || m.LastKey() != model[len(model)-1] {
					t.Fatalf("keys [%d,%d], model [%d,%d]", m.FirstKey(), m.LastKey(), model[0], model[len(model)-1])
				}
			}
			for _, k := range model {
				if v, ok := m.Get(k); !ok || v != int64(k)*3 {
					t.Fatalf("get %d = %d %v", k, v, ok)
				}
			}
			if _, ok := m.Get(next); ok {
				t.Fatalf("get %d past the end found", next)
			}
		}
	})
}
