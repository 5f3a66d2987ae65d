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

// BenchmarkFindMatch measures one FindMatch over a 100 000-entry log with a
// term change every 1000 entries, with the terms of every index in memory
// (the writing process) and with none (after a clean reopen: each probe of
// the binary search reads an entry's header from the page cache).
func BenchmarkFindMatch(b *testing.B) {
	dir := b.TempDir()
	l := openLog(b, dir, Options{LogFileSize: 64 << 20})
	const n = 100_000
	es := make([]Entry, 0, 1000)
	for i := uint64(1); i <= n; i += 1000 {
		es = es[:0]
		for j := i; j < i+1000; j++ {
			es = append(es, Entry{Index: j, Term: 1 + j/1000, Data: make([]byte, 128)})
		}
		if _, err := l.Append(es).Wait(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	run := func(b *testing.B, l *Log) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			// A leader whose log diverged at a term boundary.
			term := uint64(1 + (i*7919)%99)
			if _, _, ok, err := l.FindMatch(term, n); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	}
	b.Run("terms-in-memory", func(b *testing.B) { run(b, l) })
	require.NoError(b, l.Close())
	l = openLog(b, dir, Options{LogFileSize: 64 << 20})
	defer l.Close()
	b.Run("terms-from-disk", func(b *testing.B) { run(b, l) })
}
