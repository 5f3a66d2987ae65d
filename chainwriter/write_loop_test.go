package chainwriter

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// placedTask is a task of a test workload with the bytes it must leave.
type placedTask struct {
	file *fakeFile
	off  int64
	data []byte // the concatenation of the task's buffers
	tag  uint64
}

// TestOrdering runs a random workload over three files (rotation with end
// markers, gaps, zero-length buffers, repeated tags) through a writer with
// a small queue and small writes, and checks at every OnForced that the tag
// never goes down, is not above WrittenTag, and that every task with a tag
// up to it is in the synced contents of its file. The claims case writes
// some tasks through a Claim instead of Submit: every 40th task it waits
// until the writer has caught up, so that claims are granted, and it tries
// one on every 3rd task, granted only when the writer happens to be idle.
func TestOrdering(t *testing.T) {
	tests := []struct {
		name   string
		claims bool
	}{
		{"submit only", false},
		{"with claims", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claimed := runOrdering(t, tt.claims)
			t.Logf("%d tasks written through claims", claimed)
			if tt.claims {
				require.Positive(t, claimed, "no claim was granted")
			}
		})
	}
}

func runOrdering(t *testing.T, claims bool) (claimed int) {
	checkNoLeak(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	files := []*fakeFile{newFakeFile("a"), newFakeFile("b"), newFakeFile("c")}
	var tasks []placedTask
	var tag uint64
	cur, off := 0, int64(0)
	for i := range 3000 {
		if i > 0 && rng.IntN(300) == 0 && cur < len(files)-1 {
			// Rotation: an end marker on the old file (no bytes, same tag),
			// then the next file from its start.
			tasks = append(tasks, placedTask{file: files[cur], off: off, tag: tag})
			cur, off = cur+1, 0
		}
		if rng.IntN(20) == 0 {
			off += int64(rng.IntN(50)) // a gap breaks merging
		}
		if rng.IntN(4) != 0 {
			tag++ // otherwise repeat the tag
		}
		n := rng.IntN(400)
		tasks = append(tasks, placedTask{file: files[cur], off: off, data: pattern(i, n), tag: tag})
		off += int64(n)
	}

	var w *Writer
	var lastForced uint64
	checked := 0
	var forcedErr error
	opts := Options{
		QueueSize:    64,
		MaxWriteSize: 1000,
		OnForced: func(tag uint64) {
			if forcedErr != nil {
				return
			}
			if tag < lastForced {
				forcedErr = fmt.Errorf("OnForced(%d) after OnForced(%d)", tag, lastForced)
				return
			}
			lastForced = tag
			if wt := w.WrittenTag(); tag > wt {
				forcedErr = fmt.Errorf("OnForced(%d) above WrittenTag %d", tag, wt)
				return
			}
			// ForcedTag is published before the report, which the report
			// goroutine may make after the next round has published too.
			if ft := w.ForcedTag(); ft < tag {
				forcedErr = fmt.Errorf("ForcedTag %d below OnForced(%d)", ft, tag)
				return
			}
			// Reporting tag promises every task before the first one
			// carrying it, and that one; later tasks repeating the tag
			// (first parts of a batch spanning two files) may still be
			// in flight.
			durable := map[*fakeFile][]byte{}
			isDurable := func(i int) bool {
				pt := tasks[i]
				if len(pt.data) == 0 {
					// Nothing to write (an end marker, or an empty task that
					// may lie past the end of its file after a gap).
					return true
				}
				d, ok := durable[pt.file]
				if !ok {
					d = pt.file.durableCopy()
					durable[pt.file] = d
				}
				end := pt.off + int64(len(pt.data))
				return end <= int64(len(d)) && bytes.Equal(d[pt.off:end], pt.data)
			}
			for ; checked < len(tasks) && tasks[checked].tag <= tag; checked++ {
				if tasks[checked].tag == tag && checked > 0 && tasks[checked-1].tag == tag {
					break // only the first task carrying tag is promised
				}
				if !isDurable(checked) {
					forcedErr = fmt.Errorf("OnForced(%d): task %d (tag %d) not durable in %s", tag, checked, tasks[checked].tag, tasks[checked].file.name)
					return
				}
			}
		},
		OnError: func(err error) { t.Errorf("OnError(%v)", err) },
	}
	w = New(opts)

	nextWritten := 0
	for i, pt := range tasks {
		// Split the data into up to four buffers, some of them empty.
		var bufs [][]byte
		rest := pt.data
		for len(rest) > 0 {
			n := min(len(rest), rng.IntN(200))
			bufs = append(bufs, rest[:n])
			rest = rest[n:]
		}
		task := Task{
			File: pt.file, Offset: pt.off, Bufs: bufs, Tag: pt.tag,
			OnWritten: func(err error) {
				assert.NoError(t, err)
				assert.Equal(t, nextWritten, i, "OnWritten out of submission order")
				nextWritten++
			},
		}
		if claims && i > 0 && i%40 == 0 {
			prev := tasks[i-1].tag
			require.Eventually(t, func() bool { return w.ForcedTag() == prev }, 10*time.Second, 50*time.Microsecond)
		}
		if claims && i%3 == 0 {
			if c, ok := w.TryClaim(); ok {
				require.NoError(t, c.WriteSync(task))
				require.GreaterOrEqual(t, w.ForcedTag(), pt.tag, "WriteSync returned before its tag was published")
				claimed++
				continue
			}
		}
		require.NoError(t, w.Submit(task))
	}
	require.NoError(t, w.Close())
	require.NoError(t, forcedErr)
	require.Equal(t, len(tasks), nextWritten)
	require.Equal(t, tag, w.WrittenTag())
	require.Equal(t, tag, w.ForcedTag())
	require.Equal(t, tag, lastForced)
	require.Equal(t, tasks[len(tasks)-1].tag, lastForced, "the last tag was not reported")
	for _, f := range files {
		require.Equal(t, f.contents(), f.durableCopy(), "file %s not synced after its last write", f.name)
	}
	return claimed
}

// holdWriter submits a task on its own file whose OnWritten waits on the
// returned gate, and returns once the write goroutine is inside it, even
// while a force round runs. Tasks
// submitted before the gate is closed are then taken as one batch.
func holdWriter(t *testing.T, w *Writer) (gate chan struct{}) {
	t.Helper()
	entered, gate := make(chan struct{}), make(chan struct{})
	require.NoError(t, w.Submit(Task{
		File: newFakeFile("blocker"),
		// holdBytes long, so that a force round in progress does not hold
		// it back (holdWhileForcing).
		Bufs: [][]byte{make([]byte, holdBytes)},
		OnWritten: func(error) {
			close(entered)
			<-gate
		},
	}))
	<-entered
	return gate
}

func TestMerging(t *testing.T) {
	type spec struct {
		file string
		off  int64
		lens []int
	}
	repeat := func(n int, s spec, step int64) []spec {
		out := make([]spec, n)
		for i := range out {
			out[i] = s
			out[i].off = s.off + int64(i)*step
		}
		return out
	}
	ones := func(n int) []int {
		l := make([]int, n)
		for i := range l {
			l[i] = 1
		}
		return l
	}
	tests := []struct {
		name     string
		maxWrite int
		tasks    []spec
		want     map[string][]int // buffers per WritevAt, per file
	}{
		{
			name:  "contiguous tasks share one write",
			tasks: repeat(10, spec{"a", 0, []int{100, 100, 100}}, 300),
			want:  map[string][]int{"a": {30}},
		},
		{
			name:     "max write size splits",
			maxWrite: 1000,
			tasks:    repeat(10, spec{"a", 0, []int{300}}, 300),
			want:     map[string][]int{"a": {3, 3, 3, 1}},
		},
		{
			name:     "a buffer above max write size goes alone",
			maxWrite: 100,
			tasks:    []spec{{"a", 0, []int{50, 500, 50}}},
			want:     map[string][]int{"a": {1, 1, 1}},
		},
		{
			name:  "at most 1024 buffers per write",
			tasks: repeat(3, spec{"a", 0, ones(500)}, 500),
			want:  map[string][]int{"a": {1024, 476}},
		},
		{
			name:  "gap splits",
			tasks: []spec{{"a", 0, []int{100}}, {"a", 200, []int{100}}},
			want:  map[string][]int{"a": {1, 1}},
		},
		{
			name:  "going back splits",
			tasks: []spec{{"a", 100, []int{100}}, {"a", 0, []int{100}}},
			want:  map[string][]int{"a": {1, 1}},
		},
		{
			name:  "another file in between splits",
			tasks: []spec{{"a", 0, []int{100}}, {"b", 0, []int{100}}, {"a", 100, []int{100}}},
			want:  map[string][]int{"a": {1, 1}, "b": {1}},
		},
		{
			name:  "empty buffers and empty tasks do not split",
			tasks: []spec{{"a", 0, []int{100, 0, 100}}, {"a", 200, nil}, {"b", 0, nil}, {"a", 200, []int{0, 100}}},
			want:  map[string][]int{"a": {3}, "b": nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkNoLeak(t)
			files := map[string]*fakeFile{"a": newFakeFile("a"), "b": newFakeFile("b")}
			want := map[string][]byte{}
			var wrote []int
			obs := &countingObserver{}
			w := New(Options{MaxWriteSize: tt.maxWrite, Observer: obs})
			gate := holdWriter(t, w)
			for i, s := range tt.tasks {
				var bufs [][]byte
				off := s.off
				for j, n := range s.lens {
					b := pattern(i*10+j, n)
					bufs = append(bufs, b)
					if end := off + int64(n); end > int64(len(want[s.file])) {
						want[s.file] = append(want[s.file], make([]byte, end-int64(len(want[s.file])))...)
					}
					copy(want[s.file][off:], b)
					off += int64(n)
				}
				require.NoError(t, w.Submit(Task{File: files[s.file], Offset: s.off, Bufs: bufs}))
			}
			close(gate)
			require.NoError(t, w.Close())

			for name, f := range files {
				wantIovs, touched := tt.want[name]
				if len(wantIovs) == 0 {
					wantIovs = nil
				}
				require.Equal(t, wantIovs, f.iovs(), "buffers per WritevAt on %s", name)
				wrote = append(wrote, f.iovs()...)
				require.Equal(t, want[name], f.contents(), "contents of %s", name)
				_, syncs := f.counts()
				if touched {
					require.Equal(t, 1, syncs, "syncs of %s", name)
				} else {
					require.Zero(t, syncs, "syncs of untouched %s", name)
				}
			}
			// One Wrote per WritevAt (plus the blocker's).
			require.EqualValues(t, len(wrote)+1, obs.writes.Load())
		})
	}
}
