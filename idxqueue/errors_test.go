package idxqueue

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSentinelsDistinct(t *testing.T) {
	all := []error{ErrNotFound, ErrFull, ErrNotConsecutive, ErrClosed, ErrCorrupt,
		ErrInvalidOptions, ErrNotStarted, ErrAlreadyStarted, ErrReadOnly, ErrCompacted, ErrOutOfRange}
	for i, a := range all {
		for j, b := range all {
			require.Equal(t, i == j, errors.Is(a, b), "%v vs %v", a, b)
		}
	}
}

func TestPanicf(t *testing.T) {
	require.PanicsWithValue(t, "idxqueue: broken 7", func() { panicf("idxqueue: broken %d", 7) })
}
