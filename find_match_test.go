package raftlog

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// findMatchTerms is the log of the FindMatch tests: four entries per 64 KiB
// file, so each group of four is in its own file.
var findMatchTerms = []uint64{1, 1, 1, 1, 2, 2, 2, 4, 4, 4, 5, 5}

func bruteForceMatch(terms []uint64, term, index uint64) (uint64, uint64, bool) {
	type point struct{ t, i uint64 }
	held := []point{{0, 0}} // the point below the first index of a new log
	for k, t := range terms {
		held = append(held, point{t, uint64(k + 1)})
	}
	for k := len(held) - 1; k >= 0; k-- {
		p := held[k]
		if (p.t <= term && p.i < index) || (p.t == term && p.i == index) {
			return p.t, p.i, true
		}
	}
	return 0, 0, false
}

func TestFindMatch(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, tinyOptions())
	data := make([]byte, 15<<10) // four per file
	for k, term := range findMatchTerms {
		_, err := l.Append([]Entry{{Index: uint64(k + 1), Term: term, Data: data}}).Wait(context.Background())
		require.NoError(t, err)
	}
	pos4, err := l.iq.Position(4)
	require.NoError(t, err)
	pos5, err := l.iq.Position(5)
	require.NoError(t, err)
	require.NotEqual(t, pos4/l.opts.LogFileSize, pos5/l.opts.LogFileSize, "the groups are in different files")

	check := func(t *testing.T, l *Log) {
		for term := uint64(0); term <= 6; term++ {
			for index := uint64(0); index <= 13; index++ {
				wt, wi, wok := bruteForceMatch(findMatchTerms, term, index)
				gt, gi, gok, err := l.FindMatch(term, index)
				require.NoError(t, err)
				require.Equal(t, []any{wt, wi, wok}, []any{gt, gi, gok}, "FindMatch(%d, %d)", term, index)
			}
		}
	}
	t.Run("cache full", func(t *testing.T) { check(t, l) })
	t.Run("cache partly filled", func(t *testing.T) {
		l.terms.reset(6, []termRun{{first: 6, term: 2}, {first: 8, term: 4}, {first: 11, term: 5}})
		check(t, l)
	})
	require.NoError(t, l.Close())
	t.Run("cache empty", func(t *testing.T) {
		l := openLog(t, dir, tinyOptions())
		defer l.Close()
		_, ok := l.terms.term(5)
		require.False(t, ok, "after a clean reopen older terms come from disk")
		check(t, l)
	})
}

func TestTermRuns(t *testing.T) {
	var r termRuns
	for i, term := range findMatchTerms {
		r.add(uint64(i+1), term)
	}
	for i, term := range findMatchTerms {
		got, ok := r.term(uint64(i + 1))
		require.True(t, ok)
		require.Equal(t, term, got, "index %d", i+1)
	}
	tests := []struct {
		name  string
		op    func(r *termRuns)
		index uint64
		want  uint64
		ok    bool
	}{
		{"below base", func(*termRuns) {}, 0, 0, false},
		{"truncate keeps below", func(r *termRuns) { r.truncate(9) }, 8, 4, true},
		{"truncate drops above", func(r *termRuns) { r.truncate(9) }, 11, 4, true}, // caller checks LastIndex
		{"compact drops below", func(r *termRuns) { r.compact(6) }, 5, 0, false},
		{"compact keeps the run of the new first", func(r *termRuns) { r.compact(6) }, 6, 2, true},
		{"truncate everything", func(r *termRuns) { r.truncate(1) }, 3, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c termRuns
			for i, term := range findMatchTerms {
				c.add(uint64(i+1), term)
			}
			tc.op(&c)
			got, ok := c.term(tc.index)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.want, got, fmt.Sprint(c.runs))
		})
	}
}
