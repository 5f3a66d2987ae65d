package raftlog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/logqueue"
)

func TestRepair(t *testing.T) {
	dir := t.TempDir()
	const n, maxSize = 600, 900
	l := openLog(t, dir, tinyOptions())
	appendRange(t, l, 1, n, 1, maxSize, 50)
	pos, err := l.iq.Position(200)
	require.NoError(t, err)
	_, err = l.SetHardState(HardState{Term: 1, Commit: 450}).Wait(context.Background())
	require.NoError(t, err)
	require.NoError(t, l.Close())

	fileSize := tinyOptions().LogFileSize
	name := filepath.Join(dir, fmt.Sprintf("%020d.log", pos-pos%fileSize))
	original, err := os.ReadFile(name)
	require.NoError(t, err)
	damaged := append([]byte(nil), original...)
	damaged[pos%fileSize+logqueue.ItemHeaderSize+3] ^= 0x10 // a payload bit of entry 200
	require.NoError(t, os.WriteFile(name, damaged, 0o644))

	// Open scans only the unpersisted tail; the damage is met on read.
	l = openLog(t, dir, tinyOptions())
	_, err = l.Entry(200)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), filepath.Base(name))
	_, err = Repair(dir, tinyOptions())
	require.ErrorIs(t, err, ErrLocked, "Repair refuses a directory that is open")
	require.NoError(t, l.Close())

	rep, err := Repair(dir, tinyOptions())
	require.NoError(t, err)
	assert.True(t, rep.Corrupt)
	assert.Equal(t, uint64(199), rep.LastIndex)
	assert.Equal(t, filepath.Base(name), rep.File)
	assert.Equal(t, pos%fileSize, rep.Offset)
	assert.Equal(t, uint64(450), rep.CommitLowered)
	assert.Greater(t, rep.RemovedBytes, int64(0))

	// The side directory holds exactly the removed bytes.
	side, err := os.ReadFile(filepath.Join(rep.SideDir, fmt.Sprintf("%s.from-%d", filepath.Base(name), rep.Offset)))
	require.NoError(t, err)
	assert.Equal(t, damaged[rep.Offset:rep.Offset+int64(len(side))], side)
	moved, err := filepath.Glob(filepath.Join(rep.SideDir, "*.log"))
	require.NoError(t, err)
	assert.NotEmpty(t, moved, "later log files are moved aside, not deleted")

	l = openLog(t, dir, tinyOptions())
	defer l.Close()
	assert.Equal(t, uint64(199), l.LastIndex())
	assert.Equal(t, uint64(199), l.HardState().Commit)
	for i := uint64(1); i <= 199; i++ {
		checkEntry(t, l, i, 1, maxSize)
	}
	appendRange(t, l, 200, 260, 2, maxSize, 7)
	checkEntry(t, l, 260, 2, maxSize)

	rep, err = Repair(t.TempDir(), tinyOptions())
	require.NoError(t, err)
	assert.False(t, rep.Corrupt)
}
