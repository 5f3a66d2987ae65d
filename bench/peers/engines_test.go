package main

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/raftlog/raftlog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain shrinks the two engines that reserve big files up front, so
// the tests spend their time appending, not zero-filling.
func TestMain(m *testing.M) {
	rawFileSize = 8 << 20
	os.Exit(m.Run())
}

// testEngines returns every engine, with raftlog's log files shrunk to
// 1 MiB so that the tests also cross file boundaries.
func testEngines() []engine {
	var es []engine
	for _, f := range engineFactories {
		e := f()
		if r, ok := e.(*raftlogEngine); ok {
			r.opts = raftlog.Options{LogFileSize: 1 << 20}
		}
		es = append(es, e)
	}
	return es
}

// readBack checks that the log holds exactly the entries 1..last of size
// bytes: through Read while it is open, or, for engines without random
// reads, by closing it and replaying it with Scan. It closes e.
func readBack(t *testing.T, e engine, dir string, last uint64, size int) {
	t.Helper()
	_, err := e.Read(1)
	if errors.Is(err, errNoRandomRead) {
		require.NoError(t, e.Close())
		sc, ok := e.(scanner)
		require.True(t, ok, "%s has neither random reads nor Scan", e.Name())
		var n uint64
		require.NoError(t, sc.Scan(dir, func(index uint64, data []byte) error {
			n++
			require.Equal(t, n, index, "entries out of order")
			return checkEntry(index, size, data)
		}))
		require.Equal(t, last, n, "entries read back")
		return
	}
	for i := uint64(1); i <= last; i++ {
		data, err := e.Read(i)
		require.NoError(t, err)
		require.NoError(t, checkEntry(i, size, data))
	}
	// One past the end is not there.
	_, err = e.Read(last + 1)
	if _, raw := e.(*rawEngine); !raw { // raw reads zeros: it has no end
		require.Error(t, err, "read past the last index")
	}
	require.NoError(t, e.Close())
}

// TestEnginesStoreWhatTheyAreGiven appends a few hundred entries in
// batches of several sizes (and, for engines with group commit, through
// Submit with several calls in flight), then reads every one back.
func TestEnginesStoreWhatTheyAreGiven(t *testing.T) {
	const size = 100
	for _, e := range testEngines() {
		t.Run(e.Name(), func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, e.Open(dir))
			next := uint64(1)
			for _, n := range []int{1, 7, 64, 128} {
				b := newBatch(n, size)
				b.number(next)
				require.NoError(t, e.Append(b))
				next += uint64(n)
			}
			if sub, ok := e.(submitter); ok {
				var waits []func() error
				b := newBatch(32, size) // reused at once: Submit must have copied it
				for range 4 {
					b.number(next)
					w, err := sub.Submit(b)
					require.NoError(t, err)
					waits = append(waits, w)
					next += 32
				}
				for _, w := range waits {
					require.NoError(t, w())
				}
			}
			readBack(t, e, dir, next-1, size)
		})
	}
}

// TestWorkloadsWriteContiguousLogs runs each workload's driver on every
// engine for a few hundred entries, twice on the same log (as -warmup
// does: the second run continues after the first), and checks that what
// the drivers counted is exactly what the engine holds.
func TestWorkloadsWriteContiguousLogs(t *testing.T) {
	lim := limits{duration: time.Minute, maxEntries: 150}
	ws := []workload{
		{kind: kindBatchWait, batch: 16, size: 64},
		{kind: kindConcurrent, batch: 1, size: 64, conc: 8},
		{kind: kindPipelined, batch: 8, size: 64, inflight: 64},
		{kind: kindBatchWait, batch: 3, size: 5}, // shorter than the index stamp
	}
	for _, w := range ws {
		for _, e := range testEngines() {
			t.Run(w.String()+"/"+e.Name(), func(t *testing.T) {
				dir := t.TempDir()
				require.NoError(t, e.Open(dir))
				var last uint64
				for range 2 {
					lim.after = last
					r, err := runWorkload(e, w, lim)
					require.NoError(t, err)
					if r.skipped != "" {
						_, ok := e.(submitter)
						require.False(t, ok, "a submitter skipped %s", w.kind)
						require.NoError(t, e.Close())
						return
					}
					assert.GreaterOrEqual(t, r.entries, lim.maxEntries)
					assert.Equal(t, last+uint64(r.entries), r.lastIndex, "every index handed out completed")
					assert.Equal(t, r.entries*int64(w.size), r.bytes)
					assert.Len(t, r.latencies, int(r.entries)/w.batch, "one latency per call")
					last = r.lastIndex
				}
				readBack(t, e, dir, last, w.size)
			})
		}
	}
}

