package hrafttest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Factory opens the stores under test and returns them with a function that
// closes them. A persistent factory opens the same storage again when it is
// called a second time with the same t (after the close function ran).
type Factory func(t *testing.T) (raft.LogStore, raft.StableStore, func())

// Option changes what Run checks.
type Option func(*config)

type config struct{ persistent bool }

// Persistent says the factory reopens the same storage for the same t, so
// the reopen checks run and fail if anything is lost. Without it they are
// skipped.
func Persistent() Option { return func(c *config) { c.persistent = true } }

// Run runs the conformance suite, each check as a subtest with stores of
// its own from factory.
func Run(t *testing.T, factory Factory, opts ...Option) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, f Factory)
	}{
		{"EmptyLog", testEmptyLog},
		{"RoundTrip", testRoundTrip},
		{"StoreLogsBatches", testStoreLogsBatches},
		{"NotFound", testNotFound},
		{"DeleteRange", testDeleteRange},
		{"DeleteAllThenStoreAnywhere", testDeleteAllThenStoreAnywhere},
		{"StableStore", testStableStore},
		{"StableAbsentKeys", testStableAbsentKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, factory) })
	}
	t.Run("Reopen", func(t *testing.T) {
		if !c.persistent {
			t.Skip("factory not declared Persistent")
		}
		testReopen(t, factory)
	})
}

func open(t *testing.T, f Factory) (raft.LogStore, raft.StableStore) {
	t.Helper()
	logs, stable, closeFn := f(t)
	t.Cleanup(closeFn)
	return logs, stable
}

// mkLog builds a log whose every field depends on index, so a store that
// mixes entries up or drops a field is caught.
func mkLog(index, term uint64) *raft.Log {
	return &raft.Log{
		Index:      index,
		Term:       term,
		Type:       raft.LogType(index % 6),
		Data:       fmt.Appendf(nil, "data-%d", index),
		Extensions: fmt.Appendf(nil, "ext-%d", index),
		AppendedAt: time.Unix(1_700_000_000, int64(index)*1000),
	}
}

func mkLogs(lo, hi, term uint64) []*raft.Log {
	var ls []*raft.Log
	for i := lo; i <= hi; i++ {
		ls = append(ls, mkLog(i, term))
	}
	return ls
}

func requireLog(t *testing.T, s raft.LogStore, want *raft.Log) {
	t.Helper()
	var got raft.Log
	require.NoError(t, s.GetLog(want.Index, &got), "GetLog(%d)", want.Index)
	assert.Equal(t, want.Index, got.Index, "Index")
	assert.Equal(t, want.Term, got.Term, "Term of %d", want.Index)
	assert.Equal(t, want.Type, got.Type, "Type of %d", want.Index)
	assert.True(t, bytes.Equal(want.Data, got.Data), "Data of %d: %q", want.Index, got.Data)
	assert.True(t, bytes.Equal(want.Extensions, got.Extensions), "Extensions of %d: %q", want.Index, got.Extensions)
	assert.True(t, want.AppendedAt.Equal(got.AppendedAt), "AppendedAt of %d: %v, want %v", want.Index, got.AppendedAt, want.AppendedAt)
}

func requireNotFound(t *testing.T, s raft.LogStore, index uint64) {
	t.Helper()
	var got raft.Log
	err := s.GetLog(index, &got)
	// == on purpose: raft compares this error with ==, not errors.Is.
	require.True(t, err == raft.ErrLogNotFound, "GetLog(%d) = %v, want exactly raft.ErrLogNotFound", index, err) //nolint:errorlint
}

// requireCompacted checks an index below FirstIndex after a prefix delete:
// raft never reads there, so a store may keep it until it drops whole files
// (raft-wal does), but it must not return anything but the original entry.
func requireCompacted(t *testing.T, s raft.LogStore, want *raft.Log) {
	t.Helper()
	var got raft.Log
	err := s.GetLog(want.Index, &got)
	if err == raft.ErrLogNotFound { //nolint:errorlint // raft compares with ==
		return
	}
	require.NoError(t, err, "GetLog(%d) below FirstIndex: want raft.ErrLogNotFound or the original entry", want.Index)
	requireLog(t, s, want)
}

