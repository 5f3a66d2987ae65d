package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shortConfig is a run of a few hundred milliseconds per workload on a
// temporary directory, with JSON and charts written.
func shortConfig(t *testing.T, workload string) config {
	dir := t.TempDir()
	return config{
		dir:        dir,
		workload:   workload,
		duration:   100 * time.Millisecond,
		batch:      16,
		size:       64,
		inflight:   256,
		conc:       8,
		raw:        true,
		prealloc:   "zeroahead",
		reopenSize: 2 << 20,
		reopens:    2,
		jsonPath:   filepath.Join(dir, "out.json"),
		outDir:     filepath.Join(dir, "charts"),
		quiet:      true,
	}
}

func TestWorkloads(t *testing.T) {
	tests := []struct {
		workload string
		keys     []string // the rows the run must produce, in order
	}{
		{"batch-wait", []string{"raw-batch-wait", "batch-wait"}},
		{"pipelined", []string{"raw-pipelined", "pipelined"}},
		{"concurrent", []string{"raw-concurrent", "concurrent"}},
		{"rotation", []string{"raw-rotation", "rotation"}},
		{"steady", []string{"raw-steady", "steady"}},
		{"reopen", []string{"raw-seq-write", "fill", "reopen"}},
		{"seq-read", []string{"raw-seq-write", "fill", "raw-seq-read", "seq-read"}},
		{"random-read", []string{"raw-seq-write", "fill", "raw-random-read", "random-read"}},
		{"random-read,batch-wait", []string{"raw-batch-wait", "batch-wait", "raw-seq-write", "fill", "raw-random-read", "random-read"}},
	}
	for _, tt := range tests {
		t.Run(tt.workload, func(t *testing.T) {
			c := shortConfig(t, tt.workload)
			rows, err := run(c)
			require.NoError(t, err)
			var keys []string
			for _, r := range rows {
				keys = append(keys, r.Key)
				assert.Positive(t, r.Entries, "%s: entries", r.Key)
				assert.NotEmpty(t, r.latencies, "%s: latencies", r.Key)
				assert.Positive(t, r.Elapsed, "%s: elapsed", r.Key)
				if !r.Raw && r.Key != "reopen" {
					assert.NotEmpty(t, r.Bound, "%s: bound", r.Key)
					assert.Positive(t, r.VsRaw, "%s: vs raw", r.Key)
				}
				if r.Key == "reopen" {
					assert.Len(t, r.latencies, c.reopens, "one latency per Open")
				}
			}
			assert.Equal(t, tt.keys, keys)
			checkJSON(t, c.jsonPath, rows)
			checkCharts(t, c.outDir, rows)
		})
	}
}

// TestAppendFsyncsFromMetrics checks that the fdatasync figures come from
// the engine: batch-wait makes one batch durable per Append, so it cannot
// have more entries per fdatasync than the batch, and it must have synced.
func TestAppendFsyncsFromMetrics(t *testing.T) {
	c := shortConfig(t, "batch-wait")
	c.raw = false
	rows, err := run(c)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	r := rows[0]
	require.Positive(t, r.Fsyncs)
	assert.LessOrEqual(t, float64(r.Entries)/float64(r.Fsyncs), float64(c.batch))
	assert.Empty(t, r.Bound, "no raw bound without -raw")
}

// TestRotationRotates checks that the rotation workload does rotate files.
func TestRotationRotates(t *testing.T) {
	c := shortConfig(t, "pipelined,rotation")
	c.raw = false
	c.duration = 300 * time.Millisecond
	c.size = 1024 // about 1 MiB per rotation, reached in a few ms
	rows, err := run(c)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	rot := rows[1]
	require.Equal(t, "rotation", rot.Key)
	assert.Contains(t, rot.Note, "file rotations")
	assert.NotContains(t, rot.Note, " 0 file rotations")
	assert.Contains(t, rot.Note, "× pipelined's entries/s")
}

// TestSteadyCompacts checks that the steady workload frees files as it
// appends: with 64 KiB files it compacts many times in 300 ms.
func TestSteadyCompacts(t *testing.T) {
	c := shortConfig(t, "steady")
	c.raw = false
	c.duration = 300 * time.Millisecond
	c.fileSize = 64 << 10
	c.size = 1024
	rows, err := run(c)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Regexp(t, `, [1-9][0-9]* log files freed by compaction`, rows[0].Note)
	assert.Regexp(t, `, reopened in [0-9.]+[µm]?s `, rows[0].Note)
}

