package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raftlog/raftlog"
	"github.com/raftlog/raftlog/restore"
	"github.com/raftlog/raftlog/status"
	"github.com/raftlog/raftlog/vfs"
)

// Small files, so that a few hundred entries span several of each.
const (
	testLogFileSize  = 64 << 10
	testItemsPerFile = 16
	testEntries      = 200
	testBatch        = 10
)

func testOptions() raftlog.Options {
	return raftlog.Options{LogFileSize: testLogFileSize, IdxItemsPerFile: testItemsPerFile,
		Logger: slog.New(slog.DiscardHandler)}
}

// testEntry is entry i of every test log: the term goes up every 25
// entries, every third entry has a header, and the data is ~700 bytes, so
// an entry's content tells its index.
func testEntry(i uint64) raftlog.Entry {
	e := raftlog.Entry{
		Index:     i,
		Term:      1 + i/25,
		Type:      uint8(i % 3),
		Timestamp: time.Date(2026, 1, 2, 3, 4, 5, int(i), time.UTC).UnixNano(),
		Data:      []byte(fmt.Sprintf("entry %d: %s", i, strings.Repeat("x", 700))),
	}
	if i%3 == 0 {
		e.Header = []byte{0, byte(i), 0xff}
	}
	return e
}

// appendEntries appends entries [from, to] in batches of testBatch, waiting
// for each: so the DurableLag of every entry points into the batch before.
func appendEntries(t testing.TB, l *raftlog.Log, from, to uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := from; i <= to; {
		var batch []raftlog.Entry
		for ; i <= to && len(batch) < testBatch; i++ {
			batch = append(batch, testEntry(i))
		}
		_, err := l.Append(batch).Wait(ctx)
		require.NoError(t, err)
	}
}

// writeLog writes a closed log of n entries in dir with the hard state's
// commit index at commit.
func writeLog(t testing.TB, dir string, n, commit uint64) {
	t.Helper()
	l, err := raftlog.Open(dir, testOptions())
	require.NoError(t, err)
	appendEntries(t, l, 1, n)
	_, err = l.SetHardState(raftlog.HardState{Term: 1 + n/25, Vote: 2, Commit: commit}).Wait(context.Background())
	require.NoError(t, err)
	require.NoError(t, l.Close())
}

// setStatus rewrites the commit and persisted index of a closed log's
// status file, as a crash at another moment would have left them.
func setStatus(t testing.TB, dir string, commit, persisted uint64) {
	t.Helper()
	editStatus(t, dir, func(st *status.State) { st.Commit, st.PersistedIndex = commit, persisted })
}

// editStatus changes the status file of a closed log.
func editStatus(t testing.TB, dir string, edit func(*status.State)) {
	t.Helper()
	f, st, _, err := status.Open(vfs.Default, dir)
	require.NoError(t, err)
	edit(&st)
	require.NoError(t, f.Save(st))
	require.NoError(t, f.Close())
}

// runCmd runs the command line args and returns the exit code and outputs.
func runCmd(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// positions returns where each entry of a clean log lies, by index.
func positions(t testing.TB, dir string) (map[uint64]int64, *view) {
	t.Helper()
	v, err := openView(dir)
	require.NoError(t, err)
	t.Cleanup(v.close)
	out := map[uint64]int64{}
	w := v.walk(v.chainStart())
	for {
		it, ok := w.next()
		if !ok {
			break
		}
		out[it.meta.Index] = it.pos
	}
	require.Equal(t, stopEnd, w.stop.kind, w.stop.describe(v))
	return out, v
}

// location is how the commands name a log position.
func location(pos int64) string {
	return fmt.Sprintf("%020d.log offset %d", pos&^(testLogFileSize-1), pos&(testLogFileSize-1))
}

// patchLog overwrites bytes at log position pos.
func patchLog(t testing.TB, dir string, pos int64, b []byte) {
	t.Helper()
	patchFile(t, filepath.Join(dir, fmt.Sprintf("%020d.log", pos&^(testLogFileSize-1))), pos&(testLogFileSize-1), b)
}

func patchFile(t testing.TB, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(b, off)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func readLog(t testing.TB, dir string, pos int64, n int) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%020d.log", pos&^(testLogFileSize-1))))
	require.NoError(t, err)
	off := pos & (testLogFileSize - 1)
	return bytes.Clone(b[off : off+int64(n)])
}

// snapshot describes every file of dir: name, size, mode, modification time
// and a hash of the contents.
func snapshot(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		fi, err := e.Info()
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		out = append(out, fmt.Sprintf("%s %d %v %d %x", e.Name(), fi.Size(), fi.Mode(), fi.ModTime().UnixNano(), sha256.Sum256(b)))
	}
	return out
}

// recoveryVerdict runs recovery's full, read-only scan (what Repair uses)
// on dir and returns where it finds corruption, or "" when it finds none,
// so that tests can check that verify agrees with it.
func recoveryVerdict(t testing.TB, dir string) string {
	t.Helper()
	v, err := openView(dir)
	require.NoError(t, err)
	defer v.close()
	_, err = restore.Run(v.st, v.lq, v.iq, restore.Options{FullScan: true, ReadOnly: true})
	var ce *restore.CorruptionError
	if errors.As(err, &ce) {
		return location(ce.Pos)
	}
	require.NoError(t, err)
	return ""
}
