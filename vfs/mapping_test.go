package vfs

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMapReadOnly checks that a mapping shows the file's bytes, including
// those written through a descriptor after the mapping was made.
func TestMapReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := Default.Create(path)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Truncate(8192))
	_, err = f.WriteAt([]byte("before"), 100)
	require.NoError(t, err)

	m, ok := f.(Mapper)
	require.True(t, ok, "the real file system's files map")
	b, err := m.MapReadOnly(8192)
	require.NoError(t, err)
	defer func() { require.NoError(t, Unmap(b)) }()
	assert.Equal(t, "before", string(b[100:106]))

	_, err = f.WriteAt([]byte("after!"), 4100)
	require.NoError(t, err)
	assert.Equal(t, "after!", string(b[4100:4106]), "a later write is seen through the mapping")

	for _, size := range []int64{0, -1} {
		_, err := m.MapReadOnly(size)
		assert.ErrorIs(t, err, ErrNotMappable, "size %d", size)
	}
}

// TestMemFilesDoNotMap: MemFS files have no mapping, so callers fall back to
// ReadAt on them.
func TestMemFilesDoNotMap(t *testing.T) {
	mem := NewMem()
	require.NoError(t, mem.MkdirAll("d"))
	f, err := mem.Create("d/f")
	require.NoError(t, err)
	defer f.Close()
	_, ok := f.(Mapper)
	assert.False(t, ok)
}