// TestRecycled checks that -recycled makes each append workload compact
// behind itself, so that it frees (and reuses) files while it runs.
func TestRecycled(t *testing.T) {
	for _, w := range recyclableWorkloads {
		t.Run(w, func(t *testing.T) {
			c := shortConfig(t, w)
			c.raw = false
			c.recycled = true
			c.duration = 300 * time.Millisecond
			c.fileSize = 64 << 10
			c.size = 1024
			c.conc = 8
			rows, err := run(c)
			require.NoError(t, err)
			require.Len(t, rows, 1)
			assert.True(t, strings.HasSuffix(rows[0].Name, ", recycled"), rows[0].Name)
			assert.Regexp(t, `, 64 KiB files, [1-9][0-9]* freed by compaction`, rows[0].Note)
		})
	}
	c := shortConfig(t, "batch-wait")
	c.recycled, c.spares = true, -1
	_, err := run(c)
	require.ErrorContains(t, err, "-recycled needs spare log files")
}

func checkJSON(t *testing.T, path string, rows []result) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var rep jsonReport
	require.NoError(t, json.Unmarshal(b, &rep))
	require.Len(t, rep.Results, len(rows))
	for i, j := range rep.Results {
		assert.Equal(t, rows[i].Key, j.Key)
		assert.Equal(t, rows[i].Entries, j.Entries)
		assert.Positive(t, j.MaxUs, "%s: max latency", j.Key)
		assert.LessOrEqual(t, j.P50us, j.P99us)
		assert.LessOrEqual(t, j.P99us, j.P999us)
		assert.LessOrEqual(t, j.P999us, j.MaxUs)
		if !rows[i].NoRate {
			assert.Positive(t, j.EntriesPerSec, "%s: entries/s", j.Key)
		}
	}
}

func checkCharts(t *testing.T, dir string, rows []result) {
	t.Helper()
	for _, r := range rows {
		names := []string{r.Key + "-latency.svg"}
		if len(r.Throughput) > 0 {
			names = append(names, r.Key+"-throughput.svg")
		}
		for _, n := range names {
			b, err := os.ReadFile(filepath.Join(dir, n))
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(string(b), "<svg"), "%s starts with %q", n, string(b[:min(len(b), 20)]))
			assert.Contains(t, string(b), "<polyline")
			assert.True(t, strings.HasSuffix(string(b), "</svg>\n"), n)
		}
	}
	// The timed workloads run for 100 ms, long enough for one sample.
	for _, r := range rows {
		if r.Key == "batch-wait" || r.Key == "pipelined" {
			assert.NotEmpty(t, r.Throughput, "%s: throughput samples", r.Key)
		}
	}
}

func TestSelectWorkloads(t *testing.T) {
	tests := []struct {
		spec    string
		want    []string
		wantErr bool
	}{
		{"all", workloadOrder, false},
		{"", workloadOrder, false},
		{"seq-read", []string{"seq-read"}, false},
		{"random-read, pipelined", []string{"pipelined", "random-read"}, false},
		{"steady,batch-wait", []string{"batch-wait", "steady"}, false},
		{"pipelined,bogus", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := selectWorkloads(tt.spec)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestPercentile(t *testing.T) {
	lat := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		p    float64
		want time.Duration
	}{{0, 1}, {0.5, 5}, {0.99, 9}, {1, 10}}
	for _, tt := range tests {
		assert.Equal(t, tt.want, percentile(lat, tt.p), "p%v", tt.p)
	}
	assert.Zero(t, percentile(nil, 0.5))
}

func TestSetRatios(t *testing.T) {
	rows := []result{
		{Key: "raw", Raw: true, Entries: 1000, Elapsed: time.Second},
		{Key: "x", Entries: 250, Elapsed: time.Second, Bound: "raw"},
		{Key: "once", Entries: 250, Elapsed: time.Second, Bound: "raw", NoRate: true},
		{Key: "unbounded", Entries: 250, Elapsed: time.Second, Bound: "missing"},
	}
	setRatios(rows)
	assert.InDelta(t, 0.25, rows[1].VsRaw, 1e-9)
	assert.Zero(t, rows[2].VsRaw)
	assert.Zero(t, rows[3].VsRaw)
}

func TestQuantileGrid(t *testing.T) {
	shuffled := func(n int) []time.Duration {
		lat := make([]time.Duration, n)
		for i := range lat {
			lat[i] = time.Duration((i*7919)%n + 1) // 1..n, each once
		}
		return lat
	}
	tests := []struct {
		name    string
		n       int
		wantLen int
	}{
		{"few samples are kept", 3, 3},
		{"exactly the grid", quantileSteps + 1, quantileSteps + 1},
		{"many samples become the grid", 1_000_003, quantileSteps + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			grid := quantileGrid(shuffled(tt.n))
			require.Len(t, grid, tt.wantLen)
			assert.True(t, slices.IsSorted(grid))
			assert.Equal(t, time.Duration(1), grid[0], "the fastest")
			assert.Equal(t, time.Duration(tt.n), grid[len(grid)-1], "the slowest")
			// Percentiles of the grid are those of the samples within one
			// step of the grid.
			for _, p := range []float64{0.5, 0.99, 0.999} {
				want := float64(tt.n) * p
				got := float64(percentile(grid, p))
				assert.InDelta(t, want, got, float64(tt.n)/quantileSteps+1, "p%v", p)
			}
		})
	}
}
