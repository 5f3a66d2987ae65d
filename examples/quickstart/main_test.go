package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	var out strings.Builder
	require.NoError(t, run(dir, &out))
	require.Equal(t, `opened: entries 1..0
readable before it is durable: 1 "set x=1"
durable through index 3
hard state: term 1, vote 1, commit 3
  1/1 "set x=1"
  2/1 "set y=2"
  3/1 "del x"
reopened: entries 1..3, last term 1, commit 3
`, out.String())

	// A second run appends after what the first left.
	out.Reset()
	require.NoError(t, run(dir, &out))
	require.Contains(t, out.String(), "opened: entries 1..3\n")
	require.Contains(t, out.String(), "durable through index 6\n")
	require.Contains(t, out.String(), "reopened: entries 1..6, last term 1, commit 6\n")
}
