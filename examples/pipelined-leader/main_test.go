package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	cfg := config{dir: dir, entries: 5000, batch: 16, size: 100, inflight: 8, reports: 5}
	var out strings.Builder
	res, err := run(cfg, &out)
	require.NoError(t, err, out.String())
	require.Equal(t, uint64(1), res.first)
	require.Equal(t, uint64(5000), res.last)
	require.Equal(t, uint64((5000+15)/16), res.completions, "one callback per Append call")

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Equal(t, "appending entries 1..5000: 16 per call, 100 bytes each, up to 8 calls in flight", lines[0])
	progress := regexp.MustCompile(`^  appended through (\d+), durable through (\d+), (\d+) calls in flight$`)
	require.Len(t, lines, 1+5+1, out.String())
	for _, l := range lines[1:6] {
		require.Regexp(t, progress, l)
	}
	require.Regexp(t, `^durable through 5000: 5000 entries in .*, \d+ entries/s, [\d.]+ MB/s of entry data$`, lines[6])

	// Everything is there after a reopen, and a second run continues it.
	l, err := raftlog.Open(dir, raftlog.Options{LogFileSize: 64 << 20})
	require.NoError(t, err)
	require.Equal(t, uint64(5000), l.LastIndex())
	e, err := l.Entry(4321)
	require.NoError(t, err)
	require.Len(t, e.Data, 100)
	_, err = l.Append(nil).Wait(context.Background())
	require.NoError(t, err)
	require.NoError(t, l.Close())

	cfg.entries = 100
	res, err = run(cfg, &out)
	require.NoError(t, err)
	require.Equal(t, uint64(5001), res.first)
	require.Equal(t, uint64(5100), res.last)
}

func TestRunRejectsBadConfig(t *testing.T) {
	_, err := run(config{dir: t.TempDir(), entries: 10, batch: 0, inflight: 1}, &strings.Builder{})
	require.Error(t, err)
}
