package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// result is one line of the table: a raftlog workload or a raw bound.
type result struct {
	Key        string // short identifier: file names of charts, JSON
	Name       string // the table's label
	Raw        bool   // a raw disk bound, not raftlog
	Entries    int64  // entries (raw: records of the same size) completed
	Bytes      int64  // entry data bytes (raw: bytes moved)
	Fsyncs     int64  // log-file fdatasyncs during the run (0: none, e.g. reads)
	Elapsed    time.Duration
	NoRate     bool      // a one-shot figure (reopen): only the latency columns mean something
	Bound      string    // Key of the raw result that bounds this one
	VsRaw      float64   // entries/s of this result over entries/s of Bound
	Throughput []float64 // entries/s in each 100 ms of the run
	Note       string    // extra figures printed under the table
	// PeakRSS is the process's peak resident set size during the run
	// (append workloads; 0: not measured).
	PeakRSS int64
	// LongestCall is the longest time one Append call blocked (pipelined).
	LongestCall time.Duration
	latencies   []time.Duration
}

func (r result) perSec(n int64) float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(n) / r.Elapsed.Seconds()
}

func (r result) sortedLatencies() []time.Duration {
	lat := slices.Clone(r.latencies)
	slices.Sort(lat)
	return lat
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i]
}

// setRatios fills VsRaw of every result whose bound was measured.
func setRatios(rows []result) {
	byKey := map[string]result{}
	for _, r := range rows {
		byKey[r.Key] = r
	}
	for i, r := range rows {
		b, ok := byKey[r.Bound]
		if !ok || r.NoRate || b.perSec(b.Entries) == 0 {
			continue
		}
		rows[i].VsRaw = r.perSec(r.Entries) / b.perSec(b.Entries)
	}
}

func printTable(w io.Writer, rows []result) {
	fmt.Fprintf(w, "%-50s %11s %8s %9s %8s %9s %9s %9s %9s %7s\n",
		"workload", "entries/s", "MB/s", "fsyncs/s", "ent/fsync", "p50", "p99", "p99.9", "max", "vs raw")
	for _, r := range rows {
		lat := r.sortedLatencies()
		rate, mb, fs, epf, vs := "-", "-", "-", "-", ""
		if !r.NoRate {
			rate = fmt.Sprintf("%.0f", r.perSec(r.Entries))
			mb = fmt.Sprintf("%.1f", r.perSec(r.Bytes)/1e6)
		}
		if r.Fsyncs > 0 {
			fs = fmt.Sprintf("%.0f", r.perSec(r.Fsyncs))
			epf = fmt.Sprintf("%.1f", float64(r.Entries)/float64(r.Fsyncs))
		}
		if r.VsRaw > 0 {
			vs = fmt.Sprintf("%.2f", r.VsRaw)
		}
		label := r.Name
		if r.Raw {
			label = "  " + label
		}
		fmt.Fprintf(w, "%-50s %11s %8s %9s %8s %9s %9s %9s %9s %7s\n", label, rate, mb, fs, epf,
			round(percentile(lat, 0.50)), round(percentile(lat, 0.99)), round(percentile(lat, 0.999)), round(percentile(lat, 1)), vs)
	}
	for _, r := range rows {
		if r.Note != "" {
			fmt.Fprintf(w, "%s: %s\n", r.Key, r.Note)
		}
	}
	fmt.Fprintln(w, "vs raw: entries/s over the raw line just above it (same bytes per fdatasync, same record size); raw lines are indented.")
}

func round(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	case d >= 10*time.Microsecond:
		return d.Round(time.Microsecond).String()
	default:
		return d.Round(10 * time.Nanosecond).String()
	}
}

// jsonResult is the machine-readable form of a result: rates computed,
// durations in microseconds.
type jsonResult struct {
	Key             string    `json:"key"`
	Name            string    `json:"name"`
	Raw             bool      `json:"raw"`
	Entries         int64     `json:"entries"`
	Bytes           int64     `json:"bytes"`
	Fsyncs          int64     `json:"fsyncs"`
	ElapsedSeconds  float64   `json:"elapsed_s"`
	EntriesPerSec   float64   `json:"entries_per_s,omitempty"`
	MBPerSec        float64   `json:"mb_per_s,omitempty"`
	FsyncsPerSec    float64   `json:"fsyncs_per_s,omitempty"`
	EntriesPerFsync float64   `json:"entries_per_fsync,omitempty"`
	Ops             int       `json:"ops"`
	P50us           float64   `json:"p50_us"`
	P99us           float64   `json:"p99_us"`
	P999us          float64   `json:"p99_9_us"`
	MaxUs           float64   `json:"max_us"`
	Bound           string    `json:"bound,omitempty"`
	VsRaw           float64   `json:"vs_raw,omitempty"`
	Throughput      []float64 `json:"throughput_entries_per_s_100ms,omitempty"`
	Note            string    `json:"note,omitempty"`
	PeakRSSBytes    int64     `json:"peak_rss_bytes,omitempty"`
	LongestCallUs   float64   `json:"longest_append_call_us,omitempty"`
}

type jsonReport struct {
	Dir      string       `json:"dir"`
	Duration string       `json:"duration"`
	Batch    int          `json:"batch"`
	Size     int          `json:"size"`
	Inflight int          `json:"inflight"`
	Conc     int          `json:"conc"`
	Prealloc string       `json:"prealloc"`
	Results  []jsonResult `json:"results"`
}

func toJSON(r result) jsonResult {
	lat := r.sortedLatencies()
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	j := jsonResult{
		Key: r.Key, Name: r.Name, Raw: r.Raw, Entries: r.Entries, Bytes: r.Bytes, Fsyncs: r.Fsyncs,
		ElapsedSeconds: r.Elapsed.Seconds(), Ops: len(lat),
		P50us: us(percentile(lat, 0.5)), P99us: us(percentile(lat, 0.99)), P999us: us(percentile(lat, 0.999)), MaxUs: us(percentile(lat, 1)),
		Bound: r.Bound, VsRaw: r.VsRaw, Throughput: r.Throughput, Note: r.Note,
		PeakRSSBytes: r.PeakRSS, LongestCallUs: us(r.LongestCall),
	}
	if !r.NoRate {
		j.EntriesPerSec = r.perSec(r.Entries)
		j.MBPerSec = r.perSec(r.Bytes) / 1e6
	}
	if r.Fsyncs > 0 {
		j.FsyncsPerSec = r.perSec(r.Fsyncs)
		j.EntriesPerFsync = float64(r.Entries) / float64(r.Fsyncs)
	}
	return j
}

func writeJSON(path, dir string, c config, rows []result) error {
	rep := jsonReport{Dir: dir, Duration: c.duration.String(), Batch: c.batch, Size: c.size, Inflight: c.inflight, Conc: c.conc, Prealloc: c.prealloc}
	for _, r := range rows {
		rep.Results = append(rep.Results, toJSON(r))
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}
