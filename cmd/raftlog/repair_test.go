package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog"
)

func TestRepairRefusesLockedDirectory(t *testing.T) {
	dir := t.TempDir()
	l, err := raftlog.Open(dir, testOptions())
	require.NoError(t, err)
	defer l.Close()
	appendEntries(t, l, 1, 20)
	// The running owner may still change the directory on its own (the
	// next file's allocation, index flushes), so what is checked is what a
	// repair would do: move log files aside into a repair- directory.
	before, err := filepath.Glob(filepath.Join(dir, "*.log"))
	require.NoError(t, err)

	code, out, errOut := runCmd("repair", dir)
	require.Equal(t, exitFail, code)
	require.Empty(t, out)
	require.Contains(t, errOut, "refusing")
	require.Contains(t, errOut, "open in a running Log")
	for _, name := range before {
		_, err := os.Stat(name)
		require.NoError(t, err, "a refused repair moved %s", name)
	}
	sides, err := filepath.Glob(filepath.Join(dir, "repair-*"))
	require.NoError(t, err)
	require.Empty(t, sides, "a refused repair made a side directory")
}

func TestRepairCutsAtFirstDamage(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, testEntries, testEntries)
	pos, v := positions(t, dir)
	v.close()
	b := readLog(t, dir, pos[120]+90, 1)
	patchLog(t, dir, pos[120]+90, []byte{b[0] ^ 1})
	code, _, _ := runCmd("verify", dir)
	require.Equal(t, exitFail, code)

	code, out, errOut := runCmd("repair", dir)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "cut at       "+location(pos[120]))
	require.Contains(t, out, "last index   119 kept")
	require.Contains(t, out, "WARNING      the commit index was 200")

	code, out, errOut = runCmd("verify", dir)
	require.Equal(t, exitOK, code, out+errOut)
	require.Contains(t, out, "119 valid [1, 119]")

	// The log opens again and holds what was kept.
	l, err := raftlog.Open(dir, testOptions())
	require.NoError(t, err)
	require.Equal(t, uint64(119), l.LastIndex())
	require.NoError(t, l.Close())

	code, out, errOut = runCmd("repair", dir)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "nothing to repair")
}

func TestRepairReport(t *testing.T) {
	tests := []struct {
		rep  raftlog.RepairReport
		want []string
	}{
		{raftlog.RepairReport{LastIndex: 7}, []string{"nothing to repair: the log validated to its end (last index 7)\n"}},
		{raftlog.RepairReport{Corrupt: true, File: "f.log", Offset: 12, Reason: "bad", LastIndex: 3, RemovedBytes: 99, SideDir: "/d/side"},
			[]string{"cut at       f.log offset 12: bad\n", "last index   3 kept\n", "removed      99 bytes, a copy saved in /d/side\n"}},
	}
	for _, tt := range tests {
		var out strings.Builder
		printRepairReport(&out, tt.rep)
		for _, w := range tt.want {
			require.Contains(t, out.String(), w)
		}
		require.NotContains(t, out.String(), "WARNING")
	}
}

func TestRepairMissingDirectory(t *testing.T) {
	code, _, errOut := runCmd("repair", filepath.Join(t.TempDir(), "nope"))
	require.Equal(t, exitFail, code)
	require.Contains(t, errOut, "no such file or directory")
}
