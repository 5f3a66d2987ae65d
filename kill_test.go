package raftlog

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// killRounds is the number of child processes TestKill kills; a soak raises
// it: go test -run TestKill -kill.rounds=500.
var killRounds = flag.Int("kill.rounds", 20, "rounds of TestKill (SIGKILL of a child appending to a real directory)")

const (
	killEnvDir  = "RAFTLOG_KILL_CHILD_DIR"
	killEnvTerm = "RAFTLOG_KILL_CHILD_TERM"
	// killEnvCompact, when set, makes the child compact as it appends,
	// keeping about that many entries (TestKillRecycled).
	killEnvCompact = "RAFTLOG_KILL_CHILD_COMPACT"
	killMaxData    = 3000
	// killChildLimit ends a child whose parent went away without killing it.
	killChildLimit = time.Minute
)

// killOptions: small files so that a few hundred entries cross many log
// and index file boundaries, and frequent index flushes so the persisted
// index (and the status file saves) move while the child is killed.
func killOptions() Options {
	return Options{LogFileSize: 64 << 10, IdxItemsPerFile: 8, MaxUnflushedIndexes: 256, IdxFlushInterval: time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)}
}

// TestKillChild is the child of TestKill, not a test of its own: with the
// environment TestKill sets, it appends to the directory after its last
// index, keeping up to 8 calls in flight, and prints "ack <first> <last>
// <term>" for every call as soon as its future completes, until killed.
func TestKillChild(t *testing.T) {
	dir := os.Getenv(killEnvDir)
	if dir == "" {
		t.Skip("run by TestKill")
	}
	term, err := strconv.ParseUint(os.Getenv(killEnvTerm), 10, 64)
	require.NoError(t, err)
	l, err := Open(dir, killOptions())
	require.NoError(t, err)
	// One write(2) per line, so a line is whole in the pipe or not at all.
	out := os.Stdout
	fmt.Fprintf(out, "open %d\n", l.LastIndex())
	var keep uint64
	if v := os.Getenv(killEnvCompact); v != "" {
		keep, err = strconv.ParseUint(v, 10, 64)
		require.NoError(t, err)
	}
	rng := rand.New(rand.NewPCG(term, uint64(os.Getpid())))
	type call struct {
		first, last uint64
		done        <-chan struct{}
	}
	var inflight []call
	next := l.LastIndex() + 1
	deadline := time.Now().Add(killChildLimit)
	for calls := 1; time.Now().Before(deadline); calls++ {
		if keep > 0 && calls%16 == 0 && next > keep {
			l.CompactTo(next - keep) // a failure shows in the appends
		}
		n := 1 + rng.Uint64N(12)
		es := make([]Entry, 0, n)
		for i := next; i < next+n; i++ {
			es = append(es, entryFor(i, term, killMaxData))
		}
		first, last := next, next+n-1
		f := l.Append(es)
		f.OnComplete(func(_ uint64, err error) {
			if err != nil {
				fmt.Fprintf(out, "error %v\n", err)
				return
			}
			fmt.Fprintf(out, "ack %d %d %d\n", first, last, term)
		})
		next += n
		inflight = append(inflight, call{first, last, f.Done()})
		if len(inflight) == 8 {
			<-inflight[0].done
			inflight = inflight[1:]
		}
	}
	require.NoError(t, l.Close())
}

// TestKill runs TestKillChild in a child process on a real directory and
// SIGKILLs it after a random number of acknowledgements, so at a random
// point of its write, sync, index flush and status save pipeline. After each
// kill it reopens the directory and checks that every index the child
// printed is there with its term and payload; the next child goes on from
// the recovered last index with a higher term.
func TestKill(t *testing.T) {
	if os.Getenv(killEnvDir) != "" {
		t.Skip("in the child")
	}
	runKillRounds(t, 0)
}

// TestKillRecycled is TestKill with children that compact as they append,
// keeping about 100 entries (two or three 64 KiB files): the log files they
// compact are kept as spares and become new log files, so the kills land
// in the middle of recycling and the recovered ends lie in recycled space.
func TestKillRecycled(t *testing.T) {
	if os.Getenv(killEnvDir) != "" {
		t.Skip("in the child")
	}
	runKillRounds(t, 100)
}

