package hraft

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadmeProgram keeps the README's program and example/main.go the same,
// so the program users copy is the one that compiles and runs.
func TestReadmeProgram(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	prog, err := os.ReadFile("example/main.go")
	require.NoError(t, err)
	require.True(t, strings.Contains(string(readme), "```go\n"+string(prog)+"```\n"), "README.md's program differs from example/main.go")
}
