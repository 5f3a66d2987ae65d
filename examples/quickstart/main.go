// Command quickstart shows the basic life of a raftlog: open a directory,
// append entries, wait until they are durable, read them back, record the
// hard state, close, and reopen to see that everything is still there.
//
//	go run ./examples/quickstart              # in a temporary directory
//	go run ./examples/quickstart -dir /tmp/q  # keep the log; run again to append more
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/raftlog/raftlog"
)

func main() {
	dir := flag.String("dir", "", "log directory (default: a temporary one, removed at exit)")
	flag.Parse()
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "raftlog-quickstart-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	}
	if err := run(*dir, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// run appends three entries after whatever dir already holds.
func run(dir string, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Small files keep the example's disk use small; the default is 1 GiB.
	opts := raftlog.Options{LogFileSize: 1 << 20}
	log, err := raftlog.Open(dir, opts)
	if err != nil {
		return err
	}
	defer log.Close() // a no-op (ErrClosed) after the Close below

	// A leader's entries: consecutive indexes after the last one, terms that
	// never go down. LastTerm is the snapshot term on an empty log (0).
	next, term := log.LastIndex()+1, max(log.LastTerm(), 1)
	fmt.Fprintf(out, "opened: entries %d..%d\n", log.FirstIndex(), log.LastIndex())
	batch := []raftlog.Entry{
		{Index: next, Term: term, Data: []byte("set x=1")},
		{Index: next + 1, Term: term, Data: []byte("set y=2")},
		{Index: next + 2, Term: term, Header: []byte{1}, Data: []byte("del x")},
	}
	// Append returns at once with a future; the entries are readable now
	// and durable (written and fdatasync'd) when the future completes.
	fut := log.Append(batch)
	e, err := log.Entry(next)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "readable before it is durable: %d %q\n", e.Index, e.Data)
	last, err := fut.Wait(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "durable through index %d\n", last)

	// The hard state is ordered after the appends before it.
	hs := raftlog.HardState{Term: term, Vote: 1, Commit: last}
	if _, err := log.SetHardState(hs).Wait(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "hard state: term %d, vote %d, commit %d\n", hs.Term, hs.Vote, hs.Commit)

	es, err := log.Entries(next, last+1, 0)
	if err != nil {
		return err
	}
	for _, e := range es {
		fmt.Fprintf(out, "  %d/%d %q\n", e.Index, e.Term, e.Data)
	}
	if err := log.Close(); err != nil {
		return err
	}

	// Everything acknowledged is there after a reopen.
	log, err = raftlog.Open(dir, opts)
	if err != nil {
		return err
	}
	defer log.Close()
	t, err := log.Term(log.LastIndex())
	if err != nil {
		return err
	}
	got := log.HardState()
	fmt.Fprintf(out, "reopened: entries %d..%d, last term %d, commit %d\n", log.FirstIndex(), log.LastIndex(), t, got.Commit)
	return log.Close()
}
