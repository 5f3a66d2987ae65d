package vfs

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteGuard(t *testing.T) {
	mem := NewMem()
	require.NoError(t, mem.MkdirAll("d"))
	f, err := mem.Create("d/a")
	require.NoError(t, err)
	require.NoError(t, f.Close())

	var calls []string
	g := NewWriteGuard(mem, func(call, name string) { calls = append(calls, call+" "+name) })

	// Reading reports nothing.
	rf, err := g.OpenReadOnly("d/a")
	require.NoError(t, err)
	require.NoError(t, rf.Close())
	_, err = g.List("d")
	require.NoError(t, err)
	_, err = g.Exists("d/a")
	require.NoError(t, err)
	assert.Empty(t, calls)

	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"create", func() error {
			f, err := g.Create("d/b")
			if err == nil {
				f.Close()
			}
			return err
		}, "Create d/b"},
		{"open for writing", func() error {
			f, err := g.Open("d/a")
			if err == nil {
				f.Close()
			}
			return err
		}, "Open for writing d/a"},
		{"rename", func() error { return g.Rename("d/b", "d/c") }, "Rename d/b -> d/c"},
		{"remove", func() error { return g.Remove("d/c") }, "Remove d/c"},
		{"mkdir", func() error { return g.MkdirAll("e") }, "MkdirAll e"},
		{"syncdir", func() error { return g.SyncDir("d") }, "SyncDir d"},
		{"lock", func() error {
			l, err := g.Lock("d")
			if err == nil {
				l.Close()
			}
			return err
		}, "Lock d"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls = nil
			require.NoError(t, tc.call(), "the call still goes through")
			assert.Equal(t, []string{tc.want}, calls)
		})
	}
}
