package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// result is one run, as printed and as written to JSON. Latencies are in
// microseconds, one per call (an Append, a Submit until durable, a Read).
type result struct {
	Workload      string  `json:"workload"`
	Engine        string  `json:"engine"`
	Round         int     `json:"round"`
	Skipped       string  `json:"skipped,omitempty"`
	Entries       int64   `json:"entries"`
	Bytes         int64   `json:"bytes"`
	Calls         int     `json:"calls"`
	Seconds       float64 `json:"seconds"`
	EntriesPerSec float64 `json:"entries_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
	P50us         float64 `json:"p50_us"`
	P99us         float64 `json:"p99_us"`
	P999us        float64 `json:"p999_us"`
	MaxUs         float64 `json:"max_us"`

	workloadIndex int
}

func newResult(engine string, w workload, round int, r run) result {
	res := result{Workload: w.String(), Engine: engine, Round: round, Skipped: r.skipped}
	if r.skipped != "" {
		return res
	}
	lat := slices.Clone(r.latencies)
	slices.Sort(lat)
	sec := r.elapsed.Seconds()
	res.Entries, res.Bytes, res.Calls, res.Seconds = r.entries, r.bytes, len(lat), sec
	if sec > 0 {
		res.EntriesPerSec = float64(r.entries) / sec
		res.MBPerSec = float64(r.bytes) / sec / 1e6
	}
	res.P50us = micros(percentile(lat, 0.50))
	res.P99us = micros(percentile(lat, 0.99))
	res.P999us = micros(percentile(lat, 0.999))
	res.MaxUs = micros(percentile(lat, 1))
	return res
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// percentile is the nearest-rank percentile of sorted latencies.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(p*float64(len(sorted)-1))]
}

// summary is one engine in one workload over all rounds: the run with the
// median entries/s, and the spread of entries/s across rounds.
type summary struct {
	Median  result  `json:"median"`
	MinRate float64 `json:"min_entries_per_sec"`
	MaxRate float64 `json:"max_entries_per_sec"`
	Rounds  int     `json:"rounds"`
}

// summarize groups the runs by workload and engine, in run order, and
// picks each group's median run (the lower middle for an even count).
func summarize(ws []workload, results []result) [][]summary {
	out := make([][]summary, len(ws))
	for wi := range ws {
		var order []string
		groups := map[string][]result{}
		for _, r := range results {
			if r.workloadIndex != wi {
				continue
			}
			if _, ok := groups[r.Engine]; !ok {
				order = append(order, r.Engine)
			}
			groups[r.Engine] = append(groups[r.Engine], r)
		}
		for _, name := range order {
			rs := slices.Clone(groups[name])
			slices.SortFunc(rs, func(a, b result) int {
				switch {
				case a.EntriesPerSec < b.EntriesPerSec:
					return -1
				case a.EntriesPerSec > b.EntriesPerSec:
					return 1
				}
				return 0
			})
			out[wi] = append(out[wi], summary{
				Median: rs[(len(rs)-1)/2], MinRate: rs[0].EntriesPerSec, MaxRate: rs[len(rs)-1].EntriesPerSec, Rounds: len(rs),
			})
		}
	}
	return out
}

// printTables prints one table per workload: each engine's median run and
// its entries/s as a ratio to raftlog's; under it, raftlog's ratio to raw.
func printTables(out io.Writer, ws []workload, sums [][]summary, c config) {
	for wi, w := range ws {
		fmt.Fprintf(out, "## %s  (median of %d round(s), %s each)\n\n", w, c.rounds, c.duration)
		fmt.Fprintf(out, "| %-13s | %11s | %8s | %9s | %9s | %9s | %9s | %9s |", "engine", "entries/s", "MB/s", "p50", "p99", "p99.9", "max", "×raftlog")
		if c.rounds > 1 {
			fmt.Fprintf(out, " %-23s |", "entries/s range")
		}
		fmt.Fprintln(out)
		fmt.Fprintf(out, "|%s|%s:|%s:|%s:|%s:|%s:|%s:|%s:|", dashes(15), dashes(12), dashes(9), dashes(10), dashes(10), dashes(10), dashes(10), dashes(10))
		if c.rounds > 1 {
			fmt.Fprintf(out, "%s|", dashes(25))
		}
		fmt.Fprintln(out)
		var raftlogRate, rawRate float64
		for _, s := range sums[wi] {
			switch s.Median.Engine {
			case "raftlog":
				raftlogRate = s.Median.EntriesPerSec
			case "raw":
				rawRate = s.Median.EntriesPerSec
			}
		}
		for _, s := range sums[wi] {
			r := s.Median
			if r.Skipped != "" {
				fmt.Fprintf(out, "| %-13s | %-101s |\n", r.Engine, "n/a: "+r.Skipped)
				continue
			}
			ratio := "–"
			if raftlogRate > 0 {
				ratio = fmt.Sprintf("%.2f", r.EntriesPerSec/raftlogRate)
			}
			fmt.Fprintf(out, "| %-13s | %11.0f | %8.1f | %9s | %9s | %9s | %9s | %9s |", r.Engine, r.EntriesPerSec, r.MBPerSec,
				fmtMicros(r.P50us), fmtMicros(r.P99us), fmtMicros(r.P999us), fmtMicros(r.MaxUs), ratio)
			if c.rounds > 1 {
				fmt.Fprintf(out, " %23s |", fmt.Sprintf("%.0f–%.0f", s.MinRate, s.MaxRate))
			}
			fmt.Fprintln(out)
		}
		if raftlogRate > 0 && rawRate > 0 {
			fmt.Fprintf(out, "\nraftlog / raw: %.2f\n", raftlogRate/rawRate)
		}
		fmt.Fprintln(out)
	}
}

func dashes(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '-'
	}
	return string(b)
}

// fmtMicros prints a latency with a unit that keeps it short.
func fmtMicros(us float64) string {
	d := time.Duration(us * float64(time.Microsecond))
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

// writeJSON writes the configuration, every run and the medians.
func writeJSON(path string, c config, results []result, sums [][]summary) error {
	var flat []summary
	for _, s := range sums {
		flat = append(flat, s...)
	}
	doc := struct {
		Rounds   int       `json:"rounds"`
		Duration string    `json:"duration_per_run"`
		Dir      string    `json:"dir"`
		Runs     []result  `json:"runs"`
		Medians  []summary `json:"medians"`
	}{c.rounds, c.duration.String(), c.dir, results, flat}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("json: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return nil
}
