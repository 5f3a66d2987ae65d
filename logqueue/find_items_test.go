package logqueue

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/vfs"
)

func TestFindItems(t *testing.T) {
	type found struct {
		index uint64
		pos   int64
	}
	tests := []struct {
		name string
		// damage changes the written log; from is where the search starts.
		damage func(t *testing.T, fsys *vfs.MemFS, items []item) (from int64)
		want   func(items []item) []found
	}{
		{
			name: "clean end finds nothing",
			damage: func(t *testing.T, _ *vfs.MemFS, items []item) int64 {
				last := items[len(items)-1]
				return last.pos + EncodedSize(len(last.header), len(last.data))
			},
			want: func([]item) []found { return nil },
		},
		{
			name: "items after a zeroed one, in its file and in later files",
			damage: func(t *testing.T, fsys *vfs.MemFS, items []item) int64 {
				writeAt(t, fsys, items[10].pos, make([]byte, ItemHeaderSize))
				return items[10].pos
			},
			want: func(items []item) []found {
				var out []found
				for _, it := range items[11:] {
					out = append(out, found{it.meta.Index, it.pos})
				}
				return out
			},
		},
		{
			name: "items after garbage at an unaligned offset",
			damage: func(t *testing.T, fsys *vfs.MemFS, items []item) int64 {
				writeAt(t, fsys, items[3].pos+7, []byte("garbage that is not an item"))
				return items[3].pos
			},
			want: func(items []item) []found {
				var out []found
				for _, it := range items[4:] {
					out = append(out, found{it.meta.Index, it.pos})
				}
				return out
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := vfs.NewMem()
			opts, tags := testOptions(t, fsys)
			q := openQueue(t, opts)
			require.NoError(t, q.StartWriting(0, 1))
			var items []item
			for idx := uint64(1); idx <= 200; idx++ {
				items = append(items, addItem(t, q, idx, 0, 900))
			}
			require.NoError(t, q.Flush(1))
			tags.wait(t, 1)
			require.NoError(t, q.Close())
			from := tc.damage(t, fsys, items)

			opts2, _ := testOptions(t, fsys)
			q2 := openQueue(t, opts2)
			var got []found
			extent, err := q2.FindItems(from, func(m ItemMeta, at int64) bool {
				got = append(got, found{m.Index, at})
				return true
			})
			require.NoError(t, err)
			assert.Equal(t, tc.want(items), got)
			// The extent found on the way is TailExtent's.
			want, err := q2.TailExtent(from)
			require.NoError(t, err)
			assert.Equal(t, want, extent)

			// visit returning false stops the search.
			calls := 0
			_, err = q2.FindItems(from, func(ItemMeta, int64) bool { calls++; return false })
			require.NoError(t, err)
			assert.LessOrEqual(t, calls, 1)
		})
	}
}

// writeAt overwrites log bytes at pos in the test directory.
func writeAt(t *testing.T, fsys *vfs.MemFS, pos int64, b []byte) {
	t.Helper()
	writeAtIn(t, fsys, testFileSize, pos, b)
}

// writeAtIn is writeAt for a log of files of fileSize bytes.
func writeAtIn(t *testing.T, fsys *vfs.MemFS, fileSize, pos int64, b []byte) {
	t.Helper()
	f, err := fsys.Open("log/" + fileName(pos-pos%fileSize))
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteAt(b, pos%fileSize)
	require.NoError(t, err)
	require.NoError(t, f.Sync())
}
