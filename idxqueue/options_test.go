package idxqueue

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog/vfs"
)

func TestOptionsDefaults(t *testing.T) {
	o, err := Options{Dir: "d"}.ensureDefaults()
	require.NoError(t, err)
	require.Equal(t, vfs.Default, o.FS)
	require.Equal(t, 1<<20, o.ItemsPerFile)
	require.Equal(t, 1<<20, o.MaxPending)
	require.Equal(t, 1<<18, o.FlushThreshold)
	require.Equal(t, 50*time.Millisecond, o.FlushInterval)

	o, err = Options{Dir: "d", MaxPending: 2}.ensureDefaults()
	require.NoError(t, err)
	require.Equal(t, 1, o.FlushThreshold, "threshold never rounds down to 0")
}

func TestOptionsInvalid(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no dir", Options{}, "Dir"},
		{"items not pow2", Options{Dir: "d", ItemsPerFile: 12}, "ItemsPerFile"},
		{"items too small", Options{Dir: "d", ItemsPerFile: 4}, "ItemsPerFile"},
		{"items negative", Options{Dir: "d", ItemsPerFile: -8}, "ItemsPerFile"},
		{"pending not pow2", Options{Dir: "d", MaxPending: 100}, "MaxPending"},
		{"threshold too big", Options{Dir: "d", MaxPending: 64, FlushThreshold: 65}, "FlushThreshold"},
		{"threshold negative", Options{Dir: "d", FlushThreshold: -1}, "FlushThreshold"},
		{"interval negative", Options{Dir: "d", FlushInterval: -time.Second}, "FlushInterval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.opts.ensureDefaults()
			require.ErrorIs(t, err, ErrInvalidOptions)
			require.ErrorContains(t, err, tt.want)
		})
	}
}
