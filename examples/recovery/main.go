// Command recovery shows what survives a crash. It starts a copy of itself
// that appends to a log and prints "acked N" each time index N is durable
// (its future completed); after -kill-after acknowledgements it kills the
// child with SIGKILL, in the middle of its appends, with no Close. Then it
// reopens the log and checks that every acknowledged entry survived, intact.
// Entries that were written but not yet acknowledged may survive too:
// recovery keeps every valid entry the dead process left in the page cache
// and cuts only the torn tail.
//
//	go run ./examples/recovery
//	go run ./examples/recovery -dir /tmp/rec -kill-after 5000
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/raftlog/raftlog"
	"github.com/raftlog/raftlog/pipeline"
)

// childEnv, when set, makes the process the child: it appends to the log in
// the directory it names until it is killed.
const childEnv = "RAFTLOG_RECOVERY_CHILD"

// opts are the options of both processes: small files, so that a short run
// rotates through several.
var opts = raftlog.Options{LogFileSize: 1 << 20, IdxItemsPerFile: 1 << 10}

func main() {
	if dir := os.Getenv(childEnv); dir != "" {
		child(dir, os.Stdout) // returns only on failure
		os.Exit(2)
	}
	dir := flag.String("dir", "", "log directory (default: a temporary one, removed at exit)")
	killAfter := flag.Uint64("kill-after", 2000, "acknowledged entries before the child is killed")
	flag.Parse()
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "raftlog-recovery-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	}
	self, err := os.Executable()
	if err == nil {
		_, err = run(*dir, *killAfter, self, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "recovery:", err)
		os.Exit(1)
	}
}

// entryData is the data of entry i, so that the parent can check it.
func entryData(i uint64) []byte {
	return fmt.Appendf(nil, "entry %d %s", i, strings.Repeat("-", int(i%200)))
}

// child appends batches to the log in dir, a few calls in flight, and
// prints "acked N" once index N is durable, until it is killed. A child
// that is never killed stops after a minute, without Close all the same.
func child(dir string, out io.Writer) {
	log, err := raftlog.Open(dir, opts)
	if err != nil {
		fmt.Fprintln(out, "error", err)
		return
	}
	// No Close, on purpose: the process dies with appends in flight.
	ctx := context.Background()
	deadline := time.Now().Add(time.Minute)
	window := make(chan *pipeline.Future[uint64], 4)
	next, term := log.LastIndex()+1, max(log.LastTerm(), 1)
	for time.Now().Before(deadline) {
		batch := make([]raftlog.Entry, 8)
		for k := range batch {
			batch[k] = raftlog.Entry{Index: next, Term: term, Data: entryData(next)}
			next++
		}
		window <- log.Append(batch)
		if len(window) == cap(window) {
			last, err := (<-window).Wait(ctx)
			if err != nil {
				fmt.Fprintln(out, "error", err)
				return
			}
			// One write per line: the parent reads whole lines even when
			// the kill comes between two.
			fmt.Fprintf(out, "acked %d\n", last)
		}
	}
	os.Exit(3)
}

// report is what the parent saw.
type report struct {
	acked     uint64 // highest index the child reported durable
	recovered uint64 // last index after reopening
}

// run starts self as the child on dir, kills it after killAfter
// acknowledged entries, reopens the log and checks it.
func run(dir string, killAfter uint64, self string, out io.Writer) (report, error) {
	var rep report
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return rep, err
	}
	if err := cmd.Start(); err != nil {
		return rep, err
	}
	fmt.Fprintf(out, "child %d appending to %s\n", cmd.Process.Pid, dir)
	killed, waited := false, false
	defer func() {
		if !waited { // an early return: do not leave the child running
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		line := sc.Text()
		v, ok := strings.CutPrefix(line, "acked ")
		if !ok {
			return rep, fmt.Errorf("child: %s", line)
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return rep, fmt.Errorf("child said %q", line)
		}
		rep.acked = max(rep.acked, n)
		if !killed && rep.acked >= killAfter {
			// SIGKILL: no deferred function, no Close, appends in flight.
			// Lines already in the pipe are still read: those entries were
			// acknowledged before the kill.
			if err := cmd.Process.Kill(); err != nil {
				return rep, err
			}
			killed = true
		}
	}
	werr := cmd.Wait()
	waited = true
	var exitErr *exec.ExitError
	if !killed || !errors.As(werr, &exitErr) || exitErr.ExitCode() != -1 {
		return rep, fmt.Errorf("child ended on its own (%v): %s", werr, stderr.String())
	}
	fmt.Fprintf(out, "killed the child (%v) after it acknowledged index %d\n", werr, rep.acked)

	log, err := raftlog.Open(dir, opts)
	if err != nil {
		return rep, fmt.Errorf("reopen: %w", err)
	}
	defer log.Close()
	rep.recovered = log.LastIndex()
	fmt.Fprintf(out, "reopened: entries %d..%d\n", log.FirstIndex(), rep.recovered)
	if rep.recovered < rep.acked {
		return rep, fmt.Errorf("lost acknowledged entries: last index %d, acknowledged %d", rep.recovered, rep.acked)
	}
	// Every entry is intact, the acknowledged ones and the extra ones.
	for i := log.FirstIndex(); i <= rep.recovered; {
		es, err := log.Entries(i, rep.recovered+1, 4<<20)
		if err != nil {
			return rep, err
		}
		for _, e := range es {
			if !bytes.Equal(e.Data, entryData(e.Index)) {
				return rep, fmt.Errorf("entry %d holds %q", e.Index, e.Data)
			}
		}
		i += uint64(len(es))
	}
	fmt.Fprintf(out, "all %d acknowledged entries survived intact, and %d written but unacknowledged ones\n",
		rep.acked, rep.recovered-rep.acked)

	// The log goes on from where the dead process left it, in a new term.
	next, term := rep.recovered+1, log.LastTerm()+1
	if _, err := log.Append([]raftlog.Entry{{Index: next, Term: term, Data: entryData(next)}}).Wait(context.Background()); err != nil {
		return rep, err
	}
	fmt.Fprintf(out, "appended index %d in term %d after recovery\n", next, term)
	return rep, log.Close()
}