// runKillRounds runs the rounds of TestKill; keep > 0 has the children
// compact, keeping about keep entries.
func runKillRounds(t *testing.T, keep uint64) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	terms := map[uint64]uint64{} // acknowledged index → its term
	var maxAcked uint64
	sawSpares := 0 // rounds after which the directory held spare files
	for round := 1; round <= *killRounds; round++ {
		term := uint64(round)
		killAfter := 1 + rng.IntN(150)
		acks, lines := killOneChild(t, dir, term, killAfter, keep)
		for _, a := range acks {
			for i := a[0]; i <= a[1]; i++ {
				terms[i] = a[2]
			}
			maxAcked = max(maxAcked, a[1])
		}
		msg := fmt.Sprintf("round %d (killed after %d acks)", round, killAfter)
		if spares, err := filepath.Glob(filepath.Join(dir, "*.log.free")); err == nil && len(spares) > 0 {
			sawSpares++
		}

		l, err := Open(dir, killOptions())
		require.NoError(t, err, msg)
		last := l.LastIndex()
		require.GreaterOrEqual(t, last, maxAcked, "%s: acknowledged index %d lost; child said:\n%s", msg, maxAcked, lines)
		first := l.FirstIndex()
		if keep == 0 {
			require.Equal(t, uint64(1), first, msg)
		}
		require.LessOrEqual(t, first, maxAcked+1, msg)
		for i := first; i <= maxAcked; i++ {
			want := entryFor(i, terms[i], killMaxData)
			e, err := l.Entry(i)
			require.NoError(t, err, "%s: index %d", msg, i)
			require.Equal(t, want.Term, e.Term, "%s: term of %d", msg, i)
			require.True(t, bytes.Equal(want.Data, e.Data), "%s: data of %d", msg, i)
			require.True(t, bytes.Equal(want.Header, e.Header), "%s: header of %d", msg, i)
		}
		// Entries after the last acknowledged one were appended by this
		// child but not acknowledged: they may or may not be there, but
		// what is there is theirs.
		for i := maxAcked + 1; i <= last; i++ {
			e, err := l.Entry(i)
			require.NoError(t, err, "%s: index %d", msg, i)
			require.Equal(t, term, e.Term, "%s: unacknowledged index %d", msg, i)
			require.True(t, bytes.Equal(payload(i, sizeOf(i, killMaxData)), e.Data), "%s: data of %d", msg, i)
			terms[i] = term
		}
		require.NoError(t, l.Close(), msg)
		t.Logf("%s: %d entries, %d recovered past the last acknowledgement", msg, last, last-maxAcked)
		maxAcked = last
	}
	t.Logf("kill rounds run: %d, entries in the log: %d, rounds that left spare files: %d", *killRounds, maxAcked, sawSpares)
	if keep > 0 {
		// The children compacted, and the compacted files went to spares.
		l, err := Open(dir, killOptions())
		require.NoError(t, err)
		first := l.FirstIndex()
		require.NoError(t, l.Close())
		require.Greater(t, first, maxAcked/2, "the children did not compact")
		require.Positive(t, sawSpares, "no round left spare files behind")
	}
}

// killOneChild starts a child, kills it with SIGKILL once it has printed
// killAfter acknowledgements, and returns every acknowledgement it printed
// (first, last, term), including those printed while the kill was on its
// way, and its whole output for failure messages.
func killOneChild(t *testing.T, dir string, term uint64, killAfter int, keep uint64) ([][3]uint64, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), killEnvDir+"="+dir, killEnvTerm+"="+strconv.FormatUint(term, 10))
	if keep > 0 {
		cmd.Env = append(cmd.Env, killEnvCompact+"="+strconv.FormatUint(keep, 10))
	}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())

	var acks [][3]uint64
	var lines strings.Builder
	killed := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		lines.WriteString(line + "\n")
		var a [3]uint64
		if _, err := fmt.Sscanf(line, "ack %d %d %d", &a[0], &a[1], &a[2]); err == nil {
			acks = append(acks, a)
		}
		require.False(t, strings.HasPrefix(line, "error"), "child: %s", line)
		if !killed && len(acks) >= killAfter {
			require.NoError(t, cmd.Process.Kill()) // SIGKILL
			killed = true
		}
	}
	require.NoError(t, sc.Err())
	err = cmd.Wait()
	require.True(t, killed, "the child ended before it was killed: %v\nstdout:\n%s\nstderr:\n%s", err, lines.String(), stderr.String())
	return acks, lines.String()
}
