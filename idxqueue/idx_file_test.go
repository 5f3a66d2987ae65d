package idxqueue

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/vfs"
)

func TestFileNameRoundTrip(t *testing.T) {
	for _, v := range []uint64{0, 8, 1 << 20, 12345678901234567890, ^uint64(0)} {
		name := fileName(v)
		require.Len(t, name, nameDigits+len(fileSuffix))
		got, ok := parseFileName(name)
		require.True(t, ok, name)
		require.Equal(t, v, got)
	}
	require.Equal(t, "00000000000001048576.idx", fileName(1<<20))
}

func TestParseFileNameRejects(t *testing.T) {
	for _, name := range []string{
		"",
		".idx",
		"0000000000000000008.idx",   // 19 digits
		"000000000000000000008.idx", // 21 digits
		"0000000000000000000a.idx",
		"-0000000000000000008.idx",
		"00000000000000000008.idx.tmp",
		"00000000000000000008.log",
		"18446744073709551616.idx", // 2^64
		"99999999999999999999.idx",
	} {
		_, ok := parseFileName(name)
		require.False(t, ok, name)
	}
}

func FuzzParseFileName(f *testing.F) {
	f.Add("00000000000000000008.idx")
	f.Add("18446744073709551615.idx")
	f.Add("18446744073709551616.idx")
	f.Add("0000000000000000000x.idx")
	f.Fuzz(func(t *testing.T, name string) {
		v, ok := parseFileName(name)
		if ok && fileName(v) != name {
			t.Fatalf("parse(%q) = %d, which formats as %q", name, v, fileName(v))
		}
		if got, ok := parseFileName(fileName(v)); !ok || got != v {
			t.Fatalf("round trip of %d: %d %v", v, got, ok)
		}
	})
}

func TestZeroFill(t *testing.T) {
	for _, size := range []int64{0, 8, 64, int64(len(zeroChunk)) + 8, 17*int64(len(zeroChunk)) + 24} {
		mem := vfs.NewMem()
		f, err := mem.Create("f")
		require.NoError(t, err)
		// Garbage first, so the test sees that zeros were written over it.
		_, err = f.WriteAt(bytes.Repeat([]byte{0xAB}, int(size)), 0)
		require.NoError(t, err)
		require.NoError(t, zeroFill(f, size))
		got, err := f.Size()
		require.NoError(t, err)
		require.Equal(t, size, got)
		buf := make([]byte, size)
		_, err = f.ReadAt(buf, 0)
		require.NoError(t, err)
		require.Equal(t, make([]byte, size), buf)
	}
}

func TestCreateFileDurable(t *testing.T) {
	mem := vfs.NewMem()
	require.NoError(t, mem.MkdirAll("d"))
	f, err := createFile(mem, "d", 16, 64)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte{1}, 8) // the returned file is writable
	require.NoError(t, err)
	require.NoError(t, f.Close())

	crashed := mem.Crash()
	names, err := crashed.List("d")
	require.NoError(t, err)
	require.Equal(t, []string{"00000000000000000016.idx"}, names)
	g, err := crashed.Open(filepath.Join("d", names[0]))
	require.NoError(t, err)
	size, err := g.Size()
	require.NoError(t, err)
	require.Equal(t, int64(64), size)
}

