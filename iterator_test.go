package raftlog

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIteratorKeptEntries keeps every entry an Iterator returns, over many
// read-ahead blocks and files, and checks them all at the end: entries are
// handed out without a copy, so a block reused for a later read would show
// here.
func TestIteratorKeptEntries(t *testing.T) {
	const maxSize, last = 1500, 600
	l := openLog(t, t.TempDir(), tinyOptions())
	defer l.Close()
	appendRange(t, l, 1, last, 1, maxSize, 25)
	it := l.NewIterator(1, IterOptions{ReadAhead: 4 << 10})
	defer it.Close()
	var kept []Entry
	for {
		es, err := it.Next(7, 6000)
		require.NoError(t, err)
		if len(es) == 0 {
			break
		}
		kept = append(kept, es...)
	}
	require.Len(t, kept, last)
	for k, e := range kept {
		requireEntry(t, e, uint64(k+1), 1, maxSize)
	}
}

// TestIteratorReuseBuffers reads a log of many read-ahead blocks and files
// with ReuseBuffers and checks every call's entries before the next call
// (the only time they are promised), that the iteration still returns every
// entry once, and that it reads into recycled blocks rather than new ones.
func TestIteratorReuseBuffers(t *testing.T) {
	const maxSize, last = 1500, 600
	l := openLog(t, t.TempDir(), tinyOptions())
	defer l.Close()
	appendRange(t, l, 1, last, 1, maxSize, 25)
	cases := []struct {
		name                 string
		readAhead            int
		maxEntries, maxBytes int
	}{
		{"byte limit cuts inside blocks", 4 << 10, 0, 6000},
		{"entry limit", 4 << 10, 7, 0},
		{"both, item larger than the read-ahead", 1 << 10, 5, 3000},
		{"one entry at a time", 8 << 10, 1, 0},
		{"whole file per block", 64 << 10, 20, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			it := l.NewIterator(1, IterOptions{ReadAhead: tc.readAhead, ReuseBuffers: true})
			defer it.Close()
			reads, next := 0, uint64(1)
			for {
				es, err := it.Next(tc.maxEntries, tc.maxBytes)
				require.NoError(t, err)
				if len(es) == 0 {
					break
				}
				reads++
				for _, e := range es {
					requireEntry(t, e, next, 1, maxSize)
					next++
				}
			}
			require.Equal(t, uint64(last+1), next)
			// Each file (64 KiB) is read in blocks of the read-ahead; with
			// reuse, the blocks made stay at a handful whatever the count
			// of calls and blocks.
			require.Greater(t, reads, 20)
			t.Logf("%d calls, %d blocks made, %d reused", reads, it.blocks.made, it.blocks.reused)
			require.LessOrEqual(t, it.blocks.made, maxFreeBlocks+4)
			require.Greater(t, it.blocks.reused, it.blocks.made, "the reads went into recycled blocks")
		})
	}
}

// TestIteratorReuseBuffersAtTail iterates right behind the appender, so that
// entries come from the in-flight buffers as well as the files, and checks
// each call's entries before the next call.
func TestIteratorReuseBuffersAtTail(t *testing.T) {
	const maxSize = 900
	l := openLog(t, t.TempDir(), tinyOptions())
	defer l.Close()
	it := l.NewIterator(1, IterOptions{ReadAhead: 4 << 10, ReuseBuffers: true})
	defer it.Close()
	next := uint64(1)
	for round := uint64(0); round < 40; round++ {
		from := round*20 + 1
		es := make([]Entry, 0, 20)
		for i := from; i < from+20; i++ {
			es = append(es, entryFor(i, 1, maxSize))
		}
		l.Append(es) // not waited for: the iterator may read it in flight
		for {
			got, err := it.Next(9, 0)
			require.NoError(t, err)
			if len(got) == 0 {
				break
			}
			for _, e := range got {
				requireEntry(t, e, next, 1, maxSize)
				next++
			}
		}
	}
	require.Greater(t, next, uint64(1))
}