// TestRandomRead fills every engine and reads random entries; engines
// without a random read say so instead.
func TestRandomRead(t *testing.T) {
	w := workload{kind: kindRead, size: 32, readN: 2500} // more than one fill batch
	for _, e := range testEngines() {
		t.Run(e.Name(), func(t *testing.T) {
			require.NoError(t, e.Open(t.TempDir()))
			defer func() { require.NoError(t, e.Close()) }()
			r, err := runWorkload(e, w, limits{duration: time.Minute, maxEntries: 500})
			require.NoError(t, err)
			switch e.(type) {
			case *etcdEngine, *pebbleEngine:
				assert.Equal(t, errNoRandomRead.Error(), r.skipped)
				return
			}
			require.Empty(t, r.skipped)
			assert.Equal(t, uint64(w.readN), r.lastIndex)
			assert.Equal(t, int64(500), r.entries)
			assert.Equal(t, int64(500*w.size), r.bytes)
			assert.Len(t, r.latencies, 500)
		})
	}
}

func TestCheckEntry(t *testing.T) {
	good := newBatch(3, 20)
	good.number(41)
	short := newBatch(1, 4)
	short.number(0x0102030405)
	tests := []struct {
		name  string
		index uint64
		size  int
		data  []byte
		ok    bool
	}{
		{"right entry", 42, 20, good.entry(1), true},
		{"another entry", 43, 20, good.entry(1), false},
		{"wrong size", 42, 21, good.entry(1), false},
		{"pattern broken", 42, 20, append(append([]byte{}, good.entry(1)[:19]...), 0xff), false},
		{"truncated stamp", 0x0102030405, 4, short.entry(0), true},
		{"truncated stamp, wrong index", 0x0102030406, 4, short.entry(0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkEntry(tt.index, tt.size, tt.data)
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
	assert.NoError(t, checkStamp(42, good.entry(1)))
	assert.Error(t, checkStamp(41, good.entry(1)))
}

func TestParseBatchSizes(t *testing.T) {
	got, err := parseBatchSizes("1024x128, 1×64,,")
	require.NoError(t, err)
	assert.Equal(t, [][2]int{{1024, 128}, {1, 64}}, got)
	for _, bad := range []string{"1024", "0x128", "1x0", "ax1"} {
		_, err := parseBatchSizes(bad)
		assert.Error(t, err, bad)
	}
}

func TestRawReadRefusesAfterWrap(t *testing.T) {
	e := &rawEngine{}
	require.NoError(t, e.Open(t.TempDir()))
	defer func() { require.NoError(t, e.Close()) }()
	b := newBatch(1024, 1024) // 1 MiB per call: the 8 MiB file wraps on the 9th
	for i := range 9 {
		b.number(uint64(i*1024 + 1))
		require.NoError(t, e.Append(b))
	}
	_, err := e.Read(1)
	assert.Error(t, err)
}

func TestSummarizePicksMedian(t *testing.T) {
	ws := []workload{{kind: kindBatchWait, batch: 1, size: 1}}
	var rs []result
	for i, rate := range []float64{30, 10, 20} {
		rs = append(rs, result{Engine: "raftlog", Round: i + 1, EntriesPerSec: rate})
	}
	sums := summarize(ws, rs)
	require.Len(t, sums[0], 1)
	s := sums[0][0]
	assert.Equal(t, 20.0, s.Median.EntriesPerSec)
	assert.Equal(t, 10.0, s.MinRate)
	assert.Equal(t, 30.0, s.MaxRate)
	assert.Equal(t, 3, s.Rounds)
}

func TestPlanSelectsEngines(t *testing.T) {
	names := func(fs []func() engine) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f().Name())
		}
		return out
	}
	c := config{rounds: 1, duration: time.Second, conc: 1, concSize: 1, pipeBatch: 1, pipeSize: 1, readN: 1, readSize: 1,
		workloads: "batch-wait,read", batchWait: "2x3,4x5", engines: "raw"}
	ws, fs, err := plan(c)
	require.NoError(t, err)
	assert.Equal(t, []string{"raftlog", "raw"}, names(fs))
	assert.Len(t, ws, 3)

	c.fileSize = 64 << 20
	_, fs, err = plan(c)
	require.NoError(t, err)
	assert.Equal(t, []string{"raftlog", "raftlog-64M", "raw"}, names(fs))

	c.engines = "raw,nosuch"
	_, _, err = plan(c)
	assert.Error(t, err)
	c.engines, c.workloads = "all", "nosuch"
	_, _, err = plan(c)
	assert.Error(t, err)
}
