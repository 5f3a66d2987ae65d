// Command raftlog inspects and repairs a raftlog directory.
//
//	raftlog info DIR                      files, index range, terms, hard state, disk use
//	raftlog dump [flags] DIR              entries as text or JSON lines
//	raftlog verify DIR                    every CRC, the chain and the index files
//	raftlog repair DIR                    cut the log at the first bad item (raftlog.Repair)
//
// info, dump and verify are read-only: they take no lock, open every file
// read-only and change nothing, so they may run on a directory whose owner
// keeps appending (they see the status file as it was when they started and
// the log as far as it was written when they read it). repair writes, and
// refuses a directory that is open (raftlog.ErrLocked).
//
// The log file size and the index items per file are read off the files on
// disk, so no flag repeats the Options the log was written with.
//
// Exit codes: 0 success (verify: no corruption; a torn tail of
// unacknowledged writes is not corruption), 1 corruption found or the
// command failed, 2 bad usage.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usageText = `usage: raftlog <command> [flags] DIR

commands:
  info     files (names, sizes), index range, first/last term, hard state,
           persisted index, epoch, disk use
  dump     entries in a range: -from N -to N (inclusive), -json, -data hex|quoted|none
  verify   check every CRC and the index/term/prevTerm chain from the first
           index to the end, and the index files; exit 1 on corruption
  repair   cut the log at the first item that fails validation, keeping a
           copy of what is removed (refuses a directory that is open)

info, dump and verify take no lock and write nothing.
Run "raftlog <command> -h" for the flags of a command.
`

// run is the whole command: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "info":
		return runInfo(rest, stdout, stderr)
	case "dump":
		return runDump(rest, stdout, stderr)
	case "verify":
		return runVerify(rest, stdout, stderr)
	case "repair":
		return runRepair(rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	}
	fmt.Fprintf(stderr, "raftlog: unknown command %q\n\n%s", cmd, usageText)
	return exitUsage
}

// newFlags returns a flag set for a command whose one argument is DIR.
func newFlags(cmd, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: raftlog %s %s\n", cmd, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses flags placed before or after DIR and returns DIR. The
// returned code is what the command must exit with when ok is false.
func parseArgs(fs *flag.FlagSet, args []string, stderr io.Writer) (dir string, code int, ok bool) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return "", exitOK, false
			}
			return "", exitUsage, false
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	if len(positional) != 1 {
		fmt.Fprintf(stderr, "raftlog %s: want one directory, got %d arguments\n", fs.Name(), len(positional))
		fs.Usage()
		return "", exitUsage, false
	}
	return positional[0], exitOK, true
}

// openOrReport opens dir read-only, printing why it cannot.
func openOrReport(cmd, dir string, stderr io.Writer) (*view, bool) {
	v, err := openView(dir)
	if err != nil {
		fmt.Fprintf(stderr, "raftlog %s: %v\n", cmd, err)
		return nil, false
	}
	return v, true
}