func requireRange(t *testing.T, s raft.LogStore, first, last uint64) {
	t.Helper()
	f, err := s.FirstIndex()
	require.NoError(t, err)
	l, err := s.LastIndex()
	require.NoError(t, err)
	require.Equal(t, [2]uint64{first, last}, [2]uint64{f, l}, "[FirstIndex, LastIndex]")
}

func testEmptyLog(t *testing.T, f Factory) {
	logs, _ := open(t, f)
	requireRange(t, logs, 0, 0)
	requireNotFound(t, logs, 1)
}

func testRoundTrip(t *testing.T, f Factory) {
	logs, _ := open(t, f)
	want := []*raft.Log{
		mkLog(1, 1),
		{Index: 2, Term: 1, Type: raft.LogConfiguration, Data: bytes.Repeat([]byte{0xAB}, 64<<10)},
		{Index: 3, Term: 2, Type: raft.LogNoop},
		mkLog(4, 3),
	}
	for _, l := range want {
		require.NoError(t, logs.StoreLog(l))
	}
	requireRange(t, logs, 1, 4)
	for _, l := range want {
		requireLog(t, logs, l)
	}
}

func testStoreLogsBatches(t *testing.T, f Factory) {
	tests := []struct {
		name  string
		sizes []int
	}{
		{"single", []int{1}},
		{"ones", []int{1, 1, 1, 1}},
		{"mixed", []int{3, 1, 64, 7}},
		{"large", []int{1000, 1000}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs, _ := open(t, f)
			next := uint64(1)
			for bi, n := range tc.sizes {
				batch := mkLogs(next, next+uint64(n)-1, uint64(bi+1))
				require.NoError(t, logs.StoreLogs(batch))
				next += uint64(n)
				requireRange(t, logs, 1, next-1)
			}
			term := uint64(1)
			idx := uint64(1)
			for _, n := range tc.sizes {
				for range n {
					requireLog(t, logs, mkLog(idx, term))
					idx++
				}
				term++
			}
		})
	}
}

func testNotFound(t *testing.T, f Factory) {
	logs, _ := open(t, f)
	require.NoError(t, logs.StoreLogs(mkLogs(1, 10, 1)))
	require.NoError(t, logs.DeleteRange(1, 3))
	for _, i := range []uint64{11, 1000} {
		requireNotFound(t, logs, i)
	}
	for _, i := range []uint64{1, 3} {
		requireCompacted(t, logs, mkLog(i, 1))
	}
	requireLog(t, logs, mkLog(4, 1))
}

func testDeleteRange(t *testing.T, f Factory) {
	tests := []struct {
		name        string
		lo, hi      uint64
		first, last uint64
	}{
		{"prefix", 1, 4, 5, 10},
		{"prefix from 0", 0, 6, 7, 10},
		{"suffix", 7, 10, 1, 6},
		{"suffix past the end", 8, 100, 1, 7},
		{"everything", 1, 10, 0, 0},
		{"everything, wider", 1, 1 << 16, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs, _ := open(t, f)
			require.NoError(t, logs.StoreLogs(mkLogs(1, 10, 1)))
			require.NoError(t, logs.DeleteRange(tc.lo, tc.hi))
			requireRange(t, logs, tc.first, tc.last)
			for i := uint64(1); i <= 10; i++ {
				switch {
				case tc.last != 0 && i >= tc.first && i <= tc.last:
					requireLog(t, logs, mkLog(i, 1))
				case tc.last != 0 && i < tc.first:
					requireCompacted(t, logs, mkLog(i, 1))
				default:
					requireNotFound(t, logs, i)
				}
			}
			// The log goes on after the deletion: a new term after a
			// suffix, the next index after a prefix, anywhere after all.
			next := tc.last + 1
			if tc.last == 0 {
				next = 500
			}
			require.NoError(t, logs.StoreLogs(mkLogs(next, next+2, 2)))
			for i := next; i <= next+2; i++ {
				requireLog(t, logs, mkLog(i, 2))
			}
			first := tc.first
			if tc.last == 0 {
				first = next
			}
			requireRange(t, logs, first, next+2)
		})
	}
}

