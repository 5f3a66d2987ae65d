package metrics

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// call is one Collector call, recorded by spy.
type call struct {
	method string
	id     MetricID
	v      float64
}

type spy struct{ calls []call }

func (s *spy) Observe(id MetricID, v float64) { s.calls = append(s.calls, call{"Observe", id, v}) }
func (s *spy) Add(id MetricID, v float64)     { s.calls = append(s.calls, call{"Add", id, v}) }
func (s *spy) Set(id MetricID, v float64)     { s.calls = append(s.calls, call{"Set", id, v}) }

func TestNopAllocationFree(t *testing.T) {
	allocs := testing.AllocsPerRun(1000, func() {
		c := Nop()
		c.Observe(FsyncLatency, 0.001)
		c.Add(Appends, 1)
		c.Set(WriteQueueDepth, 3)
	})
	assert.Zero(t, allocs)
}

func TestIsNop(t *testing.T) {
	assert.True(t, IsNop(nil))
	assert.True(t, IsNop(Nop()))
	assert.False(t, IsNop(NewRecorder()))
	assert.False(t, IsNop(&spy{}))
}

func TestTee(t *testing.T) {
	a, b, c := &spy{}, &spy{}, &spy{}
	col := Tee(a, Nop(), nil, Tee(b, c))
	col.Observe(FsyncLatency, 0.5)
	col.Add(Appends, 2)
	col.Set(WriteQueueDepth, 7)
	want := []call{{"Observe", FsyncLatency, 0.5}, {"Add", Appends, 2}, {"Set", WriteQueueDepth, 7}}
	for _, s := range []*spy{a, b, c} {
		assert.Equal(t, want, s.calls)
	}
	// The nested tee was flattened: one level of forwarding.
	assert.Len(t, col.(tee), 3)
}

func TestTeeDegenerate(t *testing.T) {
	assert.True(t, IsNop(Tee()))
	assert.True(t, IsNop(Tee(nil, Nop())))
	r := NewRecorder()
	assert.Same(t, r, Tee(Nop(), r))
}

func TestTeeAllocationFree(t *testing.T) {
	col := Tee(NewRecorder(), NewRecorder())
	allocs := testing.AllocsPerRun(1000, func() {
		col.Observe(FsyncLatency, 0.001)
		col.Add(Appends, 1)
		col.Set(WriteQueueDepth, 3)
	})
	assert.Zero(t, allocs)
}