// TestCreateFileFailAtEveryOp fails each operation of createFile in turn and
// checks that, after a crash at that point, loading the directory either
// finds no file or a complete one, and never a leftover temporary.
func TestCreateFileFailAtEveryOp(t *testing.T) {
	for k := int64(0); ; k++ {
		mem := vfs.NewMem()
		require.NoError(t, mem.MkdirAll("d"))
		require.NoError(t, mem.SyncDir("."))
		inj := vfs.OnIndex(k)
		f, err := createFile(vfs.NewErrorFS(mem, inj), "d", 8, 64)
		if !inj.Fired() {
			require.NoError(t, err)
			require.NoError(t, f.Close())
			require.Positive(t, k, "the workload must have operations")
			return
		}
		require.ErrorIs(t, err, vfs.ErrInjected, "k=%d", k)
		for _, fs := range []vfs.FS{mem, mem.Crash()} {
			s := &fileSet{fs: fs, dir: "d", itemsPerFile: 8, shift: 3, files: map[uint64]vfs.File{}}
			require.NoError(t, s.load(), "k=%d", k)
			names, err := fs.List("d")
			require.NoError(t, err)
			for _, n := range names {
				require.Equal(t, "00000000000000000008.idx", n, "k=%d", k)
			}
			require.NoError(t, s.closeAll())
		}
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]int // name → size
		wantErr error
		want    []uint64 // file numbers opened
	}{
		{"empty", nil, nil, nil},
		{"two files and others", map[string]int{
			"00000000000000000000.idx": 64, "00000000000000000008.idx": 64,
			"LOCK": 0, "status": 10, "00000000000000000016.idx.tmp": 3,
		}, nil, []uint64{0, 1}},
		{"misaligned", map[string]int{"00000000000000000004.idx": 64}, ErrCorrupt, nil},
		{"bad digits", map[string]int{"0000000000000000000x.idx": 64}, ErrCorrupt, nil},
		{"short name", map[string]int{"8.idx": 64}, ErrCorrupt, nil},
		{"wrong size", map[string]int{"00000000000000000008.idx": 63}, ErrCorrupt, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := vfs.NewMem()
			require.NoError(t, mem.MkdirAll("d"))
			for name, size := range tt.files {
				f, err := mem.Create(filepath.Join("d", name))
				require.NoError(t, err)
				require.NoError(t, f.Truncate(int64(size)))
				require.NoError(t, f.Close())
			}
			s := &fileSet{fs: mem, dir: "d", itemsPerFile: 8, shift: 3, files: map[uint64]vfs.File{}}
			err := s.load()
			defer func() { require.NoError(t, s.closeAll()) }()
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				for name := range tt.files {
					require.ErrorContains(t, err, name, "the error names the file")
				}
				return
			}
			require.NoError(t, err)
			var got []uint64
			for num := range s.files {
				got = append(got, num)
			}
			require.ElementsMatch(t, tt.want, got)
			names, err := mem.List("d")
			require.NoError(t, err)
			for _, n := range names {
				require.NotContains(t, n, tmpSuffix, "leftover temporaries are removed")
			}
		})
	}
}

func TestFileSetRead(t *testing.T) {
	mem := vfs.NewMem()
	s := &fileSet{fs: mem, dir: "d", itemsPerFile: 8, shift: 3, files: map[uint64]vfs.File{}}
	require.NoError(t, s.load())
	f, err := s.ensure(13)
	require.NoError(t, err)
	same, err := s.ensure(9)
	require.NoError(t, err)
	require.Same(t, f, same, "indexes 8..15 share one file")
	_, err = f.WriteAt([]byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 5*slotSize)
	require.NoError(t, err)

	v, err := s.read(13)
	require.NoError(t, err)
	require.Equal(t, int64(-2), v)
	_, err = s.read(3)
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorContains(t, err, fileName(0))

	require.NoError(t, s.closeAll())
	require.NoError(t, s.closeAll())
	_, err = s.read(13)
	require.ErrorIs(t, err, ErrClosed)
	_, err = s.ensure(100)
	require.ErrorIs(t, err, ErrClosed)
	require.Equal(t, fmt.Sprint([]string{fileName(8)}), fmt.Sprint(mustList(t, mem, "d")))
}

func mustList(t *testing.T, fs vfs.FS, dir string) []string {
	t.Helper()
	names, err := fs.List(dir)
	require.NoError(t, err)
	return names
}

// FuzzLoad feeds Open's directory scan one file of any name and size: it
// must accept it, ignore it or reject it with ErrCorrupt, never panic.
func FuzzLoad(f *testing.F) {
	f.Add("00000000000000000008.idx", uint16(64))
	f.Add("00000000000000000008.idx", uint16(65))
	f.Add("00000000000000000012.idx", uint16(64))
	f.Add("00000000000000000016.idx.tmp", uint16(3))
	f.Add("x.idx", uint16(0))
	f.Add("status", uint16(7))
	f.Fuzz(func(t *testing.T, name string, size uint16) {
		if name == "" || strings.ContainsAny(name, "/\\\x00") || name == "." || name == ".." {
			t.Skip()
		}
		mem := vfs.NewMem()
		require.NoError(t, mem.MkdirAll("d"))
		file, err := mem.Create(filepath.Join("d", name))
		if err != nil {
			t.Skip()
		}
		require.NoError(t, file.Truncate(int64(size)))
		require.NoError(t, file.Close())
		s := &fileSet{fs: mem, dir: "d", itemsPerFile: 8, shift: 3, files: map[uint64]vfs.File{}}
		err = s.load()
		defer s.closeAll()
		first, valid := parseFileName(name)
		switch {
		case strings.HasSuffix(name, tmpSuffix):
			require.NoError(t, err)
			require.Empty(t, mustList(t, mem, "d"))
		case !strings.HasSuffix(name, fileSuffix):
			require.NoError(t, err)
			require.Empty(t, s.files)
		case valid && first%8 == 0 && size == 64:
			require.NoError(t, err)
			require.Len(t, s.files, 1)
			_, err := s.read(first + 7)
			require.NoError(t, err)
		default:
			require.ErrorIs(t, err, ErrCorrupt)
		}
	})
}
