package raftlog

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/status"
)

func TestProperties(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, tinyOptions())
	_, ok := l.Property("CurrentTerm")
	assert.False(t, ok)
	require.NoError(t, l.SetProperty("CurrentTerm", []byte{7}))
	require.NoError(t, l.SetProperty("LastVoteCand", []byte("node-2")))
	require.NoError(t, l.SetProperty("gone", []byte("x")))
	require.NoError(t, l.SetProperty("gone", nil))
	err := l.SetProperty("big", bytes.Repeat([]byte{1}, 20<<10))
	require.ErrorIs(t, err, status.ErrTooLarge)
	v, ok := l.Property("CurrentTerm")
	require.True(t, ok)
	v[0] = 99 // the caller's copy
	appendRange(t, l, 1, 10, 1, 100, 10)
	require.NoError(t, l.Close())
	require.ErrorIs(t, l.SetProperty("k", []byte{1}), ErrClosed)

	l = openLog(t, dir, tinyOptions())
	defer l.Close()
	v, ok = l.Property("CurrentTerm")
	require.True(t, ok)
	assert.Equal(t, []byte{7}, v)
	v, _ = l.Property("LastVoteCand")
	assert.Equal(t, []byte("node-2"), v)
	_, ok = l.Property("gone")
	assert.False(t, ok)
	_, ok = l.Property("big")
	assert.False(t, ok, "a refused set changes nothing")
	assert.Equal(t, uint64(10), l.LastIndex())
}
