package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMain makes the test binary the child when run re-executes it.
func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		child(dir, os.Stdout)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

func TestRun(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	for round := 1; round <= 2; round++ {
		var out strings.Builder
		rep, err := run(dir, 300, self, &out)
		require.NoError(t, err, out.String())
		require.GreaterOrEqual(t, rep.acked, uint64(300))
		require.GreaterOrEqual(t, rep.recovered, rep.acked)
		require.Contains(t, out.String(), fmt.Sprintf("after it acknowledged index %d\n", rep.acked))
		require.Contains(t, out.String(), fmt.Sprintf("reopened: entries 1..%d\n", rep.recovered))
		require.Contains(t, out.String(), "survived intact")
		require.Contains(t, out.String(), fmt.Sprintf("appended index %d in term %d after recovery", rep.recovered+1, round+1))
	}
}
