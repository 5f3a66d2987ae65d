package logqueue

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSentinelsDistinct(t *testing.T) {
	all := []error{ErrTooLarge, ErrCorrupt, ErrInvalidItem, ErrEndOfLog, ErrNoFile, ErrBadFile,
		ErrClosed, ErrInvalidOptions, ErrNotWriting, ErrWriting}
	for i, a := range all {
		for j, b := range all {
			assert.Equal(t, i == j, errors.Is(a, b), "%v vs %v", a, b)
		}
	}
}

func TestPanicfNamesInvariant(t *testing.T) {
	assert.PanicsWithValue(t, "logqueue: invariant broken: x 1", func() { panicf("x %d", 1) })
}
