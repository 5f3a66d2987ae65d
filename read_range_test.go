package raftlog

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/logqueue"
)

// entriesOneByOne is what Entries must return: Entry for each index of
// [lo, hi) while the encoded sizes stay within maxBytes, at least one.
func entriesOneByOne(t *testing.T, l *Log, lo, hi uint64, maxBytes int) []Entry {
	t.Helper()
	var out []Entry
	var total int64
	for i := lo; i < hi; i++ {
		e, err := l.Entry(i)
		require.NoError(t, err, "index %d", i)
		size := logqueue.EncodedSize(len(e.Header), len(e.Data))
		if maxBytes > 0 && len(out) > 0 && total+size > int64(maxBytes) {
			break
		}
		total += size
		out = append(out, e)
	}
	return out
}

// TestEntriesRanges compares range reads with single-entry reads: ranges
// across file boundaries, byte limits around entry sizes, one entry, the
// whole log; on the log as written (recent entries) and after reopening.
func TestEntriesRanges(t *testing.T) {
	const maxSize, last = 3000, 400
	dir := t.TempDir()
	l := openLog(t, dir, tinyOptions())
	appendRange(t, l, 1, last, 1, maxSize, 17)
	tests := []struct {
		lo, hi   uint64
		maxBytes int
	}{
		{1, 2, 0},
		{1, 3, 0},
		{1, last + 1, 0},
		{10, 200, 0},
		{10, 200, 1},
		{10, 200, 5000},
		{10, 200, 64 << 10},
		{10, 200, 1 << 30},
		{last - 5, last + 1, 0},
		{last - 5, last + 1, 3000},
	}
	check := func(t *testing.T, l *Log) {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("[%d,%d)/max=%d", tt.lo, tt.hi, tt.maxBytes), func(t *testing.T) {
				want := entriesOneByOne(t, l, tt.lo, tt.hi, tt.maxBytes)
				got, err := l.Entries(tt.lo, tt.hi, tt.maxBytes)
				require.NoError(t, err)
				require.Equal(t, len(want), len(got))
				for k := range want {
					requireEntry(t, got[k], want[k].Index, 1, maxSize)
				}
			})
		}
	}
	t.Run("written", func(t *testing.T) { check(t, l) })
	require.NoError(t, l.Close())
	l = openLog(t, dir, tinyOptions())
	defer l.Close()
	t.Run("reopened", func(t *testing.T) { check(t, l) })
}

// TestEntriesAreTheCallers writes through and appends to the slices of one
// Entries call: neither their neighbours nor a later read change.
func TestEntriesAreTheCallers(t *testing.T) {
	const maxSize = 500
	l := openLog(t, t.TempDir(), tinyOptions())
	defer l.Close()
	appendRange(t, l, 1, 100, 1, maxSize, 10)
	for _, f := range []func() ([]Entry, error){
		func() ([]Entry, error) { return l.Entries(3, 60, 0) },
		func() ([]Entry, error) {
			it := l.NewIterator(3, IterOptions{ReadAhead: 4 << 10})
			defer it.Close()
			return it.Next(57, 0)
		},
	} {
		es, err := f()
		require.NoError(t, err)
		require.Len(t, es, 57)
		for k := range es {
			es[k].Header = append(es[k].Header, 0xaa, 0xbb)
			for j := range es[k].Data {
				es[k].Data[j] ^= 0xff
			}
			if k+1 < len(es) {
				requireEntry(t, es[k+1], uint64(k+4), 1, maxSize)
			}
		}
		again, err := f()
		require.NoError(t, err)
		for k, e := range again {
			requireEntry(t, e, uint64(k+3), 1, maxSize)
		}
	}
}

// TestEntriesAfterTruncation reads a range across a truncation point before
// and after the tail was cut and written again with another term.
func TestEntriesAfterTruncation(t *testing.T) {
	const maxSize = 700
	l := openLog(t, t.TempDir(), tinyOptions())
	defer l.Close()
	appendRange(t, l, 1, 300, 1, maxSize, 20)
	es, err := l.Entries(100, 200, 0)
	require.NoError(t, err)
	require.Len(t, es, 100)
	last, err := l.TruncateTail(150).Wait(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(149), last)
	appendRange(t, l, 150, 260, 2, maxSize, 7)
	es, err = l.Entries(100, 200, 0)
	require.NoError(t, err)
	require.Len(t, es, 100)
	for k, e := range es {
		i := uint64(100 + k)
		term := uint64(1)
		if i >= 150 {
			term = 2
		}
		requireEntry(t, e, i, term, maxSize)
	}
}

// TestTermFromDisk asks for terms that are not held in memory (the log was
// reopened after its index was flushed), across term changes.
func TestTermFromDisk(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, tinyOptions())
	termOf := func(i uint64) uint64 { return 1 + i/37 }
	for i := uint64(1); i <= 300; i++ {
		_, err := l.Append([]Entry{{Index: i, Term: termOf(i), Data: payload(i, sizeOf(i, 900))}}).Wait(context.Background())
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())
	l = openLog(t, dir, tinyOptions())
	defer l.Close()
	for i := uint64(1); i <= 300; i++ {
		_, held := l.terms.term(i)
		term, err := l.Term(i)
		require.NoError(t, err, "index %d (held in memory: %v)", i, held)
		assert.Equal(t, termOf(i), term, "index %d", i)
	}
	_, held := l.terms.term(1)
	assert.False(t, held, "the test must read terms from disk")
}
