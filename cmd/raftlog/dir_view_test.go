package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/idxqueue"
	"github.com/raftlog/raftlog/logqueue"
)

func TestInferSizes(t *testing.T) {
	const logName, idxName = "00000000000000000000.log", "00000000000000000000.idx"
	tests := []struct {
		name         string
		files        map[string]int64 // name -> size
		wantLog      int64
		wantIdx      uint64
		wantErr      error
		wantErrMatch string
	}{
		{"no files: the defaults", nil, logqueue.DefaultFileSize, idxqueue.DefaultItemsPerFile, nil, ""},
		{"from the files", map[string]int64{logName: 128 << 10, idxName: 32 * 8, "status": 7}, 128 << 10, 32, nil, ""},
		{"a name that is not ours", map[string]int64{"0.log": 5, "x.idx": 3}, logqueue.DefaultFileSize, idxqueue.DefaultItemsPerFile, nil, ""},
		{"log size not a power of two", map[string]int64{logName: 100 << 10}, 0, 0, logqueue.ErrBadFile, logName},
		{"log size too small", map[string]int64{logName: 4 << 10}, 0, 0, logqueue.ErrBadFile, "at least 65536"},
		{"index size not a multiple of 8", map[string]int64{idxName: 100}, 0, 0, idxqueue.ErrCorrupt, idxName},
		{"index slots not a power of two", map[string]int64{idxName: 24 * 8}, 0, 0, idxqueue.ErrCorrupt, idxName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, size := range tt.files {
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o644))
				require.NoError(t, os.Truncate(filepath.Join(dir, name), size))
			}
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			names = append(names, "00000000000000065536.log") // listed, then deleted
			logSize, items, err := inferSizes(dir, names)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.ErrorContains(t, err, tt.wantErrMatch)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantLog, logSize)
			require.Equal(t, tt.wantIdx, items)
		})
	}
}
