package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUsage(t *testing.T) {
	tests := []struct {
		args       []string
		code       int
		out, error string
	}{
		{nil, exitUsage, "", "usage: raftlog <command>"},
		{[]string{"frobnicate", "x"}, exitUsage, "", `unknown command "frobnicate"`},
		{[]string{"help"}, exitOK, "usage: raftlog <command>", ""},
		{[]string{"verify", "-h"}, exitOK, "", "usage: raftlog verify DIR"},
		{[]string{"dump", "-h"}, exitOK, "", "-data string"},
		{[]string{"info"}, exitUsage, "", "want one directory, got 0"},
		{[]string{"repair", "a", "b"}, exitUsage, "", "want one directory, got 2"},
	}
	for _, tt := range tests {
		code, out, errOut := runCmd(tt.args...)
		require.Equal(t, tt.code, code, "%v", tt.args)
		if tt.out == "" {
			require.Empty(t, out, "%v", tt.args)
		} else {
			require.Contains(t, out, tt.out, "%v", tt.args)
		}
		if tt.error == "" {
			require.Empty(t, errOut, "%v", tt.args)
		} else {
			require.Contains(t, errOut, tt.error, "%v", tt.args)
		}
	}
}
