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
