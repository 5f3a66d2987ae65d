package logqueue

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/vfs"
)

func TestOptionsValidation(t *testing.T) {
	exec := newExecutor(t)
	fsys := vfs.NewMem()
	tests := []struct {
		name string
		opts Options
	}{
		{"no FS", Options{Executor: exec}},
		{"no executor", Options{FS: fsys}},
		{"not a power of two", Options{FS: fsys, Executor: exec, FileSize: 100 << 10}},
		{"too small", Options{FS: fsys, Executor: exec, FileSize: 32 << 10}},
		{"bad prealloc", Options{FS: fsys, Executor: exec, FileSize: testFileSize, Prealloc: 7}},
		{"zero-ahead lead too small", Options{FS: fsys, Executor: exec, FileSize: testFileSize, ZeroAheadLead: 4096}},
		{"tiny buffer", Options{FS: fsys, Executor: exec, FileSize: testFileSize, BufferSize: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(tt.opts)
			assert.ErrorIs(t, err, ErrInvalidOptions)
		})
	}
	opts := Options{FS: fsys, Executor: exec}
	require.NoError(t, opts.validate())
	assert.Equal(t, int64(DefaultFileSize), opts.FileSize)
	assert.Equal(t, DefaultBufferSize, opts.BufferSize)
	assert.Equal(t, ZeroAhead, opts.Prealloc)
	assert.Equal(t, int64(defaultZeroLead), opts.ZeroAheadLead)
	for mode, name := range map[PreallocMode]string{ZeroAhead: "zeroahead", Fallocate: "fallocate", ZeroFill: "zerofill", Sparse: "sparse", 9: "PreallocMode(9)"} {
		assert.Equal(t, name, mode.String())
		parsed, err := ParsePreallocMode(name)
		if mode > Sparse {
			assert.ErrorIs(t, err, ErrInvalidOptions)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, mode, parsed)
	}
}
