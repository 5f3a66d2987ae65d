package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// run runs the selected workloads in a new directory under c.dir, each
// followed by its raw bound, prints the table and writes -json and -out.
func run(c config) ([]result, error) {
	workloads, err := selectWorkloads(c.workload)
	if err != nil {
		return nil, err
	}
	base := c.dir
	if base == "" {
		base = localTempDir()
	}
	root, err := os.MkdirTemp(base, "raftlog-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench dir: %w", err)
	}
	if !c.keep {
		defer os.RemoveAll(root)
	}
	if !c.quiet {
		fmt.Printf("raftlog bench: dir %s, %s per timed workload, %d B entries (read workloads: 1 KiB)\n\n", root, c.duration, c.size)
	}
	rows, err := runAll(root, c, workloads)
	if err != nil {
		return rows, err
	}
	setRatios(rows)
	if !c.quiet {
		printTable(os.Stdout, rows)
	}
	if c.jsonPath != "" {
		if err := writeJSON(c.jsonPath, root, c, rows); err != nil {
			return rows, err
		}
	}
	if c.outDir != "" {
		if err := writeCharts(c.outDir, rows); err != nil {
			return rows, err
		}
	}
	return rows, nil
}

func runAll(root string, c config, workloads []string) (rows []result, err error) {
	var raw *rawFileOnce
	if c.raw {
		raw = &rawFileOnce{dir: filepath.Join(root, "raw")}
		defer func() { err = errors.Join(err, raw.close()) }()
	}
	for _, w := range workloads {
		if w == "reopen" || w == "seq-read" || w == "random-read" {
			continue
		}
		r, st, err := runAppend(filepath.Join(root, w), w, c)
		if err != nil {
			return rows, fmt.Errorf("%s: %w", w, err)
		}
		if raw == nil {
			rows = append(rows, r)
			continue
		}
		f, err := raw.get()
		if err != nil {
			return rows, err
		}
		var b result
		switch w {
		case "batch-wait", "concurrent":
			// The same bytes per fdatasync as raftlog made durable.
			b, err = rawSyncEach(f, c.duration, "raw-"+w, st.bytesPerFsync(), float64(st.entries)/float64(max(1, st.fsyncs)))
		case "pipelined", "rotation", "steady":
			// Chunks of one Append call's encoded bytes, as many unsynced
			// as the workload keeps in flight.
			b, err = rawPipeline(f, c.duration, "raw-"+w, c.batch*st.itemSize(), c.batch, max(1, c.inflight/c.batch))
		}
		if err != nil {
			return rows, fmt.Errorf("raw bound of %s: %w", w, err)
		}
		r.Bound = b.Key
		rows = append(rows, b, r)
	}
	noteRotationCost(rows)
	var reads []string
	for _, w := range workloads {
		if w == "reopen" || w == "seq-read" || w == "random-read" {
			reads = append(reads, w)
		}
	}
	if len(reads) == 0 {
		return rows, nil
	}
	return readWorkloads(root, c, reads, rows)
}

// readWorkloads writes the read log (fill) and runs reopen, seq-read and
// random-read on it; reopen always runs, untimed when not asked for, since
// the reads need the log open.
func readWorkloads(root string, c config, reads []string, rows []result) (_ []result, err error) {
	dir := filepath.Join(root, "read")
	rl, fr, err := fill(dir, c)
	if err != nil {
		return rows, fmt.Errorf("fill: %w", err)
	}
	defer func() { err = errors.Join(err, rl.close()) }()
	itemSize := int(rl.encodedBytes / max(1, int64(rl.last-rl.first+1)))
	if c.raw {
		b, err := rawSeqWrite(root, rl.encodedBytes, itemSize)
		if err != nil {
			return rows, fmt.Errorf("raw seq write: %w", err)
		}
		fr.Bound = b.Key
		rows = append(rows, b)
	}
	rows = append(rows, fr)
	rc := c
	if !slices.Contains(reads, "reopen") {
		rc.reopens = 1
	}
	r, err := rl.reopen(rc)
	if err != nil {
		return rows, err
	}
	if slices.Contains(reads, "reopen") {
		rows = append(rows, r)
	}
	var segs []segment
	if c.raw {
		if segs, err = openLogFiles(dir, rl.encodedBytes); err != nil {
			return rows, err
		}
		defer closeSegments(segs)
	}
	if slices.Contains(reads, "seq-read") {
		if c.raw {
			b, err := rawSeqRead(segs, itemSize)
			if err != nil {
				return rows, fmt.Errorf("raw seq read: %w", err)
			}
			rows = append(rows, b)
		}
		r, err := rl.seqRead()
		if err != nil {
			return rows, fmt.Errorf("seq-read: %w", err)
		}
		if c.raw {
			r.Bound = "raw-seq-read"
		}
		rows = append(rows, r)
	}
	if slices.Contains(reads, "random-read") {
		if c.raw {
			b, err := rawRandomRead(segs, itemSize, c.duration)
			if err != nil {
				return rows, fmt.Errorf("raw random read: %w", err)
			}
			rows = append(rows, b)
		}
		r, err := rl.randomRead(c)
		if err != nil {
			return rows, fmt.Errorf("random-read: %w", err)
		}
		if c.raw {
			r.Bound = "raw-random-read"
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// rawFileOnce creates the raw bounds' zero-filled file on first use.
type rawFileOnce struct {
	dir string
	f   *os.File
}

func (r *rawFileOnce) get() (*os.File, error) {
	if r.f == nil {
		f, err := rawFile(r.dir)
		if err != nil {
			return nil, err
		}
		r.f = f
	}
	return r.f, nil
}

func (r *rawFileOnce) close() error {
	if r.f == nil {
		return nil
	}
	return r.f.Close()
}

// noteRotationCost adds to the rotation row how it compares with pipelined,
// the same workload in one large file: the cost of rotating.
func noteRotationCost(rows []result) {
	i := slices.IndexFunc(rows, func(r result) bool { return r.Key == "rotation" })
	j := slices.IndexFunc(rows, func(r result) bool { return r.Key == "pipelined" })
	if i < 0 || j < 0 || rows[j].perSec(rows[j].Entries) == 0 {
		return
	}
	rows[i].Note += fmt.Sprintf("; %.2f× pipelined's entries/s", rows[i].perSec(rows[i].Entries)/rows[j].perSec(rows[j].Entries))
}