func testDeleteAllThenStoreAnywhere(t *testing.T, f Factory) {
	tests := []struct {
		name string
		next uint64
	}{
		{"right after", 11},
		{"below", 3},
		{"far above", 1 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs, _ := open(t, f)
			require.NoError(t, logs.StoreLogs(mkLogs(1, 10, 1)))
			require.NoError(t, logs.DeleteRange(1, 10))
			requireRange(t, logs, 0, 0)
			require.NoError(t, logs.StoreLogs(mkLogs(tc.next, tc.next+4, 3)))
			requireRange(t, logs, tc.next, tc.next+4)
			for i := uint64(1); i <= 10; i++ {
				if i < tc.next || i > tc.next+4 {
					requireNotFound(t, logs, i)
				}
			}
			requireLog(t, logs, mkLog(tc.next+4, 3))
		})
	}
}

func testStableStore(t *testing.T, f Factory) {
	_, stable := open(t, f)
	tests := []struct {
		key, val []byte
	}{
		{[]byte("CurrentTerm"), []byte("x")},
		{[]byte("LastVoteCand"), []byte("node-2")},
		{[]byte{0, 1, 2}, bytes.Repeat([]byte("v"), 1000)},
	}
	for _, tc := range tests {
		require.NoError(t, stable.Set(tc.key, tc.val))
	}
	for _, tc := range tests {
		got, err := stable.Get(tc.key)
		require.NoError(t, err)
		require.Equal(t, tc.val, got, "Get(%q)", tc.key)
	}
	require.NoError(t, stable.Set([]byte("LastVoteCand"), []byte("node-3")))
	got, err := stable.Get([]byte("LastVoteCand"))
	require.NoError(t, err)
	require.Equal(t, []byte("node-3"), got, "overwritten value")

	for _, v := range []uint64{0, 1, 1 << 40, ^uint64(0)} {
		require.NoError(t, stable.SetUint64([]byte("LastVoteTerm"), v))
		u, err := stable.GetUint64([]byte("LastVoteTerm"))
		require.NoError(t, err)
		require.Equal(t, v, u)
	}
}

// testStableAbsentKeys accepts what raft accepts: no error, or an error
// whose text is exactly "not found" (raft matches it by string; raft-boltdb
// and raft.InmemStore return one), always with an empty value.
func testStableAbsentKeys(t *testing.T, f Factory) {
	_, stable := open(t, f)
	notFoundOK := func(err error) bool { return err == nil || err.Error() == "not found" }
	v, err := stable.Get([]byte("absent"))
	require.True(t, notFoundOK(err), "Get of an absent key: %v", err)
	require.Empty(t, v)
	u, err := stable.GetUint64([]byte("absent-u"))
	require.True(t, notFoundOK(err), "GetUint64 of an absent key: %v", err)
	require.Zero(t, u)
}

func testReopen(t *testing.T, f Factory) {
	logs, stable, closeFn := f(t)
	require.NoError(t, logs.StoreLogs(mkLogs(1, 20, 1)))
	require.NoError(t, logs.StoreLogs(mkLogs(21, 30, 2)))
	require.NoError(t, logs.DeleteRange(1, 5))
	require.NoError(t, logs.DeleteRange(28, 30))
	require.NoError(t, stable.Set([]byte("k"), []byte("v")))
	require.NoError(t, stable.SetUint64([]byte("u"), 42))
	closeFn()

	logs, stable, closeFn = f(t)
	requireRange(t, logs, 6, 27)
	for i := uint64(6); i <= 27; i++ {
		requireLog(t, logs, mkLog(i, 1+i/21))
	}
	requireCompacted(t, logs, mkLog(5, 1))
	requireNotFound(t, logs, 28)
	v, err := stable.Get([]byte("k"))
	require.NoError(t, err)
	require.Equal(t, []byte("v"), v)
	u, err := stable.GetUint64([]byte("u"))
	require.NoError(t, err)
	require.Equal(t, uint64(42), u)

	// A delete-all survives a reopen too, and the log restarts anywhere.
	require.NoError(t, logs.DeleteRange(6, 27))
	closeFn()
	logs, _ = open(t, f)
	requireRange(t, logs, 0, 0)
	requireNotFound(t, logs, 10)
	require.NoError(t, logs.StoreLogs(mkLogs(100, 101, 3)))
	requireRange(t, logs, 100, 101)
	requireLog(t, logs, mkLog(101, 3))
}
