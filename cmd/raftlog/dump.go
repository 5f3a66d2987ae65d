package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// dataMode is how dump prints an entry's header and data bytes.
type dataMode string

const (
	dataHex    dataMode = "hex"
	dataQuoted dataMode = "quoted"
	dataNone   dataMode = "none"
)

// format returns b in mode m. Quoted is Go's escaped string syntax
// (strconv.Quote); in JSON the surrounding quotes are left off, so
// strconv.Unquote(`"` + s + `"`) gives the bytes back.
func (m dataMode) format(b []byte, inJSON bool) string {
	if m == dataHex {
		return hex.EncodeToString(b)
	}
	q := strconv.Quote(string(b))
	if inJSON {
		return q[1 : len(q)-1]
	}
	return q
}

// jsonEntry is one line of dump -json.
type jsonEntry struct {
	Index     uint64  `json:"index"`
	Term      uint64  `json:"term"`
	PrevTerm  uint64  `json:"prevTerm"`
	Type      uint8   `json:"type"`
	Epoch     uint32  `json:"epoch"`
	Timestamp int64   `json:"timestamp"` // Unix nanoseconds
	File      string  `json:"file"`
	Offset    int64   `json:"offset"`
	HeaderLen uint32  `json:"headerLen"`
	DataLen   uint32  `json:"dataLen"`
	Header    *string `json:"header,omitempty"`
	Data      *string `json:"data,omitempty"`
}

// runDump prints the entries of [-from, -to], one line each. It finds -from
// through the index files when they cover it, else scans from the persisted
// index, and stops where the chain ends, saying why on stderr when that is
// not the clean end.
func runDump(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("dump", "[-from N] [-to N] [-json] [-data hex|quoted|none] DIR", stderr)
	from := fs.Uint64("from", 0, "first index to print (default: the first index)")
	to := fs.Uint64("to", 0, "last index to print, inclusive (default: the last index)")
	asJSON := fs.Bool("json", false, "print JSON lines instead of text")
	mode := fs.String("data", string(dataQuoted), "how to print header and data: hex, quoted (Go escapes) or none")
	dir, code, ok := parseArgs(fs, args, stderr)
	if !ok {
		return code
	}
	dm := dataMode(*mode)
	if dm != dataHex && dm != dataQuoted && dm != dataNone {
		fmt.Fprintf(stderr, "raftlog dump: -data %q: want hex, quoted or none\n", *mode)
		return exitUsage
	}
	if *to != 0 && *from > *to {
		fmt.Fprintf(stderr, "raftlog dump: -from %d is above -to %d\n", *from, *to)
		return exitUsage
	}
	v, ok := openOrReport("dump", dir, stderr)
	if !ok {
		return exitFail
	}
	defer v.close()

	lo := *from
	if lo == 0 {
		lo = v.st.FirstIndex
	}
	if lo < v.st.FirstIndex {
		fmt.Fprintf(stderr, "raftlog dump: index %d is compacted: the first index is %d\n", lo, v.st.FirstIndex)
		return exitFail
	}
	s, err := v.startNear(lo)
	if err != nil {
		fmt.Fprintf(stderr, "raftlog dump: %v; scanning from the first index\n", err)
		s = v.chainStart()
	}

	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	w := v.walk(s)
	printed := 0
	for {
		it, ok := w.next()
		if !ok {
			break
		}
		if it.meta.Index < lo {
			continue
		}
		if *to != 0 && it.meta.Index > *to {
			break
		}
		if *asJSON {
			err = enc.Encode(v.jsonEntry(it, dm))
		} else {
			err = v.printText(out, it, dm)
		}
		if err != nil {
			fmt.Fprintf(stderr, "raftlog dump: %v\n", err)
			return exitFail
		}
		printed++
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(stderr, "raftlog dump: %v\n", err)
		return exitFail
	}
	last := w.s.next - 1
	if *to != 0 && last >= *to {
		return exitOK // stopped at -to, not at the end of the chain
	}
	switch w.stop.kind {
	case stopIO:
		fmt.Fprintf(stderr, "raftlog dump: %v\n", w.stop.err)
		return exitFail
	case stopEnd:
	default:
		fmt.Fprintf(stderr, "raftlog dump: the log ends after index %d: %s (run verify)\n", last, w.stop.describe(v))
	}
	if printed == 0 && lo > last {
		fmt.Fprintf(stderr, "raftlog dump: index %d is above the last index %d\n", lo, last)
		return exitFail
	}
	return exitOK
}

func (v *view) printText(w *bufio.Writer, it item, dm dataMode) error {
	m := it.meta
	ts := time.Unix(0, m.Timestamp).UTC().Format(time.RFC3339Nano)
	fmt.Fprintf(w, "index=%d term=%d prevTerm=%d type=%d epoch=%d time=%s pos=%s:%d len=%d",
		m.Index, m.Term, m.PrevTerm, m.Type, m.Epoch, ts,
		v.logFileName(it.pos), it.pos&(v.logFileSize-1), m.DataLen)
	if m.HeaderLen > 0 {
		fmt.Fprintf(w, " hlen=%d", m.HeaderLen)
	}
	if dm != dataNone {
		if m.HeaderLen > 0 {
			fmt.Fprintf(w, " header=%s", dm.format(it.header, false))
		}
		fmt.Fprintf(w, " data=%s", dm.format(it.data, false))
	}
	return w.WriteByte('\n')
}

func (v *view) jsonEntry(it item, dm dataMode) jsonEntry {
	m := it.meta
	e := jsonEntry{
		Index: m.Index, Term: m.Term, PrevTerm: m.PrevTerm, Type: m.Type, Epoch: m.Epoch,
		Timestamp: m.Timestamp, File: v.logFileName(it.pos), Offset: it.pos & (v.logFileSize - 1),
		HeaderLen: m.HeaderLen, DataLen: m.DataLen,
	}
	if dm != dataNone {
		d := dm.format(it.data, true)
		e.Data = &d
		if m.HeaderLen > 0 {
			h := dm.format(it.header, true)
			e.Header = &h
		}
	}
	return e
}
